/*
 * fuzz_cseg_ops.c - libFuzzer harness for the questions asked of
 * compressed_segmentation chunks (wasm_src/cseg_ops.c:
 * ngc_cseg_label_counts, ngc_cseg_contains, ngc_cseg_mask, ngc_cseg_remap)
 * and for ngc_cseg_decode_box and ngc_cseg_read_voxels.
 *
 * Input: fuzz_cseg_decode.c's 8-byte parameter header, then the chunk:
 *   byte 0..2  chunk size x, y, z = byte % 71           (0..70)
 *   byte 3..5  block size x, y, z = 1 + byte % 70       (1..70)
 *   byte 6     bit 0: uint64 labels (else uint32)
 *              bits 1-2: num_channels - 1               (1..4)
 *              bits 3-4: the chunk (and remap's dst) start 0..3 bytes past
 *              malloc alignment
 *   byte 7     the "too small" capacities (label counts, mask, decode_box,
 *              remap): 0 -> need - 1, else need * byte / 256
 * Channels are dropped until the decoded size is <= 8 MiB. Every other
 * choice (the box, the labels asked about, the mapping) is drawn from a
 * generator seeded with a hash of the whole input, so the seeds of
 * fuzz_cseg_decode work here unchanged.
 *
 * The chunk is decoded with ngc_cseg_decode and the reference decoder of
 * fuzz_common.h (same status, place and array). Then, for every input:
 *  - label_counts, contains, mask and remap return decode's status with
 *    decode's fail_channel/fail_block when decode refuses the chunk (remap
 *    without NGC_PRESERVE_MISSING may instead stop earlier with
 *    NGC_ERR_NOT_MAPPED), and remap leaves dst untouched;
 *  - decode_box returns the status and place of a reference box decoder
 *    (the reference restricted to the blocks the box meets) and, on
 *    success, exactly the box of the reference's array (dst exact size,
 *    pre-filled); a dst one byte (or more) too small gives DST_TOO_SMALL,
 *    a box past the chunk BAD_PARAMS;
 *  - read_voxels of random points of one channel equals the decoded chunk, and
 *    on a refused one-channel chunk returns the status and place of the
 *    reference one-voxel box of the first point whose block is refused;
 *  - unsorted or repeated label sets / mapping keys give BAD_PARAMS, as
 *    does a uint32 chunk's mapping value past 32 bits; a remap dst smaller
 *    than src DST_TOO_SMALL; all with NGC_NO_PLACE and remap's dst untouched.
 * When decode succeeds:
 *  - label_counts: a sizing call (dst NULL, capacity 0) and a too-small dst
 *    give DST_TOO_SMALL with *count_ret the exact need, the exact dst gives
 *    per channel the ascending labels and counts of the decoded array (the
 *    list is proven to be the decoded multiset: every voxel's label is found
 *    and its count used up exactly), channel_ends cumulative;
 *  - contains: for a label of a random voxel, a random (likely absent)
 *    label and a small mixed set, found[c] is a scan of channel c;
 *  - mask: the per-voxel membership of that set (dst exact, pre-filled);
 *  - remap (dst exact size, pre-filled, src's alignment): with every decoded
 *    label mapped (label ^ 0x5A5A..., label % 7 so labels merge, or random),
 *    and with NGC_PRESERVE_MISSING and a partial mapping (out of place and in
 *    place, the two equal): NGC_OK, and then the output decodes (ngcodec,
 *    and the reference once) to the mapping applied to the decoded array,
 *    and every word that is not a table entry some index reaches is
 *    unchanged; or NGC_ERR_TABLE_OVERLAP with dst untouched, allowed only
 *    when some word is two of offset / header / values / entry low word /
 *    entry high word under the widest reading of "reached" (entries 0..max
 *    index of the full block). Without the flag, a partial mapping gives
 *    NGC_ERR_NOT_MAPPED in the first block (channel, then x-fastest) with
 *    a visible unmapped label, mapping->missing one of that block's unmapped
 *    labels, dst untouched. The chunk re-encoded by ngc_cseg_encode remaps
 *    (never TABLE_OVERLAP) to a chunk that decodes to the mapped array.
 * Every buffer handed to ngcodec (chunk, dst, label sets, keys, values,
 * channel_ends, found) is an exact-size allocation, so ASan reports a
 * one-byte over-read or over-write.
 */
#include "fuzz_common.h"

#define HEADER 8
#define PATTERN 0xA5

/* splitmix64 */
static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t below(uint64_t *s, uint64_t n) { return n ? rnd(s) % n : 0; }

FUZZ_NO_COVERAGE static uint64_t hash_bytes(const uint8_t *p, size_t n) {
  uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
  return h;
}

static inline uint64_t label_at(const uint8_t *a, size_t i, unsigned vb) {
  if (vb == 4) {
    uint32_t v;
    memcpy(&v, a + 4 * i, 4);
    return v;
  }
  uint64_t v;
  memcpy(&v, a + 8 * i, 8);
  return v;
}

static inline void put_label(uint8_t *a, size_t i, unsigned vb, uint64_t v) {
  if (vb == 4) {
    const uint32_t w = (uint32_t)v;
    memcpy(a + 4 * i, &w, 4);
  } else {
    memcpy(a + 8 * i, &v, 8);
  }
}

/* Position of x in the ascending a[0..n), or -1. */
static inline int64_t find64(const uint64_t *a, size_t n, uint64_t x) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (a[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && a[lo] == x ? (int64_t)lo : -1;
}

static int cmp64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Sorts a[0..n) and drops repeats; returns the new count. */
static size_t sort_unique(uint64_t *a, size_t n) {
  if (n == 0) return 0;
  qsort(a, n, sizeof *a, cmp64);
  size_t k = 1;
  for (size_t i = 1; i < n; i++)
    if (a[i] != a[k - 1]) a[k++] = a[i];
  return k;
}

/* An exact-size copy of n labels (n may be 0). */
static uint64_t *copy_labels(const uint64_t *a, size_t n) {
  return (uint64_t *)fuzz_alloc(a, n * 8, 0);
}

static int same_input_fields(const ngc_chunk *a, const ngc_chunk *b) {
  return memcmp(a->size, b->size, sizeof a->size) == 0 &&
         memcmp(a->block_size, b->block_size, sizeof a->block_size) == 0 &&
         a->num_channels == b->num_channels && a->value_bytes == b->value_bytes;
}

/* The status and place an operation must return. */
static void expect(const char *what, int got, const ngc_chunk *got_chunk,
                   const ngc_chunk *ch, int want, uint32_t want_channel,
                   uint32_t want_block) {
  CHECK(got == want && got_chunk->fail_channel == want_channel &&
            got_chunk->fail_block == want_block,
        "%s: %s at channel %d block %d, expected %s at channel %d block %d "
        "(-1: NGC_NO_PLACE; chunk %ux%ux%u, blocks %ux%ux%u, %u-byte labels, "
        "%u channels)",
        what, ngc_error_name(got), (int)got_chunk->fail_channel,
        (int)got_chunk->fail_block, ngc_error_name(want), (int)want_channel,
        (int)want_block, ch->size[0], ch->size[1], ch->size[2],
        ch->block_size[0], ch->block_size[1], ch->block_size[2],
        ch->value_bytes, ch->num_channels);
  CHECK(same_input_fields(got_chunk, ch), "%s changed the chunk's input fields",
        what);
}

/* A chunk copy whose fail_* must be overwritten. */
static ngc_chunk fresh(const ngc_chunk *ch) {
  ngc_chunk c = *ch;
  c.fail_channel = c.fail_block = 12345;
  return c;
}

FUZZ_NO_COVERAGE static int all_bytes(const uint8_t *p, size_t n, uint8_t v) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != v) return 0;
  return 1;
}

/* "too small" capacity for a need >= 1: always < need. */
static size_t too_small(size_t need, uint8_t sel) {
  return sel == 0 ? need - 1 : need * sel / 256;
}

#define W(i)                                                              \
  ((uint32_t)src[4 * (size_t)(i)] | (uint32_t)src[4 * (size_t)(i) + 1] << 8 | \
   (uint32_t)src[4 * (size_t)(i) + 2] << 16 |                             \
   (uint32_t)src[4 * (size_t)(i) + 3] << 24)

/*
 * What each word of a chunk (that the reference accepts) is for remap:
 * MARK_OTHER for channel offsets, block headers and packed values,
 * MARK_LOW / MARK_HIGH for the low / high word of a table entry that an
 * index of its block reaches, under the widest reading of "reaches":
 * entries 0..max index of the full block, padding included (entry 0 of a
 * 0-bit block). *overlap = some word is two of these. Returns calloc'd
 * marks, one per word.
 */
enum { MARK_NONE = 0, MARK_LOW = 1, MARK_HIGH = 2, MARK_OTHER = 3 };

FUZZ_NO_COVERAGE static uint8_t *ref_marks(const ngc_chunk *ch, const uint8_t *src,
                                           size_t src_size, int *overlap) {
  const uint64_t vw = ch->value_bytes / 4, nc = ch->num_channels;
  const uint64_t gx = fuzz_ceil_div(ch->size[0], ch->block_size[0]);
  const uint64_t gy = fuzz_ceil_div(ch->size[1], ch->block_size[1]);
  const uint64_t gz = fuzz_ceil_div(ch->size[2], ch->block_size[2]);
  const uint64_t volume = (uint64_t)ch->block_size[0] * ch->block_size[1] *
                          ch->block_size[2];
  const uint64_t nblocks = gx * gy * gz, n = src_size / 4;
  uint8_t *marks = calloc(n + 1, 1);
  CHECK(marks != NULL, "calloc");
  *overlap = 0;
#define MARK(i, k)                                           \
  do {                                                       \
    uint8_t *m_ = &marks[(i)];                               \
    if (*m_ != MARK_NONE && *m_ != (k)) *overlap = 1;        \
    *m_ = (k);                                               \
  } while (0)
  for (uint64_t c = 0; c < nc; c++) MARK(c, MARK_OTHER);
  for (uint64_t c = 0; c < nc; c++) {
    const uint64_t base = W(c);
    for (uint64_t i = 0; i < 2 * nblocks; i++) MARK(base + i, MARK_OTHER);
    for (uint64_t b = 0; b < nblocks; b++) {
      const uint32_t h0 = W(base + 2 * b), vo = W(base + 2 * b + 1);
      const uint32_t bits = h0 >> 24, to = h0 & 0xFFFFFF;
      uint64_t max = 0;
      if (bits != 0) {
        const uint64_t vwords = (bits * volume + 31) / 32;
        for (uint64_t i = 0; i < vwords; i++) MARK(base + vo + i, MARK_OTHER);
        for (uint64_t pos = 0; pos < volume; pos++) {
          const uint64_t bit = pos * bits;
          const uint64_t index =
              (W(base + vo + bit / 32) >> (bit % 32)) & ((1ull << bits) - 1);
          max = index > max ? index : max;
        }
      }
      for (uint64_t e = 0; e <= max; e++) {
        MARK(base + to + e * vw, MARK_LOW);
        if (vw == 2) MARK(base + to + e * vw + 1, MARK_HIGH);
      }
    }
  }
#undef MARK
  return marks;
}
#undef W

/* Proves that list[ends[c-1]..ends[c]) is channel c's labels, ascending,
 * each with its voxel count: every voxel's label is found and its count is
 * used up exactly. */
FUZZ_NO_COVERAGE static void check_label_counts(const ngc_chunk *ch,
                                                const uint8_t *decoded,
                                                size_t voxels,
                                                const ngc_label_count *list,
                                                const uint32_t *ends,
                                                size_t total) {
  const unsigned vb = ch->value_bytes;
  uint64_t *left = malloc((total ? total : 1) * 8);
  uint64_t *labels = malloc((total ? total : 1) * 8);
  CHECK(left != NULL && labels != NULL, "malloc");
  size_t start = 0;
  for (uint32_t c = 0; c < ch->num_channels; c++) {
    const size_t end = ends[c];
    CHECK(start <= end && end <= total, "channel_ends[%u] = %zu (start %zu, "
          "total %zu)", c, end, start, total);
    for (size_t i = start; i < end; i++) {
      CHECK(list[i].count >= 1, "channel %u: label %llu with count 0", c,
            (unsigned long long)list[i].label);
      CHECK(i == start || list[i - 1].label < list[i].label,
            "channel %u: labels not ascending at entry %zu", c, i);
      CHECK(vb == 8 || list[i].label <= UINT32_MAX, "uint32 chunk: label %llu",
            (unsigned long long)list[i].label);
      left[i] = list[i].count;
      labels[i] = list[i].label;
    }
    const uint8_t *a = decoded + (size_t)c * voxels * vb;
    for (size_t v = 0; v < voxels; v++) {
      const uint64_t label = label_at(a, v, vb);
      const int64_t j = find64(labels + start, end - start, label);
      CHECK(j >= 0, "channel %u: voxel %zu holds %llu, not in label_counts", c,
            v, (unsigned long long)label);
      CHECK(left[start + j] > 0, "channel %u: label %llu counted %llu times, "
            "held by more voxels", c, (unsigned long long)label,
            (unsigned long long)list[start + j].count);
      left[start + j]--;
    }
    for (size_t i = start; i < end; i++)
      CHECK(left[i] == 0, "channel %u: label %llu counted %llu, held by %llu "
            "voxels", c, (unsigned long long)list[i].label,
            (unsigned long long)list[i].count,
            (unsigned long long)(list[i].count - left[i]));
    start = end;
  }
  CHECK(start == total, "channel_ends end at %zu, *count_ret %zu", start, total);
  free(labels);
  free(left);
}

/* found[c] == whether channel c holds a label of set. */
FUZZ_NO_COVERAGE static void check_found(const ngc_chunk *ch, const uint8_t *decoded,
                                         size_t voxels, const uint64_t *set,
                                         size_t n, const uint8_t *found) {
  const unsigned vb = ch->value_bytes;
  for (uint32_t c = 0; c < ch->num_channels; c++) {
    int any = 0;
    const uint8_t *a = decoded + (size_t)c * voxels * vb;
    for (size_t v = 0; v < voxels && !any; v++)
      any = find64(set, n, label_at(a, v, vb)) >= 0;
    CHECK(found[c] == any, "contains (%zu labels, first %llu): found[%u] = %u, "
          "a scan says %d", n, n ? (unsigned long long)set[0] : 0ull, c,
          found[c], any);
  }
}

/* mask[i] == whether voxel i holds a label of set. */
FUZZ_NO_COVERAGE static void check_mask(const uint8_t *decoded, size_t total_voxels,
                                        unsigned vb, const uint64_t *set, size_t n,
                                        const uint8_t *mask) {
  for (size_t v = 0; v < total_voxels; v++) {
    const int in = find64(set, n, label_at(decoded, v, vb)) >= 0;
    CHECK(mask[v] == in, "mask (%zu labels): byte %zu of %zu is %u, voxel "
          "holds %llu (%s the set)", n, v, total_voxels, mask[v],
          (unsigned long long)label_at(decoded, v, vb), in ? "in" : "not in");
  }
}

/* out[i] = mapping(decoded[i]); a label without a key stays (preserve) or
 * must not occur. */
FUZZ_NO_COVERAGE static void apply_mapping(const uint8_t *decoded, uint8_t *out,
                                           size_t total_voxels, unsigned vb,
                                           const uint64_t *keys,
                                           const uint64_t *values, size_t n,
                                           int preserve) {
  for (size_t v = 0; v < total_voxels; v++) {
    const uint64_t label = label_at(decoded, v, vb);
    const int64_t j = find64(keys, n, label);
    CHECK(j >= 0 || preserve, "harness: label %llu unmapped",
          (unsigned long long)label);
    put_label(out, v, vb, j >= 0 ? values[j] : label);
  }
}

/* The first block (channels in order, blocks x fastest) with a visible
 * voxel whose label has no key; *holds: that block has a visible voxel
 * holding `missing` (which has no key). Returns 0 if there is none. */
FUZZ_NO_COVERAGE static int first_unmapped(const ngc_chunk *ch, const uint8_t *decoded,
                                           const uint64_t *keys, size_t n,
                                           uint64_t missing, uint32_t *fc,
                                           uint32_t *fb, int *holds) {
  const unsigned vb = ch->value_bytes;
  const size_t sx = ch->size[0], sy = ch->size[1], sz = ch->size[2];
  const size_t bx = ch->block_size[0], by = ch->block_size[1],
               bz = ch->block_size[2];
  const size_t gx = fuzz_ceil_div(ch->size[0], ch->block_size[0]);
  const size_t gy = fuzz_ceil_div(ch->size[1], ch->block_size[1]);
  const size_t gz = fuzz_ceil_div(ch->size[2], ch->block_size[2]);
  const int missing_unmapped = find64(keys, n, missing) < 0;
  for (uint32_t c = 0; c < ch->num_channels; c++) {
    const uint8_t *a = decoded + (size_t)c * sx * sy * sz * vb;
    uint32_t b = 0;
    for (size_t kz = 0; kz < gz; kz++)
      for (size_t ky = 0; ky < gy; ky++)
        for (size_t kx = 0; kx < gx; kx++, b++) {
          int found = 0, there = 0;
          for (size_t z = kz * bz; z < (kz + 1) * bz && z < sz; z++)
            for (size_t y = ky * by; y < (ky + 1) * by && y < sy; y++)
              for (size_t x = kx * bx; x < (kx + 1) * bx && x < sx; x++) {
                const uint64_t label = label_at(a, (z * sy + y) * sx + x, vb);
                if (find64(keys, n, label) >= 0) continue;
                found = 1;
                there |= label == missing && missing_unmapped;
              }
          if (found) {
            *fc = c;
            *fb = b;
            *holds = there;
            return 1;
          }
        }
  }
  return 0;
}

/* A remap output: every word that is not a table entry (widest reading)
 * is src's; it decodes with ngcodec (and with the reference if `ref`) to
 * `expect`. */
static void check_remapped(const char *what, const ngc_chunk *ch, const uint8_t *src,
                           const uint8_t *res, size_t src_size, const uint8_t *marks,
                           const uint8_t *expect_arr, size_t decoded, int ref) {
  for (size_t i = 0; i < src_size / 4; i++)
    CHECK(marks[i] == MARK_LOW || marks[i] == MARK_HIGH ||
              memcmp(src + 4 * i, res + 4 * i, 4) == 0,
          "%s: word %zu of %zu changed (%08x -> %08x) but is no table entry "
          "an index reaches (mark %u)", what, i, src_size / 4,
          fuzz_load32(src + 4 * i), fuzz_load32(res + 4 * i), marks[i]);
  uint8_t *again = fuzz_alloc(NULL, decoded, 0);
  memset(again, 0xC3, decoded);
  ngc_chunk c = fresh(ch);
  int s = ngc_cseg_decode(&c, res, src_size, again, decoded);
  CHECK(s == NGC_OK, "%s: the output does not decode: %s at channel %d "
        "block %d", what, ngc_error_name(s), (int)c.fail_channel,
        (int)c.fail_block);
  size_t d = fuzz_first_diff(again, expect_arr, decoded);
  CHECK(d == decoded, "%s: the output decodes to other labels than the "
        "mapping applied to the chunk, at byte %zu of %zu", what, d, decoded);
  if (ref) {
    uint32_t fc, fb;
    memset(again, 0x3C, decoded);
    s = ref_cseg_decode(ch, res, src_size, again, &fc, &fb);
    CHECK(s == NGC_OK, "%s: the reference refuses the output: %s at %d %d",
          what, ngc_error_name(s), (int)fc, (int)fb);
    d = fuzz_first_diff(again, expect_arr, decoded);
    CHECK(d == decoded, "%s: the reference decodes the output differently "
          "at byte %zu", what, d);
  }
  fuzz_free(again, 0);
}

/* A mapping value for key: stays below 2^32 for uint32 chunks. */
static uint64_t map_value(uint64_t key, unsigned how, unsigned vb, uint64_t *rs) {
  uint64_t v;
  switch (how) {
    case 0: v = key ^ 0x5A5A5A5A5A5A5A5Aull; break;
    case 1: v = key % 7; break; /* labels merge */
    default: v = rnd(rs); break;
  }
  return vb == 4 ? (v & 0xFFFFFFFFu) : v;
}

/* A label to ask about: a random one, or (when the input has any) a word
 * (pair) of the chunk, likely a table entry. */
static uint64_t label_from_input(const uint8_t *src, size_t src_size, unsigned vb,
                                 uint64_t *rs) {
  if (src_size >= vb && below(rs, 4) != 0) {
    const size_t at = 4 * below(rs, (src_size - vb) / 4 + 1);
    return vb == 4 ? fuzz_load32(src + at)
                   : fuzz_load32(src + at) | (uint64_t)fuzz_load32(src + at + 4) << 32;
  }
  const uint64_t v = rnd(rs);
  return vb == 4 && below(rs, 2) ? (v & 0xFFFFFFFFu) : v;
}

/* Remap of a chunk that decode refuses: decode's status and place with
 * NGC_PRESERVE_MISSING; without it that or NOT_MAPPED before decode's
 * place; dst untouched either way. */
static void remap_refused(const ngc_chunk *ch, const uint8_t *src, size_t src_size,
                          unsigned shift, int ds, uint32_t dc, uint32_t db,
                          uint64_t *rs) {
  uint64_t tmp[4];
  const unsigned vb = ch->value_bytes;
  size_t n = below(rs, 5);
  for (size_t i = 0; i < n; i++) tmp[i] = label_from_input(src, src_size, vb, rs);
  n = sort_unique(tmp, n);
  uint64_t vals[4];
  for (size_t i = 0; i < n; i++) vals[i] = map_value(tmp[i], 0, vb, rs);
  uint64_t *keys = copy_labels(tmp, n), *values = copy_labels(vals, n);
  uint8_t *dst = fuzz_alloc(NULL, src_size, shift);
  for (int preserve = 1; preserve >= 0; preserve--) {
    memset(dst, PATTERN, src_size);
    ngc_mapping map = {keys, values, (uint32_t)n,
                       preserve ? NGC_PRESERVE_MISSING : 0, 0};
    ngc_chunk c = fresh(ch);
    int s = ngc_cseg_remap(&c, src, src_size, &map, dst, src_size);
    /* The walk's order: channel by channel, a channel's own checks
     * (NGC_NO_PLACE) before its blocks. */
    const uint64_t want_at = (uint64_t)dc * ((uint64_t)1 << 33) +
                             (db == NGC_NO_PLACE ? 0 : (uint64_t)db + 1);
    const uint64_t got_at = (uint64_t)c.fail_channel * ((uint64_t)1 << 33) +
                            (c.fail_block == NGC_NO_PLACE ? 0 : (uint64_t)c.fail_block + 1);
    const int source_level = ds == NGC_ERR_UNALIGNED ||
                             (ds == NGC_ERR_TRUNCATED && src_size / 4 < ch->num_channels);
    if (!preserve && s == NGC_ERR_NOT_MAPPED) {
      CHECK(!source_level && c.fail_channel != NGC_NO_PLACE &&
                c.fail_block != NGC_NO_PLACE && got_at < want_at,
            "remap of a chunk decode refuses (%s at %d %d): NOT_MAPPED at "
            "channel %d block %d, not before", ngc_error_name(ds), (int)dc,
            (int)db, (int)c.fail_channel, (int)c.fail_block);
      CHECK(find64(keys, n, map.missing) < 0, "NOT_MAPPED: missing %llu has a key",
            (unsigned long long)map.missing);
    } else {
      expect(preserve ? "remap (preserve) of a refused chunk"
                      : "remap of a refused chunk",
             s, &c, ch, ds, dc, db);
    }
    CHECK(all_bytes(dst, src_size, PATTERN), "remap of a refused chunk (%s) "
          "wrote dst", ngc_error_name(s));
  }
  fuzz_free(dst, shift);
  fuzz_free((uint8_t *)values, 0);
  fuzz_free((uint8_t *)keys, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < HEADER) return 0;
  ngc_chunk ch;
  size_t decoded;
  if (!fuzz_geometry(data, &ch, &decoded)) return 0;
  const unsigned shift = (data[6] >> 3) & 3;
  const uint8_t small_sel = data[7];
  uint64_t rs = hash_bytes(data, size);
  const unsigned vb = ch.value_bytes;
  const uint32_t nc = ch.num_channels;
  const size_t voxels = decoded / vb / nc; /* per channel */
  const size_t total_voxels = voxels * nc;

  const size_t src_size = size - HEADER;
  uint8_t *src = fuzz_alloc(data + HEADER, src_size, shift);

  /* 1. Decode: ngcodec against the reference. */
  uint32_t ref_channel, ref_block;
  const int ref = ref_cseg_decode(&ch, src, src_size, NULL, &ref_channel, &ref_block);
  uint8_t *out = fuzz_alloc(NULL, decoded, 0);
  memset(out, PATTERN, decoded);
  ngc_chunk dch = fresh(&ch);
  const int ds = ngc_cseg_decode(&dch, src, src_size, out, decoded);
  expect("decode (against the reference)", ds, &dch, &ch, ref, ref_channel, ref_block);
  const uint32_t dc = dch.fail_channel, db = dch.fail_block;
  const int ok = ds == NGC_OK;
  if (ok) {
    uint8_t *expect_arr = fuzz_alloc(NULL, decoded, 0);
    memset(expect_arr, 0x5A, decoded);
    CHECK(ref_cseg_decode(&ch, src, src_size, expect_arr, &ref_channel,
                          &ref_block) == NGC_OK, "reference");
    size_t d = fuzz_first_diff(out, expect_arr, decoded);
    CHECK(d == decoded, "decode and the reference differ at byte %zu of %zu", d,
          decoded);
    fuzz_free(expect_arr, 0);
  }

  /* 2. Label counts. */
  uint32_t *ends = (uint32_t *)fuzz_alloc(NULL, (size_t)nc * 4, 0);
  ngc_label_count *lc = NULL;
  size_t need = 0;
  uint64_t *uni = NULL; /* every label of the chunk, ascending */
  size_t nuni = 0;
  int sl;
  {
    ngc_chunk c = fresh(&ch);
    size_t cnt = 777777;
    sl = ngc_cseg_label_counts(&c, src, src_size, NULL, 0, ends, &cnt);
    if (!ok) {
      expect("label_counts (sizing call)", sl, &c, &ch, ds, dc, db);
    } else {
      need = cnt;
      expect("label_counts (sizing call)", sl, &c, &ch,
             need ? NGC_ERR_DST_TOO_SMALL : NGC_OK, NGC_NO_PLACE, NGC_NO_PLACE);
      CHECK(need <= total_voxels && (total_voxels == 0) == (need == 0),
            "label_counts: %zu entries for %zu voxels", need, total_voxels);
      if (need > 0) {
        const size_t small = too_small(need, small_sel);
        ngc_label_count *tiny =
            (ngc_label_count *)fuzz_alloc(NULL, small * sizeof *tiny, 0);
        c = fresh(&ch);
        cnt = 777777;
        int s = ngc_cseg_label_counts(&c, src, src_size, small ? tiny : NULL,
                                      small, ends, &cnt);
        expect("label_counts (dst too small)", s, &c, &ch, NGC_ERR_DST_TOO_SMALL,
               NGC_NO_PLACE, NGC_NO_PLACE);
        CHECK(cnt == need, "label_counts: capacity %zu gives *count_ret %zu, "
              "the sizing call %zu", small, cnt, need);
        fuzz_free((uint8_t *)tiny, 0);
      }
      lc = (ngc_label_count *)fuzz_alloc(NULL, need * sizeof *lc, 0);
      memset(lc, PATTERN, need * sizeof *lc);
      memset(ends, PATTERN, (size_t)nc * 4);
      c = fresh(&ch);
      cnt = 777777;
      int s = ngc_cseg_label_counts(&c, src, src_size, lc, need, ends, &cnt);
      expect("label_counts (exact dst)", s, &c, &ch, NGC_OK, NGC_NO_PLACE,
             NGC_NO_PLACE);
      CHECK(cnt == need, "label_counts: *count_ret %zu, the sizing call %zu", cnt,
            need);
      check_label_counts(&ch, out, voxels, lc, ends, need);
      uni = malloc((need ? need : 1) * 8);
      CHECK(uni != NULL, "malloc");
      for (size_t i = 0; i < need; i++) uni[i] = lc[i].label;
      nuni = sort_unique(uni, need);
    }
  }

  /* 3. Contains: a voxel's label, a random label, a small mixed set. */
  uint64_t mixed[8];
  size_t nmixed = 0;
  {
    const size_t k = below(&rs, 5);
    for (size_t i = 0; i < k; i++)
      mixed[nmixed++] = ok && total_voxels
                            ? label_at(out, below(&rs, total_voxels), vb)
                            : label_from_input(src, src_size, vb, &rs);
    const size_t extra = below(&rs, 3);
    for (size_t i = 0; i < extra; i++)
      mixed[nmixed++] = label_from_input(src, src_size, vb, &rs);
    nmixed = sort_unique(mixed, nmixed);
  }
  uint8_t *found = fuzz_alloc(NULL, nc, 0);
  for (int which = 0; which < 3; which++) {
    uint64_t one;
    const uint64_t *set_src = &one;
    size_t n = 1;
    if (which == 0)
      one = ok && total_voxels ? label_at(out, below(&rs, total_voxels), vb)
                               : label_from_input(src, src_size, vb, &rs);
    else if (which == 1)
      one = label_from_input(src, src_size, vb, &rs);
    else
      set_src = mixed, n = nmixed;
    uint64_t *set = copy_labels(set_src, n);
    ngc_labels ls = {set, (uint32_t)n};
    memset(found, 0xEE, nc);
    ngc_chunk c = fresh(&ch);
    int s = ngc_cseg_contains(&c, src, src_size, &ls, found);
    if (!ok) {
      expect("contains", s, &c, &ch, ds, dc, db);
    } else {
      expect("contains", s, &c, &ch, NGC_OK, NGC_NO_PLACE, NGC_NO_PLACE);
      check_found(&ch, out, voxels, set, n, found);
    }
    fuzz_free((uint8_t *)set, 0);
  }

  /* 4. Mask of the mixed set (exact dst, pre-filled), too small a dst. */
  {
    uint64_t *set = copy_labels(mixed, nmixed);
    ngc_labels ls = {set, (uint32_t)nmixed};
    uint8_t *mask = fuzz_alloc(NULL, total_voxels, 0);
    memset(mask, PATTERN, total_voxels);
    ngc_chunk c = fresh(&ch);
    int s = ngc_cseg_mask(&c, src, src_size, &ls, mask, total_voxels);
    if (!ok) {
      expect("mask", s, &c, &ch, ds, dc, db);
    } else {
      expect("mask", s, &c, &ch, NGC_OK, NGC_NO_PLACE, NGC_NO_PLACE);
      check_mask(out, total_voxels, vb, set, nmixed, mask);
    }
    fuzz_free(mask, 0);
    if (total_voxels > 0) {
      const size_t small = too_small(total_voxels, small_sel);
      uint8_t *tiny = fuzz_alloc(NULL, small, 0);
      c = fresh(&ch);
      s = ngc_cseg_mask(&c, src, src_size, &ls, tiny, small);
      expect("mask (dst too small)", s, &c, &ch, NGC_ERR_DST_TOO_SMALL,
             NGC_NO_PLACE, NGC_NO_PLACE);
      fuzz_free(tiny, 0);
    }
    fuzz_free((uint8_t *)set, 0);
  }

  /* 5. Unsorted or repeated sets are refused. */
  {
    uint64_t bad[2];
    if (nmixed >= 2) {
      bad[0] = mixed[1];
      bad[1] = mixed[0];
    } else {
      bad[0] = bad[1] = nmixed ? mixed[0] : 7;
    }
    uint64_t *set = copy_labels(bad, 2);
    ngc_labels ls = {set, 2};
    ngc_chunk c = fresh(&ch);
    int s = ngc_cseg_contains(&c, src, src_size, &ls, found);
    expect("contains (unsorted set)", s, &c, &ch, NGC_ERR_BAD_PARAMS, NGC_NO_PLACE,
           NGC_NO_PLACE);
    uint8_t *mask = fuzz_alloc(NULL, total_voxels, 0);
    c = fresh(&ch);
    s = ngc_cseg_mask(&c, src, src_size, &ls, mask, total_voxels);
    expect("mask (unsorted set)", s, &c, &ch, NGC_ERR_BAD_PARAMS, NGC_NO_PLACE,
           NGC_NO_PLACE);
    fuzz_free(mask, 0);
    fuzz_free((uint8_t *)set, 0);
  }
  fuzz_free(found, 0);

  /* 6. decode_box: a box inside the chunk, whole, empty or starting
   * mid-block, against the reference restricted to the box. */
  ngc_box box;
  int sbox;
  {
    const unsigned mode = (unsigned)below(&rs, 8);
    for (int i = 0; i < 3; i++) {
      const uint32_t s = ch.size[i], bs = ch.block_size[i];
      if (mode == 0) {
        box.lo[i] = 0;
        box.hi[i] = s;
        continue;
      }
      uint32_t lo = (uint32_t)below(&rs, (uint64_t)s + 1);
      if (mode == 1) lo = lo / bs * bs; /* block-aligned start */
      box.lo[i] = lo;
      box.hi[i] = lo + (uint32_t)below(&rs, (uint64_t)(s - lo) + 1);
    }
    const size_t box_bytes = (size_t)nc * (box.hi[0] - box.lo[0]) *
                             (box.hi[1] - box.lo[1]) * (box.hi[2] - box.lo[2]) * vb;
    uint32_t rc, rb;
    const int want = ref_cseg_decode_box(&ch, box.lo, box.hi, src, src_size, NULL, &rc, &rb);
    if (mode == 0)
      CHECK(want == ds && rc == dc && rb == db, "harness: the whole box's "
            "reference says %s at %d %d, decode %s at %d %d", ngc_error_name(want),
            (int)rc, (int)rb, ngc_error_name(ds), (int)dc, (int)db);
    if (ok) CHECK(want == NGC_OK, "harness: box of a valid chunk refused");
    uint8_t *dst = fuzz_alloc(NULL, box_bytes, 0);
    memset(dst, PATTERN, box_bytes);
    ngc_chunk c = fresh(&ch);
    sbox = ngc_cseg_decode_box(&c, &box, src, src_size, dst, box_bytes);
    expect("decode_box", sbox, &c, &ch, want, rc, rb);
    if (want == NGC_OK) {
      uint8_t *expect_arr = fuzz_alloc(NULL, box_bytes, 0);
      memset(expect_arr, 0x5A, box_bytes);
      CHECK(ref_cseg_decode_box(&ch, box.lo, box.hi, src, src_size, expect_arr, &rc, &rb) ==
                NGC_OK, "reference box");
      size_t d = fuzz_first_diff(dst, expect_arr, box_bytes);
      CHECK(d == box_bytes, "decode_box [%u,%u)x[%u,%u)x[%u,%u): byte %zu of "
            "%zu differs from the reference", box.lo[0], box.hi[0], box.lo[1],
            box.hi[1], box.lo[2], box.hi[2], d, box_bytes);
      if (ok) { /* and from the decoded chunk, voxel by voxel */
        const size_t wx = box.hi[0] - box.lo[0], wy = box.hi[1] - box.lo[1],
                     wz = box.hi[2] - box.lo[2];
        size_t i = 0;
        for (uint32_t cc = 0; cc < nc; cc++)
          for (size_t z = 0; z < wz; z++)
            for (size_t y = 0; y < wy; y++)
              for (size_t x = 0; x < wx; x++, i++) {
                const size_t v = cc * voxels +
                                 ((box.lo[2] + z) * ch.size[1] + box.lo[1] + y) *
                                     ch.size[0] + box.lo[0] + x;
                CHECK(label_at(dst, i, vb) == label_at(out, v, vb),
                      "decode_box: channel %u voxel (%zu, %zu, %zu) of the box "
                      "differs from the decoded chunk", cc, x, y, z);
              }
      }
      fuzz_free(expect_arr, 0);
    }
    fuzz_free(dst, 0);
    if (box_bytes > 0) {
      const size_t small = too_small(box_bytes, small_sel);
      uint8_t *tiny = fuzz_alloc(NULL, small, 0);
      c = fresh(&ch);
      int s = ngc_cseg_decode_box(&c, &box, src, src_size, tiny, small);
      expect("decode_box (dst too small)", s, &c, &ch, NGC_ERR_DST_TOO_SMALL,
             NGC_NO_PLACE, NGC_NO_PLACE);
      fuzz_free(tiny, 0);
    }
    ngc_box bad = box;
    const int axis = (int)below(&rs, 3);
    if (below(&rs, 2)) bad.hi[axis] = ch.size[axis] + 1 + (uint32_t)below(&rs, 3);
    else bad.lo[axis] = bad.hi[axis] + 1; /* lo > hi */
    uint8_t *any = fuzz_alloc(NULL, decoded, 0);
    c = fresh(&ch);
    int s = ngc_cseg_decode_box(&c, &bad, src, src_size, any, decoded);
    expect("decode_box (box outside the chunk)", s, &c, &ch, NGC_ERR_BAD_PARAMS,
           NGC_NO_PLACE, NGC_NO_PLACE);
    fuzz_free(any, 0);
  }

  /* 6b. read_voxels: random points of one channel, each against the
   * reference's one-voxel box (which checks what read_voxels checks for a
   * one-channel chunk: the offsets, the header region, the point's block),
   * and against the decoded chunk. */
  if (voxels > 0) {
    const uint32_t npts = 1 + (uint32_t)below(&rs, 8), chn = (uint32_t)below(&rs, nc);
    uint32_t *xyz = (uint32_t *)fuzz_alloc(NULL, (size_t)npts * 12, 0);
    for (uint32_t i = 0; i < npts; i++)
      for (int a = 0; a < 3; a++) xyz[3 * i + a] = (uint32_t)below(&rs, ch.size[a]);
    uint8_t *vals = fuzz_alloc(NULL, (size_t)npts * vb, 0);
    memset(vals, PATTERN, (size_t)npts * vb);
    ngc_points pts = {xyz, npts, chn};
    ngc_chunk c = fresh(&ch);
    const int s = ngc_cseg_read_voxels(&c, &pts, src, src_size, vals, (size_t)npts * vb);
    if (ok) {
      expect("read_voxels", s, &c, &ch, NGC_OK, NGC_NO_PLACE, NGC_NO_PLACE);
      for (uint32_t i = 0; i < npts; i++) {
        const size_t v = chn * voxels +
                         ((size_t)xyz[3 * i + 2] * ch.size[1] + xyz[3 * i + 1]) * ch.size[0] +
                         xyz[3 * i];
        CHECK(label_at(vals, i, vb) == label_at(out, v, vb),
              "read_voxels: point %u (%u, %u, %u) differs from the decoded chunk", i,
              xyz[3 * i], xyz[3 * i + 1], xyz[3 * i + 2]);
      }
    } else if (nc == 1) {
      int want = NGC_OK;
      uint32_t rc = NGC_NO_PLACE, rb = NGC_NO_PLACE;
      for (uint32_t i = 0; i < npts && want == NGC_OK; i++) {
        const uint32_t hi[3] = {xyz[3 * i] + 1, xyz[3 * i + 1] + 1, xyz[3 * i + 2] + 1};
        want = ref_cseg_decode_box(&ch, xyz + 3 * i, hi, src, src_size, NULL, &rc, &rb);
      }
      expect("read_voxels (a refused chunk)", s, &c, &ch, want, rc, rb);
    }
    if (npts > 1) { /* a dst one value short */
      c = fresh(&ch);
      const int s2 = ngc_cseg_read_voxels(&c, &pts, src, src_size, vals,
                                          (size_t)(npts - 1) * vb);
      expect("read_voxels (dst too small)", s2, &c, &ch, NGC_ERR_DST_TOO_SMALL, NGC_NO_PLACE,
             NGC_NO_PLACE);
    }
    xyz[(size_t)below(&rs, (uint64_t)npts * 3)] = 0xFFFFFFFFu; /* a point outside */
    c = fresh(&ch);
    const int s3 = ngc_cseg_read_voxels(&c, &pts, src, src_size, vals, (size_t)npts * vb);
    expect("read_voxels (a point outside)", s3, &c, &ch, NGC_ERR_BAD_PARAMS, NGC_NO_PLACE,
           NGC_NO_PLACE);
    fuzz_free(vals, 0);
    fuzz_free(xyz, 0);
  }

  /* 7. Remap. */
  int s_full = 0, s_pres = 0, s_nm = 0, s_enc = 0;
  uint8_t *dst = fuzz_alloc(NULL, src_size, shift);
  if (!ok) {
    remap_refused(&ch, src, src_size, shift, ds, dc, db, &rs);
  } else {
    const unsigned how = (unsigned)below(&rs, 3);
    /* Keys: every label of the chunk and up to 3 others. */
    const size_t nextra = below(&rs, 4);
    uint64_t *all = malloc((nuni + nextra + 1) * 8);
    CHECK(all != NULL, "malloc");
    memcpy(all, uni, nuni * 8);
    for (size_t i = 0; i < nextra; i++) all[nuni + i] = label_from_input(src, src_size, vb, &rs);
    const size_t nall = sort_unique(all, nuni + nextra);
    uint64_t *vals = malloc((nall + 1) * 8), *part = malloc((nall + 1) * 8),
             *pvals = malloc((nall + 1) * 8);
    CHECK(vals && part && pvals, "malloc");
    for (size_t i = 0; i < nall; i++) vals[i] = map_value(all[i], how, vb, &rs);
    /* A partial mapping: each label of the chunk kept with probability
     * 1/2, at least one dropped (when there is one). */
    size_t npart = 0;
    const size_t forced = below(&rs, nuni ? nuni : 1);
    for (size_t i = 0; i < nall; i++) {
      const int64_t u = find64(uni, nuni, all[i]);
      if (u >= 0 && ((size_t)u == forced || below(&rs, 2))) continue;
      part[npart] = all[i];
      pvals[npart++] = vals[i];
    }
    int overlap;
    uint8_t *marks = ref_marks(&ch, src, src_size, &overlap);
    uint8_t *mapped = fuzz_alloc(NULL, decoded, 0);
    uint8_t *res_pres = fuzz_alloc(NULL, src_size, 0);

    /* 7a. The full mapping, flags 0. */
    {
      uint64_t *keys = copy_labels(all, nall), *values = copy_labels(vals, nall);
      ngc_mapping map = {keys, values, (uint32_t)nall, 0, 0};
      memset(dst, PATTERN, src_size);
      ngc_chunk c = fresh(&ch);
      s_full = ngc_cseg_remap(&c, src, src_size, &map, dst, src_size);
      CHECK(s_full == NGC_OK || s_full == NGC_ERR_TABLE_OVERLAP,
            "remap (every label mapped): %s at %d %d", ngc_error_name(s_full),
            (int)c.fail_channel, (int)c.fail_block);
      expect("remap (every label mapped)", s_full, &c, &ch, s_full, NGC_NO_PLACE,
             NGC_NO_PLACE);
      if (s_full == NGC_OK) {
        apply_mapping(out, mapped, total_voxels, vb, all, vals, nall, 0);
        check_remapped("remap (every label mapped)", &ch, src, dst, src_size, marks,
                       mapped, decoded, 1);
      } else {
        CHECK(overlap, "remap: TABLE_OVERLAP for a chunk whose tables overlap "
              "nothing");
        CHECK(all_bytes(dst, src_size, PATTERN), "remap: TABLE_OVERLAP wrote dst");
      }
      /* Unsorted keys, a uint32 chunk's value past 32 bits, a small dst. */
      if (nall >= 2) {
        uint64_t *k2 = copy_labels(all, nall);
        k2[0] = all[1];
        k2[1] = below(&rs, 2) ? all[0] : all[1];
        ngc_mapping bad = {k2, values, (uint32_t)nall, (uint32_t)below(&rs, 2), 0};
        memset(dst, PATTERN, src_size);
        c = fresh(&ch);
        int s = ngc_cseg_remap(&c, src, src_size, &bad, dst, src_size);
        expect("remap (unsorted keys)", s, &c, &ch, NGC_ERR_BAD_PARAMS,
               NGC_NO_PLACE, NGC_NO_PLACE);
        CHECK(all_bytes(dst, src_size, PATTERN), "remap (unsorted keys) wrote dst");
        fuzz_free((uint8_t *)k2, 0);
      }
      if (vb == 4 && nall >= 1) {
        uint64_t *v2 = copy_labels(vals, nall);
        v2[below(&rs, nall)] |= (uint64_t)1 << (32 + below(&rs, 32));
        ngc_mapping bad = {keys, v2, (uint32_t)nall, (uint32_t)below(&rs, 2), 0};
        memset(dst, PATTERN, src_size);
        c = fresh(&ch);
        int s = ngc_cseg_remap(&c, src, src_size, &bad, dst, src_size);
        expect("remap (uint32 chunk, a value past 32 bits)", s, &c, &ch,
               NGC_ERR_BAD_PARAMS, NGC_NO_PLACE, NGC_NO_PLACE);
        CHECK(all_bytes(dst, src_size, PATTERN), "remap (bad value) wrote dst");
        fuzz_free((uint8_t *)v2, 0);
      }
      if (src_size > 0) {
        const size_t small = too_small(src_size, small_sel);
        uint8_t *tiny = fuzz_alloc(NULL, small, shift);
        memset(tiny, PATTERN, small);
        c = fresh(&ch);
        int s = ngc_cseg_remap(&c, src, src_size, &map, tiny, small);
        expect("remap (dst too small)", s, &c, &ch, NGC_ERR_DST_TOO_SMALL,
               NGC_NO_PLACE, NGC_NO_PLACE);
        CHECK(all_bytes(tiny, small, PATTERN), "remap (dst too small) wrote dst");
        fuzz_free(tiny, shift);
      }
      fuzz_free((uint8_t *)values, 0);
      fuzz_free((uint8_t *)keys, 0);
    }

    /* 7b. The partial mapping with NGC_PRESERVE_MISSING, out of place and
     * in place. */
    {
      uint64_t *keys = copy_labels(part, npart), *values = copy_labels(pvals, npart);
      ngc_mapping map = {keys, values, (uint32_t)npart, NGC_PRESERVE_MISSING, 0};
      memset(dst, PATTERN, src_size);
      ngc_chunk c = fresh(&ch);
      s_pres = ngc_cseg_remap(&c, src, src_size, &map, dst, src_size);
      expect("remap (partial, NGC_PRESERVE_MISSING)", s_pres, &c, &ch, s_full,
             NGC_NO_PLACE, NGC_NO_PLACE);
      if (s_pres == NGC_OK) {
        apply_mapping(out, mapped, total_voxels, vb, part, pvals, npart, 1);
        check_remapped("remap (partial, NGC_PRESERVE_MISSING)", &ch, src, dst,
                       src_size, marks, mapped, decoded, 0);
      } else {
        CHECK(all_bytes(dst, src_size, PATTERN), "remap: TABLE_OVERLAP wrote dst");
      }
      memcpy(res_pres, dst, src_size);
      uint8_t *inplace = fuzz_alloc(src, src_size, shift);
      c = fresh(&ch);
      int s = ngc_cseg_remap(&c, inplace, src_size, &map, inplace, src_size);
      expect("remap in place (partial, NGC_PRESERVE_MISSING)", s, &c, &ch, s_pres,
             NGC_NO_PLACE, NGC_NO_PLACE);
      size_t d = fuzz_first_diff(inplace, s == NGC_OK ? res_pres : src, src_size);
      CHECK(d == src_size, "remap in place: byte %zu of %zu differs from %s", d,
            src_size, s == NGC_OK ? "the remap out of place" : "src (refused)");
      fuzz_free(inplace, shift);
      fuzz_free((uint8_t *)values, 0);
      fuzz_free((uint8_t *)keys, 0);
    }

    /* 7c. The partial mapping without the flag: NOT_MAPPED in the first
     * block that holds an unmapped label. */
    {
      uint64_t *keys = copy_labels(part, npart), *values = copy_labels(pvals, npart);
      ngc_mapping map = {keys, values, (uint32_t)npart, 0, 0x1234};
      memset(dst, PATTERN, src_size);
      ngc_chunk c = fresh(&ch);
      s_nm = ngc_cseg_remap(&c, src, src_size, &map, dst, src_size);
      uint32_t uc = 0, ub = 0;
      int holds = 0;
      const int any = first_unmapped(&ch, out, part, npart, map.missing, &uc, &ub, &holds);
      if (any && s_nm == NGC_ERR_TABLE_OVERLAP && s_full == NGC_ERR_TABLE_OVERLAP) {
        /* Both refusals apply; ngcodec.h does not rank them. */
        expect("remap (partial mapping, tables overlap)", s_nm, &c, &ch,
               NGC_ERR_TABLE_OVERLAP, NGC_NO_PLACE, NGC_NO_PLACE);
        CHECK(all_bytes(dst, src_size, PATTERN), "remap: TABLE_OVERLAP wrote dst");
      } else if (any) {
        expect("remap (partial mapping)", s_nm, &c, &ch, NGC_ERR_NOT_MAPPED, uc, ub);
        CHECK(holds, "remap: NOT_MAPPED with missing = %llu, which no visible "
              "voxel of channel %u block %u holds without a key",
              (unsigned long long)map.missing, uc, ub);
        CHECK(all_bytes(dst, src_size, PATTERN), "remap: NOT_MAPPED wrote dst");
      } else { /* every label kept (only when the chunk has none) */
        expect("remap (partial mapping, every label kept)", s_nm, &c, &ch, s_full,
               NGC_NO_PLACE, NGC_NO_PLACE);
        if (s_nm == NGC_OK) {
          apply_mapping(out, mapped, total_voxels, vb, part, pvals, npart, 0);
          check_remapped("remap (partial mapping, every label kept)", &ch, src,
                         dst, src_size, marks, mapped, decoded, 0);
        }
      }
      fuzz_free((uint8_t *)values, 0);
      fuzz_free((uint8_t *)keys, 0);
    }

    /* 7d. The chunk re-encoded by ngcodec remaps in place of any overlap. */
    {
      size_t bound;
      ngc_chunk c = ch;
      CHECK(ngc_cseg_encode_bound(&c, &bound) == NGC_OK, "bound");
      uint8_t *enc = fuzz_alloc(NULL, bound, 0);
      size_t enc_size = 0;
      int s = ngc_cseg_encode(&c, out, decoded, enc, bound, &enc_size);
      CHECK(s == NGC_OK, "re-encode: %s", ngc_error_name(s));
      uint8_t *enc_exact = fuzz_alloc(enc, enc_size, shift);
      fuzz_free(enc, 0);
      uint8_t *res = fuzz_alloc(NULL, enc_size, shift);
      uint64_t *keys = copy_labels(all, nall), *values = copy_labels(vals, nall);
      ngc_mapping map = {keys, values, (uint32_t)nall, 0, 0};
      c = fresh(&ch);
      s_enc = ngc_cseg_remap(&c, enc_exact, enc_size, &map, res, enc_size);
      expect("remap of the chunk ngc_cseg_encode wrote", s_enc, &c, &ch, NGC_OK,
             NGC_NO_PLACE, NGC_NO_PLACE);
      int ov;
      uint8_t *emarks = ref_marks(&ch, enc_exact, enc_size, &ov);
      apply_mapping(out, mapped, total_voxels, vb, all, vals, nall, 0);
      check_remapped("remap of the chunk ngc_cseg_encode wrote", &ch, enc_exact, res,
                     enc_size, emarks, mapped, decoded, 0);
      free(emarks);
      fuzz_free((uint8_t *)values, 0);
      fuzz_free((uint8_t *)keys, 0);
      fuzz_free(res, shift);
      fuzz_free(enc_exact, shift);
    }
    fuzz_free(res_pres, 0);
    fuzz_free(mapped, 0);
    free(marks);
    free(pvals);
    free(part);
    free(vals);
    free(all);
  }
  fuzz_free(dst, shift);

  if (fuzz_verbose())
    fprintf(stderr, "ops: chunk %ux%ux%u blocks %ux%ux%u %u-byte labels %u "
            "channels, %zu bytes: decode %s at %d %d; label_counts %s (%zu "
            "entries, %zu labels); box [%u,%u)x[%u,%u)x[%u,%u) %s; remap %s / "
            "preserve %s / partial %s / re-encoded %s\n",
            ch.size[0], ch.size[1], ch.size[2], ch.block_size[0], ch.block_size[1],
            ch.block_size[2], vb, nc, src_size, ngc_error_name(ds), (int)dc,
            (int)db, ngc_error_name(sl), need, nuni, box.lo[0], box.hi[0],
            box.lo[1], box.hi[1], box.lo[2], box.hi[2], ngc_error_name(sbox),
            ok ? ngc_error_name(s_full) : "-", ok ? ngc_error_name(s_pres) : "-",
            ok ? ngc_error_name(s_nm) : "-", ok ? ngc_error_name(s_enc) : "-");

  free(uni);
  if (lc != NULL) fuzz_free((uint8_t *)lc, 0);
  fuzz_free((uint8_t *)ends, 0);
  fuzz_free(out, 0);
  fuzz_free(src, shift);
  return 0;
}
