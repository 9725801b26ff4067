/*
 * downsample.c - ngc_downsample: one (C, Z, Y, X) array downsampled by
 * integer factors with mode or mean, voxel for voxel as tensorstore's
 * downsample driver computes it (see ngcodec.h for the rules).
 *
 * Mode works on unsigned keys of the value's width whose order is the
 * values' order: signed values have their sign bit flipped, floats are
 * mapped to their IEEE total-order key after -0.0 becomes +0.0 and every
 * NaN one quiet NaN. So one body per width serves every kind, and equal
 * keys are equal values. A full 2x2x2 block (the common case) is first
 * checked for one value (most blocks of a segmentation), then sorted by a
 * 19-comparator network; other blocks are gathered into scratch and sorted
 * by insertion (up to 32 voxels) or heap sort. After sorting, the first run
 * strictly longer than every earlier one wins: ties go to the smallest.
 *
 * Mean sums exactly (uint64/int64 accumulators; unsigned/signed __int128
 * for 64-bit values) and rounds half to even, as tensorstore does; float32
 * sums in float32 in the block's raster order, as tensorstore does.
 */
#include <stdlib.h>

#include "internal.h"

/* The geometry of one call, derived once from the params. */
typedef struct ds_geom {
  uint32_t x, y, z;       /* input size */
  uint32_t fx, fy, fz;    /* factors */
  uint32_t ox, oy, oz;    /* output size */
  uint32_t channels;
  size_t sy, sz, sc;      /* input strides in values (sx = 1) */
  uint32_t max_block;     /* voxels of the largest block */
} ds_geom;

/* ------------------------------------------------------------------------ */
/* Keys for mode                                                            */
/* ------------------------------------------------------------------------ */

NGC_INLINE uint32_t float_key(uint32_t b) {
  uint32_t m = b & 0x7FFFFFFFu;
  if (m == 0) b = 0;                        /* -0.0 -> +0.0 */
  else if (m > 0x7F800000u) b = 0x7FC00000u; /* any NaN -> one NaN */
  return (b >> 31) ? ~b : (b | 0x80000000u);
}

NGC_INLINE uint32_t float_from_key(uint32_t k) {
  return (k >> 31) ? (k & 0x7FFFFFFFu) : ~k;
}

/* ------------------------------------------------------------------------ */
/* Mode, one body per key width                                             */
/* ------------------------------------------------------------------------ */

#define DEFINE_MODE(W)                                                          \
  typedef uint##W##_t key##W;                                                   \
                                                                                \
  /* The key of a value (kind: 0 unsigned, 1 signed, 2 float32) and back. */   \
  NGC_INLINE key##W to_key##W(key##W v, uint32_t kind) {                        \
    if (kind == NGC_KIND_SIGNED) return v ^ ((key##W)1 << (W - 1));             \
    if (W == 32 && kind == NGC_KIND_FLOAT) return (key##W)float_key((uint32_t)v); \
    return v;                                                                   \
  }                                                                             \
  NGC_INLINE key##W from_key##W(key##W k, uint32_t kind) {                      \
    if (kind == NGC_KIND_SIGNED) return k ^ ((key##W)1 << (W - 1));             \
    if (W == 32 && kind == NGC_KIND_FLOAT)                                      \
      return (key##W)float_from_key((uint32_t)k);                               \
    return k;                                                                   \
  }                                                                             \
                                                                                \
  /* The first longest run of sorted s[0..n), n >= 1. */                        \
  NGC_INLINE key##W mode_sorted##W(const key##W *s, uint32_t n) {               \
    key##W best = s[0];                                                         \
    uint32_t best_count = 1, count = 1;                                         \
    for (uint32_t i = 1; i < n; i++) {                                          \
      if (s[i] == s[i - 1]) {                                                   \
        count++;                                                                \
      } else {                                                                  \
        if (count > best_count) {                                               \
          best_count = count;                                                   \
          best = s[i - 1];                                                      \
        }                                                                       \
        count = 1;                                                              \
      }                                                                         \
    }                                                                           \
    return count > best_count ? s[n - 1] : best;                                \
  }                                                                             \
                                                                                \
  static key##W mode8_##W(key##W *v) {                                          \
    key##W v0 = v[0], v1 = v[1], v2 = v[2], v3 = v[3];                          \
    key##W v4 = v[4], v5 = v[5], v6 = v[6], v7 = v[7];                          \
    if (((v0 ^ v1) | (v0 ^ v2) | (v0 ^ v3) | (v0 ^ v4) | (v0 ^ v5) |           \
         (v0 ^ v6) | (v0 ^ v7)) == 0)                                           \
      return v0;                                                                \
    SORT8(key##W, v0, v1, v2, v3, v4, v5, v6, v7);                              \
    key##W s[8] = {v0, v1, v2, v3, v4, v5, v6, v7};                             \
    return mode_sorted##W(s, 8);                                                \
  }                                                                             \
                                                                                \
  static void sort##W(key##W *a, uint32_t n) {                                  \
    if (n <= 32) {                                                              \
      for (uint32_t i = 1; i < n; i++) {                                        \
        key##W t = a[i];                                                        \
        uint32_t j = i;                                                         \
        for (; j > 0 && a[j - 1] > t; j--) a[j] = a[j - 1];                     \
        a[j] = t;                                                               \
      }                                                                         \
      return;                                                                   \
    }                                                                           \
    /* Heap sort: O(n log n), no recursion, no extra memory. */                 \
    for (uint32_t start = n / 2; start-- > 0;) sift##W(a, start, n);            \
    for (uint32_t end = n - 1; end > 0; end--) {                                \
      key##W t = a[0];                                                          \
      a[0] = a[end];                                                            \
      a[end] = t;                                                               \
      sift##W(a, 0, end);                                                       \
    }                                                                           \
  }                                                                             \
                                                                                \
  static void mode##W(const ds_geom *g, const key##W *src, key##W *dst,        \
                      key##W *scratch, uint32_t kind) {                         \
    for (uint32_t c = 0; c < g->channels; c++) {                                \
      const key##W *in_c = src + (size_t)c * g->sc;                             \
      for (uint32_t k = 0; k < g->oz; k++) {                                    \
        uint32_t z0 = k * g->fz, z1 = z0 + g->fz > g->z ? g->z : z0 + g->fz;    \
        for (uint32_t j = 0; j < g->oy; j++) {                                  \
          uint32_t y0 = j * g->fy, y1 = y0 + g->fy > g->y ? g->y : y0 + g->fy;  \
          const key##W *row = in_c + z0 * g->sz + y0 * g->sy;                   \
          uint32_t i = 0;                                                       \
          if (g->fx == 2 && g->fy == 2 && g->fz == 2 && z1 - z0 == 2 &&         \
              y1 - y0 == 2) {                                                   \
            const size_t sy = g->sy, sz = g->sz;                                \
            for (; 2 * i + 2 <= g->x; i++) {                                    \
              const key##W *p = row + 2 * i;                                    \
              key##W v[8] = {p[0],      p[1],          p[sy],                   \
                             p[sy + 1], p[sz],         p[sz + 1],               \
                             p[sz + sy], p[sz + sy + 1]};                       \
              for (int t = 0; t < 8; t++) v[t] = to_key##W(v[t], kind);         \
              *dst++ = from_key##W(mode8_##W(v), kind);                         \
            }                                                                   \
          }                                                                     \
          for (; i < g->ox; i++) {                                              \
            uint32_t x0 = i * g->fx;                                            \
            uint32_t x1 = x0 + g->fx > g->x ? g->x : x0 + g->fx;                \
            uint32_t n = 0;                                                     \
            for (uint32_t z = z0; z < z1; z++)                                  \
              for (uint32_t y = y0; y < y1; y++) {                              \
                const key##W *p = in_c + z * g->sz + y * g->sy;                 \
                for (uint32_t x = x0; x < x1; x++)                              \
                  scratch[n++] = to_key##W(p[x], kind);                         \
              }                                                                 \
            sort##W(scratch, n);                                                \
            *dst++ = from_key##W(mode_sorted##W(scratch, n), kind);             \
          }                                                                     \
        }                                                                       \
      }                                                                         \
    }                                                                           \
  }

/* The 19-comparator sorting network for 8 values. */
#define SORT8(T, v0, v1, v2, v3, v4, v5, v6, v7) \
  do {                                           \
    CSWAP_T(T, v0, v2); CSWAP_T(T, v1, v3);      \
    CSWAP_T(T, v4, v6); CSWAP_T(T, v5, v7);      \
    CSWAP_T(T, v0, v4); CSWAP_T(T, v1, v5);      \
    CSWAP_T(T, v2, v6); CSWAP_T(T, v3, v7);      \
    CSWAP_T(T, v0, v1); CSWAP_T(T, v2, v3);      \
    CSWAP_T(T, v4, v5); CSWAP_T(T, v6, v7);      \
    CSWAP_T(T, v2, v4); CSWAP_T(T, v3, v5);      \
    CSWAP_T(T, v1, v4); CSWAP_T(T, v3, v6);      \
    CSWAP_T(T, v1, v2); CSWAP_T(T, v3, v4);      \
    CSWAP_T(T, v5, v6);                          \
  } while (0)

#define CSWAP_T(T, a, b)     \
  do {                       \
    T lo_ = a < b ? a : b;   \
    T hi_ = a < b ? b : a;   \
    a = lo_;                 \
    b = hi_;                 \
  } while (0)

#define DEFINE_SIFT(W)                                                   \
  static void sift##W(uint##W##_t *a, uint32_t root, uint32_t n) {       \
    uint##W##_t t = a[root];                                             \
    for (;;) {                                                           \
      uint32_t child = 2 * root + 1;                                     \
      if (child >= n) break;                                             \
      if (child + 1 < n && a[child + 1] > a[child]) child++;             \
      if (a[child] <= t) break;                                          \
      a[root] = a[child];                                                \
      root = child;                                                      \
    }                                                                    \
    a[root] = t;                                                         \
  }

DEFINE_SIFT(8)
DEFINE_SIFT(16)
DEFINE_SIFT(32)
DEFINE_SIFT(64)
DEFINE_MODE(8)
DEFINE_MODE(16)
DEFINE_MODE(32)
DEFINE_MODE(64)

/* ------------------------------------------------------------------------ */
/* Mean                                                                     */
/* ------------------------------------------------------------------------ */

/* Round-half-to-even division of a sum by n >= 1, as tensorstore's
 * ComputeOutput: C division truncates, so negative sums round away from
 * zero when the remainder is more than half (or half with an odd
 * quotient). */
NGC_INLINE uint64_t div_even_u64(uint64_t s, uint64_t n) {
  uint64_t q = s / n, r = s % n;
  return q + (r * 2 + (q & 1) > n);
}
NGC_INLINE int64_t div_even_i64(int64_t s, int64_t n) {
  int64_t q = s / n, r = s % n;
  if (s >= 0) return q + (r * 2 + (q & 1) > n);
  return q - (r * 2 - (q & 1) < -n);
}
NGC_INLINE uint64_t div_even_u128(unsigned __int128 s, uint64_t n) {
  if ((uint64_t)(s >> 64) == 0) return div_even_u64((uint64_t)s, n);
  unsigned __int128 q = s / n, r = s % n;
  return (uint64_t)(q + (r * 2 + (q & 1) > n));
}
NGC_INLINE int64_t div_even_i128(__int128 s, int64_t n) {
  if (s >= INT64_MIN && s <= INT64_MAX) return div_even_i64((int64_t)s, n);
  __int128 q = s / n, r = s % n;
  if (s >= 0) return (int64_t)(q + (r * 2 + (q & 1) > n));
  return (int64_t)(q - (r * 2 - (q & 1) < -(__int128)n));
}

/* One body: T the value type, A the accumulator, FINISH(acc, n) the output.
 * Sums run in raster order (z, y, x fastest), which matters for floats. */
#define DEFINE_MEAN(NAME, T, A, FINISH)                                         \
  static void NAME(const ds_geom *g, const T *src, T *dst) {                    \
    for (uint32_t c = 0; c < g->channels; c++) {                                \
      const T *in_c = src + (size_t)c * g->sc;                                  \
      for (uint32_t k = 0; k < g->oz; k++) {                                    \
        uint32_t z0 = k * g->fz, z1 = z0 + g->fz > g->z ? g->z : z0 + g->fz;    \
        for (uint32_t j = 0; j < g->oy; j++) {                                  \
          uint32_t y0 = j * g->fy, y1 = y0 + g->fy > g->y ? g->y : y0 + g->fy;  \
          const T *row = in_c + z0 * g->sz + y0 * g->sy;                        \
          uint32_t i = 0;                                                       \
          if (g->fx == 2 && g->fy == 2 && g->fz == 2 && z1 - z0 == 2 &&         \
              y1 - y0 == 2) {                                                   \
            const size_t sy = g->sy, sz = g->sz;                                \
            for (; 2 * i + 2 <= g->x; i++) {                                    \
              const T *p = row + 2 * i;                                         \
              A acc = 0;                                                        \
              acc += (A)p[0];                                                   \
              acc += (A)p[1];                                                   \
              acc += (A)p[sy];                                                  \
              acc += (A)p[sy + 1];                                              \
              acc += (A)p[sz];                                                  \
              acc += (A)p[sz + 1];                                              \
              acc += (A)p[sz + sy];                                             \
              acc += (A)p[sz + sy + 1];                                         \
              *dst++ = FINISH(acc, 8);                                          \
            }                                                                   \
          }                                                                     \
          for (; i < g->ox; i++) {                                              \
            uint32_t x0 = i * g->fx;                                            \
            uint32_t x1 = x0 + g->fx > g->x ? g->x : x0 + g->fx;                \
            A acc = 0;                                                          \
            for (uint32_t z = z0; z < z1; z++)                                  \
              for (uint32_t y = y0; y < y1; y++) {                              \
                const T *p = in_c + z * g->sz + y * g->sy;                      \
                for (uint32_t x = x0; x < x1; x++) acc += (A)p[x];              \
              }                                                                 \
            uint32_t n = (z1 - z0) * (y1 - y0) * (x1 - x0);                     \
            *dst++ = FINISH(acc, n);                                            \
          }                                                                     \
        }                                                                       \
      }                                                                         \
    }                                                                           \
  }

#define FIN_U(acc, n) ((__typeof__(*dst))div_even_u64(acc, n))
#define FIN_I(acc, n) ((__typeof__(*dst))div_even_i64(acc, (int64_t)(n)))
#define FIN_U128(acc, n) div_even_u128(acc, n)
#define FIN_I128(acc, n) div_even_i128(acc, (int64_t)(n))
#define FIN_F(acc, n) ((acc) / (float)(n))

DEFINE_MEAN(mean_u8, uint8_t, uint64_t, FIN_U)
DEFINE_MEAN(mean_i8, int8_t, int64_t, FIN_I)
DEFINE_MEAN(mean_u16, uint16_t, uint64_t, FIN_U)
DEFINE_MEAN(mean_i16, int16_t, int64_t, FIN_I)
DEFINE_MEAN(mean_u32, uint32_t, uint64_t, FIN_U)
DEFINE_MEAN(mean_i32, int32_t, int64_t, FIN_I)
DEFINE_MEAN(mean_u64, uint64_t, unsigned __int128, FIN_U128)
DEFINE_MEAN(mean_i64, int64_t, __int128, FIN_I128)
DEFINE_MEAN(mean_f32, float, float, FIN_F)

/* ------------------------------------------------------------------------ */
/* The export                                                               */
/* ------------------------------------------------------------------------ */

static int mean(const ds_geom *g, uint32_t bytes, uint32_t kind, const void *src,
                void *dst) {
  if (kind == NGC_KIND_FLOAT) {
    mean_f32(g, src, dst);
  } else if (kind == NGC_KIND_SIGNED) {
    switch (bytes) {
      case 1: mean_i8(g, src, dst); break;
      case 2: mean_i16(g, src, dst); break;
      case 4: mean_i32(g, src, dst); break;
      default: mean_i64(g, src, dst); break;
    }
  } else {
    switch (bytes) {
      case 1: mean_u8(g, src, dst); break;
      case 2: mean_u16(g, src, dst); break;
      case 4: mean_u32(g, src, dst); break;
      default: mean_u64(g, src, dst); break;
    }
  }
  return NGC_OK;
}

static int mode(const ds_geom *g, uint32_t bytes, uint32_t kind, const void *src,
                void *dst) {
  /* One block of keys: max_block <= x * y * z, so this fits the input's
   * size (and is 8 values for the usual 2x2x2). */
  void *scratch = malloc((size_t)g->max_block * bytes);
  if (scratch == NULL) return NGC_ERR_NO_MEMORY;
  switch (bytes) {
    case 1: mode8(g, src, dst, scratch, kind); break;
    case 2: mode16(g, src, dst, scratch, kind); break;
    case 4: mode32(g, src, dst, scratch, kind); break;
    default: mode64(g, src, dst, scratch, kind); break;
  }
  free(scratch);
  return NGC_OK;
}

int ngc_downsample(const ngc_downsample_params *params, const void *src,
                   size_t src_size, void *dst, size_t dst_capacity) {
  if (params == NULL || params->num_channels == 0 ||
      params->method > NGC_DOWNSAMPLE_MODE || params->value_kind > NGC_KIND_FLOAT)
    return NGC_ERR_BAD_PARAMS;
  const uint32_t bytes = params->value_bytes, kind = params->value_kind;
  if (kind == NGC_KIND_FLOAT ? bytes != 4
                             : (bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8))
    return NGC_ERR_BAD_PARAMS;
  ds_geom g;
  g.x = params->size[0];
  g.y = params->size[1];
  g.z = params->size[2];
  g.fx = params->factors[0];
  g.fy = params->factors[1];
  g.fz = params->factors[2];
  g.channels = params->num_channels;
  if (g.fx == 0 || g.fy == 0 || g.fz == 0) return NGC_ERR_BAD_PARAMS;
  /* 64-bit products cannot overflow: each factor is below 2^32 and the
   * running product is capped at SIZE_MAX (2^32 - 1 in wasm32) each step. */
  uint64_t in = (uint64_t)g.channels * bytes;
  in *= g.x;
  if (in > SIZE_MAX) return NGC_ERR_TOO_LARGE;
  in *= g.y;
  if (in > SIZE_MAX) return NGC_ERR_TOO_LARGE;
  in *= g.z;
  if (in > SIZE_MAX) return NGC_ERR_TOO_LARGE;
  if (src_size != in) return NGC_ERR_SIZE_MISMATCH;
  g.ox = ngc_ceil_div(g.x, g.fx);
  g.oy = ngc_ceil_div(g.y, g.fy);
  g.oz = ngc_ceil_div(g.z, g.fz);
  /* No larger than the input. */
  const size_t out = (size_t)g.channels * bytes * g.ox * g.oy * g.oz;
  if (dst_capacity < out) return NGC_ERR_DST_TOO_SMALL;
  if (out == 0) return NGC_OK;
  if (src == NULL || dst == NULL) return NGC_ERR_BAD_PARAMS;
  g.sy = g.x;
  g.sz = (size_t)g.x * g.y;
  g.sc = g.sz * g.z;
  g.max_block = (g.fx < g.x ? g.fx : g.x) * (g.fy < g.y ? g.fy : g.y) *
                (g.fz < g.z ? g.fz : g.z);
  return params->method == NGC_DOWNSAMPLE_MEAN ? mean(&g, bytes, kind, src, dst)
                                               : mode(&g, bytes, kind, src, dst);
}
