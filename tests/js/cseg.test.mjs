// Round trips of compressed_segmentation through ngcodec.js: both label
// widths, cubic and anisotropic blocks, partial edge blocks, thin chunks,
// several channels, every bit width, memory growth and concurrent calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ngcodec, labels, rejectsWith, assertSameArray } from "./helpers.mjs";

const volume = ([x, y, z], c = 1) => x * y * z * c;

async function roundTrip(chunkSize, blockSize, dtype, numChannels, distinct, seed) {
  const input = labels(dtype, volume(chunkSize, numChannels), distinct, seed);
  // dtype comes from the TypedArray.
  const encoded = await ngcodec.encodeCompressedSegmentation(input, blockSize, { chunkSize, numChannels });
  assert.ok(encoded instanceof Uint8Array);
  assert.equal(encoded.byteLength % 4, 0, "encoded size is whole words");
  const decoded = await ngcodec.decodeCompressedSegmentation(
    encoded, chunkSize, dtype, blockSize, { numChannels },
  );
  assertSameArray(decoded, input, `${chunkSize}/${blockSize}/${dtype}/${numChannels}ch`);
  return encoded;
}

const CASES = [
  // [chunkSize, blockSize, numChannels, distinct labels]
  [[64, 64, 64], [8, 8, 8], 1, 50],
  [[64, 64, 64], [16, 8, 4], 1, 50],
  [[37, 19, 11], [16, 8, 4], 1, 9], // partial edge blocks on every axis
  [[9, 7, 5], [2, 2, 2], 1, 5],
  [[64, 64, 64], [64, 64, 64], 1, 300],
  [[30, 20, 10], [64, 64, 64], 1, 20], // one block larger than the chunk
  [[1, 1, 50], [8, 8, 8], 1, 3], // thin chunks
  [[50, 1, 1], [8, 8, 8], 1, 3],
  [[1, 40, 1], [4, 4, 4], 1, 3],
  [[1, 1, 1], [8, 8, 8], 1, 1],
  [[20, 13, 7], [8, 4, 2], 3, 12], // several channels
  [[8, 8, 8], [8, 8, 8], 2, 1],
];

for (const dtype of ["uint32", "uint64"]) {
  for (const [chunkSize, blockSize, numChannels, distinct] of CASES) {
    test(`round trip ${dtype} chunk ${chunkSize} block ${blockSize} x${numChannels}`, async () => {
      await roundTrip(chunkSize, blockSize, dtype, numChannels, distinct, 7);
    });
  }
}

test("every bit width (0, 1, 2, 4, 8, 16, 32) round trips", async () => {
  // One block per chunk, so word 1 (after the channel header) is its header.
  // n distinct labels need ceil(log2 n) bits, rounded up to a power of two.
  const size = [64, 64, 32];
  const n = 64 * 64 * 32;
  for (const [dtype, distinct, bits] of [
    ["uint32", 1, 0], ["uint64", 2, 1], ["uint32", 3, 2], ["uint64", 16, 4],
    ["uint32", 200, 8], ["uint64", 60000, 16], ["uint32", n, 32],
  ]) {
    const input = dtype === "uint64" ? new BigUint64Array(n) : new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const v = (Math.imul(i % distinct, 2654435761) >>> 0) + 1;
      input[i] = dtype === "uint64" ? BigInt(v) << 20n : v;
    }
    const encoded = await ngcodec.encodeCompressedSegmentation(input, size, { chunkSize: size });
    assert.equal(new Uint32Array(encoded.buffer)[1] >>> 24, bits, `${distinct} labels`);
    const decoded = await ngcodec.decodeCompressedSegmentation(encoded, size, dtype, size);
    assertSameArray(decoded, input, `${distinct} labels`);
  }
});

test("empty chunk (a zero size) round trips", async () => {
  const encoded = await ngcodec.encodeCompressedSegmentation(
    new Uint32Array(0), [8, 8, 8], { chunkSize: [0, 4, 4] },
  );
  const decoded = await ngcodec.decodeCompressedSegmentation(encoded, [0, 4, 4], "uint32", [8, 8, 8]);
  assert.equal(decoded.length, 0);
});

test("results are copies that survive memory growth", async () => {
  const small = labels("uint64", 8 * 8 * 8, 4, 3);
  const first = await ngcodec.decodeCompressedSegmentation(
    await ngcodec.encodeCompressedSegmentation(small, [8, 8, 8], { chunkSize: [8, 8, 8] }),
    [8, 8, 8], "uint64", [8, 8, 8],
  );
  // 48 MiB of uint64 labels: linear memory has to grow past its 1 MiB start.
  const big = [256, 256, 96];
  await roundTrip(big, [8, 8, 8], "uint64", 1, 1000, 11);
  assertSameArray(first, small, "earlier result after growth");
  assert.notEqual(first.buffer.byteLength, 0);
});

test("inputs may be any BufferSource view, not only the label TypedArray", async () => {
  const input = labels("uint32", 4 * 4 * 4, 5, 5);
  const asBytes = new Uint8Array(input.buffer);
  const padded = new Uint8Array(asBytes.length + 8);
  padded.set(asBytes, 8);
  const options = { chunkSize: [4, 4, 4], dtype: "uint32" }; // dtype: required for bytes
  const viaView = await ngcodec.encodeCompressedSegmentation(padded.subarray(8), [2, 2, 2], options);
  const viaBuffer = await ngcodec.encodeCompressedSegmentation(input.buffer, [2, 2, 2], options);
  const viaDataView = await ngcodec.encodeCompressedSegmentation(new DataView(input.buffer), [2, 2, 2], options);
  const viaTyped = await ngcodec.encodeCompressedSegmentation(input, [2, 2, 2], options);
  assert.deepEqual(viaView, viaBuffer);
  assert.deepEqual(viaDataView, viaBuffer);
  assert.deepEqual(viaTyped, viaBuffer);
  const decoded = await ngcodec.decodeCompressedSegmentation(
    viaBuffer.buffer, [4, 4, 4], "uint32", [2, 2, 2],
  );
  assertSameArray(decoded, input);
});

test("concurrent calls do not interfere", async () => {
  const jobs = Array.from({ length: 16 }, (_, i) => {
    const dtype = i % 2 ? "uint64" : "uint32";
    return roundTrip([17 + i, 9, 5], [4, 4, 4], dtype, 1 + (i % 3), 3 + i, 100 + i);
  });
  await Promise.all(jobs);
});

test("decode options: numChannels, out receives the result and is returned", async () => {
  for (const dtype of ["uint32", "uint64"]) {
    const input = labels(dtype, 2 * 6 * 5 * 4, 7, 21);
    const encoded = await ngcodec.encodeCompressedSegmentation(input, [4, 4, 4], {
      chunkSize: [6, 5, 4], numChannels: 2,
    });
    const out = dtype === "uint64" ? new BigUint64Array(input.length) : new Uint32Array(input.length);
    const got = await ngcodec.decodeCompressedSegmentation(encoded, [6, 5, 4], dtype, [4, 4, 4], {
      numChannels: 2, out,
    });
    assert.equal(got, out, "out is returned");
    assertSameArray(out, input, `${dtype} into out`);
    // A view into a bigger buffer works as out too.
    const Ctor = out.constructor;
    const big = new Ctor(input.length + 3);
    const window = big.subarray(2, 2 + input.length);
    await ngcodec.decodeCompressedSegmentation(encoded, [6, 5, 4], dtype, [4, 4, 4], {
      numChannels: 2, out: window,
    });
    assertSameArray(window, input, `${dtype} into a subarray`);
    assert.equal(big[0], dtype === "uint64" ? 0n : 0);
    assert.equal(big[big.length - 1], dtype === "uint64" ? 0n : 0);
    // Options left out are their defaults; an empty object is no options.
    const one = await ngcodec.encodeCompressedSegmentation(input.subarray(0, 120), [4, 4, 4], {
      chunkSize: [6, 5, 4],
    });
    assertSameArray(
      await ngcodec.decodeCompressedSegmentation(one, [6, 5, 4], dtype, [4, 4, 4], {}),
      input.subarray(0, 120).slice(),
    );
  }
});

test("out of the wrong type or length is NGC_ERR_BAD_PARAMS", async () => {
  const encoded = await ngcodec.encodeCompressedSegmentation(new Uint32Array(8), [2, 2, 2], {
    chunkSize: [2, 2, 2],
  });
  for (const out of [new Uint32Array(7), new Uint32Array(9), new Int32Array(8), new BigUint64Array(8),
    new Uint8Array(32), [0, 0, 0, 0, 0, 0, 0, 0]]) {
    await rejectsWith(
      ngcodec.decodeCompressedSegmentation(encoded, [2, 2, 2], "uint32", [2, 2, 2], { out }),
      "NGC_ERR_BAD_PARAMS",
    );
  }
});

test("encode takes dtype from the TypedArray; bytes need options.dtype", async () => {
  const values = new Uint32Array([1, 2, 1, 2, 3, 3, 3, 3]);
  const options = { chunkSize: [2, 2, 2] };
  const fromArray = await ngcodec.encodeCompressedSegmentation(values, [2, 2, 2], options);
  const fromBytes = await ngcodec.encodeCompressedSegmentation(
    new Uint8Array(values.buffer), [2, 2, 2], { ...options, dtype: "uint32" });
  assert.deepEqual(fromBytes, fromArray);
  // The same bytes read as 4 uint64 labels: another chunk, 4 voxels.
  const wide = await ngcodec.encodeCompressedSegmentation(
    new Uint8Array(values.buffer), [2, 2, 2], { chunkSize: [2, 2, 1], dtype: "uint64" });
  assertSameArray(
    await ngcodec.decodeCompressedSegmentation(wide, [2, 2, 1], "uint64", [2, 2, 2]),
    new BigUint64Array(values.buffer),
  );
  const WHAT = "compressed_segmentation encode";
  // ArrayBuffer and DataView carry no dtype.
  for (const array of [values.buffer, new DataView(values.buffer)]) {
    await rejectsWith(ngcodec.encodeCompressedSegmentation(array, [2, 2, 2], options), "NGC_ERR_BAD_PARAMS", {
      message: `${WHAT}: invalid parameters: dtype is required when the array is an ArrayBuffer or a ` +
        "DataView [NGC_ERR_BAD_PARAMS]",
    });
  }
  // A TypedArray other than bytes must hold the dtype it is given.
  await rejectsWith(
    ngcodec.encodeCompressedSegmentation(values, [2, 2, 2], { ...options, dtype: "uint64" }),
    "NGC_ERR_BAD_PARAMS",
  );
  // Label arrays of other types are refused as Python refuses their dtypes.
  for (const [array, name] of [[new Uint8Array(8), "uint8"], [new Int32Array(8), "int32"],
    [new BigInt64Array(8), "int64"], [new Float64Array(8), "float64"], [new Float32Array(8), "float32"]]) {
    await rejectsWith(ngcodec.encodeCompressedSegmentation(array, [2, 2, 2], options), "NGC_ERR_BAD_PARAMS", {
      message: `${WHAT}: invalid parameters: dtype ${name} is not supported (use one of uint32, uint64) ` +
        "[NGC_ERR_BAD_PARAMS]",
    });
  }
  // The array must have the chunk's size.
  await rejectsWith(
    ngcodec.encodeCompressedSegmentation(values.subarray(1), [2, 2, 2], options),
    "NGC_ERR_SIZE_MISMATCH",
    {
      message: `${WHAT}: the buffer size does not match the chunk size (28 bytes, expected 32 for ` +
        "1 channel(s) of (2, 2, 2) uint32) [NGC_ERR_SIZE_MISMATCH]",
    },
  );
});
