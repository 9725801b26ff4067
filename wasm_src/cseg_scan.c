/*
 * cseg_scan.c - the used indices of a block and the walk over a chunk's
 * blocks (see cseg_scan.h).
 */
#include <stdlib.h>

#include "cseg_scan.h"
#include "simd.h"

/* Allocated on first use and kept for the life of the instance. */
uint32_t *cseg_counts;
uint16_t *cseg_touched;

void used_release(used_set *u) {
  if (u->heap != NULL) {
    free(u->heap);
    u->heap = NULL;
  } else {
    for (uint32_t i = 0; i < u->n; i++) cseg_counts[cseg_touched[i]] = 0;
  }
  u->n = 0;
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

uint32_t max_index(const uint32_t *values, uint32_t bits, uint32_t volume) {
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
int indices_valid(const uint32_t *values, const block_header *h, uint32_t volume) {
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
int scan_block(const uint32_t *w, const geometry *g, const block_header *h,
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
  uint32_t *cnt = cseg_counts;
  uint16_t *tch = cseg_touched;
  switch (bits) {
    case 1: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 1); break;
    case 2: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 2); break;
    case 4: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 4); break;
    case 8: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 8); break;
    default: u->n = count_rows(values, nx, ny, nz, bx, by, cnt, tch, 16); break;
  }
  return NGC_OK;
}

int walk(ngc_chunk *chunk, const void *src, size_t src_size, void *op,
                block_visit visit, channel_done done) {
  geometry g;
  size_t decoded_size;
  int status = get_geometry(chunk, &decoded_size, &g);
  if (status != NGC_OK) return status;
  if (src == NULL && src_size != 0) return NGC_ERR_BAD_PARAMS;
  if (cseg_counts == NULL) {
    cseg_counts = calloc((size_t)1 << SMALL_BITS, sizeof *cseg_counts);
    cseg_touched = malloc(((size_t)1 << SMALL_BITS) * sizeof *cseg_touched);
    if (cseg_counts == NULL || cseg_touched == NULL) {
      free(cseg_counts);
      free(cseg_touched);
      cseg_counts = NULL;
      cseg_touched = NULL;
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

