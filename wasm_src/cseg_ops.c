/*
 * cseg_ops.c - questions answered on compressed_segmentation chunks
 * without decoding them: label counts (and so labels), contains, mask and
 * remap. The format and the checks on untrusted input are those of
 * cseg_decode.c; every operation makes all of them, so a chunk that
 * ngc_cseg_decode refuses is refused here with the same status and place.
 *
 * The one idea: a block's voxels hold the labels table[i] for the indices
 * i its visible voxels use, so every question is first asked of the
 * packed indices (a few bits per voxel, read a word at a time) and only
 * then of the table. Which table entries are used is found by reading the
 * indices, never trusted from the table's length: encoders may leave
 * entries that no voxel uses (padding voxels of edge blocks, tables shared
 * between blocks), and tables have no stored length at all.
 */
#include <stdlib.h>

#include "cseg_internal.h"
#include "simd.h"

/* ------------------------------------------------------------------------ */
/* Used indices of one block                                                */
/* ------------------------------------------------------------------------ */

/* Per-index voxel counts for blocks of up to 16 bits: `counts` is zero
 * between blocks, `touched` lists the indices a block made nonzero, so
 * nothing is cleared that was not used. Allocated on first use and kept
 * (384 KiB) for the life of the instance. */
#define SMALL_BITS 16
static uint32_t *counts;
static uint16_t *touched;

/* The indices the visible voxels of one block use, each once, with their
 * voxel counts: in touched/counts (bits <= 16) or in `heap` (32 bits:
 * index[n] then count[n], malloc'd). */
typedef struct used_set {
  uint32_t n;
  uint32_t *heap;
} used_set;

NGC_INLINE void used_get(const used_set *u, uint32_t i, uint32_t *index, uint32_t *count) {
  if (u->heap != NULL) {
    *index = u->heap[i];
    *count = u->heap[u->n + i];
  } else {
    *index = touched[i];
    *count = counts[*index];
  }
}

static void used_release(used_set *u) {
  if (u->heap != NULL) {
    free(u->heap);
    u->heap = NULL;
  } else {
    for (uint32_t i = 0; i < u->n; i++) counts[touched[i]] = 0;
  }
  u->n = 0;
}

NGC_INLINE void add_count(used_set *u, uint32_t index, uint32_t k) {
  if (counts[index] == 0) touched[u->n++] = (uint16_t)index;
  counts[index] += k;
}

/* LSD radix sort of n words by value (the 32-bit path only). */
static void sort_u32(uint32_t *a, uint32_t *tmp, uint32_t n) {
  static uint32_t hist[256];
  for (int shift = 0; shift < 32; shift += 8) {
    memset(hist, 0, sizeof hist);
    for (uint32_t i = 0; i < n; i++) hist[(a[i] >> shift) & 255]++;
    if (n == 0 || hist[(a[0] >> shift) & 255] == n) continue;
    uint32_t sum = 0;
    for (int d = 0; d < 256; d++) {
      const uint32_t h = hist[d];
      hist[d] = sum;
      sum += h;
    }
    for (uint32_t i = 0; i < n; i++) tmp[hist[(a[i] >> shift) & 255]++] = a[i];
    memcpy(a, tmp, (size_t)n * 4);
  }
}

/* The largest index of the full block, padding included, with `bits`
 * constant after inlining. The indices are read a byte (or 16/32-bit word)
 * at a time, in loops that vectorise to lane-wise max: the fields of a
 * word are little-endian bit fields, so each byte holds 8 / bits whole
 * indices. Positions past the block's volume in the last byte are not
 * indices and are left out. */
NGC_INLINE uint32_t max_index_bits(const uint32_t *values, uint32_t volume, const uint32_t bits) {
  const uint8_t *b = (const uint8_t *)values;
  uint32_t max = 0;
  if (bits >= 8) {
    if (bits == 8) {
      uint32_t i = 0;
#ifdef __wasm_simd128__
      i = volume / 16 * 16;
      max = max_index_simd(b, i, 8);
#endif
      for (; i < volume; i++) max = b[i] > max ? b[i] : max;
    }
    else if (bits == 16)
      for (uint32_t i = 0; i < volume; i++) {
        const uint32_t v = ngc_load16(b + 2 * (size_t)i);
        max = v > max ? v : max;
      }
    else
      for (uint32_t i = 0; i < volume; i++) {
        const uint32_t v = ngc_load32(b + 4 * (size_t)i);
        max = v > max ? v : max;
      }
    return max;
  }
  const uint32_t per_byte = 8 / bits, mask = (1u << bits) - 1;
  const uint32_t whole = volume / per_byte;
  uint32_t done = 0; /* bytes already looked at */
#ifdef __wasm_simd128__
  if (bits != 1) {
    done = whole / 16 * 16;
    max = max_index_simd(b, done, bits);
  }
#endif
  if (bits == 1) {
    uint32_t any = 0;
    for (uint32_t i = 0; i < whole; i++) any |= b[i];
    max = any != 0;
  } else {
    for (uint32_t i = done; i < whole; i++)
      for (uint32_t k = 0; k < per_byte; k++) {
        const uint32_t v = (b[i] >> (k * bits)) & mask;
        max = v > max ? v : max;
      }
  }
  for (uint32_t pos = whole * per_byte; pos < volume; pos++) {
    const uint32_t v = index_at(values, pos, bits);
    max = v > max ? v : max;
  }
  return max;
}

static uint32_t max_index(const uint32_t *values, uint32_t bits, uint32_t volume) {
  switch (bits) {
    case 1: return max_index_bits(values, volume, 1);
    case 2: return max_index_bits(values, volume, 2);
    case 4: return max_index_bits(values, volume, 4);
    case 8: return max_index_bits(values, volume, 8);
    case 16: return max_index_bits(values, volume, 16);
    default: return max_index_bits(values, volume, 32);
  }
}

/* Every index of the full block (padding included, as the decoder checks)
 * is below `entries`. Only a table near the end of the chunk can fail. */
static int indices_valid(const uint32_t *values, const block_header *h, uint32_t volume) {
  if ((uint64_t)h->entries >= ((uint64_t)1 << h->bits)) return 1;
  return max_index(values, h->bits, volume) < h->entries;
}

/* Counts the indices of the visible rows of a block of up to 16 bits into
 * cnt/tch (see add_count), with `bits` constant after inlining. Rows that
 * lie in one word of values and hold one index (most rows of a
 * segmentation) count as one addition. */
NGC_INLINE uint32_t count_rows(const uint32_t *values, uint32_t nx, uint32_t ny, uint32_t nz,
                               uint32_t bx, uint32_t by, uint32_t *cnt, uint16_t *tch,
                               const uint32_t bits) {
  const uint32_t per_word = 32 / bits, mask = (1u << bits) - 1;
  const uint8_t *bytes = (const uint8_t *)values;
  uint32_t n = 0;
  if (bits == 16) {
    /* Up to 65536 entries: the used ones are listed as they are met. */
    for (uint32_t z = 0; z < nz; z++)
      for (uint32_t y = 0; y < ny; y++) {
        const uint8_t *row = bytes + 2 * (size_t)((z * by + y) * bx);
        for (uint32_t x = 0; x < nx; x++) {
          const uint32_t index = ngc_load16(row + 2 * (size_t)x);
          if (cnt[index] == 0) tch[n++] = (uint16_t)index;
          cnt[index]++;
        }
      }
    return n;
  }
  /* Up to 256 entries: counted without a branch per voxel (segmentation
   * rows change index unpredictably), the used ones listed at the end. */
  uint32_t top = 0;
  if ((bits == 1 || bits == 2) && nx == bx && ny == by && (nx * ny * nz * bits) % 32 == 0) {
    /* A whole block of 1- or 2-bit indices (most blocks of a segmentation
     * chunk): counted a word at a time with popcounts. */
    const uint32_t words = nx * ny * nz * bits / 32;
    uint32_t c1 = 0, c2 = 0, c3 = 0;
    for (uint32_t i = 0; i < words; i++) {
      const uint32_t v = ngc_load32(&values[i]);
      if (bits == 1) {
        c1 += (uint32_t)__builtin_popcount(v);
      } else {
        const uint32_t lo = v & 0x55555555u, hi = (v >> 1) & 0x55555555u;
        c3 += (uint32_t)__builtin_popcount(lo & hi);
        c2 += (uint32_t)__builtin_popcount(hi & ~lo);
        c1 += (uint32_t)__builtin_popcount(lo & ~hi);
      }
    }
    cnt[0] += nx * ny * nz - c1 - c2 - c3;
    cnt[1] += c1;
    cnt[2] += c2;
    cnt[3] += c3;
    for (uint32_t i = 0; i < 4; i++)
      if (cnt[i]) tch[n++] = (uint16_t)i;
    return n;
  }
  const int in_word = per_word % bx == 0;
  const uint32_t row_bits = nx * bits;
  const uint32_t row_mask = row_bits >= 32 ? 0xFFFFFFFFu : (1u << row_bits) - 1;
  uint32_t repeat = 0;
  for (uint32_t x = 0; x < nx && in_word; x++) repeat |= 1u << (x * bits);
  for (uint32_t z = 0; z < nz; z++)
    for (uint32_t y = 0; y < ny; y++) {
      const uint32_t pos = (z * by + y) * bx;
      if (in_word) {
        uint32_t word = ngc_load32(&values[pos / per_word]) >> ((pos % per_word) * bits);
        const uint32_t first = word & mask;
        if ((word & row_mask) == first * repeat) {  /* one index: the usual row */
          cnt[first] += nx;
          top = first > top ? first : top;
          continue;
        }
        /* Odd voxels count in cnt[256 + index]: runs of one index then
         * update two counters in turn, not one through the store buffer. */
        for (uint32_t x = 0; x < nx; x++, word >>= bits) {
          const uint32_t index = word & mask;
          cnt[index + ((x & 1) << 8)]++;
          top = index > top ? index : top;
        }
      } else {
        for (uint32_t x = 0; x < nx; x++) {
          const uint32_t index = bits == 8 ? bytes[pos + x] : index_at(values, pos + x, bits);
          cnt[index + ((x & 1) << 8)]++;
          top = index > top ? index : top;
        }
      }
    }
  for (uint32_t i = 0; i <= top; i++) {
    cnt[i] += cnt[256 + i];
    cnt[256 + i] = 0;
    if (cnt[i]) tch[n++] = (uint16_t)i;
  }
  return n;
}

/* Fills *u with the indices that the visible voxels vis[3] of a checked
 * block use, with their voxel counts. */
static int scan_block(const uint32_t *w, const geometry *g, const block_header *h,
                      const uint32_t vis[3], used_set *u) {
  u->n = 0;
  u->heap = NULL;
  const uint32_t bits = h->bits, bx = g->block[0], by = g->block[1];
  const uint32_t nx = vis[0], ny = vis[1], nz = vis[2];
  if (bits == 0) {
    add_count(u, 0, nx * ny * nz);
    return NGC_OK;
  }
  const uint32_t *values = w + h->values_offset;
  if (!indices_valid(values, h, g->block_volume)) return NGC_ERR_BAD_TABLE_INDEX;
  if (bits > SMALL_BITS) {
    const uint32_t visible = nx * ny * nz;
    uint32_t *heap = malloc(3 * (size_t)visible * 4);
    if (heap == NULL) return NGC_ERR_NO_MEMORY;
    uint32_t k = 0;
    for (uint32_t z = 0; z < nz; z++)
      for (uint32_t y = 0; y < ny; y++)
        for (uint32_t x = 0; x < nx; x++)
          /* ngc_load32, not values[]: values is only 1-aligned when src is
           * (UBSan, fuzz_cseg_ops, a 32-bit block of a chunk at malloc + 2). */
          heap[k++] = ngc_load32(&values[(z * by + y) * bx + x]);
    sort_u32(heap, heap + visible, visible);
    /* Runs of equal indices become (index, count); counts go after n. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < visible; n++) {
      uint32_t j = i;
      while (j < visible && heap[j] == heap[i]) j++;
      heap[n] = heap[i];
      heap[visible + n] = j - i;
      i = j;
    }
    memmove(heap + n, heap + visible, (size_t)n * 4);
    u->n = n;
    u->heap = heap;
    return NGC_OK;
  }
  uint32_t *cnt = counts;
  uint16_t *tch = touched;
  switch (bits) {
    case 1: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 1); break;
    case 2: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 2); break;
    case 4: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 4); break;
    case 8: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 8); break;
    default: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 16); break;
  }
  return NGC_OK;
}

NGC_INLINE uint64_t table_label(const uint32_t *w, const block_header *h, uint32_t index,
                                uint32_t vw) {
  const uint32_t *p = w + h->table_offset + (size_t)index * vw;
  return vw == 1 ? ngc_load32(p) : ngc_load64(p);
}

/* ------------------------------------------------------------------------ */
/* Walking a chunk                                                          */
/* ------------------------------------------------------------------------ */

/* The blocks of every channel, in the decoder's order, with their checked
 * headers and visible extents. An operation is a `visit` called for each
 * block; it returns a status, and NGC_OK to go on. */
typedef int (*block_visit)(void *op, uint32_t c, const uint32_t *w, const geometry *g,
                           const block_header *h, const uint32_t origin[3],
                           const uint32_t vis[3]);

/* Called after the last block of channel c (may be NULL). */
typedef int (*channel_done)(void *op, uint32_t c);

static int walk(ngc_chunk *chunk, const void *src, size_t src_size, void *op,
                block_visit visit, channel_done done) {
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  if (src == NULL && src_size != 0) return NGC_ERR_BAD_PARAMS;
  if (counts == NULL) {
    counts = calloc((size_t)1 << SMALL_BITS, sizeof *counts);
    touched = malloc(((size_t)1 << SMALL_BITS) * sizeof *touched);
    if (counts == NULL || touched == NULL) {
      free(counts);
      free(touched);
      counts = NULL;
      touched = NULL;
      return NGC_ERR_NO_MEMORY;
    }
  }
  uint32_t n, c;
  status = cseg_source(chunk, src_size, &n, &c);
  if (status != NGC_OK) return fail_at(chunk, status, c, NGC_NO_PLACE);
  for (c = 0; c < chunk->num_channels; c++) {
    const uint32_t *w;
    uint32_t cn, b = 0;
    status = cseg_channel(src, n, &g, c, &w, &cn);
    if (status != NGC_OK) return fail_at(chunk, status, c, NGC_NO_PLACE);
    for (uint32_t bz = 0; bz < g.grid[2]; bz++)
      for (uint32_t by = 0; by < g.grid[1]; by++)
        for (uint32_t bx = 0; bx < g.grid[0]; bx++, b++) {
          const uint32_t pos[3] = {bx, by, bz};
          uint32_t origin[3], vis[3];
          block_header h;
          block_extent(&g, pos, origin, vis);
          status = read_block_header(w, cn, &g, b, &h);
          if (status == NGC_OK) status = visit(op, c, w, &g, &h, origin, vis);
          if (status != NGC_OK) return fail_at(chunk, status, c, b);
        }
    if (done != NULL && (status = done(op, c)) != NGC_OK)
      return fail_at(chunk, status, c, NGC_NO_PLACE);
  }
  return NGC_OK;
}

NGC_INLINE int check_set(const ngc_labels *set) {
  if (set == NULL || (set->count != 0 && set->labels == NULL)) return 0;
  for (uint32_t i = 1; i < set->count; i++)
    if (set->labels[i - 1] >= set->labels[i]) return 0;
  return 1;
}

/* Position of label in the sorted set, or -1. */
NGC_INLINE int64_t find_label(const ngc_labels *set, uint64_t label) {
  /* Branch-free halving (a conditional move per step): looked-up labels
   * are unpredictable, and a mispredicted branch per step cost more than
   * the loads. */
  if (set->count == 0) return -1;
  const uint64_t *base = set->labels;
  uint32_t n = set->count;
  while (n > 1) {
    const uint32_t half = n / 2;
    base = base[half] <= label ? base + half : base;
    n -= half;
  }
  return *base == label ? (int64_t)(base - set->labels) : -1;
}

/* ------------------------------------------------------------------------ */
/* Label counts                                                             */
/* ------------------------------------------------------------------------ */

/* Open-addressing map label -> count of one channel; count 0 marks an
 * empty slot (every inserted count is at least 1). */
typedef struct counts_op {
  ngc_label_count *slots, *sorted;
  uint32_t mask, size;
  ngc_label_count *dst;
  size_t capacity, written;
  uint32_t *channel_ends;
} counts_op;

static int map_add(counts_op *m, uint64_t label, uint64_t k);

static int map_grow(counts_op *m) {
  const uint32_t old_slots = m->mask + 1;
  if (old_slots > (UINT32_MAX >> 1) / sizeof(ngc_label_count)) return NGC_ERR_NO_MEMORY;
  ngc_label_count *old = m->slots;
  ngc_label_count *slots = calloc((size_t)old_slots * 2, sizeof *slots);
  if (slots == NULL) return NGC_ERR_NO_MEMORY;
  m->slots = slots;
  m->mask = old_slots * 2 - 1;
  m->size = 0;
  for (uint32_t i = 0; i < old_slots; i++)
    if (old[i].count) map_add(m, old[i].label, old[i].count);
  free(old);
  return NGC_OK;
}

static int map_add(counts_op *m, uint64_t label, uint64_t k) {
  uint32_t i = (uint32_t)mix64(label) & m->mask;
  while (m->slots[i].count != 0 && m->slots[i].label != label) i = (i + 1) & m->mask;
  if (m->slots[i].count == 0) {
    m->slots[i].label = label;
    m->size++;
  }
  m->slots[i].count += k;
  return 2 * (uint64_t)m->size > m->mask ? map_grow(m) : NGC_OK;
}

static int counts_visit(void *op, uint32_t c, const uint32_t *w, const geometry *g,
                        const block_header *h, const uint32_t origin[3],
                        const uint32_t vis[3]) {
  (void)c;
  (void)origin;
  counts_op *m = op;
  used_set u;
  int status = scan_block(w, g, h, vis, &u);
  for (uint32_t i = 0; i < u.n && status == NGC_OK; i++) {
    uint32_t index, count;
    used_get(&u, i, &index, &count);
    status = map_add(m, table_label(w, h, index, g->value_words), count);
  }
  used_release(&u);
  return status;
}

/* LSD radix sort by label, 11 bits a pass; passes in which every label has
 * the same digit (the high bits of small ids) are skipped. */
static void sort_by_label(ngc_label_count *a, ngc_label_count *tmp, uint32_t n) {
  static uint32_t hist[2048];
  ngc_label_count *from = a, *to = tmp;
  for (int shift = 0; shift < 64 && n > 1; shift += 11) {
    memset(hist, 0, sizeof hist);
    for (uint32_t i = 0; i < n; i++) hist[(from[i].label >> shift) & 2047]++;
    if (hist[(from[0].label >> shift) & 2047] == n) continue;
    uint32_t sum = 0;
    for (int d = 0; d < 2048; d++) {
      const uint32_t h = hist[d];
      hist[d] = sum;
      sum += h;
    }
    for (uint32_t i = 0; i < n; i++) to[hist[(from[i].label >> shift) & 2047]++] = from[i];
    ngc_label_count *t = from;
    from = to;
    to = t;
  }
  if (from != a) memcpy(a, from, (size_t)n * sizeof *a);
}

static int counts_done(void *op, uint32_t c) {
  counts_op *m = op;
  ngc_label_count *sorted = malloc(2 * (size_t)(m->size ? m->size : 1) * sizeof *sorted);
  if (sorted == NULL) return NGC_ERR_NO_MEMORY;
  uint32_t k = 0;
  for (uint32_t i = 0; i <= m->mask; i++)
    if (m->slots[i].count) sorted[k++] = m->slots[i];
  sort_by_label(sorted, sorted + k, k);
  /* k != 0: a channel without voxels copies nothing, and dst may be NULL
   * (the sizing call): NULL + 0 and memcpy(NULL, .., 0) are undefined
   * (UBSan, fuzz_cseg_ops on a 0x0x0 chunk). */
  if (k != 0 && m->written <= m->capacity && k <= m->capacity - m->written)
    memcpy(m->dst + m->written, sorted, (size_t)k * sizeof *sorted);
  free(sorted);
  m->written += k;
  m->channel_ends[c] = (uint32_t)m->written;
  memset(m->slots, 0, ((size_t)m->mask + 1) * sizeof *m->slots);
  m->size = 0;
  return NGC_OK;
}

int ngc_cseg_label_counts(ngc_chunk *chunk, const void *src, size_t src_size,
                          ngc_label_count *dst, size_t dst_capacity, uint32_t *channel_ends,
                          size_t *count_ret) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  if (channel_ends == NULL || count_ret == NULL || (dst == NULL && dst_capacity != 0))
    return NGC_ERR_BAD_PARAMS;
  counts_op m = {0};
  m.mask = 4095; /* grows; starting at 4096 slots spares most chunks the rehashes */
  m.slots = calloc((size_t)m.mask + 1, sizeof *m.slots);
  if (m.slots == NULL) return NGC_ERR_NO_MEMORY;
  m.dst = dst;
  m.capacity = dst_capacity;
  m.channel_ends = channel_ends;
  int status = walk(chunk, src, src_size, &m, counts_visit, counts_done);
  free(m.slots);
  if (status != NGC_OK) return status;
  *count_ret = m.written;
  return m.written > dst_capacity ? NGC_ERR_DST_TOO_SMALL : NGC_OK;
}

/* ------------------------------------------------------------------------ */
/* Contains                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct contains_op {
  const ngc_labels *set;
  uint8_t *found;
} contains_op;

static int contains_visit(void *op, uint32_t c, const uint32_t *w, const geometry *g,
                          const block_header *h, const uint32_t origin[3],
                          const uint32_t vis[3]) {
  (void)origin;
  contains_op *q = op;
  const uint32_t vw = g->value_words;
  /* A block of up to 8 bits can hold a label only if one of the (at most
   * 256) entries its indices reach holds it: looking at those first rules
   * most blocks out without reading their values. */
  int candidate = !q->found[c];
  if (candidate && h->bits <= 8) {
    const uint32_t reach = 1u << h->bits;
    const uint32_t limit = reach < h->entries ? reach : h->entries;
    candidate = 0;
    for (uint32_t i = 0; i < limit && !candidate; i++)
      candidate = find_label(q->set, table_label(w, h, i, vw)) >= 0;
  }
  if (!candidate) /* still checked as decoding would check it */
    return h->bits == 0 || indices_valid(w + h->values_offset, h, g->block_volume)
               ? NGC_OK
               : NGC_ERR_BAD_TABLE_INDEX;
  used_set u;
  int status = scan_block(w, g, h, vis, &u);
  for (uint32_t i = 0; i < u.n && status == NGC_OK; i++) {
    uint32_t index, count;
    used_get(&u, i, &index, &count);
    if (find_label(q->set, table_label(w, h, index, vw)) >= 0) q->found[c] = 1;
  }
  used_release(&u);
  return status;
}

int ngc_cseg_contains(ngc_chunk *chunk, const void *src, size_t src_size,
                      const ngc_labels *set, uint8_t *found_ret) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  if (found_ret == NULL || !check_set(set)) return NGC_ERR_BAD_PARAMS;
  if (chunk->num_channels) memset(found_ret, 0, chunk->num_channels);
  contains_op q = {set, found_ret};
  return walk(chunk, src, src_size, &q, contains_visit, NULL);
}

/* ------------------------------------------------------------------------ */
/* Mask                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct mask_op {
  const ngc_labels *set;
  uint8_t *dst;
  size_t channel_bytes, row_stride, plane_stride;
} mask_op;

static int mask_visit(void *op, uint32_t c, const uint32_t *w, const geometry *g,
                      const block_header *h, const uint32_t origin[3], const uint32_t vis[3]) {
  mask_op *m = op;
  const uint32_t vw = g->value_words, bits = h->bits, bx = g->block[0], by = g->block[1];
  uint8_t *base = m->dst + c * m->channel_bytes + origin[2] * m->plane_stride +
                  origin[1] * m->row_stride + origin[0];
  const uint32_t *values = w + h->values_offset;
  if (bits != 0 && !indices_valid(values, h, g->block_volume)) return NGC_ERR_BAD_TABLE_INDEX;
  /* Membership of each entry the indices reach, when there are few. */
  static uint8_t member[256];
  int any = 0;
  if (bits <= 8) {
    const uint32_t reach = 1u << bits;
    const uint32_t limit = reach < h->entries ? reach : h->entries;
    for (uint32_t i = 0; i < limit; i++)
      any |= member[i] = find_label(m->set, table_label(w, h, i, vw)) >= 0;
  }
  for (uint32_t z = 0; z < vis[2]; z++)
    for (uint32_t y = 0; y < vis[1]; y++) {
      uint8_t *out = base + z * m->plane_stride + y * m->row_stride;
      const uint32_t pos = (z * by + y) * bx;
      if (bits == 0 || (bits <= 8 && !any))
        memset(out, bits == 0 && any, vis[0]);
      else if (bits <= 8)
        for (uint32_t x = 0; x < vis[0]; x++) out[x] = member[index_at(values, pos + x, bits)];
      else
        for (uint32_t x = 0; x < vis[0]; x++)
          out[x] = find_label(m->set, table_label(w, h, index_at(values, pos + x, bits), vw)) >= 0;
    }
  return NGC_OK;
}

int ngc_cseg_mask(ngc_chunk *chunk, const void *src, size_t src_size, const ngc_labels *set,
                  uint8_t *dst, size_t dst_capacity) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  if (!check_set(set)) return NGC_ERR_BAD_PARAMS;
  size_t decoded_size;
  int status = ngc_check_chunk(chunk, CSEG_WIDTHS, &decoded_size);
  if (status != NGC_OK) return status;
  mask_op m;
  m.set = set;
  m.dst = dst;
  m.channel_bytes = decoded_size / chunk->value_bytes / chunk->num_channels;
  if (dst_capacity < m.channel_bytes * chunk->num_channels) return NGC_ERR_DST_TOO_SMALL;
  if (dst == NULL && m.channel_bytes != 0) return NGC_ERR_BAD_PARAMS;
  m.row_stride = chunk->size[0];
  m.plane_stride = (size_t)chunk->size[1] * chunk->size[0];
  return walk(chunk, src, src_size, &m, mask_visit, NULL);
}

/* ------------------------------------------------------------------------ */
/* Remap                                                                    */
/* ------------------------------------------------------------------------ */

/* Remap rewrites table entries in place, so it first collects what the
 * words of the chunk are: runs of table entries that some index reaches,
 * and runs of headers and packed values. A word in both kinds of run
 * (tables laid over values), or in two uint64 tables out of step, makes the
 * chunk one that cannot be rewritten in place: NGC_ERR_TABLE_OVERLAP, and
 * the host decodes, maps and encodes instead. No encoder we know of writes
 * such chunks; the format does not forbid them. Runs, not a mark per word:
 * the work is per block, not per byte of the chunk. */
typedef struct run {
  uint32_t start, end; /* words [start, end) of the chunk */
} run;

typedef struct remap_op {
  ngc_mapping *map;
  const uint32_t *src;
  run *tables, *others;
  uint32_t ntables, nothers;
} remap_op;

static int remap_visit(void *op, uint32_t c, const uint32_t *w, const geometry *g,
                       const block_header *h, const uint32_t origin[3],
                       const uint32_t vis[3]) {
  (void)c;
  (void)origin;
  (void)vis;
  remap_op *r = op;
  const uint32_t vw = g->value_words;
  const uint32_t *values = w + h->values_offset;
  uint32_t reached = 1;
  if (h->bits != 0) {
    const uint32_t max = max_index(values, h->bits, g->block_volume);
    if (max >= h->entries) return NGC_ERR_BAD_TABLE_INDEX; /* (max + 1 may wrap) */
    reached = max + 1;
    const uint32_t start = (uint32_t)(values - r->src);
    r->others[r->nothers++] =
        (run){start, start + (uint32_t)values_words(h->bits, g->block_volume)};
  }
  /* In bounds: header checks and the index check above. */
  const uint32_t start = (uint32_t)(w - r->src) + h->table_offset;
  r->tables[r->ntables++] = (run){start, start + reached * vw};
  return NGC_OK;
}

/* LSD radix sort of runs by start, 8 bits a pass, passes in which every
 * start has the same digit skipped; most chunks list their runs in order
 * already, and then nothing moves. `tmp` holds n runs. */
static void sort_runs(run *a, run *tmp, uint32_t n) {
  uint32_t i = 1;
  while (i < n && a[i - 1].start <= a[i].start) i++;
  if (i >= n) return;
  static uint32_t hist[256];
  run *from = a, *to = tmp;
  for (int shift = 0; shift < 32; shift += 8) {
    memset(hist, 0, sizeof hist);
    for (i = 0; i < n; i++) hist[(from[i].start >> shift) & 255]++;
    if (hist[(from[0].start >> shift) & 255] == n) continue;
    uint32_t sum = 0;
    for (int d = 0; d < 256; d++) {
      const uint32_t h = hist[d];
      hist[d] = sum;
      sum += h;
    }
    for (i = 0; i < n; i++) to[hist[(from[i].start >> shift) & 255]++] = from[i];
    run *t = from;
    from = to;
    to = t;
  }
  if (from != a) memcpy(a, from, (size_t)n * sizeof *a);
}

/* Sorts runs and joins the overlapping ones; returns the new count. For
 * uint64 tables (vw 2), runs that overlap out of step set *clash. */
static uint32_t join_runs(run *a, run *tmp, uint32_t n, uint32_t vw, int *clash) {
  if (n == 0) return 0;
  sort_runs(a, tmp, n);
  uint32_t k = 0;
  for (uint32_t i = 1; i < n; i++) {
    if (a[i].start < a[k].end) {
      if ((a[i].start - a[k].start) % vw != 0) *clash = 1;
      if (a[i].end > a[k].end) a[k].end = a[i].end;
    } else {
      a[++k] = a[i];
    }
  }
  return k + 1;
}

/* Label -> its mapped value, memoised: a label is looked up in the keys
 * once per call, however many tables hold it. */
typedef struct memo_slot {
  uint64_t label, value;
  uint32_t state; /* MEMO_EMPTY, MEMO_MAPPED or MEMO_MISSING */
} memo_slot;
enum { MEMO_EMPTY = 0, MEMO_MAPPED = 1, MEMO_MISSING = 2 };

typedef struct memo {
  memo_slot *slots;
  uint32_t mask, size;
  const ngc_mapping *map;
  /* When the keys are few next to the table entries: every key hashed
   * once (key_slots: its index + 1, 0 empty), so that a label costs one
   * probe instead of a binary search, whose dependent loads were most of
   * remap's time. */
  uint32_t *key_slots, key_mask;
  memo_slot found; /* the answer of a key_slots lookup */
} memo;

static int memo_hash_keys(memo *m) {
  size_t slots = 64;
  while (slots < 2 * (size_t)m->map->count) slots *= 2;
  m->key_slots = calloc(slots, sizeof *m->key_slots);
  if (m->key_slots == NULL) return NGC_ERR_NO_MEMORY;
  m->key_mask = (uint32_t)(slots - 1);
  for (uint32_t k = 0; k < m->map->count; k++) {
    uint32_t i = (uint32_t)mix64(m->map->keys[k]) & m->key_mask;
    while (m->key_slots[i] != 0) i = (i + 1) & m->key_mask;
    m->key_slots[i] = k + 1;
  }
  return NGC_OK;
}

static int memo_init(memo *m, size_t expected) {
  size_t slots = 64;
  while (slots < 2 * expected && slots < ((size_t)1 << 24)) slots *= 2;
  m->slots = calloc(slots, sizeof *m->slots);
  m->mask = (uint32_t)(slots - 1);
  m->size = 0;
  return m->slots == NULL ? NGC_ERR_NO_MEMORY : NGC_OK;
}

static memo_slot *memo_find(memo *m, uint64_t label) {
  uint32_t i = (uint32_t)mix64(label) & m->mask;
  while (m->slots[i].state != MEMO_EMPTY && m->slots[i].label != label) i = (i + 1) & m->mask;
  return &m->slots[i];
}

/* The slot of label, looked up in the keys on first use; NULL when the
 * memo cannot grow (out of memory). Kept at most half full. */
static memo_slot *memo_get(memo *m, uint64_t label) {
  if (m->key_slots != NULL) {
    uint32_t i = (uint32_t)mix64(label) & m->key_mask, k;
    while ((k = m->key_slots[i]) != 0 && m->map->keys[k - 1] != label) i = (i + 1) & m->key_mask;
    m->found.label = label;
    m->found.state = k == 0 ? MEMO_MISSING : MEMO_MAPPED;
    m->found.value = k == 0 ? label : m->map->values[k - 1];
    return &m->found;
  }
  memo_slot *slot = memo_find(m, label);
  if (slot->state != MEMO_EMPTY) return slot;
  if (2 * ((uint64_t)m->size + 1) > m->mask) {
    memo bigger = {NULL, 0, 0, m->map, NULL, 0, {0, 0, 0}};
    if (memo_init(&bigger, (size_t)m->mask + 1) != NGC_OK) return NULL;
    for (uint32_t i = 0; i <= m->mask; i++)
      if (m->slots[i].state != MEMO_EMPTY) *memo_find(&bigger, m->slots[i].label) = m->slots[i];
    bigger.size = m->size;
    free(m->slots);
    *m = bigger;
    slot = memo_find(m, label);
  }
  const ngc_labels keys = {m->map->keys, m->map->count};
  const int64_t k = find_label(&keys, label);
  slot->label = label;
  slot->state = k < 0 ? MEMO_MISSING : MEMO_MAPPED;
  slot->value = k < 0 ? label : m->map->values[k];
  m->size++;
  return slot;
}

/* The NOT_MAPPED check, run only when some reachable entry has no key:
 * the first block one of whose visible voxels holds such a label. */
typedef struct missing_op {
  memo *memo;
  ngc_mapping *map;
} missing_op;

static int missing_visit(void *op, uint32_t c, const uint32_t *w, const geometry *g,
                         const block_header *h, const uint32_t origin[3],
                         const uint32_t vis[3]) {
  (void)c;
  (void)origin;
  missing_op *q = op;
  const uint32_t vw = g->value_words;
  const uint32_t reached =
      h->bits == 0 ? 1 : max_index(w + h->values_offset, h->bits, g->block_volume) + 1;
  uint32_t i = 0;
  for (; i < reached; i++) {
    const memo_slot *slot = memo_get(q->memo, table_label(w, h, i, vw));
    if (slot == NULL) return NGC_ERR_NO_MEMORY;
    if (slot->state != MEMO_MAPPED) break;
  }
  if (i == reached) return NGC_OK;
  used_set u;
  int status = scan_block(w, g, h, vis, &u);
  for (i = 0; i < u.n && status == NGC_OK; i++) {
    uint32_t index, count;
    used_get(&u, i, &index, &count);
    const uint64_t label = table_label(w, h, index, vw);
    const memo_slot *slot = memo_get(q->memo, label);
    if (slot == NULL) {
      status = NGC_ERR_NO_MEMORY;
    } else if (slot->state == MEMO_MISSING) {
      q->map->missing = label;
      status = NGC_ERR_NOT_MAPPED;
    }
  }
  used_release(&u);
  return status;
}

int ngc_cseg_remap(ngc_chunk *chunk, const void *src, size_t src_size, ngc_mapping *mapping,
                   void *dst, size_t dst_capacity) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  if (mapping == NULL || (mapping->count != 0 && mapping->values == NULL)) return NGC_ERR_BAD_PARAMS;
  const ngc_labels keys = {mapping->keys, mapping->count};
  if (!check_set(&keys)) return NGC_ERR_BAD_PARAMS;
  if (chunk->value_bytes == 4)
    for (uint32_t i = 0; i < mapping->count; i++)
      if (mapping->values[i] > UINT32_MAX) return NGC_ERR_BAD_PARAMS;
  if (dst_capacity < src_size) return NGC_ERR_DST_TOO_SMALL;
  if (dst == NULL && src_size != 0) return NGC_ERR_BAD_PARAMS;
  const uint32_t *w = src;
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  /* One table and one values run per block, the headers and offsets. */
  const size_t most = (size_t)g.num_blocks * chunk->num_channels + chunk->num_channels + 1;
  if (most > UINT32_MAX / sizeof(run)) return NGC_ERR_TOO_LARGE;
  remap_op r = {mapping, src, malloc(most * sizeof(run)), malloc(most * sizeof(run)), 0, 0};
  memo m = {NULL, 0, 0, mapping, NULL, 0, {0, 0, 0}};
  if (r.tables == NULL || r.others == NULL) status = NGC_ERR_NO_MEMORY;
  if (status == NGC_OK) status = walk(chunk, src, src_size, &r, remap_visit, NULL);
  const uint32_t vw = chunk->value_bytes / 4;
  if (status == NGC_OK) {
    /* walk checked every channel offset and header region. */
    r.others[r.nothers++] = (run){0, chunk->num_channels};
    for (uint32_t c = 0; c < chunk->num_channels; c++) {
      const uint32_t at = ngc_load32(&w[c]);
      r.others[r.nothers++] = (run){at, at + 2 * g.num_blocks};
    }
    int clash = 0;
    run *tmp = malloc(most * sizeof(run));
    if (tmp == NULL) {
      status = NGC_ERR_NO_MEMORY;
    } else {
      r.ntables = join_runs(r.tables, tmp, r.ntables, vw, &clash);
      r.nothers = join_runs(r.others, tmp, r.nothers, 1, &clash);
      free(tmp);
    }
    /* Both lists are sorted and disjoint: one sweep finds any overlap. */
    for (uint32_t t = 0, o = 0; t < r.ntables && o < r.nothers && !clash;) {
      if (r.tables[t].end <= r.others[o].start) t++;
      else if (r.others[o].end <= r.tables[t].start) o++;
      else clash = 1;
    }
    if (clash && status == NGC_OK) status = NGC_ERR_TABLE_OVERLAP;
  }
  /* Each entry's new value, looked up once (a memo, so each label once). */
  size_t entries = 0;
  uint64_t *mapped = NULL;
  if (status == NGC_OK) {
    for (uint32_t t = 0; t < r.ntables; t++) entries += (r.tables[t].end - r.tables[t].start) / vw;
    mapped = malloc((entries ? entries : 1) * sizeof *mapped);
    if (mapped == NULL) status = NGC_ERR_NO_MEMORY;
    else if ((uint64_t)mapping->count <= 4 * (uint64_t)entries + 4096)
      status = memo_hash_keys(&m);
    else /* a mapping far larger than the chunk: look up each label once */
      status = memo_init(&m, entries);
  }
  if (status == NGC_OK) {
    int any_missing = 0;
    size_t e = 0;
    for (uint32_t t = 0; t < r.ntables && status == NGC_OK; t++)
      for (uint32_t i = r.tables[t].start; i < r.tables[t].end; i += vw, e++) {
        const uint64_t label = vw == 1 ? ngc_load32(&w[i]) : ngc_load64(&w[i]);
        const memo_slot *slot = memo_get(&m, label);
        if (slot == NULL) {
          status = NGC_ERR_NO_MEMORY;
          break;
        }
        any_missing |= slot->state == MEMO_MISSING;
        mapped[e] = slot->value; /* the label itself when it has no key */
      }
    if (status == NGC_OK && any_missing && !(mapping->flags & NGC_PRESERVE_MISSING)) {
      missing_op q = {&m, mapping};
      status = walk(chunk, src, src_size, &q, missing_visit, NULL);
    }
  }
  if (status == NGC_OK) {
    if (dst != src) memmove(dst, src, src_size);
    uint32_t *out = dst;
    size_t e = 0;
    for (uint32_t t = 0; t < r.ntables; t++)
      for (uint32_t i = r.tables[t].start; i < r.tables[t].end; i += vw, e++) {
        if (vw == 1) ngc_store32(&out[i], (uint32_t)mapped[e]);
        else ngc_store64(&out[i], mapped[e]);
      }
  }
  free(mapped);
  free(m.key_slots);
  free(m.slots);
  free(r.tables);
  free(r.others);
  return status;
}
