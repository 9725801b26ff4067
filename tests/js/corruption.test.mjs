// One test per kind of damage to a compressed_segmentation chunk: each must
// throw NgcodecError with the right codeName (and place), and the module
// must keep working afterwards. Chunks are hand-made word by word:
//
//   word 0         channel 0 offset (words from the buffer start) = 1
//   words 1, 2     block header: table offset | bits << 24, values offset
//                  (both in words from the channel start)
//   then           values (bits-wide indices, LSB first), table
import { test } from "node:test";
import assert from "node:assert/strict";
import { ngcodec, words, labels, rejectsWith, assertSameArray } from "./helpers.mjs";

const B8 = [8, 8, 8]; // one 8x8x8 block per 8x8x8 chunk: 512 voxels
const decode32 = (data, size = B8, channels = 1) =>
  ngcodec.decodeCompressedSegmentation(data, size, B8, "uint32", channels);

test("a valid hand-made chunk decodes (the cases below differ in one place)", async () => {
  // 1-bit block: 16 value words (512 bits), then a 2-entry table.
  const values = new Array(16).fill(0);
  values[0] = 0b10; // voxel 1 -> table[1]
  const out = await decode32(words(1, ((1 << 24) | (2 + 16)) >>> 0, 2, ...values, 7, 9));
  assert.equal(out[0], 7);
  assert.equal(out[1], 9);
  assert.equal(out[2], 7);
  const zero = await decode32(words(1, 2, 3, 42)); // 0-bit block, table [42]
  assert.ok(zero.every((v) => v === 42));
});

test("truncated header -> NGC_ERR_TRUNCATED", async () => {
  await rejectsWith(decode32(new Uint8Array(0)), "NGC_ERR_TRUNCATED");
  await rejectsWith(decode32(words(1)), "NGC_ERR_TRUNCATED"); // no block header
  await rejectsWith(decode32(words(1, 2)), "NGC_ERR_TRUNCATED"); // half of one
  await rejectsWith(decode32(words(2, 3), B8, 2), "NGC_ERR_TRUNCATED"); // 2 channels
});

test("size not a multiple of 4 -> NGC_ERR_UNALIGNED", async () => {
  const good = words(1, 2, 3, 42);
  await rejectsWith(decode32(good.subarray(0, 15)), "NGC_ERR_UNALIGNED");
  await rejectsWith(decode32(new Uint8Array([...good, 0])), "NGC_ERR_UNALIGNED");
});

test("bits = 3 -> NGC_ERR_BAD_BITS", async () => {
  for (const bits of [3, 5, 31, 33, 255]) {
    const data = words(1, ((bits << 24) | 2) >>> 0, 2, ...new Array(48).fill(0), 1);
    await rejectsWith(decode32(data), "NGC_ERR_BAD_BITS", { failChannel: 0, failBlock: 0 });
  }
});

test("table offset past the end -> NGC_ERR_BAD_TABLE_OFFSET", async () => {
  await rejectsWith(decode32(words(1, 100, 2, 42)), "NGC_ERR_BAD_TABLE_OFFSET");
  await rejectsWith(decode32(words(1, 5, 2, 42)), "NGC_ERR_BAD_TABLE_OFFSET"); // n = 3
});

test("values offset past the end -> NGC_ERR_BAD_VALUES_OFFSET", async () => {
  const values = new Array(16).fill(0);
  const table = (2 + 16) | (1 << 24);
  await rejectsWith(decode32(words(1, table, 100, ...values, 7)), "NGC_ERR_BAD_VALUES_OFFSET");
  // Starts inside, but the 16 value words run past the end.
  await rejectsWith(decode32(words(1, table, 4, ...values, 7)), "NGC_ERR_BAD_VALUES_OFFSET");
});

test("index past the table -> NGC_ERR_BAD_TABLE_INDEX", async () => {
  const values = new Array(16).fill(0);
  values[15] = 1 << 31; // the last voxel uses index 1 of a 1-entry table
  const header = ((1 << 24) | (2 + 16)) >>> 0;
  await rejectsWith(decode32(words(1, header, 2, ...values, 7)), "NGC_ERR_BAD_TABLE_INDEX", {
    failChannel: 0, failBlock: 0,
  });
});

test("0-bit block whose table offset == buffer end -> NGC_ERR_EMPTY_TABLE", async () => {
  await rejectsWith(decode32(words(1, 2, 2)), "NGC_ERR_EMPTY_TABLE");
  // uint64: one word left is half a table entry, so still no entry.
  await rejectsWith(
    ngcodec.decodeCompressedSegmentation(words(1, 2, 2, 42), B8, B8, "uint64"),
    "NGC_ERR_EMPTY_TABLE",
  );
});

test("channel offset past the end -> NGC_ERR_BAD_CHANNEL_OFFSET", async () => {
  await rejectsWith(decode32(words(100, 2, 3, 42)), "NGC_ERR_BAD_CHANNEL_OFFSET", { failChannel: 0 });
  // Channel 0 is fine, channel 1 points outside.
  await rejectsWith(decode32(words(2, 99, 2, 2, 42), B8, 2), "NGC_ERR_BAD_CHANNEL_OFFSET", {
    failChannel: 1,
  });
});

test("the failing block is reported (x fastest)", async () => {
  // 16x8x8 chunk = blocks 0 and 1 along x; block 1 has 3-bit values.
  const data = words(1, 4, 5, ((3 << 24) | 4) >>> 0, 5, 42);
  await rejectsWith(decode32(data, [16, 8, 8]), "NGC_ERR_BAD_BITS", { failChannel: 0, failBlock: 1 });
});

test("bad parameters -> NGC_ERR_BAD_PARAMS", async () => {
  const good = words(1, 2, 3, 42);
  const cases = [
    () => ngcodec.decodeCompressedSegmentation(good, B8, [0, 8, 8], "uint32"),
    () => ngcodec.decodeCompressedSegmentation(good, B8, B8, "float32"),
    () => ngcodec.decodeCompressedSegmentation(good, [8, 8], B8, "uint32"),
    () => ngcodec.decodeCompressedSegmentation(good, [8, 8, -1], B8, "uint32"),
    () => ngcodec.decodeCompressedSegmentation(good, [8, 8, 1.5], B8, "uint32"),
    () => ngcodec.decodeCompressedSegmentation(good, B8, B8, "uint32", 0),
    () => ngcodec.encodeCompressedSegmentation(new Uint8Array(8), [2, 2, 2], B8, "uint8"),
    () => ngcodec.decodeRaw(good, B8, "complex64"),
  ];
  for (const call of cases) await rejectsWith(call(), "NGC_ERR_BAD_PARAMS", { code: -1 });
  await assert.rejects(ngcodec.decodeRaw([1, 2, 3], [3, 1, 1], "uint8"), TypeError);
});

test("a huge geometry fails cleanly (NGC_ERR_TOO_LARGE or NGC_ERR_NO_MEMORY)", async () => {
  const call = ngcodec.decodeCompressedSegmentation(words(1, 2, 3, 42), [65536, 65536, 2], B8, "uint64");
  await assert.rejects(call, (err) => ["NGC_ERR_TOO_LARGE", "NGC_ERR_NO_MEMORY"].includes(err.codeName));
});

test("failing calls free their buffers (no leak across many errors)", async () => {
  // Each call mallocs 4 MiB in and 4 MiB out; leaked, 600 calls would pass
  // the 4 GiB ceiling and turn into NGC_ERR_NO_MEMORY.
  const src = new Uint8Array(4 * 1024 * 1024 + 4);
  for (let i = 0; i < 600; i++) {
    await rejectsWith(ngcodec.decodeRaw(src, [1024, 1024, 1], "uint32"), "NGC_ERR_SIZE_MISMATCH");
  }
});

test("the module still works after all the errors", async () => {
  const input = labels("uint64", 20 * 20 * 20, 30, 9);
  const encoded = await ngcodec.encodeCompressedSegmentation(input, [20, 20, 20], [8, 8, 8], "uint64");
  assertSameArray(
    await ngcodec.decodeCompressedSegmentation(encoded, [20, 20, 20], [8, 8, 8], "uint64"),
    input,
  );
  assert.match(await ngcodec.version(), /^\d+\.\d+\.\d+$/);
});
