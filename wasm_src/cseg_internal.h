/*
 * cseg_internal.h - what the compressed_segmentation decoder and encoder
 * share: the block grid of a chunk, derived once per call, and the sizes
 * both sides compute from it. The format is described at the top of
 * cseg_decode.c.
 */
#ifndef NGCODEC_CSEG_INTERNAL_H
#define NGCODEC_CSEG_INTERNAL_H

#include "internal.h"

/* Accepted chunk->value_bytes: uint32 and uint64 labels. */
#define CSEG_WIDTHS ((1u << 4) | (1u << 8))

/* Neuroglancer and tensorstore read only 24 bits of a table offset. */
#define MAX_OFFSET 0xFFFFFFu

typedef struct geometry {
  uint32_t size[3], block[3], grid[3];
  uint32_t num_blocks;   /* gx * gy * gz (checked to fit) */
  uint32_t block_volume; /* bx * by * bz (checked to fit) */
  uint32_t value_words;  /* 1 for uint32, 2 for uint64 */
} geometry;

static inline int get_geometry(const ngc_chunk *chunk, size_t *decoded_size,
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

/* Words of packed values for one block (64-bit: bits * volume can pass 2^32). */
NGC_INLINE uint64_t values_words(uint32_t bits, uint32_t block_volume) {
  return ((uint64_t)bits * block_volume + 31) / 32;
}

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

NGC_INLINE int valid_bits(uint32_t bits) {
  return bits <= 32 && (bits & (bits - 1)) == 0;
}

/* One block header, checked: bits is valid, the table offset and the whole
 * values run lie inside the channel's n words, and a 0-bit block has a
 * table entry. `entries` is how many labels the table has room for (to the
 * end of the chunk, as Neuroglancer and tensorstore read it). */
typedef struct block_header {
  uint32_t bits, table_offset, values_offset, entries;
} block_header;

NGC_INLINE int read_block_header(const uint32_t *w, uint32_t n, const geometry *g, uint32_t b,
                                 block_header *h) {
  const uint32_t h0 = ngc_load32(&w[2 * (size_t)b]);
  h->values_offset = ngc_load32(&w[2 * (size_t)b + 1]);
  h->bits = h0 >> 24;
  h->table_offset = h0 & MAX_OFFSET;
  if (!valid_bits(h->bits)) return NGC_ERR_BAD_BITS;
  if (h->table_offset > n) return NGC_ERR_BAD_TABLE_OFFSET;
  if (h->values_offset > n || values_words(h->bits, g->block_volume) > n - h->values_offset)
    return NGC_ERR_BAD_VALUES_OFFSET;
  h->entries = (n - h->table_offset) / g->value_words;
  if (h->bits == 0 && h->entries == 0) return NGC_ERR_EMPTY_TABLE;
  return NGC_OK;
}

/* The index of voxel `pos` (x fastest in the full block) in packed values. */
NGC_INLINE uint32_t index_at(const uint32_t *values, uint32_t pos, const uint32_t bits) {
  const uint32_t per_word = 32 / bits;
  const uint32_t mask = bits == 32 ? 0xFFFFFFFFu : (1u << bits) - 1;
  return (ngc_load32(&values[pos / per_word]) >> ((pos % per_word) * bits)) & mask;
}

/* The checks every reader makes before it looks at a channel: the size is
 * whole words, every channel has its offset word, channel c's offset lies
 * inside the chunk and its block headers fit. `cseg_source` checks the
 * first two and gives the word count; `cseg_channel` the rest, for one
 * channel, giving its data w[0..n). On failure *fail_channel is the place
 * (NGC_NO_PLACE when there is none). */
NGC_INLINE int cseg_source(const ngc_chunk *chunk, size_t src_size, uint32_t *n_ret,
                           uint32_t *fail_channel) {
  *fail_channel = NGC_NO_PLACE;
  if (src_size % 4 != 0) return NGC_ERR_UNALIGNED;
  const uint32_t n = (uint32_t)(src_size / 4);
  /* The first channel whose offset word is missing is the place. */
  if (n < chunk->num_channels) {
    *fail_channel = n;
    return NGC_ERR_TRUNCATED;
  }
  *n_ret = n;
  return NGC_OK;
}

NGC_INLINE int cseg_channel(const uint32_t *src, uint32_t n, const geometry *g, uint32_t c,
                            const uint32_t **w_ret, uint32_t *n_ret) {
  const uint32_t offset = ngc_load32(&src[c]);
  if (offset > n) return NGC_ERR_BAD_CHANNEL_OFFSET;
  if ((n - offset) / 2 < g->num_blocks) return NGC_ERR_TRUNCATED;
  *w_ret = src + offset;
  *n_ret = n - offset;
  return NGC_OK;
}

/* Records the place of a failure (see struct ngc_chunk) and returns it. */
NGC_INLINE int fail_at(ngc_chunk *chunk, int status, uint32_t channel, uint32_t block) {
  chunk->fail_channel = channel;
  chunk->fail_block = block;
  return status;
}

#endif /* NGCODEC_CSEG_INTERNAL_H */
