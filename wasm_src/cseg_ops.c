/*
 * cseg_ops.c - questions answered on compressed_segmentation chunks
 * without decoding them: label counts (and so labels), contains and mask
 * (remap is cseg_remap.c). The format and the checks on untrusted input
 * are those of cseg_decode.c; every operation makes all of them (through
 * walk, cseg_scan.h), so a chunk that ngc_cseg_decode refuses is refused
 * here with the same status and place.
 */
#include <stdlib.h>

#include "cseg_scan.h"

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

