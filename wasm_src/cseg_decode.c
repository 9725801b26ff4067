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
#include "cseg_internal.h"
#include "simd.h"

NGC_INLINE int valid_bits(uint32_t bits) {
  return bits <= 32 && (bits & (bits - 1)) == 0;
}

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

NGC_INLINE uint32_t index_at(const uint32_t *values, uint32_t pos, const uint32_t bits) {
  const uint32_t per_word = 32 / bits;
  const uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
  return (ngc_load32(&values[pos / per_word]) >> ((pos % per_word) * bits)) & mask;
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

/* Checks the header of block `pos` (grid coordinates) of the channel data
 * `w[0..n)` (n words to the end of the chunk), then decodes the block into
 * the channel's output `out`. */
NGC_INLINE int check_and_decode_block(const uint32_t *w, uint32_t n, const geometry *g,
                                      const uint32_t pos[3], uint32_t b, uint8_t *out,
                                      size_t row_stride, size_t plane_stride) {
  const size_t label_bytes = 4 * (size_t)g->value_words;
  const uint32_t h0 = ngc_load32(&w[2 * (size_t)b]);
  const uint32_t values_offset = ngc_load32(&w[2 * (size_t)b + 1]);
  const uint32_t bits = h0 >> 24, table_offset = h0 & MAX_OFFSET;
  if (!valid_bits(bits)) return NGC_ERR_BAD_BITS;
  if (table_offset > n) return NGC_ERR_BAD_TABLE_OFFSET;
  if (values_offset > n || values_words(bits, g->block_volume) > n - values_offset)
    return NGC_ERR_BAD_VALUES_OFFSET;
  const uint32_t entries = (n - table_offset) / g->value_words;

  block_view v;
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
    return NGC_OK;
  }
  const uint32_t *vals = w + values_offset;
  return g->value_words == 1 ? decode_block_u32(vals, table, entries, g, &v, bits)
                             : decode_block_u64(vals, table, entries, g, &v, bits);
}

/* Decodes channel data `w[0..n)` into `out`. An error about one block sets
 * *fail_block to its index; a truncated block headers region leaves it. */
static int decode_channel(const uint32_t *w, uint32_t n, const geometry *g,
                          uint8_t *out, uint32_t *fail_block) {
  if (n / 2 < g->num_blocks) return NGC_ERR_TRUNCATED;
  const size_t row_stride = g->size[0] * 4 * (size_t)g->value_words;
  const size_t plane_stride = g->size[1] * row_stride;
  uint32_t b = 0;
  for (uint32_t bz = 0; bz < g->grid[2]; bz++)
    for (uint32_t by = 0; by < g->grid[1]; by++)
      for (uint32_t bx = 0; bx < g->grid[0]; bx++, b++) {
        const uint32_t pos[3] = {bx, by, bz};
        const int status =
            check_and_decode_block(w, n, g, pos, b, out, row_stride, plane_stride);
        if (status != NGC_OK) {
          *fail_block = b;
          return status;
        }
      }
  return NGC_OK;
}

/* Records the place of a failure (see struct ngc_chunk) and returns it. */
NGC_INLINE int fail_at(ngc_chunk *chunk, int status, uint32_t channel, uint32_t block) {
  chunk->fail_channel = channel;
  chunk->fail_block = block;
  return status;
}

int ngc_cseg_decode(ngc_chunk *chunk, const void *src, size_t src_size,
                    void *dst, size_t dst_capacity) {
  if (chunk == NULL) return NGC_ERR_BAD_PARAMS;
  chunk->fail_channel = NGC_NO_PLACE;
  chunk->fail_block = NGC_NO_PLACE;
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  if (dst_capacity < decoded_size) return NGC_ERR_DST_TOO_SMALL;
  if ((src == NULL && src_size != 0) || (dst == NULL && decoded_size != 0))
    return NGC_ERR_BAD_PARAMS;
  if (src_size % 4 != 0) return NGC_ERR_UNALIGNED;
  const uint32_t *w = (const uint32_t *)src;
  const uint32_t n = (uint32_t)(src_size / 4);
  /* The first channel whose offset word is missing is the place. */
  if (n < chunk->num_channels) return fail_at(chunk, NGC_ERR_TRUNCATED, n, NGC_NO_PLACE);
  const size_t channel_bytes = decoded_size / chunk->num_channels;
  for (uint32_t c = 0; c < chunk->num_channels; c++) {
    const uint32_t offset = ngc_load32(&w[c]);
    if (offset > n) return fail_at(chunk, NGC_ERR_BAD_CHANNEL_OFFSET, c, NGC_NO_PLACE);
    uint32_t block = NGC_NO_PLACE;
    status = decode_channel(w + offset, n - offset, &g, (uint8_t *)dst + c * channel_bytes,
                            &block);
    if (status != NGC_OK) return fail_at(chunk, status, c, block);
  }
  return NGC_OK;
}
