/*
 * raw.c - the "raw" precomputed encoding: the chunk's little-endian array,
 * (C, Z, Y, X) with x fastest, nothing else. Both hosts and this module are
 * little-endian, so encoding and decoding are a checked copy.
 */
#include "internal.h"

#define RAW_WIDTHS ((1u << 1) | (1u << 2) | (1u << 4) | (1u << 8))

static int raw_copy(const ngc_chunk *chunk, const void *src, size_t src_size,
                    void *dst, size_t dst_capacity) {
  size_t size;
  int status = ngc_check_chunk(chunk, RAW_WIDTHS, &size);
  if (status != NGC_OK) return status;
  if (src_size != size) return NGC_ERR_SIZE_MISMATCH;
  if (dst_capacity < size) return NGC_ERR_DST_TOO_SMALL;
  if (size != 0 && (src == NULL || dst == NULL)) return NGC_ERR_BAD_PARAMS;
  if (size != 0) memmove(dst, src, size);
  return NGC_OK;
}

int ngc_raw_decode(const ngc_chunk *chunk, const void *src, size_t src_size,
                   void *dst, size_t dst_capacity) {
  return raw_copy(chunk, src, src_size, dst, dst_capacity);
}

int ngc_raw_encode(const ngc_chunk *chunk, const void *src, size_t src_size,
                   void *dst, size_t dst_capacity, size_t *dst_size_ret) {
  if (dst_size_ret == NULL) return NGC_ERR_BAD_PARAMS;
  int status = raw_copy(chunk, src, src_size, dst, dst_capacity);
  if (status == NGC_OK) *dst_size_ret = src_size;
  return status;
}
