// Raw chunks: every precomputed data type round trips through encodeRaw and
// decodeRaw, results have the right TypedArray, bytes are little-endian.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ngcodec, rng, rejectsWith, assertSameArray } from "./helpers.mjs";

// dataType -> [TypedArray, a few extreme values]
const TYPES = {
  uint8: [Uint8Array, [0, 1, 255]],
  int8: [Int8Array, [-128, -1, 127]],
  uint16: [Uint16Array, [0, 1, 65535]],
  int16: [Int16Array, [-32768, -1, 32767]],
  uint32: [Uint32Array, [0, 1, 4294967295]],
  int32: [Int32Array, [-2147483648, -1, 2147483647]],
  uint64: [BigUint64Array, [0n, 1n, 2n ** 64n - 1n]],
  int64: [BigInt64Array, [-(2n ** 63n), -1n, 2n ** 63n - 1n]],
  float32: [Float32Array, [-0, Infinity, -3.5, 1e-40]],
  float64: [Float64Array, [-0, -Infinity, Math.PI, 5e-324]],
};

function sample(Ctor, extremes, count, seed) {
  const rand = rng(seed);
  const out = new Ctor(count);
  const bytes = new Uint8Array(out.buffer);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  out.set(extremes.slice(0, count));
  return out;
}

for (const [dataType, [Ctor, extremes]] of Object.entries(TYPES)) {
  test(`raw round trip ${dataType}`, async () => {
    for (const [size, channels] of [[[5, 4, 3], 1], [[7, 1, 2], 3], [[1, 1, 1], 1], [[0, 3, 3], 2]]) {
      const count = size[0] * size[1] * size[2] * channels;
      const input = sample(Ctor, extremes, count, count + 1);
      const encoded = await ngcodec.encodeRaw(input, size, dataType, channels);
      assert.ok(encoded instanceof Uint8Array);
      // Raw chunks are the array's little-endian bytes themselves.
      assert.deepEqual(encoded, new Uint8Array(input.buffer));
      const decoded = await ngcodec.decodeRaw(encoded, size, dataType, channels);
      assert.ok(decoded instanceof Ctor, `${dataType} decodes to ${Ctor.name}`);
      if (Ctor === Float32Array || Ctor === Float64Array) {
        // Bytes, not values: random bytes include NaNs, and NaN !== NaN.
        assert.deepEqual(new Uint8Array(decoded.buffer), encoded);
      } else {
        assertSameArray(decoded, input, dataType);
      }
    }
  });
}

test("raw values are little-endian on the wire", async () => {
  const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal((await ngcodec.decodeRaw(bytes, [1, 1, 1], "uint64"))[0], 0x0807060504030201n);
  assert.deepEqual([...(await ngcodec.decodeRaw(bytes, [2, 1, 1], "uint32"))], [0x04030201, 0x08070605]);
  assert.deepEqual([...(await ngcodec.decodeRaw(bytes, [2, 2, 1], "int16"))], [0x0201, 0x0403, 0x0605, 0x0807]);
});

test("raw data of the wrong size is NGC_ERR_SIZE_MISMATCH", async () => {
  await rejectsWith(ngcodec.decodeRaw(new Uint8Array(7), [2, 2, 2], "uint8"), "NGC_ERR_SIZE_MISMATCH");
  await rejectsWith(ngcodec.decodeRaw(new Uint8Array(9), [2, 2, 2], "uint8"), "NGC_ERR_SIZE_MISMATCH");
  await rejectsWith(ngcodec.decodeRaw(new Uint8Array(8), [2, 2, 2], "uint16"), "NGC_ERR_SIZE_MISMATCH");
  await rejectsWith(ngcodec.encodeRaw(new Float32Array(5), [2, 2, 1], "float32"), "NGC_ERR_SIZE_MISMATCH");
  await rejectsWith(ngcodec.decodeRaw(new Uint8Array(16), [2, 2, 2], "uint16", 2), "NGC_ERR_SIZE_MISMATCH");
  // Still usable afterwards.
  assert.deepEqual([...(await ngcodec.decodeRaw(new Uint8Array([9]), [1, 1, 1], "uint8"))], [9]);
});
