/*
 * internal.h - helpers shared by the codec sources; not part of the ABI.
 */
#ifndef NGCODEC_INTERNAL_H
#define NGCODEC_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "ngcodec.h"

#define NGC_INLINE static inline __attribute__((always_inline))

/* Unaligned little-endian loads and stores (wasm and x86 are little-endian;
 * memcpy compiles to a single load/store). */
NGC_INLINE uint16_t ngc_load16(const void *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}
NGC_INLINE uint32_t ngc_load32(const void *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
NGC_INLINE uint64_t ngc_load64(const void *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
NGC_INLINE void ngc_store32(void *p, uint32_t v) { memcpy(p, &v, 4); }
NGC_INLINE void ngc_store64(void *p, uint64_t v) { memcpy(p, &v, 8); }

/* ceil(a / b) for b >= 1, without overflow. */
NGC_INLINE uint32_t ngc_ceil_div(uint32_t a, uint32_t b) {
  return a / b + (a % b != 0);
}

/* Checks chunk->size/num_channels/value_bytes and computes the decoded size.
 * `allowed_widths` is a bit mask of accepted value_bytes (bit n = n bytes). */
int ngc_check_chunk(const ngc_chunk *chunk, uint32_t allowed_widths,
                    size_t *size_ret);

#endif /* NGCODEC_INTERNAL_H */
