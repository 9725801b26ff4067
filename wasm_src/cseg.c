/*
 * cseg.c - Neuroglancer's compressed_segmentation encoding.
 *
 * Format (all words are little-endian uint32; "offsets" count words)
 * ------------------------------------------------------------------
 * A chunk of C channels of (X, Y, Z) voxels, uint32 or uint64 labels, is cut
 * into a grid of (bx, by, bz) blocks, gx = ceil(X / bx) etc.
 *
 *   chunk   := channel_offset[C] channel...
 *              channel_offset[c] = offset of channel c from the start of the
 *              chunk. A channel's data runs to the end of the chunk.
 *   channel := block_header[gx * gy * gz] (x fastest) then, in any order and
 *              possibly shared between blocks, lookup tables and encoded
 *              values, all addressed by offsets from the channel's start.
 *   block_header := word0 = table_offset (bits 0..23) | bits << 24
 *                   word1 = values_offset
 *   bits    := 0, 1, 2, 4, 8, 16 or 32
 *   table   := label[n]; a uint64 label is two words, low word first.
 *   values  := ceil(bits * bx * by * bz / 32) words: one bits-wide index into
 *              the table per voxel of the FULL block (x fastest), packed from
 *              the least significant bit of each word. Voxels of a partial
 *              edge block that lie outside the chunk are padding: any index
 *              into the table.
 *              A 0-bit block has no values: every voxel is table[0].
 *
 * Decoder checklist (after tensorstore): the size is a multiple of 4; the
 * channel offsets and each channel's block headers fit; bits is valid; the
 * table offset and the whole values run lie inside the chunk; every index
 * of the block addresses a table entry inside the chunk (padding included,
 * as neuroglancer-scripts checks; tensorstore checks visible voxels only);
 * a 0-bit block has at least one entry. A table "has" every entry up to the end of
 * the chunk, as in Neuroglancer and tensorstore. All arithmetic on input
 * values is done in 64 bits or checked, so nothing wraps.
 *
 * Encoder choices: tables are sorted ascending and stored once per channel
 * when identical (as tensorstore and compressed-segmentation do); each new
 * table is written just before the block's values; padding voxels get index
 * 0. Neuroglancer and tensorstore read only 24 bits of each offset, so an
 * offset of 2^24 words or more is an error (NGC_ERR_OFFSET_OVERFLOW), never
 * a silently truncated header.
 */
#include <stdlib.h>

#include "internal.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

#define CSEG_WIDTHS ((1u << 4) | (1u << 8))
#define MAX_OFFSET 0xFFFFFFu

/* Geometry shared by the encoder and decoder, derived once per call. */
typedef struct geometry {
  uint32_t size[3], block[3], grid[3];
  uint32_t num_blocks;   /* gx * gy * gz (checked to fit) */
  uint32_t block_volume; /* bx * by * bz (checked to fit) */
  uint32_t value_words;  /* 1 for uint32, 2 for uint64 */
} geometry;

static int get_geometry(const ngc_chunk *chunk, size_t *decoded_size,
                        geometry *g) {
  int status = ngc_check_chunk(chunk, CSEG_WIDTHS, decoded_size);
  if (status != NGC_OK) return status;
  uint64_t blocks = 1, volume = 1;
  for (int i = 0; i < 3; i++) {
    if (chunk->block_size[i] == 0) return NGC_ERR_BAD_PARAMS;
    g->size[i] = chunk->size[i];
    g->block[i] = chunk->block_size[i];
    g->grid[i] = ngc_ceil_div(g->size[i], g->block[i]);
    blocks *= g->grid[i];
    volume *= g->block[i];
    /* Both stay below 2^32 after each step, so the products cannot wrap. */
    if (blocks > UINT32_MAX || volume > UINT32_MAX) return NGC_ERR_TOO_LARGE;
  }
  g->num_blocks = (uint32_t)blocks;
  g->block_volume = (uint32_t)volume;
  g->value_words = chunk->value_bytes / 4;
  return NGC_OK;
}

/* The first voxel of block `pos` (grid coordinates) and how many of its
 * voxels lie inside the chunk along each axis (fewer at the far edges). */
NGC_INLINE void block_extent(const geometry *g, const uint32_t pos[3], uint32_t origin[3],
                             uint32_t vis[3]) {
  for (int i = 0; i < 3; i++) {
    origin[i] = pos[i] * g->block[i];
    vis[i] = g->size[i] - origin[i] < g->block[i] ? g->size[i] - origin[i] : g->block[i];
  }
}

NGC_INLINE int valid_bits(uint32_t bits) {
  return bits <= 32 && (bits & (bits - 1)) == 0;
}

/* Words of packed values for one block (64-bit: bits * volume can pass 2^32). */
NGC_INLINE uint64_t values_words(uint32_t bits, uint32_t block_volume) {
  return ((uint64_t)bits * block_volume + 31) / 32;
}

/* ========================================================================== */
/*                                  Decoding                                  */
/* ========================================================================== */

/* Where a block's visible voxels go in the output. */
typedef struct block_view {
  uint8_t *out;        /* first visible voxel */
  uint32_t vis[3];     /* visible extent: x, y, z */
  size_t row_stride;   /* output bytes between rows */
  size_t plane_stride; /* output bytes between planes */
} block_view;

NGC_INLINE void store_label(uint8_t *p, const uint8_t *table, uint32_t index,
                            const uint32_t vw) {
  if (vw == 1)
    ngc_store32(p, ngc_load32(table + 4 * (size_t)index));
  else
    ngc_store64(p, ngc_load64(table + 8 * (size_t)index));
}

/* Writes table[index] to n consecutive voxels (vectorises to splat stores). */
NGC_INLINE void fill_row(uint8_t *out, const uint8_t *table, uint32_t index,
                         uint32_t n, const uint32_t vw) {
#ifdef __wasm_simd128__
  if (n == 8) { /* explicit splats: the auto-vectoriser leaves scalar stores */
    const v128_t v = vw == 1 ? wasm_v128_load32_splat(table + 4 * (size_t)index)
                             : wasm_v128_load64_splat(table + 8 * (size_t)index);
    for (uint32_t k = 0; k < 2 * vw; k++) wasm_v128_store(out + 16 * k, v);
    return;
  }
#endif
  if (vw == 1) {
    const uint32_t label = ngc_load32(table + 4 * (size_t)index);
    for (uint32_t x = 0; x < n; x++) ngc_store32(out + 4 * (size_t)x, label);
  } else {
    const uint64_t label = ngc_load64(table + 8 * (size_t)index);
    for (uint32_t x = 0; x < n; x++) ngc_store64(out + 8 * (size_t)x, label);
  }
}

/* Blocks of up to this many voxels are decoded in two passes: unpack every
 * index of the block into `scratch` (a loop over whole words that the
 * compiler unrolls and vectorises), then gather each visible row from the
 * table. Larger blocks fall back to extracting each index in place. The
 * module is single-threaded, so one static scratch serves every call. */
#define SCRATCH_INDICES 32768
static uint32_t scratch[SCRATCH_INDICES];

NGC_INLINE void unpack_indices(const uint32_t *values, uint32_t count,
                               uint32_t *indices, const uint32_t bits) {
  const uint32_t per_word = 32 / bits;
  const uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
  const uint32_t full_words = count / per_word;
  for (uint32_t w = 0; w < full_words; w++) {
    uint32_t word = ngc_load32(&values[w]);
    for (uint32_t k = 0; k < per_word; k++)
      indices[w * per_word + k] = (word >> (k * bits)) & mask;
  }
  for (uint32_t pos = full_words * per_word; pos < count; pos++)
    indices[pos] = (ngc_load32(&values[full_words]) >> ((pos % per_word) * bits)) & mask;
}

NGC_INLINE uint32_t index_at(const uint32_t *values, uint32_t pos, const uint32_t bits) {
  const uint32_t per_word = 32 / bits;
  const uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
  return (ngc_load32(&values[pos / per_word]) >> ((pos % per_word) * bits)) & mask;
}

#ifdef __wasm_simd128__

/* Blocks of full 8x8 rows with tables of up to 16 labels (bits <= 4) are
 * decoded 16 voxels (two rows) per step with swizzle lookups. Mostly by
 * byte planes: the table is transposed once per block (plane j holds byte
 * j of every label), one swizzle per plane looks up 16 voxels at once, and
 * interleaving the planes rebuilds the labels. uint64 tables of up to 4
 * labels use word tables instead (lookup16_words). No branch depends on
 * the voxels: blocks mixing uniform and varied rows cost the same. */

/* Byte planes of 16 uint32 labels held 4 per vector in t0..t3. */
NGC_INLINE void byte_planes(v128_t t0, v128_t t1, v128_t t2, v128_t t3, v128_t p[4]) {
  /* Within each vector, gather byte j of its 4 labels into lane j... */
  const v128_t gather = wasm_i8x16_const(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  t0 = wasm_i8x16_swizzle(t0, gather);
  t1 = wasm_i8x16_swizzle(t1, gather);
  t2 = wasm_i8x16_swizzle(t2, gather);
  t3 = wasm_i8x16_swizzle(t3, gather);
  /* ...then transpose the 4x4 lanes. */
  const v128_t u0 = wasm_i32x4_shuffle(t0, t1, 0, 4, 1, 5);
  const v128_t u1 = wasm_i32x4_shuffle(t0, t1, 2, 6, 3, 7);
  const v128_t u2 = wasm_i32x4_shuffle(t2, t3, 0, 4, 1, 5);
  const v128_t u3 = wasm_i32x4_shuffle(t2, t3, 2, 6, 3, 7);
  p[0] = wasm_i64x2_shuffle(u0, u2, 0, 2);
  p[1] = wasm_i64x2_shuffle(u0, u2, 1, 3);
  p[2] = wasm_i64x2_shuffle(u1, u3, 0, 2);
  p[3] = wasm_i64x2_shuffle(u1, u3, 1, 3);
}

/* The byte planes of a table of exactly 2^bits labels (bits <= 4): planes
 * 0..3 for the low words, 4..7 for the high words of uint64 labels. Only
 * the table's own bytes are read. */
NGC_INLINE void table_planes(const uint8_t *table, v128_t p[8], const uint32_t bits,
                             const uint32_t vw) {
  const uint32_t nvec = ((4 * vw) << bits) / 16; /* 0 when the table is 8 bytes */
  v128_t r[8];
  for (uint32_t k = 0; k < 8; k++) r[k] = wasm_i64x2_const(0, 0);
  if (nvec == 0) r[0] = wasm_v128_load64_zero(table);
  for (uint32_t k = 0; k < nvec; k++) r[k] = wasm_v128_load(table + 16 * k);
  if (vw == 1) {
    byte_planes(r[0], r[1], r[2], r[3], p);
    return;
  }
  v128_t lo[4], hi[4];
  for (uint32_t k = 0; k < 4; k++) {
    lo[k] = wasm_i32x4_shuffle(r[2 * k], r[2 * k + 1], 0, 2, 4, 6);
    hi[k] = wasm_i32x4_shuffle(r[2 * k], r[2 * k + 1], 1, 3, 5, 7);
  }
  byte_planes(lo[0], lo[1], lo[2], lo[3], p);
  byte_planes(hi[0], hi[1], hi[2], hi[3], p + 4);
}

/* The 16 indices of voxels 16 * g .. 16 * g + 15 of a block, one per byte. */
NGC_INLINE v128_t indices16(const uint8_t *values, uint32_t g, const uint32_t bits) {
  const v128_t low4 = wasm_i8x16_splat(0x0F);
  if (bits == 1) {
    const v128_t v = wasm_v128_load16_splat(values + 2 * (size_t)g);
    const v128_t b = wasm_i8x16_shuffle(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const v128_t bit = wasm_i8x16_const(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
    return wasm_u8x16_min(wasm_v128_and(b, bit), wasm_i8x16_splat(1));
  }
  /* Nibbles first: byte k holds indices 2k (low) and 2k + 1 (high). */
  const v128_t v = bits == 2 ? wasm_v128_load32_zero(values + 4 * (size_t)g)
                             : wasm_v128_load64_zero(values + 8 * (size_t)g);
  const v128_t n = wasm_i8x16_shuffle(wasm_v128_and(v, low4),
                                      wasm_v128_and(wasm_u16x8_shr(v, 4), low4),
                                      0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  if (bits == 4) return n;
  const v128_t low2 = wasm_i8x16_splat(3);
  return wasm_i8x16_shuffle(wasm_v128_and(n, low2), wasm_v128_and(wasm_u16x8_shr(n, 2), low2),
                            0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

/* Looks up 16 indices in 4 byte planes: r[0..3] get the uint32 labels of
 * voxels 0-3, 4-7, 8-11, 12-15. */
NGC_INLINE void lookup16(v128_t idx, const v128_t p[4], v128_t r[4]) {
  const v128_t b0 = wasm_i8x16_swizzle(p[0], idx), b1 = wasm_i8x16_swizzle(p[1], idx);
  const v128_t b2 = wasm_i8x16_swizzle(p[2], idx), b3 = wasm_i8x16_swizzle(p[3], idx);
  const v128_t a_lo = wasm_i8x16_shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t a_hi = wasm_i8x16_shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t c_lo = wasm_i8x16_shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t c_hi = wasm_i8x16_shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  r[0] = wasm_i16x8_shuffle(a_lo, c_lo, 0, 8, 1, 9, 2, 10, 3, 11);
  r[1] = wasm_i16x8_shuffle(a_lo, c_lo, 4, 12, 5, 13, 6, 14, 7, 15);
  r[2] = wasm_i16x8_shuffle(a_hi, c_hi, 0, 8, 1, 9, 2, 10, 3, 11);
  r[3] = wasm_i16x8_shuffle(a_hi, c_hi, 4, 12, 5, 13, 6, 14, 7, 15);
}

/* uint64 tables of up to 4 labels: their low and their high words fit one
 * vector each, and byte 4 * i + j of a vector is byte j of word i, so a
 * swizzle fetches whole words of 4 voxels: cheaper than 8 byte planes. */
NGC_INLINE void lookup16_words(v128_t idx, v128_t words_lo, v128_t words_hi, v128_t lo[4],
                               v128_t hi[4]) {
  const v128_t i4 = wasm_i8x16_shl(idx, 2);
  const v128_t lane = wasm_i8x16_const(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
  const v128_t b[4] = {
      wasm_i8x16_add(wasm_i8x16_shuffle(i4, i4, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3), lane),
      wasm_i8x16_add(wasm_i8x16_shuffle(i4, i4, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7), lane),
      wasm_i8x16_add(wasm_i8x16_shuffle(i4, i4, 8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11), lane),
      wasm_i8x16_add(wasm_i8x16_shuffle(i4, i4, 12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15), lane)};
  for (uint32_t k = 0; k < 4; k++) {
    lo[k] = wasm_i8x16_swizzle(words_lo, b[k]);
    hi[k] = wasm_i8x16_swizzle(words_hi, b[k]);
  }
}

/* How decode_rows_simd finds the labels of 16 voxels. */
enum {
  BY_PLANES,     /* byte planes: uint32 (bits <= 4), uint64 (bits == 4) */
  BY_PLANES_LOW, /* uint64 whose labels share one high word: planes of the low words */
  BY_WORDS       /* uint64, bits <= 2: word tables (lookup16_words) */
};

/* Decodes the nz planes of a block whose rows are 8 visible voxels of 8
 * (bx = nx = 8, by = ny = 8), two rows per step, with lookups `how`. */
NGC_INLINE void rows_simd(const uint8_t *values, uint32_t nz, uint8_t *base, size_t row_stride,
                          size_t plane_stride, const v128_t p[8], const v128_t words[2],
                          const uint32_t bits, const uint32_t vw, const int how) {
  for (uint32_t z = 0; z < nz; z++) {
    uint8_t *row = base + z * plane_stride;
    for (uint32_t g = 4 * z; g < 4 * z + 4; g++, row += 2 * row_stride) {
      const v128_t idx = indices16(values, g, bits);
      /* lo[k], hi[k]: low and high words of voxels 4k..4k+3 */
      v128_t lo[4], hi[4];
      if (how == BY_WORDS) {
        lookup16_words(idx, words[0], words[1], lo, hi);
      } else {
        lookup16(idx, p, lo);
        if (how == BY_PLANES_LOW) hi[0] = hi[1] = hi[2] = hi[3] = p[4];
        else if (vw == 2) lookup16(idx, p + 4, hi);
      }
      for (uint32_t k = 0; k < 4; k++) {
        uint8_t *out = row + (k >= 2 ? row_stride : 0) + 16 * vw * (k & 1);
        if (vw == 1) {
          wasm_v128_store(out, lo[k]);
        } else {
          wasm_v128_store(out, wasm_i32x4_shuffle(lo[k], hi[k], 0, 4, 1, 5));
          wasm_v128_store(out + 16, wasm_i32x4_shuffle(lo[k], hi[k], 2, 6, 3, 7));
        }
      }
    }
  }
}

/* Decodes a block of full 8x8 rows (see rows_simd) whose table holds at
 * least 2^bits labels, bits <= 4. */
NGC_INLINE void decode_rows_simd(const uint32_t *values, const uint8_t *table, uint32_t nz,
                                 uint8_t *base, size_t row_stride, size_t plane_stride,
                                 const uint32_t bits, const uint32_t vw) {
  const uint8_t *v = (const uint8_t *)values;
  v128_t p[8], words[2];
  if (vw == 2 && bits <= 2) {
    const v128_t r0 = wasm_v128_load(table); /* labels 0, 1 */
    const v128_t r1 = bits == 2 ? wasm_v128_load(table + 16) : wasm_i64x2_const(0, 0);
    words[0] = wasm_i32x4_shuffle(r0, r1, 0, 2, 4, 6);
    words[1] = wasm_i32x4_shuffle(r0, r1, 1, 3, 5, 7);
    rows_simd(v, nz, base, row_stride, plane_stride, p, words, bits, vw, BY_WORDS);
    return;
  }
  table_planes(table, p, bits, vw);
  if (vw == 2) {
    /* Labels below 2^32 (or sharing their high word) are common: then the
     * high words need no lookup. */
    const uint32_t high = ngc_load32(table + 4);
    uint32_t same = 1;
    for (uint32_t k = 1; k < (1u << bits); k++) same &= ngc_load32(table + 8 * k + 4) == high;
    if (same) {
      p[4] = wasm_i32x4_splat((int32_t)high);
      rows_simd(v, nz, base, row_stride, plane_stride, p, words, bits, vw, BY_PLANES_LOW);
      return;
    }
  }
  rows_simd(v, nz, base, row_stride, plane_stride, p, words, bits, vw, BY_PLANES);
}
#endif

/* Expands ROWS(row_length), a loop over the visible rows, with 8-voxel rows
 * (the usual 8x8x8 blocks) as a constant so that the loop over x unrolls. */
#define WITH_ROW_LENGTH(ROWS) \
  if (nx == 8) {              \
    ROWS(8)                   \
  } else {                    \
    ROWS(nx)                  \
  }

/* Decodes one block with `bits` (nonzero) and label width `vw` constant after
 * inlining. Returns NGC_ERR_BAD_TABLE_INDEX if an index of the block, padding
 * included (as neuroglancer-scripts requires), is not below `entries`. */
NGC_INLINE int decode_block(const uint32_t *values, const uint8_t *table,
                            uint32_t entries, const geometry *g,
                            const block_view *view, const uint32_t bits,
                            const uint32_t vw) {
  /* Locals, not struct fields: a store through uint8_t * may alias any
   * field, which would reload each of them after every voxel. */
  const uint32_t bx = g->block[0], by = g->block[1], volume = g->block_volume;
  const uint32_t nx = view->vis[0], ny = view->vis[1], nz = view->vis[2];
  const size_t row_stride = view->row_stride, plane_stride = view->plane_stride;
  uint8_t *const base = view->out;
  const size_t label_bytes = 4 * vw;
  const uint32_t per_word = 32 / bits, mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
  /* Only a table near the end of the chunk can be too short. */
  const int check = (uint64_t)entries < ((uint64_t)1 << bits);
#ifdef __wasm_simd128__
  if (!check && bits <= 4 && bx == 8 && nx == 8 && by == 8 && ny == 8) {
    decode_rows_simd(values, table, nz, base, row_stride, plane_stride, bits, vw);
    return NGC_OK;
  }
#endif
  if (!check && per_word % bx == 0) {
    /* Every row lies inside one word: load it once. Segmentations are
     * blobby, so most rows hold a single index (its field is that index
     * repeated): those are written as one label splat. */
    const uint32_t field_bits = bx * bits;
    const uint32_t field_mask = field_bits == 32 ? 0xFFFFFFFFu : (1u << field_bits) - 1;
    uint32_t repeat = 0;
    for (uint32_t x = 0; x < bx; x++) repeat |= 1u << (x * bits);
#define FUSED_ROWS(row_length)                                                    \
    for (uint32_t z = 0; z < nz; z++)                                             \
      for (uint32_t y = 0; y < ny; y++) {                                         \
        const uint32_t pos = (z * by + y) * bx;                                   \
        uint32_t word = ngc_load32(&values[pos / per_word]) >> ((pos % per_word) * bits); \
        uint8_t *out = base + z * plane_stride + y * row_stride;                  \
        const uint32_t first = word & mask;                                       \
        if ((word & field_mask) == first * repeat) {                              \
          fill_row(out, table, first, row_length, vw);                            \
          continue;                                                               \
        }                                                                         \
        for (uint32_t x = 0; x < row_length; x++, word >>= bits)                  \
          store_label(out + x * label_bytes, table, word & mask, vw);             \
      }
    WITH_ROW_LENGTH(FUSED_ROWS)
#undef FUSED_ROWS
    return NGC_OK;
  }
  if (!check && (bits == 8 || bits == 16)) {
    /* Whole-byte indices (many labels per block): read them in place. */
    const uint8_t *v = (const uint8_t *)values;
#define BYTE_ROWS(row_length)                                                     \
    for (uint32_t z = 0; z < nz; z++)                                             \
      for (uint32_t y = 0; y < ny; y++) {                                         \
        const uint8_t *row = v + (size_t)((z * by + y) * bx) * (bits / 8);       \
        uint8_t *out = base + z * plane_stride + y * row_stride;                  \
        for (uint32_t x = 0; x < row_length; x++)                                 \
          store_label(out + x * label_bytes, table,                               \
                      bits == 8 ? row[x] : ngc_load16(row + 2 * (size_t)x), vw);  \
      }
    WITH_ROW_LENGTH(BYTE_ROWS)
#undef BYTE_ROWS
    return NGC_OK;
  }
  if (volume <= SCRATCH_INDICES) {
    uint32_t *const indices = scratch;
    unpack_indices(values, volume, indices, bits);
    if (check) {
      uint32_t max = 0;
      for (uint32_t i = 0; i < volume; i++) max = indices[i] > max ? indices[i] : max;
      if (max >= entries) return NGC_ERR_BAD_TABLE_INDEX;
    }
    for (uint32_t z = 0; z < nz; z++)
      for (uint32_t y = 0; y < ny; y++) {
        const uint32_t *row = indices + (z * by + y) * bx;
        uint8_t *out = base + z * plane_stride + y * row_stride;
        for (uint32_t x = 0; x < nx; x++) store_label(out + x * label_bytes, table, row[x], vw);
      }
    return NGC_OK;
  }
  if (check)
    for (uint32_t pos = 0; pos < volume; pos++)
      if (index_at(values, pos, bits) >= entries) return NGC_ERR_BAD_TABLE_INDEX;
  for (uint32_t z = 0; z < nz; z++)
    for (uint32_t y = 0; y < ny; y++) {
      const uint32_t pos = (z * by + y) * bx;
      uint8_t *out = base + z * plane_stride + y * row_stride;
      for (uint32_t x = 0; x < nx; x++)
        store_label(out + x * label_bytes, table, index_at(values, pos + x, bits), vw);
    }
  return NGC_OK;
}

NGC_INLINE void fill_block(const uint8_t *table, const block_view *v,
                           const uint32_t vw) {
  const uint32_t nx = v->vis[0], ny = v->vis[1], nz = v->vis[2];
  const size_t row_stride = v->row_stride, plane_stride = v->plane_stride;
  uint8_t *const base = v->out;
#define FILL_ROWS(row_length)                                                     \
  for (uint32_t z = 0; z < nz; z++)                                               \
    for (uint32_t y = 0; y < ny; y++)                                             \
      fill_row(base + z * plane_stride + y * row_stride, table, 0, row_length, vw);
  WITH_ROW_LENGTH(FILL_ROWS)
#undef FILL_ROWS
}

/* Instantiates decode_block for each bit width of one label width. */
#define DISPATCH_BITS(vw)                                                \
  switch (bits) {                                                        \
    case 1: return decode_block(vals, table, entries, g, v, 1, vw);      \
    case 2: return decode_block(vals, table, entries, g, v, 2, vw);      \
    case 4: return decode_block(vals, table, entries, g, v, 4, vw);      \
    case 8: return decode_block(vals, table, entries, g, v, 8, vw);      \
    case 16: return decode_block(vals, table, entries, g, v, 16, vw);    \
    default: return decode_block(vals, table, entries, g, v, 32, vw);    \
  }

static int decode_block_u32(const uint32_t *vals, const uint8_t *table, uint32_t entries,
                            const geometry *g, const block_view *v, uint32_t bits) {
  DISPATCH_BITS(1)
}

static int decode_block_u64(const uint32_t *vals, const uint8_t *table, uint32_t entries,
                            const geometry *g, const block_view *v, uint32_t bits) {
  DISPATCH_BITS(2)
}

/* Decodes channel data `w[0..n)` (n words to the end of the chunk) into
 * `out`. On error, *fail_block is the failing block. */
static int decode_channel(const uint32_t *w, uint32_t n, const geometry *g,
                          uint8_t *out, uint32_t *fail_block) {
  *fail_block = NGC_NO_PLACE;
  if (n / 2 < g->num_blocks) return NGC_ERR_TRUNCATED;
  const size_t label_bytes = 4 * (size_t)g->value_words;
  const size_t row_stride = g->size[0] * label_bytes;
  const size_t plane_stride = g->size[1] * row_stride;
  uint32_t b = 0;
  for (uint32_t bz = 0; bz < g->grid[2]; bz++) {
    for (uint32_t by = 0; by < g->grid[1]; by++) {
      for (uint32_t bx = 0; bx < g->grid[0]; bx++, b++) {
        *fail_block = b;
        uint32_t h0 = ngc_load32(&w[2 * (size_t)b]);
        uint32_t values_offset = ngc_load32(&w[2 * (size_t)b + 1]);
        uint32_t bits = h0 >> 24, table_offset = h0 & MAX_OFFSET;
        if (!valid_bits(bits)) return NGC_ERR_BAD_BITS;
        if (table_offset > n) return NGC_ERR_BAD_TABLE_OFFSET;
        if (values_offset > n ||
            values_words(bits, g->block_volume) > n - values_offset)
          return NGC_ERR_BAD_VALUES_OFFSET;
        uint32_t entries = (n - table_offset) / g->value_words;

        block_view v;
        const uint32_t pos[3] = {bx, by, bz};
        uint32_t origin[3];
        block_extent(g, pos, origin, v.vis);
        v.row_stride = row_stride;
        v.plane_stride = plane_stride;
        v.out = out + origin[2] * plane_stride + origin[1] * row_stride + origin[0] * label_bytes;

        const uint8_t *table = (const uint8_t *)(w + table_offset);
        if (bits == 0) {
          if (entries == 0) return NGC_ERR_EMPTY_TABLE;
          if (g->value_words == 1) fill_block(table, &v, 1);
          else fill_block(table, &v, 2);
          continue;
        }
        const uint32_t *vals = w + values_offset;
        int status = g->value_words == 1
                         ? decode_block_u32(vals, table, entries, g, &v, bits)
                         : decode_block_u64(vals, table, entries, g, &v, bits);
        if (status != NGC_OK) return status;
      }
    }
  }
  return NGC_OK;
}

int ngc_cseg_decode(ngc_chunk *chunk, const void *src, size_t src_size,
                    void *dst, size_t dst_capacity) {
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  if (dst_capacity < decoded_size) return NGC_ERR_DST_TOO_SMALL;
  if ((src == NULL && src_size != 0) || (dst == NULL && decoded_size != 0))
    return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  if (src_size % 4 != 0) return NGC_ERR_UNALIGNED;
  const uint32_t *w = (const uint32_t *)src;
  uint32_t n = (uint32_t)(src_size / 4);
  if (n < chunk->num_channels) return NGC_ERR_TRUNCATED;
  size_t channel_bytes = decoded_size / chunk->num_channels;
  for (uint32_t c = 0; c < chunk->num_channels; c++) {
    chunk->fail_channel = c;
    chunk->fail_block = NGC_NO_PLACE;
    uint32_t offset = ngc_load32(&w[c]);
    if (offset > n) return NGC_ERR_BAD_CHANNEL_OFFSET;
    status = decode_channel(w + offset, n - offset, &g,
                            (uint8_t *)dst + c * channel_bytes,
                            &chunk->fail_block);
    if (status != NGC_OK) return status;
  }
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  return NGC_OK;
}

/* ========================================================================== */
/*                                  Encoding                                  */
/* ========================================================================== */

/* Open-addressing hash set of the labels seen in one block. Slots whose
 * stamp differs from the current block's are empty, so nothing is cleared
 * between blocks. */
typedef struct label_slot {
  uint64_t label;
  uint32_t stamp;
  uint32_t index; /* position in the sorted table */
} label_slot;

/* Tables already written in the current channel, for reuse. */
typedef struct table_slot {
  uint64_t hash;
  uint32_t stamp;
  uint32_t offset; /* words from the channel start */
  uint32_t count;
} table_slot;

typedef struct encoder {
  geometry g;
  uint32_t vw; /* value words: 1 or 2 */
  label_slot *labels;
  uint32_t labels_mask;
  uint64_t *distinct; /* distinct labels of the current block, then sorted */
  uint32_t *first_seen; /* per visible voxel: first-seen index of its label */
  uint32_t *rank;       /* first-seen index -> position in the sorted table */
  table_slot *tables;
  uint32_t tables_mask;
  uint32_t label_stamp; /* current block: slots with another stamp are empty */
  uint32_t table_stamp; /* current channel, likewise for tables */
  uint32_t *dst;
  uint32_t capacity; /* words */
  uint32_t pos;      /* words written */
} encoder;

/* murmur3's 64-bit finaliser: every input bit reaches every output bit, so
 * labels (or tables) that differ only in high bits do not pile into one
 * slot; a bare multiply would let crafted labels make probing quadratic. */
NGC_INLINE uint64_t mix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xFF51AFD7ED558CCDull;
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 33;
  return h;
}

NGC_INLINE uint32_t hash_label(uint64_t label) { return (uint32_t)mix64(label); }

NGC_INLINE label_slot *find_label(encoder *e, uint64_t label) {
  uint32_t i = hash_label(label) & e->labels_mask;
  for (;;) {
    label_slot *s = &e->labels[i];
    if (s->stamp != e->label_stamp || s->label == label) return s;
    i = (i + 1) & e->labels_mask;
  }
}

NGC_INLINE uint64_t load_label(const uint8_t *p, uint32_t vw) {
  return vw == 1 ? ngc_load32(p) : ngc_load64(p);
}

/* Smallest power of two >= n and >= 16. */
static uint32_t pow2_at_least(uint64_t n) {
  uint32_t p = 16;
  while (p < n) p *= 2;
  return p;
}

static void sort_labels(uint64_t *a, uint32_t n) {
  if (n <= 32) { /* insertion sort: blocks usually hold a handful of labels */
    for (uint32_t i = 1; i < n; i++) {
      uint64_t v = a[i];
      uint32_t j = i;
      for (; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
      a[j] = v;
    }
    return;
  }
  /* heapsort: O(n log n) whatever the input, no recursion, no scratch. */
  for (uint32_t start = n / 2; start-- > 0;) {
    for (uint32_t root = start, child; (child = 2 * root + 1) < n; root = child) {
      if (child + 1 < n && a[child] < a[child + 1]) child++;
      if (a[root] >= a[child]) break;
      uint64_t t = a[root]; a[root] = a[child]; a[child] = t;
    }
  }
  for (uint32_t end = n; end-- > 1;) {
    uint64_t t = a[0]; a[0] = a[end]; a[end] = t;
    for (uint32_t root = 0, child; (child = 2 * root + 1) < end; root = child) {
      if (child + 1 < end && a[child] < a[child + 1]) child++;
      if (a[root] >= a[child]) break;
      t = a[root]; a[root] = a[child]; a[child] = t;
    }
  }
}

NGC_INLINE uint32_t bits_for(uint32_t count) {
  uint32_t bits = 0;
  while (bits < 32 && ((uint64_t)1 << bits) < count) bits = bits ? bits * 2 : 1;
  return bits;
}

/* Writes the block's sorted table unless an identical one is already in the
 * channel; returns its offset from the channel start in *offset. */
static int put_table(encoder *e, uint32_t channel_start, uint32_t count,
                     uint32_t *offset) {
  uint64_t h = count;
  for (uint32_t i = 0; i < count; i++)
    h = (h ^ e->distinct[i]) * 0x100000001B3ull + 0x9E3779B97F4A7C15ull;
  h = mix64(h);
  uint32_t i = (uint32_t)h & e->tables_mask;
  const uint32_t words = count * e->vw;
  for (;; i = (i + 1) & e->tables_mask) {
    table_slot *s = &e->tables[i];
    if (s->stamp != e->table_stamp) {
      if (e->capacity - e->pos < words) return NGC_ERR_DST_TOO_SMALL;
      *offset = e->pos - channel_start;
      uint32_t *out = e->dst + e->pos;
      for (uint32_t k = 0; k < count; k++) {
        if (e->vw == 1) ngc_store32(out + k, (uint32_t)e->distinct[k]);
        else ngc_store64(out + 2 * k, e->distinct[k]);
      }
      e->pos += words;
      s->hash = h;
      s->stamp = e->table_stamp;
      s->offset = *offset;
      s->count = count;
      return NGC_OK;
    }
    if (s->hash == h && s->count == count) {
      const uint32_t *t = e->dst + channel_start + s->offset;
      uint32_t k = 0;
      for (; k < count; k++)
        if (load_label((const uint8_t *)(t + k * e->vw), e->vw) != e->distinct[k])
          break;
      if (k == count) {
        *offset = s->offset;
        return NGC_OK;
      }
    }
  }
}

/* Packs a full block's indices (rank[first_seen[pos]]) word by word, with
 * `bits` constant after inlining: no read-modify-write of the output. */
NGC_INLINE void pack_full(uint32_t *values, const uint32_t *first_seen, const uint32_t *rank,
                          uint32_t volume, const uint32_t bits) {
  const uint32_t per_word = 32 / bits;
  const uint32_t full_words = volume / per_word;
  for (uint32_t w = 0; w < full_words; w++) {
    const uint32_t *in = first_seen + w * per_word;
    uint32_t word = 0;
    for (uint32_t k = 0; k < per_word; k++) word |= rank[in[k]] << (k * bits);
    ngc_store32(&values[w], word);
  }
  if (full_words * per_word < volume) {
    uint32_t word = 0;
    for (uint32_t k = 0; full_words * per_word + k < volume; k++)
      word |= rank[first_seen[full_words * per_word + k]] << (k * bits);
    ngc_store32(&values[full_words], word);
  }
}

#ifdef __wasm_simd128__
/* Whether all 8 labels of a row equal `label`. */
NGC_INLINE int row_equals(const uint8_t *row, uint64_t label, const uint32_t vw) {
  v128_t same;
  if (vw == 1) {
    const v128_t l = wasm_i32x4_splat((int32_t)label);
    same = wasm_v128_and(wasm_i32x4_eq(wasm_v128_load(row), l),
                         wasm_i32x4_eq(wasm_v128_load(row + 16), l));
  } else {
    const v128_t l = wasm_i64x2_splat((int64_t)label);
    same = wasm_v128_and(
        wasm_v128_and(wasm_i64x2_eq(wasm_v128_load(row), l), wasm_i64x2_eq(wasm_v128_load(row + 16), l)),
        wasm_v128_and(wasm_i64x2_eq(wasm_v128_load(row + 32), l), wasm_i64x2_eq(wasm_v128_load(row + 48), l)));
  }
  return wasm_i8x16_all_true(same);
}

/* Matches a row of 8 labels against the block's `count` distinct labels so
 * far; if every voxel is one of them, writes their first-seen indices to
 * `index` and returns 1. */
#define KNOWN_ROW_LABELS 16
NGC_INLINE int row_of_known(const uint8_t *row, const uint64_t *distinct, uint32_t count,
                            uint32_t *index, const uint32_t vw) {
  const uint32_t nvec = 2 * vw;
  v128_t r[4], idx[4], seen[4];
  for (uint32_t v = 0; v < nvec; v++) {
    r[v] = wasm_v128_load(row + 16 * v);
    idx[v] = seen[v] = wasm_i64x2_const(0, 0);
  }
  for (uint32_t k = 0; k < count; k++) {
    const v128_t label = vw == 1 ? wasm_i32x4_splat((int32_t)distinct[k])
                                 : wasm_i64x2_splat((int64_t)distinct[k]);
    const v128_t kk = vw == 1 ? wasm_i32x4_splat((int32_t)k) : wasm_i64x2_splat(k);
    for (uint32_t v = 0; v < nvec; v++) {
      const v128_t m = vw == 1 ? wasm_i32x4_eq(r[v], label) : wasm_i64x2_eq(r[v], label);
      idx[v] = wasm_v128_bitselect(kk, idx[v], m);
      seen[v] = wasm_v128_or(seen[v], m);
    }
  }
  v128_t all = seen[0];
  for (uint32_t v = 1; v < nvec; v++) all = wasm_v128_and(all, seen[v]);
  if (!wasm_i8x16_all_true(all)) return 0;
  if (vw == 1) {
    wasm_v128_store(index, idx[0]);
    wasm_v128_store(index + 4, idx[1]);
  } else {
    wasm_v128_store(index, wasm_i32x4_shuffle(idx[0], idx[1], 0, 2, 4, 6));
    wasm_v128_store(index + 4, wasm_i32x4_shuffle(idx[2], idx[3], 0, 2, 4, 6));
  }
  return 1;
}

/* Halves a vector of `s`-bit fields held one per byte (s <= 4): byte k of
 * the result is byte 2k | byte 2k+1 << s (the first 8 bytes count). */
NGC_INLINE v128_t pair_fields(v128_t x, const uint32_t s) {
  const v128_t y = wasm_v128_or(wasm_v128_and(x, wasm_i16x8_splat(0xFF)),
                                wasm_i16x8_shl(wasm_u16x8_shr(x, 8), s));
  return wasm_u8x16_narrow_i16x8(y, y);
}

/* pack_full for bits <= 4, a table of at most 16 labels and a volume that
 * is a multiple of 32: 16 voxels a step, ranks by one swizzle. */
NGC_INLINE void pack_simd(uint32_t *values, const uint32_t *first_seen, const uint32_t *rank,
                          uint32_t count, uint32_t volume, const uint32_t bits) {
  uint8_t ranks[16] = {0};
  for (uint32_t i = 0; i < count; i++) ranks[i] = (uint8_t)rank[i];
  const v128_t table = wasm_v128_load(ranks);
  uint8_t *out = (uint8_t *)values;
  for (uint32_t pos = 0; pos < volume; pos += 16, out += 2 * bits) {
    const uint32_t *in = first_seen + pos;
    const v128_t idx = wasm_u8x16_narrow_i16x8(
        wasm_u16x8_narrow_i32x4(wasm_v128_load(in), wasm_v128_load(in + 4)),
        wasm_u16x8_narrow_i32x4(wasm_v128_load(in + 8), wasm_v128_load(in + 12)));
    v128_t f = wasm_i8x16_swizzle(table, idx);
    for (uint32_t s = bits; s < 8; s *= 2) f = pair_fields(f, s);
    if (bits == 4) wasm_v128_store64_lane(out, f, 0);
    else if (bits == 2) wasm_v128_store32_lane(out, f, 0);
    else wasm_v128_store16_lane(out, f, 0);
  }
}
#endif

/* Encodes one block whose visible voxels start at `in`; `vw` (e->vw) is
 * constant after inlining. */
NGC_INLINE int encode_block(encoder *e, const uint8_t *in, const uint32_t vis[3],
                            size_t row_stride, size_t plane_stride,
                            uint32_t channel_start, uint32_t *header, const uint32_t vw) {
  const geometry *g = &e->g;
  const uint32_t label_bytes = 4 * vw;
  const uint32_t nx = vis[0], ny = vis[1], nz = vis[2];
  e->label_stamp++; /* empties the label set (stamp 0 is never current) */

  /* 1. One pass: distinct labels in first-seen order, and each visible
   *    voxel's first-seen index. Runs of equal voxels skip the hash set. */
  uint32_t count = 0, n = 0, prev_index = 0;
  uint32_t *const first_seen = e->first_seen;
  uint64_t prev = ~load_label(in, vw);
  for (uint32_t z = 0; z < nz; z++)
    for (uint32_t y = 0; y < ny; y++) {
      const uint8_t *row = in + z * plane_stride + y * row_stride;
#ifdef __wasm_simd128__
      if (nx == 8) {
        if (row_equals(row, prev, vw)) { /* the usual blobby row */
          const v128_t i = wasm_i32x4_splat((int32_t)prev_index);
          wasm_v128_store(first_seen + n, i);
          wasm_v128_store(first_seen + n + 4, i);
          n += 8;
          continue;
        }
        /* A row of labels seen before in the block: compared with each of
         * them at once, no branch per voxel (transitions mispredict). */
        if (count <= KNOWN_ROW_LABELS && row_of_known(row, e->distinct, count, first_seen + n, vw)) {
          prev = load_label(row + 7 * label_bytes, vw);
          prev_index = first_seen[n + 7];
          n += 8;
          continue;
        }
      }
#endif
      for (uint32_t x = 0; x < nx; x++) {
        uint64_t label = load_label(row + x * label_bytes, vw);
        if (label != prev) {
          prev = label;
          label_slot *s = find_label(e, label);
          if (s->stamp != e->label_stamp) {
            s->stamp = e->label_stamp;
            s->label = label;
            s->index = count;
            e->distinct[count++] = label;
          }
          prev_index = s->index;
        }
        first_seen[n++] = prev_index;
      }
    }

  /* 2. The sorted table; rank maps first-seen order to table order. */
  sort_labels(e->distinct, count);
  for (uint32_t i = 0; i < count; i++) e->rank[find_label(e, e->distinct[i])->index] = i;
  uint32_t table_offset;
  int status = put_table(e, channel_start, count, &table_offset);
  if (status != NGC_OK) return status;

  /* 3. Packed indices over the full block; padding gets index 0. */
  const uint32_t bits = bits_for(count);
  const uint64_t words = values_words(bits, g->block_volume);
  if (words > e->capacity - e->pos) return NGC_ERR_DST_TOO_SMALL;
  const uint32_t values_offset = e->pos - channel_start;
  if (table_offset > MAX_OFFSET || values_offset > MAX_OFFSET)
    return NGC_ERR_OFFSET_OVERFLOW;
  uint32_t *values = e->dst + e->pos;
  e->pos += (uint32_t)words;
#ifdef __wasm_simd128__
  if (bits != 0 && bits <= 4 && n == g->block_volume && n % 32 == 0) {
    switch (bits) {
      case 1: pack_simd(values, first_seen, e->rank, count, n, 1); break;
      case 2: pack_simd(values, first_seen, e->rank, count, n, 2); break;
      default: pack_simd(values, first_seen, e->rank, count, n, 4); break;
    }
  } else
#endif
  if (bits != 0 && n == g->block_volume) {
    switch (bits) {
      case 1: pack_full(values, first_seen, e->rank, n, 1); break;
      case 2: pack_full(values, first_seen, e->rank, n, 2); break;
      case 4: pack_full(values, first_seen, e->rank, n, 4); break;
      case 8: pack_full(values, first_seen, e->rank, n, 8); break;
      case 16: pack_full(values, first_seen, e->rank, n, 16); break;
      default: pack_full(values, first_seen, e->rank, n, 32); break;
    }
  } else if (bits != 0) { /* a partial edge block: scatter the visible rows */
    const uint32_t per_word = 32 / bits;
    memset(values, 0, (size_t)words * 4);
    n = 0;
    for (uint32_t z = 0; z < nz; z++)
      for (uint32_t y = 0; y < ny; y++) {
        uint32_t pos = (z * g->block[1] + y) * g->block[0];
        for (uint32_t x = 0; x < nx; x++, pos++) {
          uint32_t *word = &values[pos / per_word];
          ngc_store32(word, ngc_load32(word) | e->rank[first_seen[n++]] << ((pos % per_word) * bits));
        }
      }
  }
  ngc_store32(&header[0], table_offset | bits << 24);
  ngc_store32(&header[1], values_offset);
  return NGC_OK;
}

static int encode_block_u32(encoder *e, const uint8_t *in, const uint32_t vis[3],
                            size_t row_stride, size_t plane_stride,
                            uint32_t channel_start, uint32_t *header) {
  return encode_block(e, in, vis, row_stride, plane_stride, channel_start, header, 1);
}

static int encode_block_u64(encoder *e, const uint8_t *in, const uint32_t vis[3],
                            size_t row_stride, size_t plane_stride,
                            uint32_t channel_start, uint32_t *header) {
  return encode_block(e, in, vis, row_stride, plane_stride, channel_start, header, 2);
}

/* Largest number of voxels of one block that lie inside the chunk. */
static uint64_t max_visible(const geometry *g) {
  uint64_t n = 1;
  for (int i = 0; i < 3; i++) n *= g->size[i] < g->block[i] ? g->size[i] : g->block[i];
  return n;
}

int ngc_cseg_encode_bound(const ngc_chunk *chunk, size_t *bound_ret) {
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  if (bound_ret == NULL) return NGC_ERR_BAD_PARAMS;
  uint64_t labels = max_visible(&g);
  /* labels <= block volume < 2^32, so per_block < 2^35: no overflow below. */
  uint64_t per_block = 2 + labels * g.value_words +
                       values_words(bits_for((uint32_t)labels), g.block_volume);
  const uint64_t max_words = SIZE_MAX / 4;
  if (g.num_blocks != 0 && per_block > max_words / g.num_blocks)
    return NGC_ERR_TOO_LARGE;
  uint64_t words = chunk->num_channels * (1 + g.num_blocks * per_block);
  if (words > max_words) return NGC_ERR_TOO_LARGE;
  *bound_ret = (size_t)words * 4;
  return NGC_OK;
}

static int encode_channels(encoder *e, const ngc_chunk *chunk, const uint8_t *src,
                           size_t channel_bytes) {
  const geometry *g = &e->g;
  const size_t label_bytes = 4 * (size_t)e->vw;
  const size_t row_stride = g->size[0] * label_bytes;
  const size_t plane_stride = g->size[1] * row_stride;
  for (uint32_t c = 0; c < chunk->num_channels; c++) {
    const uint32_t channel_start = e->pos;
    ngc_store32(&e->dst[c], channel_start);
    if ((uint64_t)g->num_blocks * 2 > e->capacity - e->pos) return NGC_ERR_DST_TOO_SMALL;
    uint32_t *headers = e->dst + e->pos;
    e->pos += g->num_blocks * 2;
    e->table_stamp++; /* forget the previous channel's tables */
    uint32_t b = 0;
    for (uint32_t bz = 0; bz < g->grid[2]; bz++)
      for (uint32_t by = 0; by < g->grid[1]; by++)
        for (uint32_t bx = 0; bx < g->grid[0]; bx++, b++) {
          const uint32_t pos[3] = {bx, by, bz};
          uint32_t origin[3], vis[3];
          block_extent(g, pos, origin, vis);
          const uint8_t *in = src + c * channel_bytes + origin[2] * plane_stride +
                              origin[1] * row_stride + origin[0] * label_bytes;
          int status = (e->vw == 1 ? encode_block_u32 : encode_block_u64)(
              e, in, vis, row_stride, plane_stride, channel_start, headers + 2 * (size_t)b);
          if (status != NGC_OK) return status;
        }
  }
  return NGC_OK;
}

int ngc_cseg_encode(ngc_chunk *chunk, const void *src, size_t src_size,
                    void *dst, size_t dst_capacity, size_t *dst_size_ret) {
  encoder e;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &e.g);
  if (status != NGC_OK) return status;
  if (src_size != decoded_size) return NGC_ERR_SIZE_MISMATCH;
  if ((src == NULL && src_size != 0) || dst == NULL || dst_size_ret == NULL)
    return NGC_ERR_BAD_PARAMS;
  e.vw = e.g.value_words;
  e.dst = (uint32_t *)dst;
  e.capacity = (uint32_t)(dst_capacity / 4);
  e.pos = chunk->num_channels;
  e.label_stamp = 0;
  e.table_stamp = 0;
  if (e.capacity < e.pos) return NGC_ERR_DST_TOO_SMALL;

  /* Scratch sized by what one block can hold and how many tables a channel
   * can have; calloc leaves every stamp 0, i.e. every slot empty. */
  uint64_t labels = max_visible(&e.g);
  uint64_t label_slots = pow2_at_least(2 * labels);
  uint64_t table_slots = pow2_at_least(2 * (uint64_t)e.g.num_blocks);
  if (label_slots * sizeof(label_slot) > SIZE_MAX / 2 ||
      table_slots * sizeof(table_slot) > SIZE_MAX / 2)
    return NGC_ERR_TOO_LARGE;
  e.labels = calloc((size_t)label_slots, sizeof(label_slot));
  e.distinct = malloc((size_t)(labels ? labels : 1) * sizeof(uint64_t));
  e.first_seen = malloc((size_t)(labels ? labels : 1) * sizeof(uint32_t));
  e.rank = malloc((size_t)(labels ? labels : 1) * sizeof(uint32_t));
  e.tables = calloc((size_t)table_slots, sizeof(table_slot));
  e.labels_mask = (uint32_t)label_slots - 1;
  e.tables_mask = (uint32_t)table_slots - 1;
  if (e.labels == NULL || e.distinct == NULL || e.first_seen == NULL || e.rank == NULL ||
      e.tables == NULL) {
    status = NGC_ERR_NO_MEMORY;
  } else {
    status = encode_channels(&e, chunk, (const uint8_t *)src,
                             decoded_size / chunk->num_channels);
  }
  free(e.labels);
  free(e.distinct);
  free(e.first_seen);
  free(e.rank);
  free(e.tables);
  if (status == NGC_OK) *dst_size_ret = (size_t)e.pos * 4;
  return status;
}
