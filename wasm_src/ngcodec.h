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
  NGC_ERR_NO_MEMORY = -14
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

#ifdef __cplusplus
}
#endif

#endif /* NGCODEC_H */
