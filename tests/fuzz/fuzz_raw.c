/*
 * fuzz_raw.c - libFuzzer harness for ngc_raw_decode/ngc_raw_encode and
 * ngc_decoded_size.
 *
 * Input: a 6-byte parameter header, then the raw chunk.
 *   byte 0..2  chunk size x, y, z = byte % 33                (0..32)
 *   byte 3     value_bytes = byte % 10 (only 1, 2, 4, 8 are valid)
 *   byte 4     bits 0-1: num_channels = (byte & 3), 0 is invalid
 *              bits 2-3: src starts 0..3 bytes past malloc alignment
 *   byte 5     capacity of the "too small" call: decoded size * byte / 256
 *
 * Checks: invalid parameters give BAD_PARAMS; a src of the wrong size gives
 * SIZE_MISMATCH; a right-sized src decodes and encodes to an exact copy in
 * an exact-size dst; a dst too small gives DST_TOO_SMALL; a NULL *_ret
 * gives BAD_PARAMS. Every status is named.
 */
#include "fuzz_common.h"

#define HEADER 6

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < HEADER) return 0;
  ngc_chunk ch;
  memset(&ch, 0, sizeof ch);
  for (int i = 0; i < 3; i++) ch.size[i] = data[i] % 33;
  ch.value_bytes = data[3] % 10;
  ch.num_channels = data[4] & 3;
  const unsigned shift = (data[4] >> 2) & 3;
  const uint8_t small_sel = data[5];
  const int valid = ch.num_channels != 0 &&
                    (ch.value_bytes == 1 || ch.value_bytes == 2 ||
                     ch.value_bytes == 4 || ch.value_bytes == 8);
  const size_t src_size = size - HEADER;
  uint8_t *src = fuzz_alloc(data + HEADER, src_size, shift);

  size_t decoded = 0;
  int s = ngc_decoded_size(&ch, &decoded);
  CHECK(s == (valid ? NGC_OK : NGC_ERR_BAD_PARAMS), "decoded_size: %s",
        ngc_error_name(s));
  if (!valid) {
    uint8_t byte;
    size_t written;
    s = ngc_raw_decode(&ch, src, src_size, &byte, 1);
    CHECK(s == NGC_ERR_BAD_PARAMS, "raw_decode: %s", ngc_error_name(s));
    s = ngc_raw_encode(&ch, src, src_size, &byte, 1, &written);
    CHECK(s == NGC_ERR_BAD_PARAMS, "raw_encode: %s", ngc_error_name(s));
    fuzz_free(src, shift);
    return 0;
  }
  CHECK(decoded == (size_t)ch.num_channels * ch.value_bytes * ch.size[0] *
                       ch.size[1] * ch.size[2],
        "decoded size %zu", decoded);

  uint8_t *dst = fuzz_alloc(NULL, decoded, 0);
  s = ngc_raw_decode(&ch, src, src_size, dst, decoded);
  CHECK(fuzz_named(s), "unnamed status %d", s);
  if (src_size != decoded) {
    CHECK(s == NGC_ERR_SIZE_MISMATCH, "raw_decode of %zu bytes for %zu: %s",
          src_size, decoded, ngc_error_name(s));
  } else {
    CHECK(s == NGC_OK, "raw_decode: %s", ngc_error_name(s));
    CHECK(decoded == 0 || memcmp(dst, src, decoded) == 0, "raw_decode copy");
    memset(dst, 0, decoded);
    size_t written = 0;
    s = ngc_raw_encode(&ch, src, src_size, dst, decoded, &written);
    CHECK(s == NGC_OK && written == decoded, "raw_encode: %s, %zu bytes",
          ngc_error_name(s), written);
    CHECK(decoded == 0 || memcmp(dst, src, decoded) == 0, "raw_encode copy");
    /* ngcodec.h: a NULL *_ret is BAD_PARAMS. */
    s = ngc_raw_encode(&ch, src, src_size, dst, decoded, NULL);
    CHECK(s == NGC_ERR_BAD_PARAMS, "raw_encode, NULL dst_size_ret: %s",
          ngc_error_name(s));
    s = ngc_decoded_size(&ch, NULL);
    CHECK(s == NGC_ERR_BAD_PARAMS, "decoded_size, NULL size_ret: %s",
          ngc_error_name(s));
    if (decoded != 0) {
      size_t small = decoded * small_sel / 256;
      uint8_t *tiny = fuzz_alloc(NULL, small, 0);
      s = ngc_raw_decode(&ch, src, src_size, tiny, small);
      CHECK(s == NGC_ERR_DST_TOO_SMALL, "raw_decode into %zu: %s", small,
            ngc_error_name(s));
      s = ngc_raw_encode(&ch, src, src_size, tiny, small, &written);
      CHECK(s == NGC_ERR_DST_TOO_SMALL, "raw_encode into %zu: %s", small,
            ngc_error_name(s));
      fuzz_free(tiny, 0);
    }
  }
  fuzz_free(dst, 0);
  fuzz_free(src, shift);
  return 0;
}
