// colors.js - the demo's colour of a segmentation label.
//
// The colour is a pure function of the label, so a test can recompute it
// (tests/test_js.py does, in Python):
//
//   label 0                 -> (0, 0, 0), black
//   any other label         -> h = fmix32(label mod 2**32)   (low 32 bits)
//                              r = 64 + ( h        & 255) % 192
//                              g = 64 + ((h >>  8) & 255) % 192
//                              b = 64 + ((h >> 16) & 255) % 192
//
// fmix32 is MurmurHash3's 32-bit finaliser:
//   h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16
// with every product taken mod 2**32. Each channel of a non-zero label is at
// least 64, so no label but 0 is drawn black.

/** MurmurHash3's fmix32: a fixed, well-mixing 32-bit integer hash. */
export function fmix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** [r, g, b] (0..255) of a label given as a number or a BigInt. */
export function labelColor(label) {
  const low = Number(BigInt.asUintN(32, BigInt(label)));
  if (BigInt(label) === 0n) return [0, 0, 0];
  const h = fmix32(low);
  return [
    64 + (h & 255) % 192,
    64 + ((h >>> 8) & 255) % 192,
    64 + ((h >>> 16) & 255) % 192,
  ];
}
