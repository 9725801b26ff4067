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

#endif /* NGCODEC_CSEG_INTERNAL_H */
