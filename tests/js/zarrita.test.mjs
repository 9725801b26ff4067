// ngcodec.js's zarr v3 codec for zarrita.js (zarritaCodec, registerZarrita):
// its configuration and metadata checks, chunk round trips, and arrays
// written and read through zarrita (an in-memory store) with the codec
// alone and followed by zstd.
// Arrays written by zarr-python are read in tests/test_zarr_js.py
// (tests/js/zarr_read.mjs, and in Chromium).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as zarr from "zarrita";
import {
  ngcodec, labels as makeLabels, rejectsWith, assertSameArray, InvalidFormatError, InvalidParameterError,
} from "./helpers.mjs";

const { zarritaCodec, registerZarrita } = ngcodec;
const cs = ngcodec.compressedSegmentation;
const NAME = "ngcodec.compressed_segmentation";

registerZarrita(zarr.registry);

test("registerZarrita adds the codec under its name and returns the registry", async () => {
  const registry = new Map();
  assert.equal(registerZarrita(registry), registry);
  assert.deepEqual([...registry.keys()], [NAME]);
  assert.equal(await registry.get(NAME)(), zarritaCodec);
  assert.equal(zarritaCodec.codecName, NAME);
  assert.equal(zarritaCodec.kind, "array_to_bytes");
  assert.equal(await zarr.registry.get(NAME)(), zarritaCodec);
  for (const bad of [null, undefined, {}, [], "registry"]) assert.throws(() => registerZarrita(bad), TypeError);
});

test("fromConfig: the chunk's geometry; bad configurations and metadata are InvalidParameterError", () => {
  const meta = { dataType: "uint64", shape: [4, 6, 8], codecs: [], fillValue: 0n };
  const codec = zarritaCodec.fromConfig({ block_shape: [2, 3, 4] }, meta);
  assert.ok(codec instanceof zarritaCodec);
  assert.equal(codec.kind, "array_to_bytes");
  assert.deepEqual(codec.blockShape, [2, 3, 4]);
  for (const config of [undefined, null, {}]) assert.deepEqual(zarritaCodec.fromConfig(config, meta).blockShape, [8, 8, 8]);
  const bad = (config, m, text) => assert.throws(() => zarritaCodec.fromConfig(config, m), (e) =>
    e instanceof InvalidParameterError && e.statusName === "NGC_ERR_BAD_PARAMS" &&
    e.message.startsWith(`zarr codec ${NAME}: invalid parameters: `) && e.message.includes(text), text);
  bad({ block_shape: [8, 8] }, meta, "block_shape must be 3 positive integers (z, y, x), got [8,8]");
  bad({ block_shape: [8, 0, 8] }, meta, "block_shape must be 3 positive integers");
  bad({ block_shape: [8, 1.5, 8] }, meta, "block_shape must be 3 positive integers");
  bad({ block_shape: "8" }, meta, "block_shape must be 3 positive integers");
  bad({ block_shape: [8, 8, 8], level: 3, a: 1 }, meta, "unknown configuration keys ['a', 'level']");
  bad([8, 8, 8], meta, "configuration must be an object");
  bad({}, { ...meta, dataType: "int32" }, "dtype int32 is not supported");
  bad({}, { ...meta, dataType: "float32" }, "(compressed_segmentation holds uint32 or uint64 labels)");
  bad({}, { ...meta, shape: [4, 4] }, "expected 3 axes (z, y, x) or 4 (c, z, y, x), got 2 (shape (4, 4))");
  bad({}, { ...meta, shape: [1, 2, 4, 4, 4] }, "got 5");
});

// One chunk through the codec, against decodeCompressedSegmentation.
for (const [dtype, shape, blockShape] of [
  ["uint64", [5, 6, 7], [2, 4, 8]],
  ["uint32", [3, 5, 6, 7], [4, 4, 2]],
  ["uint32", [1, 8, 8, 8], [8, 8, 8]],
]) {
  test(`a ${dtype} chunk of shape ${shape}: encode, decode, C-order chunk`, async () => {
    const codec = zarritaCodec.fromConfig({ block_shape: blockShape }, { dataType: dtype, shape, codecs: [] });
    const n = shape.reduce((a, b) => a * b, 1);
    const data = makeLabels(dtype, n, 20, n);
    const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const bytes = await codec.encode({ data, shape, stride });
    const [z, y, x] = shape.slice(-3);
    const channels = shape.length === 4 ? shape[0] : 1;
    const [bz, by, bx] = blockShape;
    // The bytes are exactly the Neuroglancer chunk of (x, y, z), block (bx, by, bz).
    assert.deepEqual(bytes, await cs.encode(data, [bx, by, bz], { chunkSize: [x, y, z], numChannels: channels }));
    const chunk = await codec.decode(bytes);
    assertSameArray(chunk.data, data);
    assert.deepEqual(chunk.shape, shape);
    assert.deepEqual(chunk.stride, stride);
    // A view at an odd offset decodes too (stores hand out views).
    const padded = new Uint8Array(bytes.length + 3);
    padded.set(bytes, 3);
    assertSameArray((await codec.decode(padded.subarray(3))).data, data);
    // Damaged bytes reject as decodeCompressedSegmentation rejects them.
    const bad = bytes.subarray(0, bytes.length - 4);
    const want = await cs.decode(bad, [x, y, z], dtype, [bx, by, bz], { numChannels: channels }).catch((e) => e);
    assert.ok(want instanceof InvalidFormatError, String(want));
    await rejectsWith(codec.decode(bad), want.statusName, { message: want.message });
    await rejectsWith(codec.decode(new Uint8Array(2)), "NGC_ERR_UNALIGNED");
    await assert.rejects(codec.encode({ data, shape: [...shape].reverse(), stride }), InvalidParameterError);
    await assert.rejects(codec.encode({ data, shape, stride: [...stride].reverse() }), InvalidParameterError);
  });
}

// zarrita.create + set + get on an in-memory store.
async function roundTrip({ dtype, shape, chunkShape, codecs, fillValue }) {
  const store = new Map();
  const arr = await zarr.create(zarr.root(store).resolve("a"), {
    shape, chunkShape, dtype, codecs, fillValue,
  });
  const n = shape.reduce((a, b) => a * b, 1);
  const data = makeLabels(dtype, n, 40, n + shape.length);
  const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  await zarr.set(arr, null, { data, shape, stride });
  const opened = await zarr.open.v3(zarr.root(store).resolve("a"), { kind: "array" });
  const got = await zarr.get(opened);
  assertSameArray(got.data, data);
  assert.deepEqual(got.shape, shape);
  return { store, opened, data, stride };
}

test("zarrita writes and reads arrays with the codec: edge chunks, channels, a box", async () => {
  const codec = { name: NAME, configuration: { block_shape: [2, 4, 8] } };
  const { opened, data, stride } = await roundTrip({
    dtype: "uint64", shape: [9, 13, 21], chunkShape: [4, 8, 16], codecs: [codec], fillValue: 0,
  });
  const box = await zarr.get(opened, [zarr.slice(3, 8), 5, zarr.slice(2, 19, 3)]);
  const want = [];
  for (let k = 3; k < 8; k++) for (let i = 2; i < 19; i += 3) want.push(data[k * stride[0] + 5 * stride[1] + i]);
  assertSameArray(box.data, BigUint64Array.from(want));
  await roundTrip({
    dtype: "uint32", shape: [2, 5, 7, 9], chunkShape: [1, 4, 4, 4], codecs: [{ name: NAME }], fillValue: 0,
  });
});

// zarrita 0.7 cannot write sharded arrays (set: "UnsupportedError: set on
// sharded arrays"), so sharding_indexed is read from zarr-python's arrays in
// tests/test_zarr_js.py only.
test("zarrita: the codec followed by zstd", async () => {
  await roundTrip({
    dtype: "uint64", shape: [6, 7, 8], chunkShape: [3, 7, 8], fillValue: 0,
    codecs: [{ name: NAME, configuration: { block_shape: [1, 8, 8] } }, { name: "zstd", configuration: { level: 1 } }],
  });
});

test("through zarrita, a damaged chunk is InvalidFormatError (the cause of zarrita's error)", async () => {
  const codec = { name: NAME, configuration: { block_shape: [2, 2, 2] } };
  const { store } = await roundTrip({ dtype: "uint32", shape: [4, 4, 4], chunkShape: [4, 4, 4], codecs: [codec], fillValue: 0 });
  const key = "/a/c/0/0/0";
  assert.ok(store.has(key), [...store.keys()].join());
  store.set(key, store.get(key).subarray(0, 6));
  const arr = await zarr.open.v3(zarr.root(store).resolve("a"), { kind: "array" });
  const error = await zarr.get(arr).catch((e) => e);
  assert.ok(error instanceof Error, String(error));
  let cause = error;
  while (cause && !(cause instanceof InvalidFormatError)) cause = cause.cause;
  assert.ok(cause, `no InvalidFormatError in ${error.stack}`);
  assert.equal(cause.statusName, "NGC_ERR_UNALIGNED");
  // A bad block_shape in zarr.json fails when zarrita builds the chain (at
  // the first chunk it decodes).
  const badStore = new Map([["/b/c/0/0/0", store.get("/a/c/0/0/0")]]);
  const bad = await zarr.create(zarr.root(badStore).resolve("b"), {
    shape: [4, 4, 4], chunkShape: [4, 4, 4], dtype: "uint32", fillValue: 0,
    codecs: [{ name: NAME, configuration: { block_shape: [0, 2, 2] } }],
  });
  const refused = await zarr.get(bad).catch((e) => e);
  cause = refused;
  while (cause && !(cause instanceof InvalidParameterError)) cause = cause.cause;
  assert.ok(cause, `no InvalidParameterError in ${refused?.stack ?? refused}`);
});

test("ngcodec.js imports nothing (zarrita is the caller's)", async () => {
  const { readFile } = await import("node:fs/promises");
  const source = await readFile(new URL("../../pyhost/ngcodec/web/ngcodec.js", import.meta.url), "utf8");
  assert.doesNotMatch(source, /^\s*import\s/m);
  assert.doesNotMatch(source, /import\(\s*(\/\*.*?\*\/\s*)?["'](?!node:)/);
});
