/*
 * cseg_encode.c - the compressed_segmentation encoder (ngc_cseg_encode,
 * ngc_cseg_encode_bound). The format is described at the top of
 * cseg_decode.c; the SIMD row matching and packing are in simd.h.
 *
 * Encoder choices: tables are sorted ascending and stored once per channel
 * when identical (as tensorstore and compressed-segmentation do); each new
 * table is written just before the block's values; padding voxels get index
 * 0. Neuroglancer and tensorstore read only 24 bits of each offset, so an
 * offset of 2^24 words or more is an error (NGC_ERR_OFFSET_OVERFLOW), never
 * a silently truncated header.
 */
#include <stdlib.h>

#include "cseg_internal.h"
#include "simd.h"

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
          splat8(first_seen + n, prev_index);
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

  /* 3. Packed indices over the full block; padding gets index 0. The
   *    packing stays in this function: moved to a helper of its own (even
   *    an always-inline one), the many-label encodes ran 4-6% slower in
   *    bench/compare_modules.py. */
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
  } else if (bits != 0) {
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

/* Encodes every channel. NGC_ERR_OFFSET_OVERFLOW, the one error about a
 * place, records its channel and block in chunk's fail_* fields. */
static int encode_channels(encoder *e, ngc_chunk *chunk, const uint8_t *src,
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
          if (status == NGC_ERR_OFFSET_OVERFLOW) {
            chunk->fail_channel = c;
            chunk->fail_block = b;
          }
          if (status != NGC_OK) return status;
        }
  }
  return NGC_OK;
}

int ngc_cseg_encode(ngc_chunk *chunk, const void *src, size_t src_size,
                    void *dst, size_t dst_capacity, size_t *dst_size_ret) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
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
