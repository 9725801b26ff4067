// ngcodec.js's downsample (ngc_downsample) on small arrays whose answers are
// worked out by hand in the comments: mode's tie rule, mean's rounding half
// to even, edge blocks cut by the array, several channels, 64-bit values
// past 2**63, float32 sums, empty arrays and every bad argument.
// tests/test_js_downsample.py compares it with Python's downsample on
// random arrays of every dtype.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ngcodec, rejectsWith, assertSameArray, rng } from "./helpers.mjs";

const { downsample } = ngcodec;

// One call: the output array and size, checked against what is expected.
async function expectDown(data, size, factors, method, expected, expectedSize) {
  const out = await downsample(data, size, factors, method);
  assertSameArray(out.data, expected, `${method} of ${data.constructor.name} ${size} by ${factors}`);
  assert.deepEqual(out.size, expectedSize);
  return out;
}

test("mode: the most frequent value, ties to the smallest", async () => {
  for (const Type of [Uint8Array, Uint16Array, Uint32Array, Int32Array, Float32Array]) {
    // 3 appears three times.
    await expectDown(new Type([1, 1, 2, 2, 3, 3, 3, 0]), [2, 2, 2], [2, 2, 2], "mode",
      new Type([3]), [1, 1, 1]);
    // Four values twice each: the smallest, 2.
    await expectDown(new Type([5, 5, 2, 2, 7, 7, 9, 9]), [2, 2, 2], [2, 2, 2], "mode",
      new Type([2]), [1, 1, 1]);
  }
  const big = (values) => BigUint64Array.from(values, BigInt);
  await expectDown(big([1, 1, 2, 2, 3, 3, 3, 0]), [2, 2, 2], [2, 2, 2], "mode", big([3]), [1, 1, 1]);
  await expectDown(big([5, 5, 2, 2, 7, 7, 9, 9]), [2, 2, 2], [2, 2, 2], "mode", big([2]), [1, 1, 1]);
  // Signed values order as numbers: -1 is below 5 (as unsigned bytes it would not be).
  for (const Type of [Int8Array, Int16Array, Int32Array]) {
    await expectDown(new Type([5, -1, 5, -1]), [4, 1, 1], [4, 1, 1], "mode", new Type([-1]), [1, 1, 1]);
  }
  // Blocks of more than 8 voxels (the module's scratch path): 9 six times
  // beats 7 and 3 five times; then 7 and 3 six times each tie: 3.
  const many = (a, na, b, nb, c, nc) =>
    new Uint32Array([...Array(na).fill(a), ...Array(nb).fill(b), ...Array(nc).fill(c)]);
  await expectDown(many(7, 5, 3, 5, 9, 6), [4, 4, 1], [4, 4, 1], "mode", new Uint32Array([9]), [1, 1, 1]);
  await expectDown(many(7, 6, 9, 4, 3, 6), [4, 4, 1], [4, 4, 1], "mode", new Uint32Array([3]), [1, 1, 1]);
});

test("mean: the exact mean, rounded to nearest, ties to even", async () => {
  // Pairs along x: 1.5 -> 2, 2.5 -> 2, 3.5 -> 4, 254.5 -> 254, 255 (the sum 510 does not wrap).
  await expectDown(new Uint8Array([1, 2, 2, 3, 3, 4, 254, 255, 255, 255]), [10, 1, 1], [2, 1, 1], "mean",
    new Uint8Array([2, 2, 4, 254, 255]), [5, 1, 1]);
  // -1.5 -> -2, -2.5 -> -2, -128, 126.5 -> 126, 0.5 -> 0.
  await expectDown(new Int8Array([-1, -2, -2, -3, -128, -128, 127, 126, 1, 0]), [10, 1, 1], [2, 1, 1], "mean",
    new Int8Array([-2, -2, -128, 126, 0]), [5, 1, 1]);
  // Thirds: 4/3 -> 1, 5/3 -> 2.
  await expectDown(new Uint16Array([1, 1, 2, 1, 2, 2]), [6, 1, 1], [3, 1, 1], "mean",
    new Uint16Array([1, 2]), [2, 1, 1]);
  // Sums past 32 bits: 4294967294.5 -> 4294967294, 4294967295.
  await expectDown(new Uint32Array([4294967295, 4294967294, 4294967295, 4294967295]), [4, 1, 1], [2, 1, 1],
    "mean", new Uint32Array([4294967294, 4294967295]), [2, 1, 1]);
  // -2147483647.5 -> -2147483648 (even); 0.5 -> 0.
  await expectDown(new Int32Array([-2147483648, -2147483647, 2147483647, -2147483646]), [4, 1, 1], [2, 1, 1],
    "mean", new Int32Array([-2147483648, 0]), [2, 1, 1]);
  // Along y and z too: (10 + 11 + 12 + 14) / 4 = 11.75 -> 12.
  await expectDown(new Uint8Array([10, 11, 12, 14]), [1, 2, 2], [1, 2, 2], "mean",
    new Uint8Array([12]), [1, 1, 1]);
});

test("edge blocks use only the voxels that exist", async () => {
  // x: blocks [1, 2], [2, 3], [7].
  const row = new Uint8Array([1, 2, 2, 3, 7]);
  await expectDown(row, [5, 1, 1], [2, 1, 1], "mode", new Uint8Array([1, 2, 7]), [3, 1, 1]);
  await expectDown(row, [5, 1, 1], [2, 1, 1], "mean", new Uint8Array([2, 2, 7]), [3, 1, 1]);
  // y: [4, 4], [9]; z: [0, 10] -> 5, [20, 21] -> 20.5 -> 20, [99].
  await expectDown(new Uint8Array([4, 4, 9]), [1, 3, 1], [1, 2, 1], "mode",
    new Uint8Array([4, 9]), [1, 2, 1]);
  await expectDown(new Uint8Array([0, 10, 20, 21, 99]), [1, 1, 5], [1, 1, 2], "mean",
    new Uint8Array([5, 20, 99]), [1, 1, 3]);
  // 3x3x3 holding each voxel's index x + 3y + 9z, by 2x2x2. The mean of a
  // block is mx + 3 my + 9 mz with the means of its coordinates: 0.5 for
  // the first block of an axis ({0, 1}), 2 for the edge one ({2}). So
  // (0,0,0) 6.5 -> 6, (1,0,0) 8, (0,1,0) 11, (1,1,0) 12.5 -> 12, (0,0,1) 20,
  // (1,0,1) 21.5 -> 22, (0,1,1) 24.5 -> 24, (1,1,1) 26 (the corner voxel alone).
  const index = Uint8Array.from({ length: 27 }, (_, i) => i);
  await expectDown(index, [3, 3, 3], [2, 2, 2], "mean",
    new Uint8Array([6, 8, 11, 12, 20, 22, 24, 26]), [2, 2, 2]);
  // Every block holds distinct values: mode is each block's smallest, its first voxel.
  await expectDown(index, [3, 3, 3], [2, 2, 2], "mode",
    new Uint8Array([0, 2, 6, 8, 18, 20, 24, 26]), [2, 2, 2]);
  // A factor larger than the array: one block of all of it, 15 / 6 = 2.5 -> 2.
  await expectDown(new Int16Array([0, 1, 2, 3, 4, 5]), [3, 2, 1], [8, 8, 8], "mean",
    new Int16Array([2]), [1, 1, 1]);
});

test("factors of 1 keep the array", async () => {
  const rand = rng(7);
  const data = Int16Array.from({ length: 5 * 4 * 3 * 2 }, () => Math.floor(rand() * 65536) - 32768);
  for (const method of ["mode", "mean"]) {
    await expectDown(data, [5, 4, 3], [1, 1, 1], method, data, [5, 4, 3]);
  }
});

test("channels: data.length / (x * y * z), each downsampled alone", async () => {
  // Three channels of 2x2x1: [1, 1, 2, 3], [4, 5, 5, 6], [9, 8, 8, 9].
  const data = new Uint8Array([1, 1, 2, 3, 4, 5, 5, 6, 9, 8, 8, 9]);
  await expectDown(data, [2, 2, 1], [2, 2, 1], "mode", new Uint8Array([1, 5, 8]), [1, 1, 1]);
  // 1.75 -> 2, 5, 8.5 -> 8.
  await expectDown(data, [2, 2, 1], [2, 2, 1], "mean", new Uint8Array([2, 5, 8]), [1, 1, 1]);
  // Two channels of 3x1x1 with an edge block: [1, 3, 5] -> [2, 5], [10, 20, 31] -> [15, 31].
  await expectDown(new Uint32Array([1, 3, 5, 10, 20, 31]), [3, 1, 1], [2, 1, 1], "mean",
    new Uint32Array([2, 5, 15, 31]), [2, 1, 1]);
});

test("uint64 values past 2**63; int64 refused", async () => {
  const top = 2n ** 64n - 1n;
  const high = 2n ** 63n + 5n;
  const u = (...values) => BigUint64Array.from(values);
  // Unsigned order: 1 is below 2**63 + 5, whose sign bit is set.
  await expectDown(u(high, high, 1n, 1n), [4, 1, 1], [4, 1, 1], "mode", u(1n), [1, 1, 1]);
  await expectDown(u(top, 3n, top, top), [4, 1, 1], [4, 1, 1], "mode", u(top), [1, 1, 1]);
  // Sums past 64 bits: top; top - 0.5 -> top - 1 (even); top - 1;
  // 2**63 + 0.5 -> 2**63 (even).
  await expectDown(u(top, top, top, top - 1n, top, top - 2n, 2n ** 63n, 2n ** 63n + 1n), [8, 1, 1], [2, 1, 1],
    "mean", u(top, top - 1n, top - 1n, 2n ** 63n), [4, 1, 1]);
  // (3 top - 2) / 3 = top - 2/3 -> top - 1.
  await expectDown(u(top, top, top - 2n), [3, 1, 1], [3, 1, 1], "mean", u(top - 1n), [1, 1, 1]);

  // int64 is no precomputed dtype: refused, as Python refuses it.
  await rejectsWith(downsample(BigInt64Array.from([5n, -1n]), [2, 1, 1], [2, 1, 1], "mode"),
    "NGC_ERR_BAD_PARAMS", { message: "downsample: invalid parameters: dtype int64 is not " +
      "supported (use one of uint8, int8, uint16, int16, uint32, int32, uint64, float32) " +
      "[NGC_ERR_BAD_PARAMS]" });
});

test("float32: mean summed in float32 in raster order, mode on numbers", async () => {
  // 1e8 + 1 rounds back to 1e8 in float32, so the sum is 0 + 1 = 1 and the
  // mean 0.25 (a float64 sum would give 0.5).
  await expectDown(new Float32Array([1e8, 1, -1e8, 1]), [4, 1, 1], [4, 1, 1], "mean",
    new Float32Array([0.25]), [1, 1, 1]);
  // 7 / 3 divided in float32; 0.75.
  await expectDown(new Float32Array([1, 2, 4, 0.5, 1]), [5, 1, 1], [3, 1, 1], "mean",
    new Float32Array([Math.fround(7 / 3), 0.75]), [2, 1, 1]);
  // The float32 sum overflows.
  await expectDown(new Float32Array([3e38, 3e38]), [2, 1, 1], [2, 1, 1], "mean",
    new Float32Array([Infinity]), [1, 1, 1]);

  const mode = async (values) =>
    (await downsample(new Float32Array(values), [values.length, 1, 1], [values.length, 1, 1], "mode")).data[0];
  // -0 and +0 are one value (two votes, beating 1), written +0.
  assert.ok(Object.is(await mode([-0, 1, 0]), 0));
  assert.ok(Object.is(await mode([-0, -0]), 0));
  // NaNs are one value, above Infinity.
  assert.ok(Number.isNaN(await mode([NaN, 1, NaN])));
  assert.equal(await mode([Infinity, NaN]), Infinity);
  assert.equal(await mode([-Infinity, 2.5, 2.5, -Infinity, -1]), -Infinity);
});

test("the output has the input's type; the input is a view that is read, not changed", async () => {
  const clamped = await downsample(new Uint8ClampedArray([200, 255]), [2, 1, 1], [2, 1, 1], "mean");
  assert.ok(clamped.data instanceof Uint8ClampedArray);
  assert.equal(clamped.data[0], 228); // 227.5 -> 228 (even)
  // A view at a byte offset: only its own values count.
  const backing = new Uint16Array([99, 4, 4, 8, 6, 99]);
  const view = backing.subarray(1, 5);
  const out = await expectDown(view, [4, 1, 1], [4, 1, 1], "mean", new Uint16Array([6]), [1, 1, 1]);
  assert.notEqual(out.data.buffer, backing.buffer);
  assertSameArray(backing, new Uint16Array([99, 4, 4, 8, 6, 99]), "input");
  const wide = new BigUint64Array([7n, 2n ** 64n - 1n, 2n ** 64n - 1n, 7n]).subarray(1, 3);
  await expectDown(wide, [2, 1, 1], [2, 1, 1], "mode", new BigUint64Array([2n ** 64n - 1n]), [1, 1, 1]);
});

test("empty arrays give empty outputs", async () => {
  // A zero size: no voxel, no channel count to find.
  await expectDown(new Uint8Array(0), [0, 4, 4], [2, 2, 2], "mode", new Uint8Array(0), [0, 2, 2]);
  await expectDown(new Float32Array(0), [3, 0, 1], [2, 2, 2], "mean", new Float32Array(0), [2, 0, 1]);
  // No channel.
  await expectDown(new BigUint64Array(0), [3, 3, 3], [2, 2, 2], "mode", new BigUint64Array(0), [2, 2, 2]);
});

test("bad arguments are InvalidParameterError", async () => {
  const ok = () => new Uint8Array(8);
  const bad = (data, size, factors, method) =>
    rejectsWith(downsample(data, size, factors, method), "NGC_ERR_BAD_PARAMS");
  for (const data of [[1, 2, 3, 4, 5, 6, 7, 8], null, undefined, "abcdefgh", 8, new ArrayBuffer(8),
    new DataView(new ArrayBuffer(8)), new Float64Array(8), { length: 8 }]) {
    await bad(data, [2, 2, 2], [2, 2, 2], "mode");
  }
  for (const size of [[2, 2], [2, 2, 2, 1], [2, 2, 1.5], "222", null, undefined, 8, [-2, 2, 2],
    [2 ** 32, 1, 1], [NaN, 2, 2], [2, "2", 2]]) {
    await bad(ok(), size, [2, 2, 2], "mode");
  }
  for (const factors of [[0, 2, 2], [2, 2, 0], [1.5, 2, 2], [2, 2], [2, 2, 2, 2], null, undefined, 2,
    [-2, 2, 2], [2, "2", 2], [2 ** 32, 1, 1], "222"]) {
    await bad(ok(), [2, 2, 2], factors, "mode");
  }
  for (const method of ["median", "MODE", "", undefined, null, 1, ["mode"], "toString"]) {
    await bad(ok(), [2, 2, 2], [2, 2, 2], method);
  }
  // Lengths that are not a whole number of channels.
  await bad(new Uint8Array(5), [2, 1, 1], [2, 1, 1], "mean");
  await bad(new Uint8Array(7), [2, 2, 2], [2, 2, 2], "mean");
  await bad(new Uint8Array(12), [2, 2, 2], [2, 2, 2], "mean");
  await bad(new Uint8Array(3), [0, 1, 1], [1, 1, 1], "mean");

  // The words of Python's checks.
  const message = (text) =>
    ({ message: `downsample: invalid parameters: ${text} [NGC_ERR_BAD_PARAMS]` });
  await rejectsWith(downsample(ok(), [2, 2, 2], [0, 2, 2], "mode"), "NGC_ERR_BAD_PARAMS",
    message("factors must be 3 integers (x, y, z) in [1, 2**32), got (0, 2, 2)"));
  await rejectsWith(downsample(ok(), [2, 2, 2], [1.5, 2, 2], "mode"), "NGC_ERR_BAD_PARAMS",
    message("factors must be 3 integers (x, y, z), got (1.5, 2, 2)"));
  await rejectsWith(downsample(ok(), [2, 2, 2], [2, 2, 2], "median"), "NGC_ERR_BAD_PARAMS",
    message("method must be 'mode' or 'mean', got 'median'"));
  await rejectsWith(downsample(new Float64Array(8), [2, 2, 2], [2, 2, 2], "mode"), "NGC_ERR_BAD_PARAMS",
    message("dtype float64 is not supported (use one of uint8, int8, uint16, int16, uint32, int32, " +
      "uint64, float32)"));
  await rejectsWith(downsample(new Uint8Array(5), [2, 1, 1], [2, 1, 1], "mode"), "NGC_ERR_BAD_PARAMS",
    message("data has 5 values, not a whole number of channels of size (2, 1, 1)"));

  // Options, as everywhere in ngcodec.js: TypeError.
  await assert.rejects(downsample(ok(), [2, 2, 2], [2, 2, 2], "mode", 5), TypeError);
  await assert.rejects(downsample(ok(), [2, 2, 2], [2, 2, 2], "mode", { limits: {} }),
    { name: "TypeError", message: "downsample: unknown option limits (it takes none)" });
});
