/*
 * fuzz_cseg_decode.c - libFuzzer harness for ngc_cseg_decode.
 *
 * Input: an 8-byte parameter header, then the compressed chunk.
 *   byte 0..2  chunk size x, y, z = byte % 71           (0..70)
 *   byte 3..5  block size x, y, z = 1 + byte % 70       (1..70)
 *   byte 6     bit 0: uint64 labels (else uint32)
 *              bits 1-2: num_channels - 1               (1..4)
 *              bits 3-4: the chunk starts 0..3 bytes past malloc alignment
 *   byte 7     capacity of the "too small" decode: 0 -> decoded size - 1,
 *              else decoded size * byte / 256
 * Channels are dropped until the decoded size is <= 8 MiB.
 *
 * Checks, for every input:
 *  - the status is NGC_OK or a named data error (never an unknown value,
 *    never BAD_PARAMS/DST_TOO_SMALL/NO_MEMORY with a right-sized dst);
 *  - it is the status of the reference decoder in fuzz_common.h, with the
 *    same fail_channel/fail_block; on success ngcodec writes exactly the
 *    reference's array (every voxel: dst is pre-filled with a pattern);
 *  - a dst one byte (or more) too small gives NGC_ERR_DST_TOO_SMALL, and a
 *    zero block size NGC_ERR_BAD_PARAMS, both with fail_channel and
 *    fail_block NGC_NO_PLACE (they are written on every return);
 *  - a decoded array re-encodes (exact bound-size buffer, size <= bound) to a
 *    chunk that decodes, in ngcodec and in the reference, to the same array.
 * The chunk, dst and the encode buffer are exact-size allocations, so ASan
 * reports a one-byte over-read or over-write.
 */
#include "fuzz_common.h"

#define HEADER 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < HEADER) return 0;
  ngc_chunk ch;
  size_t decoded;
  if (!fuzz_geometry(data, &ch, &decoded)) return 0;
  const unsigned shift = (data[6] >> 3) & 3;
  const uint8_t small_sel = data[7];

  const size_t src_size = size - HEADER;
  uint8_t *src = fuzz_alloc(data + HEADER, src_size, shift);

  /* 1. The reference verdict, then ngcodec into a pattern-filled dst. */
  uint32_t ref_channel, ref_block;
  const int ref = ref_cseg_decode(&ch, src, src_size, NULL, &ref_channel,
                                  &ref_block);
  uint8_t *out = fuzz_alloc(NULL, decoded, 0);
  if (ref == NGC_OK) memset(out, 0xA5, decoded);
  ngc_chunk c1 = ch;
  c1.fail_channel = c1.fail_block = 12345; /* must be overwritten */
  int s = ngc_cseg_decode(&c1, src, src_size, out, decoded);
  if (fuzz_verbose())
    fprintf(stderr, "decode: chunk %ux%ux%u blocks %ux%ux%u %u-byte labels "
            "%u channels, %zu bytes: %s at channel %d block %d (reference: %s "
            "at %d %d)\n", ch.size[0], ch.size[1], ch.size[2],
            ch.block_size[0], ch.block_size[1], ch.block_size[2],
            ch.value_bytes, ch.num_channels, src_size, ngc_error_name(s),
            (int)c1.fail_channel, (int)c1.fail_block, ngc_error_name(ref),
            (int)ref_channel, (int)ref_block);
  CHECK(fuzz_named(s), "decode returned unnamed status %d", s);
  CHECK(s == NGC_OK || fuzz_data_error(s), "decode returned %s (%d)",
        ngc_error_name(s), s);
  CHECK(s == ref,
        "ngcodec returns %s, the reference %s (chunk %ux%ux%u, blocks "
        "%ux%ux%u, %u-byte labels, %u channels, %zu bytes; reference place: "
        "channel %d block %d)",
        ngc_error_name(s), ngc_error_name(ref), ch.size[0], ch.size[1],
        ch.size[2], ch.block_size[0], ch.block_size[1], ch.block_size[2],
        ch.value_bytes, ch.num_channels, src_size, (int)ref_channel,
        (int)ref_block);
  CHECK(c1.fail_channel == ref_channel &&
            (c1.fail_block == ref_block ||
             (ref_block == NGC_NO_PLACE && fuzz_lax_no_place())),
        "%s: fail_channel %d fail_block %d, expected %d %d (-1: "
        "NGC_NO_PLACE; %u blocks per channel)", ngc_error_name(s),
        (int)c1.fail_channel, (int)c1.fail_block, (int)ref_channel,
        (int)ref_block,
        fuzz_ceil_div(ch.size[0], ch.block_size[0]) *
            fuzz_ceil_div(ch.size[1], ch.block_size[1]) *
            fuzz_ceil_div(ch.size[2], ch.block_size[2]));
  CHECK(memcmp(c1.size, ch.size, sizeof ch.size) == 0 &&
            memcmp(c1.block_size, ch.block_size, sizeof ch.block_size) == 0 &&
            c1.num_channels == ch.num_channels &&
            c1.value_bytes == ch.value_bytes,
        "decode changed the chunk's input fields");

  if (s == NGC_OK) {
    uint8_t *expect = fuzz_alloc(NULL, decoded, 0);
    memset(expect, 0x5A, decoded);
    CHECK(ref_cseg_decode(&ch, src, src_size, expect, &ref_channel,
                          &ref_block) == NGC_OK, "reference");
    size_t d = fuzz_first_diff(out, expect, decoded);
    CHECK(d == decoded, "ngcodec and the reference differ at byte %zu of %zu",
          d, decoded);
    fuzz_free(expect, 0);
  }

  /* 2. A dst too small is refused before anything is written. */
  if (decoded != 0) {
    size_t small = small_sel == 0 ? decoded - 1 : decoded * small_sel / 256;
    uint8_t *tiny = fuzz_alloc(NULL, small, 0);
    ngc_chunk c2 = ch;
    c2.fail_channel = c2.fail_block = 12345;
    int s2 = ngc_cseg_decode(&c2, src, src_size, tiny, small);
    CHECK(s2 == NGC_ERR_DST_TOO_SMALL, "capacity %zu of %zu: %s", small,
          decoded, ngc_error_name(s2));
    CHECK(c2.fail_channel == NGC_NO_PLACE && c2.fail_block == NGC_NO_PLACE,
          "DST_TOO_SMALL: fail_channel %d fail_block %d", (int)c2.fail_channel,
          (int)c2.fail_block);
    fuzz_free(tiny, 0);
  }
  {
    ngc_chunk bad = ch;
    bad.block_size[small_sel % 3] = 0;
    bad.fail_channel = bad.fail_block = 12345;
    int sb = ngc_cseg_decode(&bad, src, src_size, out, decoded);
    CHECK(sb == NGC_ERR_BAD_PARAMS && bad.fail_channel == NGC_NO_PLACE &&
              bad.fail_block == NGC_NO_PLACE,
          "zero block size: %s, fail_channel %d fail_block %d",
          ngc_error_name(sb), (int)bad.fail_channel, (int)bad.fail_block);
  }

  /* 3. Differential: re-encode what was decoded, decode again. */
  if (s == NGC_OK) {
    size_t bound;
    ngc_chunk c3 = ch;
    CHECK(ngc_cseg_encode_bound(&c3, &bound) == NGC_OK, "bound");
    uint8_t *enc = fuzz_alloc(NULL, bound, 0);
    size_t enc_size = 0;
    int s3 = ngc_cseg_encode(&c3, out, decoded, enc, bound, &enc_size);
    CHECK(s3 == NGC_OK, "re-encode: %s", ngc_error_name(s3));
    CHECK(enc_size <= bound && enc_size % 4 == 0, "encoded %zu, bound %zu",
          enc_size, bound);
    uint8_t *enc_exact = fuzz_alloc(enc, enc_size, shift);
    fuzz_free(enc, 0);
    uint8_t *again = fuzz_alloc(NULL, decoded, 0);
    memset(again, 0xC3, decoded);
    ngc_chunk c4 = ch;
    int s4 = ngc_cseg_decode(&c4, enc_exact, enc_size, again, decoded);
    CHECK(s4 == NGC_OK, "decode of the re-encoded chunk: %s",
          ngc_error_name(s4));
    size_t d = fuzz_first_diff(out, again, decoded);
    CHECK(d == decoded, "re-encoded chunk decodes differently at byte %zu", d);
    memset(again, 0x3C, decoded);
    uint32_t fc, fb;
    int r = ref_cseg_decode(&ch, enc_exact, enc_size, NULL, &fc, &fb);
    CHECK(r == NGC_OK, "the reference says %s for the re-encoded chunk "
          "(channel %d block %d)", ngc_error_name(r), (int)fc, (int)fb);
    CHECK(ref_cseg_decode(&ch, enc_exact, enc_size, again, &fc, &fb) == NGC_OK,
          "reference");
    d = fuzz_first_diff(out, again, decoded);
    CHECK(d == decoded, "the reference decodes the re-encoded chunk "
          "differently at byte %zu", d);
    fuzz_free(again, 0);
    fuzz_free(enc_exact, shift);
  }

  fuzz_free(out, 0);
  fuzz_free(src, shift);
  return 0;
}
