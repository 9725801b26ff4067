/*
 * fuzz_cseg_encode.c - libFuzzer harness for ngc_cseg_encode.
 *
 * Input: a 10-byte parameter header, then bytes that become label data.
 *   byte 0..2  chunk size x, y, z = byte % 71           (0..70)
 *   byte 3..5  block size x, y, z = 1 + byte % 70       (1..70)
 *   byte 6     bit 0: uint64 labels (else uint32)
 *              bits 1-2: num_channels - 1               (1..4)
 *              bits 3-4: src starts 0..3 bytes past malloc alignment
 *              bit 5: scramble labels with a 64-bit bijection (high bits set)
 *              bit 6: invert labels (~label)
 *              bit 7: shift labels left by 48 (uint64: labels that differ
 *                     only in their top 16 bits)
 *   byte 7     label mode (bits 0-2) and its parameter p (bits 3-7, 0..31);
 *              with d = the data bytes (cycled) and i = voxel index:
 *                0  d[i]                         <= 256 labels
 *                1  d[i] % (p + 1)               1..32 labels
 *                2  i * (2p + 1)                 all distinct (32-bit blocks)
 *                3  d[2i] | d[2i+1] << 8         <= 65536 labels
 *                4  d[i >> (p % 16)]             runs of 2^k equal voxels
 *                5  d[i] + (i >> (p % 24) << 8)  many labels, some structure
 *                6  d[3i] | d[3i+1] << 8 | d[3i+2] << 16
 *                7  1 << (d[i] % 64)             single high bits
 *              so every bit width 0, 1, 2, 4, 8, 16, 32 occurs.
 *   byte 8     capacity of the "too small" encode: 0 -> encoded size - 1,
 *              else encoded size * byte / 256
 *   byte 9     unused (keeps the label data 4-byte aligned in the file)
 * Channels are dropped until the array is <= 8 MiB.
 *
 * Checks: the bound is computable; the encode into an exact bound-size
 * buffer succeeds (NGC_ERR_OFFSET_OVERFLOW only if the bound passes 2^24
 * words, impossible at these sizes) with a size <= bound and a multiple of 4;
 * ngcodec and the reference decoder both decode it back to the input; any
 * smaller capacity gives NGC_ERR_DST_TOO_SMALL without writing past it.
 * Success and DST_TOO_SMALL leave fail_channel and fail_block NGC_NO_PLACE
 * (the encoder writes them on every return).
 */
#include "fuzz_common.h"

#define HEADER 10

FUZZ_NO_COVERAGE static uint64_t mix64(uint64_t x) { /* splitmix64's finalizer: a bijection */
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x;
}

/* Fills `voxels` labels of `value_bytes` each from the data bytes d[0..len)
 * (see the mode table above). */
FUZZ_NO_COVERAGE static void make_labels(uint8_t *src, size_t voxels,
                                         uint32_t value_bytes, const uint8_t *d,
                                         size_t len, unsigned mode, unsigned p,
                                         unsigned flags) {
  for (size_t i = 0; i < voxels; i++) {
    uint64_t label;
    switch (mode) {
      case 0: label = d[i % len]; break;
      case 1: label = d[i % len] % (p + 1u); break;
      case 2: label = (uint64_t)i * (2u * p + 1); break;
      case 3: label = d[2 * i % len] | (uint64_t)d[(2 * i + 1) % len] << 8; break;
      case 4: label = d[(i >> (p % 16)) % len]; break;
      case 5: label = d[i % len] + ((uint64_t)(i >> (p % 24)) << 8); break;
      case 6:
        label = d[3 * i % len] | (uint64_t)d[(3 * i + 1) % len] << 8 |
                (uint64_t)d[(3 * i + 2) % len] << 16;
        break;
      default: label = 1ull << (d[i % len] % 64); break;
    }
    if (flags & 0x20) label = mix64(label);
    if (flags & 0x80) label <<= 48;
    if (flags & 0x40) label = ~label;
    if (value_bytes == 4) {
      uint32_t v = (uint32_t)label;
      memcpy(src + 4 * i, &v, 4);
    } else {
      memcpy(src + 8 * i, &label, 8);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < HEADER) return 0;
  ngc_chunk ch;
  size_t decoded;
  if (!fuzz_geometry(data, &ch, &decoded)) return 0;
  const uint8_t flags = data[6], mode = data[7] & 7, p = data[7] >> 3;
  const unsigned shift = (flags >> 3) & 3;
  const uint8_t small_sel = data[8];

  static const uint8_t zero = 0;
  const uint8_t *d = size > HEADER ? data + HEADER : &zero;
  const size_t len = size > HEADER ? size - HEADER : 1;
  uint8_t *src = fuzz_alloc(NULL, decoded, shift);
  make_labels(src, decoded / ch.value_bytes, ch.value_bytes, d, len, mode, p,
              flags);

  size_t bound;
  ngc_chunk c1 = ch;
  int s = ngc_cseg_encode_bound(&c1, &bound);
  CHECK(s == NGC_OK, "bound: %s", ngc_error_name(s));
  c1.fail_channel = c1.fail_block = 12345; /* must be overwritten */
  uint8_t *enc = fuzz_alloc(NULL, bound, 0);
  size_t enc_size = 0;
  s = ngc_cseg_encode(&c1, src, decoded, enc, bound, &enc_size);
  if (fuzz_verbose())
    fprintf(stderr, "encode: chunk %ux%ux%u blocks %ux%ux%u %u-byte labels "
            "%u channels, mode %u p %u: %s, %zu of %zu bytes\n", ch.size[0],
            ch.size[1], ch.size[2], ch.block_size[0], ch.block_size[1],
            ch.block_size[2], ch.value_bytes, ch.num_channels, mode, p,
            ngc_error_name(s), enc_size, bound);
  CHECK(fuzz_named(s), "encode returned unnamed status %d", s);
  if (s == NGC_ERR_OFFSET_OVERFLOW) {
    CHECK(bound / 4 > 0xFFFFFF, "offset overflow with a bound of %zu bytes",
          bound);
    fuzz_free(enc, 0);
    fuzz_free(src, shift);
    return 0;
  }
  CHECK(s == NGC_OK, "encode: %s (chunk %ux%ux%u, blocks %ux%ux%u, %u-byte "
        "labels, %u channels, mode %u)", ngc_error_name(s), ch.size[0],
        ch.size[1], ch.size[2], ch.block_size[0], ch.block_size[1],
        ch.block_size[2], ch.value_bytes, ch.num_channels, mode);
  CHECK(enc_size <= bound && enc_size % 4 == 0, "encoded %zu, bound %zu",
        enc_size, bound);
  CHECK(c1.fail_channel == NGC_NO_PLACE && c1.fail_block == NGC_NO_PLACE,
        "success: fail_channel %d fail_block %d", (int)c1.fail_channel,
        (int)c1.fail_block);

  if (fuzz_verbose()) { /* which bit widths the encoder chose */
    unsigned hist[33] = {0};
    uint32_t nb = 1;
    for (int i = 0; i < 3; i++)
      nb *= ch.size[i] / ch.block_size[i] + (ch.size[i] % ch.block_size[i] != 0);
    for (uint32_t c = 0; c < ch.num_channels; c++) {
      uint32_t base = fuzz_load32(enc + 4 * c);
      for (uint32_t b = 0; b < nb; b++) hist[enc[4 * (base + 2 * b) + 3] & 63]++;
    }
    fprintf(stderr, "  blocks by bits:");
    for (int b = 0; b <= 32; b++)
      if (hist[b]) fprintf(stderr, " %d:%u", b, hist[b]);
    fputc('\n', stderr);
  }

  /* Round trip through ngcodec and through the reference. */
  uint8_t *exact = fuzz_alloc(enc, enc_size, 0);
  uint8_t *out = fuzz_alloc(NULL, decoded, 0);
  memset(out, 0xA5, decoded);
  ngc_chunk c2 = ch;
  s = ngc_cseg_decode(&c2, exact, enc_size, out, decoded);
  CHECK(s == NGC_OK, "decode of the encoded chunk: %s (block %u channel %u)",
        ngc_error_name(s), c2.fail_block, c2.fail_channel);
  size_t diff = fuzz_first_diff(src, out, decoded);
  CHECK(diff == decoded, "round trip differs at byte %zu of %zu", diff,
        decoded);
  uint32_t fc, fb;
  s = ref_cseg_decode(&ch, exact, enc_size, NULL, &fc, &fb);
  CHECK(s == NGC_OK, "the reference says %s for the encoded chunk (channel "
        "%d block %d)", ngc_error_name(s), (int)fc, (int)fb);
  memset(out, 0x5A, decoded);
  CHECK(ref_cseg_decode(&ch, exact, enc_size, out, &fc, &fb) == NGC_OK,
        "reference");
  diff = fuzz_first_diff(src, out, decoded);
  CHECK(diff == decoded, "the reference decodes the encoded chunk "
        "differently at byte %zu of %zu", diff, decoded);

  /* Any capacity below the encoded size is refused, inside the buffer. */
  size_t small = small_sel == 0 ? enc_size - 1 : enc_size * small_sel / 256;
  uint8_t *tiny = fuzz_alloc(NULL, small, 0);
  size_t tiny_size;
  ngc_chunk c3 = ch;
  c3.fail_channel = c3.fail_block = 12345;
  s = ngc_cseg_encode(&c3, src, decoded, tiny, small, &tiny_size);
  CHECK(s == NGC_ERR_DST_TOO_SMALL, "capacity %zu of %zu: %s", small,
        enc_size, ngc_error_name(s));
  CHECK(c3.fail_channel == NGC_NO_PLACE && c3.fail_block == NGC_NO_PLACE,
        "DST_TOO_SMALL: fail_channel %d fail_block %d", (int)c3.fail_channel,
        (int)c3.fail_block);

  fuzz_free(tiny, 0);
  fuzz_free(out, 0);
  fuzz_free(exact, 0);
  fuzz_free(enc, 0);
  fuzz_free(src, shift);
  return 0;
}
