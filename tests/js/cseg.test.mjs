// Round trips of compressed_segmentation through ngcodec.js: both label
// widths, cubic and anisotropic blocks, partial edge blocks, thin chunks,
// several channels, every bit width, memory growth and concurrent calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ngcodec, labels, assertSameArray } from "./helpers.mjs";

const volume = ([x, y, z], c = 1) => x * y * z * c;

async function roundTrip(chunkSize, blockSize, dataType, numChannels, distinct, seed) {
  const input = labels(dataType, volume(chunkSize, numChannels), distinct, seed);
  const encoded = await ngcodec.encodeCompressedSegmentation(
    input, chunkSize, blockSize, dataType, numChannels,
  );
  assert.ok(encoded instanceof Uint8Array);
  assert.equal(encoded.byteLength % 4, 0, "encoded size is whole words");
  const decoded = await ngcodec.decodeCompressedSegmentation(
    encoded, chunkSize, blockSize, dataType, numChannels,
  );
  assertSameArray(decoded, input, `${chunkSize}/${blockSize}/${dataType}/${numChannels}ch`);
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

for (const dataType of ["uint32", "uint64"]) {
  for (const [chunkSize, blockSize, numChannels, distinct] of CASES) {
    test(`round trip ${dataType} chunk ${chunkSize} block ${blockSize} x${numChannels}`, async () => {
      await roundTrip(chunkSize, blockSize, dataType, numChannels, distinct, 7);
    });
  }
}

test("every bit width (0, 1, 2, 4, 8, 16, 32) round trips", async () => {
  // One block per chunk, so word 1 (after the channel header) is its header.
  // n distinct labels need ceil(log2 n) bits, rounded up to a power of two.
  const size = [64, 64, 32];
  const n = 64 * 64 * 32;
  for (const [dataType, distinct, bits] of [
    ["uint32", 1, 0], ["uint64", 2, 1], ["uint32", 3, 2], ["uint64", 16, 4],
    ["uint32", 200, 8], ["uint64", 60000, 16], ["uint32", n, 32],
  ]) {
    const input = dataType === "uint64" ? new BigUint64Array(n) : new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const v = (Math.imul(i % distinct, 2654435761) >>> 0) + 1;
      input[i] = dataType === "uint64" ? BigInt(v) << 20n : v;
    }
    const encoded = await ngcodec.encodeCompressedSegmentation(input, size, size, dataType);
    assert.equal(new Uint32Array(encoded.buffer)[1] >>> 24, bits, `${distinct} labels`);
    const decoded = await ngcodec.decodeCompressedSegmentation(encoded, size, size, dataType);
    assertSameArray(decoded, input, `${distinct} labels`);
  }
});

test("empty chunk (a zero size) round trips", async () => {
  const encoded = await ngcodec.encodeCompressedSegmentation(
    new Uint32Array(0), [0, 4, 4], [8, 8, 8], "uint32",
  );
  const decoded = await ngcodec.decodeCompressedSegmentation(encoded, [0, 4, 4], [8, 8, 8], "uint32");
  assert.equal(decoded.length, 0);
});

test("results are copies that survive memory growth", async () => {
  const small = labels("uint64", 8 * 8 * 8, 4, 3);
  const first = await ngcodec.decodeCompressedSegmentation(
    await ngcodec.encodeCompressedSegmentation(small, [8, 8, 8], [8, 8, 8], "uint64"),
    [8, 8, 8], [8, 8, 8], "uint64",
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
  const viaView = await ngcodec.encodeCompressedSegmentation(
    padded.subarray(8), [4, 4, 4], [2, 2, 2], "uint32",
  );
  const viaBuffer = await ngcodec.encodeCompressedSegmentation(
    input.buffer, [4, 4, 4], [2, 2, 2], "uint32",
  );
  assert.deepEqual(viaView, viaBuffer);
  const decoded = await ngcodec.decodeCompressedSegmentation(
    viaBuffer.buffer, [4, 4, 4], [2, 2, 2], "uint32",
  );
  assertSameArray(decoded, input);
});

test("concurrent calls do not interfere", async () => {
  const jobs = Array.from({ length: 16 }, (_, i) => {
    const dataType = i % 2 ? "uint64" : "uint32";
    return roundTrip([17 + i, 9, 5], [4, 4, 4], dataType, 1 + (i % 3), 3 + i, 100 + i);
  });
  await Promise.all(jobs);
});
