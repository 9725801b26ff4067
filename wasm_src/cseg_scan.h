/*
 * cseg_scan.h - what the questions asked of compressed chunks share
 * (cseg_ops.c: labels, contains, mask; cseg_remap.c: remap): the indices a
 * block's visible voxels use, and a walk over every block of a chunk that
 * checks it exactly as ngc_cseg_decode does. Implemented in cseg_scan.c.
 *
 * The one idea: a block's voxels hold the labels table[i] for the indices
 * i its visible voxels use, so every question is first asked of the
 * packed indices (a few bits per voxel, read a word at a time) and only
 * then of the table. Which table entries are used is found by reading the
 * indices, never trusted from the table's length: encoders may leave
 * entries that no voxel uses (padding voxels of edge blocks, tables shared
 * between blocks), and tables have no stored length at all.
 */
#ifndef NGCODEC_CSEG_SCAN_H
#define NGCODEC_CSEG_SCAN_H

#include "cseg_internal.h"

/* ------------------------------------------------------------------------ */
/* Used indices of one block                                                */
/* ------------------------------------------------------------------------ */

/* Per-index voxel counts for blocks of up to 16 bits: `cseg_counts` is zero
 * between blocks, `cseg_touched` lists the indices a block made nonzero, so
 * nothing is cleared that was not used. Allocated on first use and kept
 * (384 KiB) for the life of the instance. */
#define SMALL_BITS 16
extern uint32_t *cseg_counts;
extern uint16_t *cseg_touched;

/* The indices the visible voxels of one block use, each once, with their
 * voxel counts: in cseg_touched/cseg_counts (bits <= 16) or in `heap` (32 bits:
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
    *index = cseg_touched[i];
    *count = cseg_counts[*index];
  }
}

void used_release(used_set *u);

NGC_INLINE void add_count(used_set *u, uint32_t index, uint32_t k) {
  if (cseg_counts[index] == 0) cseg_touched[u->n++] = (uint16_t)index;
  cseg_counts[index] += k;
}

/* The largest index of the full block (padding included), for bits 1-32. */
uint32_t max_index(const uint32_t *values, uint32_t bits, uint32_t volume);

/* Every index of the full block (padding included, as the decoder checks)
 * is below the block's entries. */
int indices_valid(const uint32_t *values, const block_header *h, uint32_t volume);

/* Fills *u with the indices that the visible voxels vis[3] of a checked
 * block use, with their voxel counts (release it with used_release). */
int scan_block(const uint32_t *w, const geometry *g, const block_header *h,
               const uint32_t vis[3], used_set *u);

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

int walk(ngc_chunk *chunk, const void *src, size_t src_size, void *op, block_visit visit,
         channel_done done);

/* ------------------------------------------------------------------------ */
/* Label sets                                                               */
/* ------------------------------------------------------------------------ */

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

#endif /* NGCODEC_CSEG_SCAN_H */
