/*
 * simd.h - the WebAssembly SIMD kernels of the compressed_segmentation
 * decoder (cseg_decode.c) and encoder (cseg_encode.c). They cover the
 * common case, blocks of 8-voxel rows with few labels, 16 voxels a step
 * with no branch that depends on the voxels. Everything is inside
 * __wasm_simd128__: the native build (used for fuzzing) compiles the
 * scalar paths only, and every caller is guarded the same way.
 */
#ifndef NGCODEC_SIMD_H
#define NGCODEC_SIMD_H

#ifdef __wasm_simd128__

#include <wasm_simd128.h>

#include "internal.h"

/* ========================================================================== */
/*                                  Decoding                                  */
/* ========================================================================== */

/* Writes the label at `label` to 8 consecutive voxels: explicit splats,
 * because the auto-vectoriser leaves scalar stores. */
NGC_INLINE void fill8(uint8_t *out, const uint8_t *label, const uint32_t vw) {
  const v128_t v = vw == 1 ? wasm_v128_load32_splat(label) : wasm_v128_load64_splat(label);
  for (uint32_t k = 0; k < 2 * vw; k++) wasm_v128_store(out + 16 * k, v);
}

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

/* ========================================================================== */
/*                                  Encoding                                  */
/* ========================================================================== */

/* first_seen[0..8) = index: a row of 8 voxels of one known label. */
NGC_INLINE void splat8(uint32_t *first_seen, uint32_t index) {
  const v128_t i = wasm_i32x4_splat((int32_t)index);
  wasm_v128_store(first_seen, i);
  wasm_v128_store(first_seen + 4, i);
}

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

/* ========================================================================== */
/*                         Compressed-domain operations                       */
/* ========================================================================== */

/* The largest index in `nbytes` bytes of packed 2-, 4- or 8-bit indices
 * (cseg_scan.c's max_index): 16 bytes a step, each index moved to a byte
 * lane by shift and mask, then a lane-wise max; the tail is the caller's. */
NGC_INLINE uint32_t max_index_simd(const uint8_t *b, uint32_t nbytes, const uint32_t bits) {
  const v128_t mask = wasm_i8x16_splat((int8_t)((1u << bits) - 1));
  v128_t m = wasm_i8x16_splat(0);
  for (uint32_t i = 0; i + 16 <= nbytes; i += 16) {
    const v128_t v = wasm_v128_load(b + i);
    if (bits == 8) {
      m = wasm_u8x16_max(m, v);
    } else {
      for (uint32_t k = 0; k < 8; k += bits)
        m = wasm_u8x16_max(m, wasm_v128_and(wasm_u8x16_shr(v, k), mask));
    }
  }
  uint32_t max = 0;
  uint8_t lanes[16];
  wasm_v128_store(lanes, m);
  for (int k = 0; k < 16; k++) max = lanes[k] > max ? lanes[k] : max;
  return max;
}

#endif /* __wasm_simd128__ */

#endif /* NGCODEC_SIMD_H */
