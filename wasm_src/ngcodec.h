/*
 * ngcodec.h - the whole public ABI of ngcodec.wasm.
 *
 * Neuroglancer "precomputed" chunk codecs (raw and compressed_segmentation).
 * Every export is prefixed ngc_. Every function that can fail returns an
 * int status: NGC_OK (0) or a negative NGC_ERR_* value. Status values are
 * never renumbered; ngc_error_name() gives the stable name of each.
 *
 * Buffers are owned by the caller and passed with their sizes/capacities.
 * No function reads or writes outside the buffers it is given, whatever the
 * input bytes are. size_t is 32-bit in wasm32.
 *
 * Out-parameters are named *_ret and must not be NULL: a NULL one makes the
 * call return NGC_ERR_BAD_PARAMS before it writes anything. A pointer
 * parameter that is not const is written; a const one is only read.
 *
 * Arrays are laid out (C, Z, Y, X) with x varying fastest; chunk and block
 * sizes are given as (x, y, z). Values are little-endian.
 */
#ifndef NGCODEC_H
#define NGCODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__EMSCRIPTEN__)
#define NGC_API __attribute__((used, visibility("default")))
#else
#define NGC_API
#endif

/* ========================================================================== */
/*                                  Version                                   */
/* ========================================================================== */

#define NGC_VERSION_MAJOR 0
#define NGC_VERSION_MINOR 1
#define NGC_VERSION_PATCH 0
#define NGC_VERSION_NUMBER \
  (NGC_VERSION_MAJOR * 10000 + NGC_VERSION_MINOR * 100 + NGC_VERSION_PATCH)

/* NGC_VERSION_NUMBER of the module: major*10000 + minor*100 + patch. */
NGC_API uint32_t ngc_version(void);

/* ========================================================================== */
/*                                Status codes                                */
/* ========================================================================== */

typedef enum ngc_status {
  NGC_OK = 0,
  /* The call's own parameters are invalid (zero block size, unknown value
   * width, zero channels, NULL buffer). */
  NGC_ERR_BAD_PARAMS = -1,
  /* dst_capacity is too small: retry with a bigger buffer (see *_bound). */
  NGC_ERR_DST_TOO_SMALL = -2,
  /* The input has not the size its geometry requires (raw decode/encode). */
  NGC_ERR_SIZE_MISMATCH = -3,
  /* compressed_segmentation: the input is shorter than its channel header or
   * a channel's block headers. */
  NGC_ERR_TRUNCATED = -4,
  /* compressed_segmentation: the input size is not a multiple of 4 bytes. */
  NGC_ERR_UNALIGNED = -5,
  /* A channel offset points past the end of the input. */
  NGC_ERR_BAD_CHANNEL_OFFSET = -6,
  /* A block header's bit width is not one of 0, 1, 2, 4, 8, 16, 32. */
  NGC_ERR_BAD_BITS = -7,
  /* A block's lookup table offset points past the end of the input. */
  NGC_ERR_BAD_TABLE_OFFSET = -8,
  /* A block's encoded values do not fit inside the input. */
  NGC_ERR_BAD_VALUES_OFFSET = -9,
  /* An encoded value indexes past the end of the input's lookup table. */
  NGC_ERR_BAD_TABLE_INDEX = -10,
  /* A 0-bit block has no lookup table entry left in the input. */
  NGC_ERR_EMPTY_TABLE = -11,
  /* Encoder: an offset does not fit in the 24 bits Neuroglancer reads. */
  NGC_ERR_OFFSET_OVERFLOW = -12,
  /* A size computed from the geometry overflows the 32-bit address space. */
  NGC_ERR_TOO_LARGE = -13,
  /* malloc failed (the host's memory limit, or the 4 GiB wasm32 ceiling). */
  NGC_ERR_NO_MEMORY = -14,
  /* ngc_cseg_remap: a voxel holds a label the mapping lacks (the mapping's
   * `missing` field names it). */
  NGC_ERR_NOT_MAPPED = -15,
  /* ngc_cseg_remap: a lookup table overlaps headers, values or another
   * table out of step, so it cannot be rewritten in place. The chunk is
   * valid: decode, map and encode it instead. */
  NGC_ERR_TABLE_OVERLAP = -16
} ngc_status;

/* The stable name of a status ("NGC_OK", "NGC_ERR_BAD_BITS", ...), or
 * "NGC_ERR_UNKNOWN" for a value that is not a status. Never NULL. */
NGC_API const char *ngc_error_name(int status);

/* ========================================================================== */
/*                               Chunk geometry                               */
/* ========================================================================== */

/*
 * One struct describes the chunk for every call, so a call takes a pointer
 * instead of eight integers.
 *
 * Failure place: ngc_cseg_decode and ngc_cseg_encode write fail_channel and
 * fail_block on every return, success included (unless chunk is NULL:
 * NGC_ERR_BAD_PARAMS, nothing written), so a host formats the place of an
 * error from the two fields alone, whatever the status:
 *
 *   fail_channel  fail_block    the status is about
 *   NGC_NO_PLACE  NGC_NO_PLACE  no one place in the data: NGC_OK,
 *                               BAD_PARAMS, UNALIGNED, TOO_LARGE,
 *                               DST_TOO_SMALL, SIZE_MISMATCH, NO_MEMORY
 *   c             NGC_NO_PLACE  channel c: its offset points past the end
 *                               (BAD_CHANNEL_OFFSET), its block headers
 *                               region is truncated, or src ends before its
 *                               offset word (TRUNCATED; c is the first
 *                               channel without one)
 *   c             b             block b of channel c, numbered x fastest
 *                               (block (i, j, k) of a grid of gx * gy * gz
 *                               blocks is b = (k * gy + j) * gx + i): BAD_BITS,
 *                               BAD_TABLE_OFFSET, BAD_VALUES_OFFSET,
 *                               BAD_TABLE_INDEX, EMPTY_TABLE; and the
 *                               encoder's OFFSET_OVERFLOW, for the block
 *                               whose table or values offset did not fit
 *
 * The other functions only read the struct (they take it const).
 */
#define NGC_NO_PLACE 0xFFFFFFFFu

typedef struct ngc_chunk {
  uint32_t size[3];       /* chunk size in voxels: x, y, z (0 allowed) */
  uint32_t num_channels;  /* >= 1 */
  uint32_t value_bytes;   /* raw: 1, 2, 4 or 8; compressed_segmentation: 4, 8 */
  uint32_t block_size[3]; /* compressed_segmentation: x, y, z, each >= 1 */
  uint32_t fail_channel;  /* out (cseg): channel of the error, or NGC_NO_PLACE */
  uint32_t fail_block;    /* out (cseg): block of the error, or NGC_NO_PLACE */
} ngc_chunk;

/* The decoded size in bytes (num_channels * x * y * z * value_bytes). */
NGC_API int ngc_decoded_size(const ngc_chunk *chunk, size_t *size_ret);

/* ========================================================================== */
/*                                    Raw                                     */
/* ========================================================================== */

/* Raw chunks are the little-endian array itself: src_size must equal the
 * decoded size, and both calls copy exactly that many bytes into dst (so
 * decoding needs no size out-parameter); ngc_raw_encode also stores it in
 * *dst_size_ret. */
NGC_API int ngc_raw_decode(const ngc_chunk *chunk, const void *src,
                           size_t src_size, void *dst, size_t dst_capacity);
NGC_API int ngc_raw_encode(const ngc_chunk *chunk, const void *src,
                           size_t src_size, void *dst, size_t dst_capacity,
                           size_t *dst_size_ret);

/* ========================================================================== */
/*                          compressed_segmentation                           */
/* ========================================================================== */

/* The largest output ngc_cseg_encode can produce for this geometry. */
NGC_API int ngc_cseg_encode_bound(const ngc_chunk *chunk, size_t *bound_ret);

/* Encodes a (C, Z, Y, X) array of uint32 or uint64 (chunk->value_bytes).
 * src_size must equal the decoded size; *dst_size_ret receives the bytes
 * written. Identical lookup tables within a channel are stored once.
 * Allocates scratch with malloc and frees it. Writes chunk->fail_*. */
NGC_API int ngc_cseg_encode(ngc_chunk *chunk, const void *src, size_t src_size,
                            void *dst, size_t dst_capacity,
                            size_t *dst_size_ret);

/* Decodes into dst, which must hold ngc_decoded_size() bytes. Every offset,
 * size and table index of src is validated before use; on error, dst may be
 * partly written. Allocates nothing. Writes chunk->fail_*. */
NGC_API int ngc_cseg_decode(ngc_chunk *chunk, const void *src, size_t src_size,
                            void *dst, size_t dst_capacity);

/* A box of voxels of a chunk: lo <= x < hi on each axis (x, y, z). */
typedef struct ngc_box {
  uint32_t lo[3];
  uint32_t hi[3];
} ngc_box;

/* Decodes the voxels of `box` (which lies inside the chunk) of every
 * channel into dst, a (C, Z, Y, X) array of the box's size: dst_capacity
 * must be at least num_channels * box voxels * value_bytes. Only the blocks
 * the box meets are read, and those are checked as ngc_cseg_decode checks
 * them (with the channel offsets and the size of every channel's block
 * headers region); blocks outside the box are not looked at. A box that
 * starts inside a block needs one block of scratch (malloc). Writes
 * chunk->fail_*. ngc_cseg_decode is this call with the whole chunk. */
NGC_API int ngc_cseg_decode_box(ngc_chunk *chunk, const ngc_box *box, const void *src,
                                size_t src_size, void *dst, size_t dst_capacity);

/* Voxels of a chunk: `count` positions, each 3 words (x, y, z) in `xyz`,
 * read from channel `channel`. */
typedef struct ngc_points {
  const uint32_t *xyz;
  uint32_t count;
  uint32_t channel;
} ngc_points;

/* The labels at `points` into dst (count values of value_bytes each,
 * dst_capacity >= count * value_bytes), each read from its block's packed
 * index and table without decoding the block. Every block a point lies in
 * is checked as ngc_cseg_decode_box checks it (its whole header and, when
 * its table could be too short, every index). A point outside the chunk or
 * a channel past num_channels is NGC_ERR_BAD_PARAMS. Writes chunk->fail_*. */
NGC_API int ngc_cseg_read_voxels(ngc_chunk *chunk, const ngc_points *points, const void *src,
                                 size_t src_size, void *dst, size_t dst_capacity);

/* ========================================================================== */
/*              Questions asked of compressed_segmentation chunks             */
/* ========================================================================== */

/*
 * These calls read the packed indices and the tables, never decode voxels,
 * and check the chunk exactly as ngc_cseg_decode does (same statuses, same
 * fail_* places): a chunk decode refuses, they refuse. Labels are those of
 * the visible voxels, whatever else a table holds. uint32 labels travel as
 * uint64. Each allocates scratch (malloc) and frees it, except 384 KiB of
 * per-index counters that the first call allocates and later calls reuse.
 */

/* A set of labels: `labels` sorted ascending, no repeats (else
 * NGC_ERR_BAD_PARAMS). */
typedef struct ngc_labels {
  const uint64_t *labels;
  uint32_t count;
} ngc_labels;

/* One label of a channel and how many voxels hold it. */
typedef struct ngc_label_count {
  uint64_t label;
  uint64_t count;
} ngc_label_count;

/* The labels of each channel, ascending, with voxel counts. Channel c's are
 * dst[channel_ends[c - 1] .. channel_ends[c]) (from 0 for c = 0);
 * channel_ends holds num_channels words. *count_ret receives the number of
 * entries of all channels; when it exceeds dst_capacity (in entries), the
 * call returns NGC_ERR_DST_TOO_SMALL with *count_ret set: retry with that. */
NGC_API int ngc_cseg_label_counts(ngc_chunk *chunk, const void *src, size_t src_size,
                                  ngc_label_count *dst, size_t dst_capacity,
                                  uint32_t *channel_ends, size_t *count_ret);

/* found_ret[c] = 1 if a voxel of channel c holds a label of `set`, else 0
 * (num_channels bytes). Blocks of up to 8 bits whose reachable table
 * entries hold none of the labels are ruled out without reading their
 * values (but still checked). */
NGC_API int ngc_cseg_contains(ngc_chunk *chunk, const void *src, size_t src_size,
                              const ngc_labels *set, uint8_t *found_ret);

/* dst[c, z, y, x] = 1 if that voxel holds a label of `set`, else 0: a
 * (C, Z, Y, X) array of bytes, dst_capacity >= num_channels * voxels. */
NGC_API int ngc_cseg_mask(ngc_chunk *chunk, const void *src, size_t src_size,
                          const ngc_labels *set, uint8_t *dst, size_t dst_capacity);

/* A label mapping: keys sorted ascending, no repeats; values[i] replaces
 * keys[i] (for uint32 chunks, every value must fit in 32 bits). */
#define NGC_PRESERVE_MISSING 1u /* flags: labels without a key stay as they are */
typedef struct ngc_mapping {
  const uint64_t *keys;
  const uint64_t *values;
  uint32_t count;
  uint32_t flags;
  uint64_t missing; /* out: the label that made NGC_ERR_NOT_MAPPED */
} ngc_mapping;

/* Writes to dst (src_size bytes, dst_capacity >= src_size; dst may be src)
 * the chunk with every lookup table entry that some index reaches replaced
 * by its mapped value; headers and packed indices are copied unchanged,
 * so the output decodes to the mapping applied to every voxel. Tables may
 * then hold a label twice (two labels merged); decoders accept that.
 * Without NGC_PRESERVE_MISSING, a visible voxel whose label has no key
 * fails with NGC_ERR_NOT_MAPPED (mapping->missing = the label); entries
 * that no visible voxel uses are mapped when they have a key and left
 * otherwise. NGC_ERR_TABLE_OVERLAP: see the status. dst is written only
 * on success. */
NGC_API int ngc_cseg_remap(ngc_chunk *chunk, const void *src, size_t src_size,
                           ngc_mapping *mapping, void *dst, size_t dst_capacity);

/* ========================================================================== */
/*                                Downsampling                                */
/* ========================================================================== */

/*
 * One (C, Z, Y, X) array downsampled by integer factors, as tensorstore's
 * downsample driver computes it. Output voxel (c, k, j, i) is computed from
 * the block x in [i*fx, (i+1)*fx), y in [j*fy, ...), z in [k*fz, ...) of
 * channel c, cut at the array's edge: a partial block uses only the voxels
 * that exist. The output is (C, ceil(z/fz), ceil(y/fy), ceil(x/fx)), of the
 * input's value type.
 *
 * NGC_DOWNSAMPLE_MODE: the most frequent value of the block; ties go to the
 *   smallest value. Floats compare as numbers (-0.0 == +0.0, written +0.0)
 *   and every NaN counts as one value, above +inf. Blocks of more than 8
 *   voxels need scratch (malloc, one block).
 * NGC_DOWNSAMPLE_MEAN: integers: the exact sum (a 128-bit one for 64-bit
 *   values) divided by the voxel count, rounded to nearest, ties to even.
 *   Floats: summed in float32 in raster order (z, y, x fastest), then
 *   divided by the count in float32.
 */
#define NGC_DOWNSAMPLE_MEAN 0u
#define NGC_DOWNSAMPLE_MODE 1u

#define NGC_KIND_UNSIGNED 0u /* value_bytes 1, 2, 4, 8 */
#define NGC_KIND_SIGNED 1u   /* value_bytes 1, 2, 4, 8 */
#define NGC_KIND_FLOAT 2u    /* value_bytes 4 (float32) */

typedef struct ngc_downsample_params {
  uint32_t size[3];      /* input size in voxels: x, y, z (0 allowed) */
  uint32_t num_channels; /* >= 1 */
  uint32_t value_bytes;  /* 1, 2, 4 or 8 */
  uint32_t value_kind;   /* NGC_KIND_* */
  uint32_t factors[3];   /* x, y, z, each >= 1 */
  uint32_t method;       /* NGC_DOWNSAMPLE_* */
} ngc_downsample_params;

/* Downsamples src (src_size must equal num_channels * x * y * z *
 * value_bytes, else NGC_ERR_SIZE_MISMATCH) into dst, which must hold the
 * output (NGC_ERR_DST_TOO_SMALL otherwise). NGC_ERR_BAD_PARAMS for a NULL
 * params, an unknown method or kind, a width the kind lacks, zero channels
 * or a zero factor; NGC_ERR_TOO_LARGE when the input's size overflows;
 * NGC_ERR_NO_MEMORY when mode's scratch cannot be had. src and dst must not
 * overlap. dst is written only on success. */
NGC_API int ngc_downsample(const ngc_downsample_params *params, const void *src,
                           size_t src_size, void *dst, size_t dst_capacity);

#ifdef __cplusplus
}
#endif

#endif /* NGCODEC_H */
