/*
 * fuzz_common.h - helpers shared by the libFuzzer harnesses: a CHECK that
 * survives -DNDEBUG, exact-size copies (so AddressSanitizer sees one-byte
 * over-reads and over-writes), and a slow, obviously-correct reference
 * decoder for compressed_segmentation written from the spec at the top of
 * wasm_src/cseg_decode.c. The harnesses compare ngcodec against it, so a decoder
 * that is fast but wrong fails even when it stays inside its buffers.
 */
#ifndef NGC_FUZZ_COMMON_H
#define NGC_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngcodec.h"

/* Decoded outputs stay below this so one input never costs seconds. */
#define FUZZ_MAX_DECODED (8u << 20)

/* The harness's own loops are not coverage-instrumented (and not inlined
 * into code that is): their comparisons would dominate the run time and
 * guide nothing in ngcodec. AddressSanitizer still checks them. */
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage"), noinline, unused))

#define CHECK(cond, ...)                                                    \
  do {                                                                      \
    if (!(cond)) {                                                          \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__,      \
              #cond);                                                       \
      fprintf(stderr, __VA_ARGS__);                                         \
      fputc('\n', stderr);                                                  \
      abort();                                                              \
    }                                                                       \
  } while (0)

/* A malloc of exactly n bytes (n may be 0) holding a copy of src (may be
 * NULL: left uninitialised). `shift` (0..3) places the data that many bytes
 * past malloc's alignment, still ending exactly at the allocation's end.
 * Free with fuzz_free(p, shift). */
static inline uint8_t *fuzz_alloc(const void *src, size_t n, unsigned shift) {
  uint8_t *p = malloc(n + shift);
  CHECK(p != NULL, "malloc(%zu)", n + shift);
  if (src != NULL && n != 0) memcpy(p + shift, src, n);
  return p + shift;
}
static inline void fuzz_free(uint8_t *p, unsigned shift) { free(p - shift); }

static inline uint32_t fuzz_load32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

/* NGC_FUZZ_VERBOSE=1 in the environment: each harness prints one line per
 * input (geometry and statuses), for replaying regressions and seeds. */
static inline int fuzz_verbose(void) {
  static int v = -1;
  if (v < 0) v = getenv("NGC_FUZZ_VERBOSE") != NULL;
  return v;
}

/* NGC_FUZZ_LAX_NO_PLACE=1: accept any fail_block where NGC_NO_PLACE is
 * expected (lets a long run go on past the open bug in
 * tests/fuzz/regressions/fuzz_cseg_decode/stale-fail-block-*). */
static inline int fuzz_lax_no_place(void) {
  static int v = -1;
  if (v < 0) v = getenv("NGC_FUZZ_LAX_NO_PLACE") != NULL;
  return v;
}

/* A status that is 0 or one of the named codes. */
static inline int fuzz_named(int status) {
  return strcmp(ngc_error_name(status), "NGC_ERR_UNKNOWN") != 0;
}

/* The statuses a decode of arbitrary bytes may return when the call's own
 * parameters are valid and dst has the decoded size. */
static inline int fuzz_data_error(int s) {
  return s == NGC_ERR_TRUNCATED || s == NGC_ERR_UNALIGNED ||
         s == NGC_ERR_BAD_CHANNEL_OFFSET || s == NGC_ERR_BAD_BITS ||
         s == NGC_ERR_BAD_TABLE_OFFSET || s == NGC_ERR_BAD_VALUES_OFFSET ||
         s == NGC_ERR_BAD_TABLE_INDEX || s == NGC_ERR_EMPTY_TABLE;
}

static inline uint32_t fuzz_ceil_div(uint32_t a, uint32_t b) {
  return a / b + (a % b != 0);
}

/*
 * Reference compressed_segmentation decoder, one voxel at a time, every
 * quantity in 64 bits. Returns NGC_OK or the NGC_ERR_* status ngcodec must
 * return for `src`, and sets *fail_channel / *fail_block to the place that
 * ngcodec.h's contract (at struct ngc_chunk) gives that status: both
 * NGC_NO_PLACE on success and for UNALIGNED; the channel and NGC_NO_PLACE
 * for a bad channel offset, a truncated block headers region or a src that
 * ends before the channel's offset word (the first such channel); the channel and the
 * block for an error in one block. With dst == NULL it only validates;
 * otherwise it also writes the decoded (C, Z, Y, X) array to dst (call it
 * with NULL first: on an invalid chunk dst may be partly written).
 *
 * The rules are those of cseg_decode.c's header comment, checked in this
 * order:
 *  - the size is a multiple of 4 (UNALIGNED) and holds C channel offsets
 *    (TRUNCATED);
 *  - then channel by channel: its offset is <= n, the words in the chunk
 *    (BAD_CHANNEL_OFFSET); it runs to the end of the chunk and holds 2 header
 *    words per block (TRUNCATED);
 *  - then block by block (x fastest): bits in {0,1,2,4,8,16,32} (BAD_BITS);
 *    table_offset (24 bits) <= the channel's words (BAD_TABLE_OFFSET);
 *    values_offset (32 bits) <= the channel's words and the
 *    ceil(bits * volume / 32) value words fit before the end
 *    (BAD_VALUES_OFFSET); a table has every whole label up to the end of the
 *    chunk: a 0-bit block needs one (EMPTY_TABLE), and every index of the
 *    full block, padding included, must be below that count
 *    (BAD_TABLE_INDEX).
 */
/* The chunk geometry both cseg harnesses read from their first 7 bytes:
 * sizes 0..70, block sizes 1..70, data[6] bit 0 = uint64, bits 1-2 = extra
 * channels (dropped until the decoded size fits FUZZ_MAX_DECODED). Returns
 * 0 when even one channel is too large. */
static inline int fuzz_geometry(const uint8_t *data, ngc_chunk *ch, size_t *decoded) {
  memset(ch, 0, sizeof *ch);
  for (int i = 0; i < 3; i++) {
    ch->size[i] = data[i] % 71;
    ch->block_size[i] = 1 + data[3 + i] % 70;
  }
  ch->value_bytes = (data[6] & 1) ? 8 : 4;
  ch->num_channels = 1 + ((data[6] >> 1) & 3);
  for (;;) {
    CHECK(ngc_decoded_size(ch, decoded) == NGC_OK, "decoded_size");
    if (*decoded <= FUZZ_MAX_DECODED || ch->num_channels == 1) break;
    ch->num_channels--;
  }
  return *decoded <= FUZZ_MAX_DECODED;
}

/*
 * The reference decoder of the box [lo, hi): every channel's offset and
 * block headers region are checked, then only the blocks that meet the box
 * (none if it is empty), in x-fastest order, each whole (padding indices
 * included); with dst, the box's voxels are written to dst as a
 * (C, Z, Y, X) array of the box's size.
 */
FUZZ_NO_COVERAGE static int ref_cseg_decode_box(const ngc_chunk *ch, const uint32_t lo[3],
                                                const uint32_t hi[3], const uint8_t *src,
                                                size_t src_size, uint8_t *dst,
                                                uint32_t *fail_channel,
                                                uint32_t *fail_block) {
  const uint64_t vw = ch->value_bytes / 4, nc = ch->num_channels;
  const uint64_t bx = ch->block_size[0], by = ch->block_size[1],
                 bz = ch->block_size[2];
  const uint64_t gx = fuzz_ceil_div(ch->size[0], ch->block_size[0]);
  const uint64_t gy = fuzz_ceil_div(ch->size[1], ch->block_size[1]);
  const uint64_t gz = fuzz_ceil_div(ch->size[2], ch->block_size[2]);
  const uint64_t volume = bx * by * bz, nblocks = gx * gy * gz;
  const uint64_t wx = hi[0] - lo[0], wy = hi[1] - lo[1], wz = hi[2] - lo[2];
  const size_t label_bytes = 4 * vw;
  const size_t channel_bytes = wx * wy * wz * label_bytes;
  *fail_channel = *fail_block = NGC_NO_PLACE;
  if (src_size % 4 != 0) return NGC_ERR_UNALIGNED;
  const uint64_t n = src_size / 4;
  if (n < nc) {
    *fail_channel = (uint32_t)n;
    return NGC_ERR_TRUNCATED;
  }
  /* Word i of the chunk (not fuzz_load32: a call per word is slow, and
   * inlining stops at the no-coverage attribute). */
#define W(i)                                                              \
  ((uint32_t)src[4 * (size_t)(i)] | (uint32_t)src[4 * (size_t)(i) + 1] << 8 | \
   (uint32_t)src[4 * (size_t)(i) + 2] << 16 |                             \
   (uint32_t)src[4 * (size_t)(i) + 3] << 24)
  for (uint64_t c = 0; c < nc; c++) {
    *fail_channel = (uint32_t)c;
    *fail_block = NGC_NO_PLACE;
    const uint64_t base = W(c);
    if (base > n) return NGC_ERR_BAD_CHANNEL_OFFSET;
    const uint64_t cn = n - base;
    if (2 * nblocks > cn) return NGC_ERR_TRUNCATED;
    if (wx == 0 || wy == 0 || wz == 0) continue;
    for (uint64_t kz = lo[2] / bz; kz < fuzz_ceil_div(hi[2], (uint32_t)bz); kz++)
      for (uint64_t ky = lo[1] / by; ky < fuzz_ceil_div(hi[1], (uint32_t)by); ky++)
        for (uint64_t kx = lo[0] / bx; kx < fuzz_ceil_div(hi[0], (uint32_t)bx); kx++) {
          const uint64_t b = (kz * gy + ky) * gx + kx;
          *fail_block = (uint32_t)b;
          const uint32_t h0 = W(base + 2 * b), vo = W(base + 2 * b + 1);
          const uint32_t bits = h0 >> 24, to = h0 & 0xFFFFFF;
          if (!(bits == 0 || bits == 1 || bits == 2 || bits == 4 || bits == 8 ||
                bits == 16 || bits == 32))
            return NGC_ERR_BAD_BITS;
          if (to > cn) return NGC_ERR_BAD_TABLE_OFFSET;
          const uint64_t vwords = (bits * volume + 31) / 32;
          if (vo > cn || vwords > cn - vo) return NGC_ERR_BAD_VALUES_OFFSET;
          const uint64_t entries = (cn - to) / vw;
          if (bits == 0 && entries == 0) return NGC_ERR_EMPTY_TABLE;
          uint64_t pos = 0;
          for (uint64_t z = kz * bz; z < (kz + 1) * bz; z++)
            for (uint64_t y = ky * by; y < (ky + 1) * by; y++)
              for (uint64_t x = kx * bx; x < (kx + 1) * bx; x++, pos++) {
                uint64_t index = 0;
                if (bits != 0) {
                  const uint64_t bit = pos * bits;
                  const uint64_t word = W(base + vo + bit / 32);
                  index = (word >> (bit % 32)) & ((1ull << bits) - 1);
                  if (index >= entries) return NGC_ERR_BAD_TABLE_INDEX;
                }
                if (dst == NULL || x < lo[0] || x >= hi[0] || y < lo[1] ||
                    y >= hi[1] || z < lo[2] || z >= hi[2])
                  continue;
                memcpy(dst + c * channel_bytes +
                           (((z - lo[2]) * wy + (y - lo[1])) * wx + (x - lo[0])) *
                               label_bytes,
                       src + 4 * (base + to + index * vw), label_bytes);
              }
        }
  }
#undef W
  *fail_channel = *fail_block = NGC_NO_PLACE;
  return NGC_OK;
}

FUZZ_NO_COVERAGE static int ref_cseg_decode(const ngc_chunk *ch, const uint8_t *src,
                                            size_t src_size, uint8_t *dst,
                                            uint32_t *fail_channel,
                                            uint32_t *fail_block) {
  const uint32_t lo[3] = {0, 0, 0}; /* the whole chunk */
  return ref_cseg_decode_box(ch, lo, ch->size, src, src_size, dst, fail_channel, fail_block);
}

/* First differing byte of two equal-size buffers, or n. */
FUZZ_NO_COVERAGE static size_t fuzz_first_diff(const uint8_t *a,
                                                      const uint8_t *b, size_t n) {
  if (n == 0 || memcmp(a, b, n) == 0) return n;
  size_t i = 0;
  while (a[i] == b[i]) i++;
  return i;
}

#endif /* NGC_FUZZ_COMMON_H */
