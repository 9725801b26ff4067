/*
 * cseg_decode.c - the compressed_segmentation decoder (ngc_cseg_decode):
 * the format, the checks it makes on untrusted input, and the scalar block
 * decoders. The SIMD block decoder is in simd.h, the block grid shared
 * with the encoder in cseg_internal.h.
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
 * Decoder checklist (after tensorstore), in this order: the size is a
 * multiple of 4; the channel offsets fit; then channel by channel, its
 * offset is inside the chunk and its block headers fit; then block by block
 * (x fastest), bits is valid, the table offset and the whole values run lie
 * inside the chunk, a 0-bit block has at least one table entry, and every
 * index of the block addresses a table entry inside the chunk (padding
 * included, as neuroglancer-scripts checks; tensorstore checks visible
 * voxels only). A table "has" every entry up to the end of the chunk, as in
 * Neuroglancer and tensorstore. All arithmetic on input values is done in
 * 64 bits or checked, so nothing wraps.
 */
#include <stdlib.h>

#include "cseg_internal.h"
#include "simd.h"

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
  if (n == 8) {
    fill8(out, table + 4 * vw * (size_t)index, vw);
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

/*
 * The row loops below take the block's extent and strides as parameters,
 * not through a struct pointer: a store through uint8_t * may alias any
 * field, which would reload each of them after every voxel. Their callers
 * pass `row_length` as the literal 8 when rows are 8 voxels (the usual
 * 8x8x8 blocks), so that the loop over x unrolls, and as nx otherwise.
 */

/* Rows that each lie inside one word of values (bx divides 32 / bits): the
 * word is loaded once per row. Segmentations are blobby, so most rows hold
 * a single index (their field is that index repeated, field_mask and
 * repeat tell): those are written as one label splat. */
NGC_INLINE void fused_rows(const uint32_t *values, const uint8_t *table, uint8_t *base,
                           uint32_t ny, uint32_t nz, uint32_t bx, uint32_t by,
                           size_t row_stride, size_t plane_stride, uint32_t field_mask,
                           uint32_t repeat, const uint32_t row_length, const uint32_t bits,
                           const uint32_t vw) {
  const size_t label_bytes = 4 * vw;
  const uint32_t per_word = 32 / bits, mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
  for (uint32_t z = 0; z < nz; z++)
    for (uint32_t y = 0; y < ny; y++) {
      const uint32_t pos = (z * by + y) * bx;
      uint32_t word = ngc_load32(&values[pos / per_word]) >> ((pos % per_word) * bits);
      uint8_t *out = base + z * plane_stride + y * row_stride;
      const uint32_t first = word & mask;
      if ((word & field_mask) == first * repeat) {
        fill_row(out, table, first, row_length, vw);
        continue;
      }
      for (uint32_t x = 0; x < row_length; x++, word >>= bits)
        store_label(out + x * label_bytes, table, word & mask, vw);
    }
}

/* Rows of whole-byte indices (bits 8 or 16: many labels per block), read in
 * place. */
NGC_INLINE void byte_rows(const uint32_t *values, const uint8_t *table, uint8_t *base,
                          uint32_t ny, uint32_t nz, uint32_t bx, uint32_t by,
                          size_t row_stride, size_t plane_stride, const uint32_t row_length,
                          const uint32_t bits, const uint32_t vw) {
  const size_t label_bytes = 4 * vw;
  const uint8_t *v = (const uint8_t *)values;
  for (uint32_t z = 0; z < nz; z++)
    for (uint32_t y = 0; y < ny; y++) {
      const uint8_t *row = v + (size_t)((z * by + y) * bx) * (bits / 8);
      uint8_t *out = base + z * plane_stride + y * row_stride;
      for (uint32_t x = 0; x < row_length; x++)
        store_label(out + x * label_bytes, table,
                    bits == 8 ? row[x] : ngc_load16(row + 2 * (size_t)x), vw);
    }
}

/* Decodes one block with `bits` (nonzero) and label width `vw` constant after
 * inlining. Returns NGC_ERR_BAD_TABLE_INDEX if an index of the block, padding
 * included (as neuroglancer-scripts requires), is not below `entries`. */
NGC_INLINE int decode_block(const uint32_t *values, const uint8_t *table,
                            uint32_t entries, const geometry *g,
                            const block_view *view, const uint32_t bits,
                            const uint32_t vw) {
  const uint32_t bx = g->block[0], by = g->block[1], volume = g->block_volume;
  const uint32_t nx = view->vis[0], ny = view->vis[1], nz = view->vis[2];
  const size_t row_stride = view->row_stride, plane_stride = view->plane_stride;
  uint8_t *const base = view->out;
  const size_t label_bytes = 4 * vw;
  const uint32_t per_word = 32 / bits;
  /* Only a table near the end of the chunk can be too short. */
  const int check = (uint64_t)entries < ((uint64_t)1 << bits);
#ifdef __wasm_simd128__
  if (!check && bits <= 4 && bx == 8 && nx == 8 && by == 8 && ny == 8) {
    decode_rows_simd(values, table, nz, base, row_stride, plane_stride, bits, vw);
    return NGC_OK;
  }
#endif
  if (!check && per_word % bx == 0) {
    const uint32_t field_bits = bx * bits;
    const uint32_t field_mask = field_bits == 32 ? 0xFFFFFFFFu : (1u << field_bits) - 1;
    uint32_t repeat = 0;
    for (uint32_t x = 0; x < bx; x++) repeat |= 1u << (x * bits);
    if (nx == 8)
      fused_rows(values, table, base, ny, nz, bx, by, row_stride, plane_stride, field_mask,
                 repeat, 8, bits, vw);
    else
      fused_rows(values, table, base, ny, nz, bx, by, row_stride, plane_stride, field_mask,
                 repeat, nx, bits, vw);
    return NGC_OK;
  }
  if (!check && (bits == 8 || bits == 16)) {
    if (nx == 8)
      byte_rows(values, table, base, ny, nz, bx, by, row_stride, plane_stride, 8, bits, vw);
    else
      byte_rows(values, table, base, ny, nz, bx, by, row_stride, plane_stride, nx, bits, vw);
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

NGC_INLINE void fill_rows(const uint8_t *table, uint8_t *base, uint32_t ny, uint32_t nz,
                          size_t row_stride, size_t plane_stride, const uint32_t row_length,
                          const uint32_t vw) {
  for (uint32_t z = 0; z < nz; z++)
    for (uint32_t y = 0; y < ny; y++)
      fill_row(base + z * plane_stride + y * row_stride, table, 0, row_length, vw);
}

/* A 0-bit block: every visible voxel is table[0]. */
NGC_INLINE void fill_block(const uint8_t *table, const block_view *v,
                           const uint32_t vw) {
  const uint32_t nx = v->vis[0], ny = v->vis[1], nz = v->vis[2];
  const size_t row_stride = v->row_stride, plane_stride = v->plane_stride;
  uint8_t *const base = v->out;
  if (nx == 8)
    fill_rows(table, base, ny, nz, row_stride, plane_stride, 8, vw);
  else
    fill_rows(table, base, ny, nz, row_stride, plane_stride, nx, vw);
}

/* decode_block instantiated for each bit width, for one label width. */
NGC_INLINE int decode_block_bits(const uint32_t *vals, const uint8_t *table,
                                 uint32_t entries, const geometry *g, const block_view *v,
                                 uint32_t bits, const uint32_t vw) {
  switch (bits) {
    case 1: return decode_block(vals, table, entries, g, v, 1, vw);
    case 2: return decode_block(vals, table, entries, g, v, 2, vw);
    case 4: return decode_block(vals, table, entries, g, v, 4, vw);
    case 8: return decode_block(vals, table, entries, g, v, 8, vw);
    case 16: return decode_block(vals, table, entries, g, v, 16, vw);
    default: return decode_block(vals, table, entries, g, v, 32, vw);
  }
}

static int decode_block_u32(const uint32_t *vals, const uint8_t *table, uint32_t entries,
                            const geometry *g, const block_view *v, uint32_t bits) {
  return decode_block_bits(vals, table, entries, g, v, bits, 1);
}

static int decode_block_u64(const uint32_t *vals, const uint8_t *table, uint32_t entries,
                            const geometry *g, const block_view *v, uint32_t bits) {
  return decode_block_bits(vals, table, entries, g, v, bits, 2);
}

/* Decodes block b, whose header h is checked, into view v. */
NGC_INLINE int decode_checked_block(const uint32_t *w, const geometry *g, const block_header *h,
                                    const block_view *v) {
  const uint8_t *table = (const uint8_t *)(w + h->table_offset);
  if (h->bits == 0) {
    if (g->value_words == 1) fill_block(table, v, 1);
    else fill_block(table, v, 2);
    return NGC_OK;
  }
  const uint32_t *vals = w + h->values_offset;
  return g->value_words == 1 ? decode_block_u32(vals, table, h->entries, g, v, h->bits)
                             : decode_block_u64(vals, table, h->entries, g, v, h->bits);
}

/* What one decode writes: the voxels [lo, hi) of the chunk (x, y, z) into
 * out, laid out (Z, Y, X) per channel with the given strides; `scratch`
 * (NULL until needed) holds one block for blocks that start before lo. */
typedef struct box_target {
  uint32_t lo[3], hi[3];
  uint8_t *out;
  size_t row_stride, plane_stride;
  uint8_t *scratch;
} box_target;

/* Decodes the blocks of channel data w[0..n) that meet the box: a block
 * that starts inside the box is decoded in place (its rows are written
 * from its first voxel on); one that starts before it is decoded into
 * scratch and its part copied out. Only those blocks' headers and values
 * are read and checked. An error about one block sets *fail_block. */
static int decode_channel(const uint32_t *w, uint32_t n, const geometry *g, box_target *t,
                          uint32_t *fail_block) {
  const size_t lb = 4 * (size_t)g->value_words;
  uint32_t first[3], last[3];
  for (int i = 0; i < 3; i++)
    if (t->lo[i] == t->hi[i]) return NGC_OK;
  for (int i = 0; i < 3; i++) {
    first[i] = t->lo[i] / g->block[i];
    last[i] = ngc_ceil_div(t->hi[i], g->block[i]);
  }
  for (uint32_t bz = first[2]; bz < last[2]; bz++)
    for (uint32_t by = first[1]; by < last[1]; by++)
      for (uint32_t bx = first[0]; bx < last[0]; bx++) {
        const uint32_t pos[3] = {bx, by, bz};
        const uint32_t b = (bz * g->grid[1] + by) * g->grid[0] + bx;
        block_header h;
        int status = read_block_header(w, n, g, b, &h);
        uint32_t origin[3], vis[3], start[3];
        block_extent(g, pos, origin, vis);
        int inside = 1;
        for (int i = 0; i < 3; i++) {
          /* Visible rows from the block's first voxel up to the box's end. */
          if (origin[i] + vis[i] > t->hi[i]) vis[i] = t->hi[i] - origin[i];
          start[i] = origin[i] < t->lo[i] ? t->lo[i] - origin[i] : 0;
          inside &= start[i] == 0;
        }
        block_view v;
        memcpy(v.vis, vis, sizeof vis);
        if (inside) {
          v.row_stride = t->row_stride;
          v.plane_stride = t->plane_stride;
          v.out = t->out + (origin[2] - t->lo[2]) * t->plane_stride +
                  (origin[1] - t->lo[1]) * t->row_stride + (origin[0] - t->lo[0]) * lb;
        } else {
          if (t->scratch == NULL) t->scratch = malloc((size_t)g->block_volume * lb);
          if (t->scratch == NULL) return NGC_ERR_NO_MEMORY;
          v.row_stride = vis[0] * lb;
          v.plane_stride = vis[1] * v.row_stride;
          v.out = t->scratch;
        }
        /* One call site: the block decoders are inlined for every width. */
        if (status == NGC_OK) status = decode_checked_block(w, g, &h, &v);
        if (status == NGC_OK && !inside) {
          const size_t row_bytes = (vis[0] - start[0]) * lb;
          for (uint32_t z = start[2]; z < vis[2]; z++)
            for (uint32_t y = start[1]; y < vis[1]; y++)
              memcpy(t->out + (origin[2] + z - t->lo[2]) * t->plane_stride +
                         (origin[1] + y - t->lo[1]) * t->row_stride +
                         (origin[0] + start[0] - t->lo[0]) * lb,
                     t->scratch + z * v.plane_stride + y * v.row_stride + start[0] * lb,
                     row_bytes);
        }
        if (status != NGC_OK) {
          *fail_block = b;
          return status;
        }
      }
  return NGC_OK;
}

/* ngc_cseg_decode and ngc_cseg_decode_box: the box [lo, hi) of every
 * channel into dst, which holds exactly the box's voxels. */
static int decode_box(ngc_chunk *chunk, const uint32_t lo[3], const uint32_t hi[3],
                      const void *src, size_t src_size, void *dst, size_t dst_capacity) {
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  const size_t lb = 4 * (size_t)g.value_words;
  /* Box sizes are at most the chunk's, so these products fit in size_t. */
  uint64_t box_voxels = 1;
  for (int i = 0; i < 3; i++) {
    if (lo[i] > hi[i] || hi[i] > g.size[i]) return NGC_ERR_BAD_PARAMS;
    box_voxels *= hi[i] - lo[i];
  }
  const size_t channel_bytes = (size_t)box_voxels * lb;
  if (dst_capacity / chunk->num_channels < channel_bytes) return NGC_ERR_DST_TOO_SMALL;
  if ((src == NULL && src_size != 0) || (dst == NULL && channel_bytes != 0))
    return NGC_ERR_BAD_PARAMS;
  uint32_t n, c;
  status = cseg_source(chunk, src_size, &n, &c);
  if (status != NGC_OK) return fail_at(chunk, status, c, NGC_NO_PLACE);
  box_target t;
  memcpy(t.lo, lo, sizeof t.lo);
  memcpy(t.hi, hi, sizeof t.hi);
  t.row_stride = (hi[0] - lo[0]) * lb;
  t.plane_stride = (hi[1] - lo[1]) * t.row_stride;
  t.scratch = NULL;
  for (c = 0; c < chunk->num_channels && status == NGC_OK; c++) {
    const uint32_t *w;
    uint32_t cn, block = NGC_NO_PLACE;
    status = cseg_channel(src, n, &g, c, &w, &cn);
    if (status == NGC_OK) {
      t.out = (uint8_t *)dst + c * channel_bytes;
      status = decode_channel(w, cn, &g, &t, &block);
    }
    if (status != NGC_OK) fail_at(chunk, status, c, block);
  }
  free(t.scratch);
  return status;
}

int ngc_cseg_decode(ngc_chunk *chunk, const void *src, size_t src_size,
                    void *dst, size_t dst_capacity) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  const uint32_t lo[3] = {0, 0, 0};
  return decode_box(chunk, lo, chunk->size, src, src_size, dst, dst_capacity);
}

int ngc_cseg_decode_box(ngc_chunk *chunk, const ngc_box *box, const void *src,
                        size_t src_size, void *dst, size_t dst_capacity) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  if (box == NULL) return NGC_ERR_BAD_PARAMS;
  return decode_box(chunk, box->lo, box->hi, src, src_size, dst, dst_capacity);
}

/* Every index of a checked block is below its entries (the decoder's check
 * for blocks whose table may end early). */
static int block_indices_valid(const uint32_t *w, const geometry *g, const block_header *h) {
  if (h->bits == 0 || (uint64_t)h->entries >= ((uint64_t)1 << h->bits)) return 1;
  const uint32_t *values = w + h->values_offset;
  for (uint32_t pos = 0; pos < g->block_volume; pos++)
    if (index_at(values, pos, h->bits) >= h->entries) return 0;
  return 1;
}

int ngc_cseg_read_voxels(ngc_chunk *chunk, const ngc_points *points, const void *src,
                         size_t src_size, void *dst, size_t dst_capacity) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  if (points == NULL || (points->count != 0 && points->xyz == NULL) ||
      points->channel >= chunk->num_channels || (src == NULL && src_size != 0))
    return NGC_ERR_BAD_PARAMS;
  const uint32_t vw = g.value_words;
  if (dst_capacity / (4 * vw) < points->count) return NGC_ERR_DST_TOO_SMALL;
  if (dst == NULL && points->count != 0) return NGC_ERR_BAD_PARAMS;
  for (uint32_t i = 0; i < points->count; i++)
    for (int a = 0; a < 3; a++)
      if (points->xyz[3 * (size_t)i + a] >= g.size[a]) return NGC_ERR_BAD_PARAMS;
  uint32_t n, c = points->channel;
  const uint32_t *w;
  status = cseg_source(chunk, src_size, &n, &c);
  if (status != NGC_OK) return fail_at(chunk, status, c, NGC_NO_PLACE);
  c = points->channel;
  uint32_t cn;
  status = cseg_channel(src, n, &g, c, &w, &cn);
  if (status != NGC_OK) return fail_at(chunk, status, c, NGC_NO_PLACE);
  uint32_t checked = NGC_NO_PLACE; /* the last block checked: points cluster */
  block_header h;
  uint8_t *out = dst;
  for (uint32_t i = 0; i < points->count; i++) {
    const uint32_t *p = points->xyz + 3 * (size_t)i;
    const uint32_t bx = p[0] / g.block[0], by = p[1] / g.block[1], bz = p[2] / g.block[2];
    const uint32_t b = (bz * g.grid[1] + by) * g.grid[0] + bx;
    if (b != checked) {
      status = read_block_header(w, cn, &g, b, &h);
      if (status == NGC_OK && !block_indices_valid(w, &g, &h)) status = NGC_ERR_BAD_TABLE_INDEX;
      if (status != NGC_OK) return fail_at(chunk, status, c, b);
      checked = b;
    }
    uint32_t index = 0;
    if (h.bits != 0) {
      const uint32_t x = p[0] % g.block[0], y = p[1] % g.block[1], z = p[2] % g.block[2];
      index = index_at(w + h.values_offset, (z * g.block[1] + y) * g.block[0] + x, h.bits);
    }
    const uint32_t *entry = w + h.table_offset + (size_t)index * vw;
    if (vw == 1) ngc_store32(out + 4 * (size_t)i, ngc_load32(entry));
    else ngc_store64(out + 8 * (size_t)i, ngc_load64(entry));
  }
  return NGC_OK;
}
