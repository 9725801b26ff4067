// Raw chunks: every precomputed dtype round trips through encodeRaw and
// decodeRaw, results have the right TypedArray, bytes are little-endian;
// int64 and float64 (not precomputed types) are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ngcodec, rng, rejectsWith, assertSameArray } from "./helpers.mjs";

// dtype -> [TypedArray, a few extreme values]
const TYPES = {
  uint8: [Uint8Array, [0, 1, 255]],
  int8: [Int8Array, [-128, -1, 127]],
  uint16: [Uint16Array, [0, 1, 65535]],
  int16: [Int16Array, [-32768, -1, 32767]],
  uint32: [Uint32Array, [0, 1, 4294967295]],
  int32: [Int32Array, [-2147483648, -1, 2147483647]],
  uint64: [BigUint64Array, [0n, 1n, 2n ** 64n - 1n]],
  float32: [Float32Array, [-0, Infinity, -3.5, 1e-40]],
};

function sample(Ctor, extremes, count, seed) {
  const rand = rng(seed);
  const out = new Ctor(count);
  const bytes = new Uint8Array(out.buffer);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  out.set(extremes.slice(0, count));
  return out;
}

for (const [dtype, [Ctor, extremes]] of Object.entries(TYPES)) {
  test(`raw round trip ${dtype}`, async () => {
    for (const [size, channels] of [[[5, 4, 3], 1], [[7, 1, 2], 3], [[1, 1, 1], 1], [[0, 3, 3], 2]]) {
      const count = size[0] * size[1] * size[2] * channels;
      const input = sample(Ctor, extremes, count, count + 1);
      // dtype from the TypedArray, or given for the same values as bytes.
      const encoded = await ngcodec.encodeRaw(input, { chunkSize: size, numChannels: channels });
      assert.ok(encoded instanceof Uint8Array);
      // Raw chunks are the array's little-endian bytes themselves.
      assert.deepEqual(encoded, new Uint8Array(input.buffer));
      assert.deepEqual(
        await ngcodec.encodeRaw(input.buffer, { chunkSize: size, numChannels: channels, dtype }), encoded);
      const decoded = await ngcodec.decodeRaw(encoded, size, dtype, { numChannels: channels });
      assert.ok(decoded instanceof Ctor, `${dtype} decodes to ${Ctor.name}`);
      const out = new Ctor(count);
      assert.equal(await ngcodec.decodeRaw(encoded, size, dtype, { numChannels: channels, out }), out);
      assert.deepEqual(new Uint8Array(out.buffer), encoded, `${dtype} into out`);
      if (Ctor === Float32Array) {
        // Bytes, not values: random bytes include NaNs, and NaN !== NaN.
        assert.deepEqual(new Uint8Array(decoded.buffer), encoded);
      } else {
        assertSameArray(decoded, input, dtype);
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
  const u8 = (n) => new Uint8Array(n);
  await rejectsWith(ngcodec.decodeRaw(u8(7), [2, 2, 2], "uint8"), "NGC_ERR_SIZE_MISMATCH");
  await rejectsWith(ngcodec.decodeRaw(u8(10), [2, 2, 2], "uint8"), "NGC_ERR_SIZE_MISMATCH", {
    channel: null,
    block: null,
    message: "raw decode: the buffer size does not match the chunk size " +
      "(10 bytes, expected 8 for 1 channel(s) of (2, 2, 2) uint8) [NGC_ERR_SIZE_MISMATCH]",
  });
  await rejectsWith(ngcodec.decodeRaw(u8(8), [2, 2, 2], "uint16"), "NGC_ERR_SIZE_MISMATCH");
  await rejectsWith(ngcodec.encodeRaw(new Float32Array(5), { chunkSize: [2, 2, 1] }), "NGC_ERR_SIZE_MISMATCH", {
    message: "raw encode: the buffer size does not match the chunk size " +
      "(20 bytes, expected 16 for 1 channel(s) of (2, 2, 1) float32) [NGC_ERR_SIZE_MISMATCH]",
  });
  await rejectsWith(ngcodec.decodeRaw(u8(16), [2, 2, 2], "uint16", { numChannels: 2 }), "NGC_ERR_SIZE_MISMATCH", {
    message: "raw decode: the buffer size does not match the chunk size " +
      "(16 bytes, expected 32 for 2 channel(s) of (2, 2, 2) uint16) [NGC_ERR_SIZE_MISMATCH]",
  });
  // Still usable afterwards.
  assert.deepEqual([...(await ngcodec.decodeRaw(new Uint8Array([9]), [1, 1, 1], "uint8"))], [9]);
});

test("int64 and float64 are refused: the 8 precomputed dtypes only", async () => {
  const list = "uint8, int8, uint16, int16, uint32, int32, uint64, float32";
  for (const dtype of ["int64", "float64"]) {
    await rejectsWith(ngcodec.decodeRaw(new Uint8Array(8), [1, 1, 1], dtype), "NGC_ERR_BAD_PARAMS", {
      message: `raw decode: invalid parameters: dtype ${dtype} is not supported (use one of ${list}) ` +
        "[NGC_ERR_BAD_PARAMS]",
    });
    await rejectsWith(ngcodec.encodeRaw(new Uint8Array(8), { chunkSize: [1, 1, 1], dtype }), "NGC_ERR_BAD_PARAMS");
  }
  for (const array of [new BigInt64Array(1), new Float64Array(1)]) {
    await rejectsWith(ngcodec.encodeRaw(array, { chunkSize: [1, 1, 1] }), "NGC_ERR_BAD_PARAMS", {
      message: `raw encode: invalid parameters: dtype ${array instanceof Float64Array ? "float64" : "int64"} ` +
        `is not supported (use one of ${list}) [NGC_ERR_BAD_PARAMS]`,
    });
  }
  for (const dtype of ["complex64", "bool", "UINT8", "<u2", 8, null]) {
    await rejectsWith(ngcodec.decodeRaw(new Uint8Array(8), [1, 1, 1], dtype), "NGC_ERR_BAD_PARAMS");
  }
});

test("encodeRaw options: dtype for bytes, dtype must match a TypedArray, chunkSize required", async () => {
  // A Uint8Array is uint8 unless a dtype says how to read its bytes.
  const bytes = new Uint8Array([1, 0, 2, 0]);
  assert.deepEqual(await ngcodec.encodeRaw(bytes, { chunkSize: [4, 1, 1] }), bytes);
  assert.deepEqual(await ngcodec.encodeRaw(bytes, { chunkSize: [2, 1, 1], dtype: "uint16" }), bytes);
  await rejectsWith(ngcodec.encodeRaw(bytes, { chunkSize: [2, 1, 1] }), "NGC_ERR_SIZE_MISMATCH");
  await rejectsWith(ngcodec.encodeRaw(new DataView(bytes.buffer), { chunkSize: [2, 1, 1] }), "NGC_ERR_BAD_PARAMS");
  await rejectsWith(
    ngcodec.encodeRaw(new Uint16Array(2), { chunkSize: [2, 1, 1], dtype: "int16" }), "NGC_ERR_BAD_PARAMS");
  await rejectsWith(ngcodec.encodeRaw(new Uint16Array(2), {}), "NGC_ERR_BAD_PARAMS", {
    message: "raw encode: invalid parameters: chunk size must be 3 integers (x, y, z), got undefined " +
      "[NGC_ERR_BAD_PARAMS]",
  });
  await assert.rejects(ngcodec.encodeRaw(new Uint16Array(2), [2, 1, 1]), TypeError);
});

test("decodeRaw out: a TypedArray of the dtype and exact length", async () => {
  const src = new Uint8Array([1, 0, 2, 0]);
  for (const out of [new Uint16Array(1), new Uint16Array(3), new Int16Array(2), new Uint8Array(4), [0, 0]]) {
    await rejectsWith(ngcodec.decodeRaw(src, [2, 1, 1], "uint16", { out }), "NGC_ERR_BAD_PARAMS");
  }
  const big = new Uint16Array(4);
  const window = big.subarray(1, 3);
  assert.equal(await ngcodec.decodeRaw(src, [2, 1, 1], "uint16", { out: window }), window);
  assert.deepEqual([...big], [0, 1, 2, 0]);
});
