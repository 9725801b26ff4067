/*
 * downsample.c - ngc_downsample: one (C, Z, Y, X) array downsampled by
 * integer factors with mode or mean, voxel for voxel as tensorstore's
 * downsample driver computes it (see ngcodec.h for the rules).
 *
 * Mode works on unsigned keys of the value's width whose order is the
 * values' order: signed values have their sign bit flipped, floats are
 * mapped to their IEEE total-order key after -0.0 becomes +0.0 and every
 * NaN one quiet NaN. So one body per width serves unsigned and signed
 * values (float32 is its own instance of it), and equal keys are equal
 * values. A full 2x2x2 block (the common case) is first
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

/* One mode body per key width W, as NAME(g, src, dst, scratch, flip).
 * TO(v) and FROM(k) map a value to its key and back; they may use `flip`
 * (the sign bit for signed values, 0 for unsigned). The sorting network is
 * in its own function (mode8_W): inlined into the one-value loop, it made
 * wasmtime's code for that loop about 7x slower (a 64^3 uint64 chunk of
 * zeros: 2.6 ms, 0.38 ms now). */
#define DEFINE_MODE(NAME, W, TO, FROM)                                          \
  static __attribute__((noinline)) void NAME(                                   \
      const ds_geom *g, const uint##W##_t *src, uint##W##_t *restrict dst,      \
      uint##W##_t *restrict scratch, const uint##W##_t flip) {                  \
    (void)flip;                                                                 \
    const uint32_t X = g->x, Y = g->y, Z = g->z;                                \
    const uint32_t fx = g->fx, fy = g->fy, fz = g->fz;                          \
    const uint32_t ox = g->ox, oy = g->oy, oz = g->oz, channels = g->channels;  \
    const size_t sy = g->sy, sz = g->sz, sc = g->sc;                            \
    const int pairs = fx == 2 && fy == 2 && fz == 2;                            \
    for (uint32_t c = 0; c < channels; c++) {                                   \
      const uint##W##_t *in_c = src + (size_t)c * sc;                           \
      for (uint32_t k = 0; k < oz; k++) {                                       \
        const uint32_t z0 = k * fz, z1 = z0 + fz > Z ? Z : z0 + fz;             \
        for (uint32_t j = 0; j < oy; j++) {                                     \
          const uint32_t y0 = j * fy, y1 = y0 + fy > Y ? Y : y0 + fy;           \
          uint32_t i = 0;                                                       \
          if (pairs && z1 - z0 == 2 && y1 - y0 == 2) {                          \
            const uint##W##_t *p = in_c + z0 * sz + y0 * sy;                    \
            for (; 2 * i + 2 <= X; i++, p += 2) {                               \
              uint##W##_t v0 = TO(p[0]), v1 = TO(p[1]);                         \
              uint##W##_t v2 = TO(p[sy]), v3 = TO(p[sy + 1]);                   \
              uint##W##_t v4 = TO(p[sz]), v5 = TO(p[sz + 1]);                   \
              uint##W##_t v6 = TO(p[sz + sy]), v7 = TO(p[sz + sy + 1]);         \
              if (((v0 ^ v1) | (v0 ^ v2) | (v0 ^ v3) | (v0 ^ v4) | (v0 ^ v5) |  \
                   (v0 ^ v6) | (v0 ^ v7)) == 0) {                               \
                *dst++ = FROM(v0);                                              \
                continue;                                                       \
              }                                                                 \
              uint##W##_t s[8] = {v0, v1, v2, v3, v4, v5, v6, v7};              \
              *dst++ = FROM(mode8_##W(s));                                      \
            }                                                                   \
          }                                                                     \
          for (; i < ox; i++) {                                                 \
            const uint32_t x0 = i * fx, x1 = x0 + fx > X ? X : x0 + fx;         \
            uint32_t n = 0;                                                     \
            for (uint32_t z = z0; z < z1; z++)                                  \
              for (uint32_t y = y0; y < y1; y++) {                              \
                const uint##W##_t *p = in_c + z * sz + y * sy;                  \
                for (uint32_t x = x0; x < x1; x++) scratch[n++] = TO(p[x]);     \
              }                                                                 \
            sort##W(scratch, n);                                                \
            *dst++ = FROM(mode_sorted##W(scratch, n));                          \
          }                                                                     \
        }                                                                       \
      }                                                                         \
    }                                                                           \
  }

/* The mode of 8 keys, kept out of the loop that tries the one-value case
 * first. Blocks of two values (a quarter of a segmentation's blocks, most
 * of the rest: boundaries) are counted; others are sorted in place by the
 * network. */
#define DEFINE_MODE8(W)                                                         \
  static __attribute__((noinline)) uint##W##_t mode8_##W(uint##W##_t *s) {      \
    const uint##W##_t a = s[0];                                                 \
    uint##W##_t b = a;                                                          \
    for (int i = 1; i < 8; i++)                                                 \
      if (s[i] != a) {                                                          \
        b = s[i];                                                               \
        break;                                                                  \
      }                                                                         \
    uint32_t na = 0, nb = 0;                                                    \
    for (int i = 0; i < 8; i++) {                                               \
      na += s[i] == a;                                                          \
      nb += s[i] == b;                                                          \
    }                                                                           \
    if (na + nb == 8) /* ties go to the smaller key */                          \
      return na > nb ? a : nb > na ? b : (a < b ? a : b);                       \
    uint##W##_t v0 = s[0], v1 = s[1], v2 = s[2], v3 = s[3];                     \
    uint##W##_t v4 = s[4], v5 = s[5], v6 = s[6], v7 = s[7];                     \
    SORT8(uint##W##_t, v0, v1, v2, v3, v4, v5, v6, v7);                         \
    s[0] = v0, s[1] = v1, s[2] = v2, s[3] = v3;                                 \
    s[4] = v4, s[5] = v5, s[6] = v6, s[7] = v7;                                 \
    return mode_sorted##W(s, 8);                                                \
  }

/* The first longest run of sorted s[0..n), n >= 1, and the sorts. */
#define DEFINE_SORTED(W)                                                        \
  NGC_INLINE uint##W##_t mode_sorted##W(const uint##W##_t *s, uint32_t n) {     \
    uint##W##_t best = s[0];                                                    \
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
  static void sort##W(uint##W##_t *a, uint32_t n) {                             \
    if (n <= 32) {                                                              \
      for (uint32_t i = 1; i < n; i++) {                                        \
        uint##W##_t t = a[i];                                                   \
        uint32_t j = i;                                                         \
        for (; j > 0 && a[j - 1] > t; j--) a[j] = a[j - 1];                     \
        a[j] = t;                                                               \
      }                                                                         \
      return;                                                                   \
    }                                                                           \
    /* Heap sort: O(n log n), no recursion, no extra memory. */                 \
    for (uint32_t start = n / 2; start-- > 0;) sift##W(a, start, n);            \
    for (uint32_t end = n - 1; end > 0; end--) {                                \
      uint##W##_t t = a[0];                                                     \
      a[0] = a[end];                                                            \
      a[end] = t;                                                               \
      sift##W(a, 0, end);                                                       \
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
DEFINE_SORTED(8)
DEFINE_SORTED(16)
DEFINE_SORTED(32)
DEFINE_SORTED(64)
DEFINE_MODE8(8)
DEFINE_MODE8(16)
DEFINE_MODE8(32)
DEFINE_MODE8(64)

#define INT_KEY(v) ((v) ^ flip)
#define FLOAT_KEY(v) float_key(v)
#define FLOAT_FROM_KEY(k) float_from_key(k)
DEFINE_MODE(mode_u8, 8, INT_KEY, INT_KEY)
DEFINE_MODE(mode_u16, 16, INT_KEY, INT_KEY)
DEFINE_MODE(mode_u32, 32, INT_KEY, INT_KEY)
DEFINE_MODE(mode_u64, 64, INT_KEY, INT_KEY)
DEFINE_MODE(mode_f32, 32, FLOAT_KEY, FLOAT_FROM_KEY)

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
  static __attribute__((noinline)) void NAME(const ds_geom *g, const T *src,    \
                                             T *restrict dst) {                 \
    const uint32_t X = g->x, Y = g->y, Z = g->z;                                \
    const uint32_t fx = g->fx, fy = g->fy, fz = g->fz;                          \
    const uint32_t ox = g->ox, oy = g->oy, oz = g->oz, channels = g->channels;  \
    const size_t sy = g->sy, sz = g->sz, sc = g->sc;                            \
    const int pairs = fx == 2 && fy == 2 && fz == 2;                            \
    for (uint32_t c = 0; c < channels; c++) {                                   \
      const T *in_c = src + (size_t)c * sc;                                     \
      for (uint32_t k = 0; k < oz; k++) {                                       \
        const uint32_t z0 = k * fz, z1 = z0 + fz > Z ? Z : z0 + fz;             \
        for (uint32_t j = 0; j < oy; j++) {                                     \
          const uint32_t y0 = j * fy, y1 = y0 + fy > Y ? Y : y0 + fy;           \
          uint32_t i = 0;                                                       \
          if (pairs && z1 - z0 == 2 && y1 - y0 == 2) {                          \
            const T *p = in_c + z0 * sz + y0 * sy;                              \
            for (; 2 * i + 2 <= X; i++, p += 2) {                               \
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
          for (; i < ox; i++) {                                                 \
            const uint32_t x0 = i * fx, x1 = x0 + fx > X ? X : x0 + fx;         \
            A acc = 0;                                                          \
            for (uint32_t z = z0; z < z1; z++)                                  \
              for (uint32_t y = y0; y < y1; y++) {                              \
                const T *p = in_c + z * sz + y * sy;                            \
                for (uint32_t x = x0; x < x1; x++) acc += (A)p[x];              \
              }                                                                 \
            const uint32_t n = (z1 - z0) * (y1 - y0) * (x1 - x0);               \
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
  const int s = kind == NGC_KIND_SIGNED; /* flip the sign bit: unsigned order */
  if (kind == NGC_KIND_FLOAT) {
    mode_f32(g, src, dst, scratch, 0);
  } else {
    switch (bytes) {
      case 1: mode_u8(g, src, dst, scratch, (uint8_t)(s << 7)); break;
      case 2: mode_u16(g, src, dst, scratch, (uint16_t)(s << 15)); break;
      case 4: mode_u32(g, src, dst, scratch, (uint32_t)s << 31); break;
      default: mode_u64(g, src, dst, scratch, (uint64_t)s << 63); break;
    }
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
