// One test per kind of damage to a compressed_segmentation chunk: each must
// throw the status's error class with the right statusName, place and
// message, and the module must keep working afterwards. Chunks are hand-made word by word:
//
//   word 0         channel 0 offset (words from the buffer start) = 1
//   words 1, 2     block header: table offset | bits << 24, values offset
//                  (both in words from the channel start)
//   then           values (bits-wide indices, LSB first), table
import { test } from "node:test";
import assert from "node:assert/strict";
import { ngcodec, NgcodecError, words, labels, rejectsWith, assertSameArray } from "./helpers.mjs";

const B8 = [8, 8, 8]; // one 8x8x8 block per 8x8x8 chunk: 512 voxels
const decode32 = (data, size = B8, numChannels = 1) =>
  ngcodec.decodeCompressedSegmentation(data, size, "uint32", B8, { numChannels });
const WHAT = "compressed_segmentation decode";

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
  // No offset word for channel 0: the place is that channel.
  await rejectsWith(decode32(new Uint8Array(0)), "NGC_ERR_TRUNCATED", { channel: 0, block: null });
  await rejectsWith(decode32(words(1)), "NGC_ERR_TRUNCATED"); // no block header
  await rejectsWith(decode32(words(1, 2)), "NGC_ERR_TRUNCATED"); // half of one
  await rejectsWith(decode32(words(2, 3), B8, 2), "NGC_ERR_TRUNCATED"); // 2 channels
});

test("size not a multiple of 4 -> NGC_ERR_UNALIGNED", async () => {
  const good = words(1, 2, 3, 42);
  await rejectsWith(decode32(good.subarray(0, 15)), "NGC_ERR_UNALIGNED", {
    channel: null,
    block: null,
    message: `${WHAT}: the buffer size is not a multiple of 4 bytes [NGC_ERR_UNALIGNED]`,
  });
  await rejectsWith(decode32(new Uint8Array([...good, 0])), "NGC_ERR_UNALIGNED");
});

test("bits = 3 -> NGC_ERR_BAD_BITS", async () => {
  for (const bits of [3, 5, 31, 33, 255]) {
    const data = words(1, ((bits << 24) | 2) >>> 0, 2, ...new Array(48).fill(0), 1);
    await rejectsWith(decode32(data), "NGC_ERR_BAD_BITS", { channel: 0, block: [0, 0, 0] });
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
    channel: 0,
    block: [0, 0, 0],
    message: `${WHAT}: an encoded value indexes past the end of the lookup table ` +
      "(channel 0, block (0, 0, 0) in x, y, z) [NGC_ERR_BAD_TABLE_INDEX]",
  });
});

test("0-bit block whose table offset == buffer end -> NGC_ERR_EMPTY_TABLE", async () => {
  await rejectsWith(decode32(words(1, 2, 2)), "NGC_ERR_EMPTY_TABLE");
  // uint64: one word left is half a table entry, so still no entry.
  await rejectsWith(
    ngcodec.decodeCompressedSegmentation(words(1, 2, 2, 42), B8, "uint64", B8),
    "NGC_ERR_EMPTY_TABLE",
  );
});

test("channel offset past the end -> NGC_ERR_BAD_CHANNEL_OFFSET", async () => {
  await rejectsWith(decode32(words(100, 2, 3, 42)), "NGC_ERR_BAD_CHANNEL_OFFSET", {
    channel: 0,
    block: null,
    message: `${WHAT}: a channel offset points past the end of the buffer (channel 0) ` +
      "[NGC_ERR_BAD_CHANNEL_OFFSET]",
  });
  // Channel 0 is fine, channel 1 points outside.
  await rejectsWith(decode32(words(2, 99, 2, 2, 42), B8, 2), "NGC_ERR_BAD_CHANNEL_OFFSET", {
    channel: 1,
    block: null,
  });
});

test("the failing block is reported as [bx, by, bz] (block index x fastest)", async () => {
  // 16x8x8 chunk = blocks 0 and 1 along x; block 1 has 3-bit values.
  const data = words(1, 4, 5, ((3 << 24) | 4) >>> 0, 5, 42);
  await rejectsWith(decode32(data, [16, 8, 8]), "NGC_ERR_BAD_BITS", {
    channel: 0,
    block: [1, 0, 0],
    message: `${WHAT}: a block header has an invalid number of encoding bits ` +
      "(channel 0, block (1, 0, 0) in x, y, z) [NGC_ERR_BAD_BITS]",
  });
  // A 2x2x2 grid of 8x8x8 blocks (the last partial on every axis): block
  // index 6 = (0, 1, 1). Headers: 8 blocks of 2 words, then a table [42] at
  // word 16 of the channel.
  const headers = [];
  for (let i = 0; i < 8; i++) headers.push(i === 6 ? ((3 << 24) | 16) >>> 0 : 16, 16);
  await rejectsWith(decode32(words(1, ...headers, 42), [9, 10, 11]), "NGC_ERR_BAD_BITS", {
    channel: 0,
    block: [0, 1, 1],
  });
});

test("bad parameters -> InvalidParameterError NGC_ERR_BAD_PARAMS", async () => {
  const good = words(1, 2, 3, 42);
  const cases = [
    () => ngcodec.decodeCompressedSegmentation(good, B8, "uint32", [0, 8, 8]),
    () => ngcodec.decodeCompressedSegmentation(good, B8, "float32", B8),
    () => ngcodec.decodeCompressedSegmentation(good, B8, "int64", B8),
    () => ngcodec.decodeCompressedSegmentation(good, [8, 8], "uint32", B8),
    () => ngcodec.decodeCompressedSegmentation(good, [8, 8, -1], "uint32", B8),
    () => ngcodec.decodeCompressedSegmentation(good, [8, 8, 1.5], "uint32", B8),
    () => ngcodec.decodeCompressedSegmentation(good, [8, 8, 2 ** 32], "uint32", B8),
    () => ngcodec.decodeCompressedSegmentation(good, "8,8,8", "uint32", B8),
    () => ngcodec.decodeCompressedSegmentation(good, B8, "uint32", B8, { numChannels: 0 }),
    () => ngcodec.decodeCompressedSegmentation(good, B8, "uint32", B8, { numChannels: 1.5 }),
    () => ngcodec.encodeCompressedSegmentation(new Uint8Array(8), B8, { chunkSize: [2, 2, 2] }),
    () => ngcodec.encodeCompressedSegmentation(new Uint32Array(8), [2, 2, 0], { chunkSize: [2, 2, 2] }),
    () => ngcodec.encodeCompressedSegmentation(new Uint32Array(8), B8, {}),
    () => ngcodec.encodeCompressedSegmentation(new Uint32Array(8), B8),
    () => ngcodec.decodeRaw(good, B8, "complex64"),
    () => ngcodec.decodeRaw(good, B8, undefined),
  ];
  for (const call of cases) await rejectsWith(call(), "NGC_ERR_BAD_PARAMS", { channel: null, block: null });
  await rejectsWith(ngcodec.decodeCompressedSegmentation(good, B8, "uint32", [0, 8, 8]), "NGC_ERR_BAD_PARAMS", {
    message: `${WHAT}: invalid parameters: block size must be 3 integers (x, y, z) in [1, 2**32), ` +
      "got (0, 8, 8) [NGC_ERR_BAD_PARAMS]",
  });
  await rejectsWith(ngcodec.decodeCompressedSegmentation(good, B8, "float32", B8), "NGC_ERR_BAD_PARAMS", {
    message: `${WHAT}: invalid parameters: dtype float32 is not supported (use one of uint32, uint64) ` +
      "[NGC_ERR_BAD_PARAMS]",
  });
});

test("a buf or array that is not an ArrayBuffer or a view -> TypeError", async () => {
  const notBytes = [[1, 2, 3], "abc", null, undefined, 42, { byteLength: 4 }];
  for (const value of notBytes) {
    for (const call of [
      () => ngcodec.decodeRaw(value, [3, 1, 1], "uint8"),
      () => ngcodec.encodeRaw(value, { chunkSize: [3, 1, 1], dtype: "uint8" }),
      () => ngcodec.decodeCompressedSegmentation(value, B8, "uint32", B8),
      () => ngcodec.encodeCompressedSegmentation(value, B8, { chunkSize: B8, dtype: "uint32" }),
    ]) {
      await assert.rejects(call(), (err) => {
        assert.ok(err instanceof TypeError && !(err instanceof NgcodecError), String(err));
        assert.match(err.message, /must be an ArrayBuffer or an ArrayBufferView/);
        return true;
      });
    }
  }
});

test("options that are not an object, or unknown options -> TypeError", async () => {
  const good = words(1, 2, 3, 42);
  for (const call of [
    () => ngcodec.decodeCompressedSegmentation(good, B8, "uint32", B8, 2), // the old numChannels slot
    () => ngcodec.decodeCompressedSegmentation(good, B8, "uint32", B8, null),
    () => ngcodec.decodeCompressedSegmentation(good, B8, "uint32", B8, { channels: 1 }),
    () => ngcodec.decodeRaw(new Uint8Array(1), [1, 1, 1], "uint8", { dataType: "uint8" }),
    () => ngcodec.encodeRaw(new Uint8Array(1), [1, 1, 1]),
    () => ngcodec.encodeCompressedSegmentation(new Uint32Array(512), B8, { chunkSize: B8, blockSize: B8 }),
  ]) {
    await assert.rejects(call(), (err) => err instanceof TypeError && !(err instanceof NgcodecError));
  }
});

test("a huge geometry fails cleanly: NGC_ERR_TOO_LARGE with its size", async () => {
  const call = ngcodec.decodeCompressedSegmentation(words(1, 2, 3, 42), [65536, 65536, 2], "uint64", B8);
  await rejectsWith(call, "NGC_ERR_TOO_LARGE", {
    message: `${WHAT}: the chunk exceeds the 4 GiB wasm32 address space (68,719,476,736 bytes) ` +
      "[NGC_ERR_TOO_LARGE]",
  });
  // Just past the bound: 2**32 bytes.
  await rejectsWith(ngcodec.decodeRaw(new Uint8Array(1), [1024, 1024, 1024], "uint32"), "NGC_ERR_TOO_LARGE", {
    message: "raw decode: the chunk exceeds the 4 GiB wasm32 address space (4,294,967,296 bytes) " +
      "[NGC_ERR_TOO_LARGE]",
  });
});

test("failing calls free their buffers (no leak across many errors)", async () => {
  // Each call mallocs 4 MiB in and 4 MiB out; leaked, 600 calls would pass
  // the 4 GiB ceiling and turn into NGC_ERR_NO_MEMORY.
  const src = new Uint8Array(4 * 1024 * 1024 + 4);
  for (let i = 0; i < 600; i++) {
    await rejectsWith(
      ngcodec.decodeCompressedSegmentation(src.subarray(1), [1024, 1024, 1], "uint32", B8),
      "NGC_ERR_UNALIGNED",
    );
  }
});

test("the module still works after all the errors", async () => {
  const input = labels("uint64", 20 * 20 * 20, 30, 9);
  const encoded = await ngcodec.encodeCompressedSegmentation(input, [8, 8, 8], { chunkSize: [20, 20, 20] });
  assertSameArray(
    await ngcodec.decodeCompressedSegmentation(encoded, [20, 20, 20], "uint64", [8, 8, 8]),
    input,
  );
  assert.match(await ngcodec.version(), /^\d+\.\d+\.\d+$/);
});
