// The questions of ngcodec.js's compressedSegmentation namespace (labels,
// counts, contains, mask, readBox, readVoxel, readVoxels, remap), answered on compressed
// chunks, checked against the answers read from the decoded array:
//
// - chunks made here (ngcodec's encoder): both label widths, several
//   channels, anisotropic blocks with partial edge blocks, blocks larger
//   than the chunk, more labels than the first counts buffer holds;
// - damaged chunks: every question that reads the whole chunk refuses what
//   decode refuses, with decode's status and place;
// - bad arguments: InvalidParameterError or TypeError as ngcodec.d.ts says;
// - with $NGCODEC_JS_OPS_FIXTURES (written by tests/test_js_ops.py): chunks
//   of the compressed-segmentation package and of the Python host, the
//   answers NumPy read from their arrays, and Python's outcome on damaged
//   chunks. Answers go to results/ for test_js_ops.py to compare with
//   Python's. Without the variable (tests/test_js.py runs every file) those
//   tests are not registered: test_js_ops.py is their runner.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  ngcodec, labels as makeLabels, words, rng, rejectsWith, assertSameArray,
  NgcodecError, InvalidFormatError, InvalidParameterError,
} from "./helpers.mjs";

const cs = ngcodec.compressedSegmentation;
const OPS_FIXTURES = process.env.NGCODEC_JS_OPS_FIXTURES || null;

// ---------------------------------------------------------------------------
// Answers read from a decoded (C, Z, Y, X) array

const big = (v) => BigInt(v);
const voxelsOf = ([x, y, z]) => x * y * z;

function channelOf(values, c, size) {
  const n = voxelsOf(size);
  return values.subarray(c * n, (c + 1) * n);
}

function refCounts(values, size, channels) {
  return Array.from({ length: channels }, (_, c) => {
    const counts = new Map();
    for (const v of channelOf(values, c, size)) counts.set(v, (counts.get(v) ?? 0n) + 1n);
    const labels = new values.constructor([...counts.keys()]).sort();
    return { labels, counts: BigUint64Array.from(labels, (l) => counts.get(l)) };
  });
}

// The set as the chunk's label type; labels it cannot hold are left out.
function inType(set, values) {
  const top = values instanceof BigUint64Array ? 2n ** 64n - 1n : 2n ** 32n - 1n;
  const kept = [...set].map(big).filter((v) => v >= 0n && v <= top);
  return new Set(values instanceof BigUint64Array ? kept : kept.map(Number));
}

function refContains(values, size, channels, set) {
  const wanted = inType(set, values);
  return Array.from({ length: channels }, (_, c) => channelOf(values, c, size).some((v) => wanted.has(v)));
}

function refMask(values, set) {
  const wanted = inType(set, values);
  return Uint8Array.from(values, (v) => (wanted.has(v) ? 1 : 0));
}

function refBox(values, [x, y, z], channels, [lo, hi]) {
  const out = [];
  for (let c = 0; c < channels; c++) {
    for (let k = lo[2]; k < hi[2]; k++) {
      for (let j = lo[1]; j < hi[1]; j++) {
        for (let i = lo[0]; i < hi[0]; i++) out.push(values[((c * z + k) * y + j) * x + i]);
      }
    }
  }
  return new values.constructor(out);
}

// The mapped array, or null with the set of labels the mapping lacks.
function refRemap(values, mapping, preserve) {
  const missing = new Set(values.filter((v) => !mapping.has(v)));
  if (missing.size && !preserve) return { mapped: null, missing };
  return { mapped: values.map((v) => (mapping.has(v) ? mapping.get(v) : v)), missing };
}

// ---------------------------------------------------------------------------
// Chunks made here

// Every voxel drawn at random from `distinct` labels: wide blocks, many labels.
// Labels are distinct (i in the high bits), uint64 ones past 2**53.
function noise(dtype, count, distinct, seed) {
  const rand = rng(seed);
  const palette = Array.from({ length: distinct }, (_, i) =>
    dtype === "uint64" ? (BigInt(i) << 40n) | BigInt(Math.floor(rand() * 2 ** 32)) : (i * 65537 + 3) >>> 0);
  const out = dtype === "uint64" ? new BigUint64Array(count) : new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = palette[Math.floor(rand() * distinct)];
  return out;
}

const MADE = [
  // [name, dtype, chunkSize, blockSize, numChannels, values(count)]
  ["uint32 37x19x11 block 4x8x2", "uint32", [37, 19, 11], [4, 8, 2], 1, (n) => makeLabels("uint32", n, 300, 1)],
  ["uint64 3ch 20x13x7 block 4x8x2", "uint64", [20, 13, 7], [4, 8, 2], 3, (n) => makeLabels("uint64", n, 50, 2)],
  ["uint32 2ch 9x7x5 block 2x2x2", "uint32", [9, 7, 5], [2, 2, 2], 2, (n) => makeLabels("uint32", n, 5, 3)],
  ["uint64 7x6x5 block 8x8x8 (larger than the chunk)", "uint64", [7, 6, 5], [8, 8, 8], 1,
    (n) => makeLabels("uint64", n, 4, 4)],
  // About 20000 labels: more than the 4096 pairs the counts call first has room for.
  ["uint64 noise 40x40x20 block 8x8x8", "uint64", [40, 40, 20], [8, 8, 8], 1, (n) => noise("uint64", n, 50000, 5)],
  ["uint32 noise 2ch 30x17x9 block 16x4x8", "uint32", [30, 17, 9], [16, 4, 8], 2, (n) => noise("uint32", n, 3000, 6)],
];

async function made([, dtype, chunkSize, blockSize, numChannels, generate]) {
  const values = generate(voxelsOf(chunkSize) * numChannels);
  if (numChannels > 1) {
    // A label that only the last channel holds, on a few voxels.
    const start = values.length - voxelsOf(chunkSize) + 5;
    values.fill(dtype === "uint64" ? 0xabcdef0123456789n : 0x7abcdef1, start, start + 3);
  }
  const chunk = await cs.encode(values, blockSize, { chunkSize, numChannels });
  const args = [chunk, chunkSize, dtype, blockSize];
  // The reference answers are read from `values`: make sure the chunk holds them.
  assertSameArray(await cs.decode(...args, { numChannels }), values, "decoded");
  return { values, args, chunkSize, blockSize, numChannels, dtype };
}

// A box that starts and ends inside blocks, from a seeded PRNG.
function randomBox(rand, size) {
  const lo = size.map((s) => Math.floor(rand() * s));
  const hi = lo.map((l, i) => l + 1 + Math.floor(rand() * (size[i] - l)));
  return [lo, hi];
}

for (const spec of MADE) {
  test(`questions on ${spec[0]}: the answers of the decoded array`, async () => {
    const { values, args, chunkSize, numChannels, dtype } = await made(spec);
    const rand = rng(42);
    const o = { numChannels };
    const want = refCounts(values, chunkSize, numChannels);
    const gotCounts = await cs.counts(...args, o);
    const gotLabels = await cs.labels(...args, o);
    assert.equal(gotCounts.length, numChannels);
    for (let c = 0; c < numChannels; c++) {
      assertSameArray(gotLabels[c], want[c].labels, `labels of channel ${c}`);
      assertSameArray(gotCounts[c].labels, want[c].labels, `counts labels of channel ${c}`);
      assertSameArray(gotCounts[c].counts, want[c].counts, `counts of channel ${c}`);
    }
    if (spec[0].includes("noise 40x40x20")) assert.ok(want[0].labels.length > 4096, "enough labels to retry");

    const all = refCounts(values, [values.length, 1, 1], 1)[0].labels;
    const pick = () => all[Math.floor(rand() * all.length)];
    const absent = dtype === "uint64" ? 0xfedcba9876543210n : 0xfedcba98;
    assert.ok(!all.includes(absent));
    const sets = [[pick()], [absent], [absent, pick()], [], new Set([pick(), pick()]),
      [2n ** 64n - 1n, 2n ** 32n + BigInt(pick())], BigUint64Array.from([pick(), absent].map(big))];
    if (numChannels > 1) {
      // A label of the last channel only: `any` must look past channel 0.
      const first = new Set(want[0].labels);
      const onlyLast = want.at(-1).labels.filter((l) => !first.has(l));
      assert.ok(onlyLast.length > 0, "a label only in the last channel");
      sets.push(onlyLast.slice(0, 1));
    }
    for (const set of sets) {
      const perChannel = refContains(values, chunkSize, numChannels, set);
      assert.deepEqual(await cs.contains(...args, set, { numChannels, perChannel: true }), perChannel, `${[...set]}`);
      assert.equal(await cs.contains(...args, set, o), perChannel.some(Boolean), `${[...set]}`);
      assertSameArray(await cs.mask(...args, set, o), refMask(values, set), `mask of ${[...set]}`);
    }
    // One label, as a number and as a bigint.
    const one = pick();
    if (big(one) <= BigInt(Number.MAX_SAFE_INTEGER)) assert.equal(await cs.contains(...args, Number(one), o), true);
    assert.equal(await cs.contains(...args, big(one), o), true);

    const [x, y, z] = chunkSize;
    const boxes = [[[0, 0, 0], [x, y, z]], [[1, 1, 1], [1, 1, 1]], [[x - 1, y - 1, z - 1], [x, y, z]]];
    for (let i = 0; i < 8; i++) boxes.push(randomBox(rand, chunkSize));
    for (const box of boxes) {
      assertSameArray(await cs.readBox(...args, box, o), refBox(values, chunkSize, numChannels, box),
        `box ${JSON.stringify(box)}`);
    }
    for (let i = 0; i < 12; i++) {
      const p = chunkSize.map((s) => Math.floor(rand() * s));
      const channel = Math.floor(rand() * numChannels);
      const want1 = values[((channel * z + p[2]) * y + p[1]) * x + p[0]];
      assert.equal(await cs.readVoxel(...args, p, { numChannels, channel }), want1, `voxel ${p} channel ${channel}`);
    }
    // Many voxels in one call: random ones, a block's corners, the chunk's
    // last voxel; as triples and as a flat Uint32Array, every channel.
    const points = [[0, 0, 0], [x - 1, y - 1, z - 1]];
    for (let i = 0; i < 300; i++) points.push(chunkSize.map((s) => Math.floor(rand() * s)));
    points.push(...points.slice(0, 20).reverse()); // repeats, and blocks met again later
    for (let channel = 0; channel < numChannels; channel++) {
      const want = new values.constructor(points.map(([i, j, k]) => values[((channel * z + k) * y + j) * x + i]));
      const o1 = { numChannels, channel };
      assertSameArray(await cs.readVoxels(...args, points, o1), want, `voxels of channel ${channel}`);
      assertSameArray(await cs.readVoxels(...args, Uint32Array.from(points.flat()), o1), want,
        `flat voxels of channel ${channel}`);
      assertSameArray(await cs.readVoxels(...args, points.flat(), o1), want, `flat array, channel ${channel}`);
    }
    assertSameArray(await cs.readVoxels(...args, [], o), new values.constructor(0), "no positions");
    assertSameArray(await cs.readVoxels(...args, new Uint32Array(0), o), new values.constructor(0));

    // Remap: every label (as a Map, some merged), half of them, and a pair of arrays.
    const full = new Map(Array.from(all, (l, i) => [l, i % 3 ? all[(i * 7) % all.length] : all[0]]));
    const half = new Map([...full].filter((_, i) => i % 2));
    const cases = [[full, false], [half, true], [half, false], [new Map(), true]];
    for (const [mapping, preserve] of cases) {
      const { mapped, missing } = refRemap(values, mapping, preserve);
      const run = cs.remap(...args, mapping, { numChannels, preserveMissingLabels: preserve });
      if (mapped === null) {
        await rejectsWith(run, "NGC_ERR_NOT_MAPPED");
        await run.catch((e) => assert.ok(missing.has(e.label), `${e.label} is not a missing label`));
        continue;
      }
      const chunk = await run;
      assert.ok(chunk instanceof Uint8Array);
      assert.equal(chunk.byteLength, args[0].byteLength, "tables rewritten in place: same size");
      assertSameArray(await cs.decode(chunk, ...args.slice(1), o), mapped, `remapped (${mapping.size} keys)`);
    }
    // [keys, values] pairs, unsorted, of typed arrays or plain arrays.
    const keys = Array.from(all).reverse();
    const pair = [dtype === "uint64" ? BigUint64Array.from(keys) : Uint32Array.from(keys), keys.map(() => 9)];
    const merged = await cs.remap(...args, pair, o);
    assertSameArray(await cs.decode(merged, ...args.slice(1), o), values.map(() => (dtype === "uint64" ? 9n : 9)));
  });
}

test("an empty chunk: no labels, nothing contained, empty boxes", async () => {
  const chunkSize = [0, 4, 4];
  const chunk = await cs.encode(new Uint32Array(0), [8, 8, 8], { chunkSize });
  const args = [chunk, chunkSize, "uint32", [8, 8, 8]];
  assert.deepEqual(await cs.labels(...args), [new Uint32Array(0)]);
  assert.deepEqual(await cs.counts(...args), [{ labels: new Uint32Array(0), counts: new BigUint64Array(0) }]);
  assert.equal(await cs.contains(...args, 0), false);
  assert.deepEqual(await cs.mask(...args, 0), new Uint8Array(0));
  assert.deepEqual(await cs.readBox(...args, [[0, 0, 0], [0, 4, 4]]), new Uint32Array(0));
  await rejectsWith(cs.readVoxel(...args, [0, 0, 0]), "NGC_ERR_BAD_PARAMS");
  assert.deepEqual(await cs.readVoxels(...args, []), new Uint32Array(0));
  await rejectsWith(cs.readVoxels(...args, [[0, 0, 0]]), "NGC_ERR_BAD_PARAMS");
});

test("readVoxels: positions of every form, in their order, bigints and other typed arrays", async () => {
  const values = BigUint64Array.from({ length: 4 * 3 * 2 }, (_, i) => 2n ** 60n + BigInt(i * i));
  const chunkSize = [4, 3, 2];
  const chunk = await cs.encode(values, [2, 2, 2], { chunkSize });
  const args = [chunk, chunkSize, "uint64", [2, 2, 2]];
  const at = ([i, j, k]) => values[(k * 3 + j) * 4 + i];
  const points = [[3, 2, 1], [0, 0, 0], [1, 2, 0], [3, 2, 1]];
  const want = BigUint64Array.from(points, at);
  for (const form of [points, points.flat(), Uint32Array.from(points.flat()), Int32Array.from(points.flat()),
    BigUint64Array.from(points.flat(), BigInt), points.map((p) => p.map(BigInt)), points.map((p) => Uint16Array.from(p)),
    Uint8Array.from(points.flat())]) {
    assertSameArray(await cs.readVoxels(...args, form), want, `${form.constructor.name} ${String(form)}`);
  }
  assert.equal(await cs.readVoxel(...args, [3, 2, 1]), at([3, 2, 1]));
  assert.equal(await cs.readVoxel(...args, Uint32Array.from([1, 2, 0])), at([1, 2, 0]));
  // Every voxel of the chunk at once.
  const every = [];
  for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 4; i++) every.push(i, j, k);
  assertSameArray(await cs.readVoxels(...args, every), values);
});

test("readBox fills `out` and returns it; out of the wrong type or length is refused", async () => {
  const { values, args, numChannels, chunkSize } = await made(MADE[1]);
  const box = [[3, 2, 1], [11, 13, 6]];
  const want = refBox(values, chunkSize, numChannels, box);
  const out = new BigUint64Array(want.length + 2).subarray(1, 1 + want.length);
  assert.equal(await cs.readBox(...args, box, { numChannels, out }), out);
  assertSameArray(out, want);
  for (const bad of [new BigUint64Array(want.length - 1), new Uint32Array(want.length), [...want]]) {
    await rejectsWith(cs.readBox(...args, box, { numChannels, out: bad }), "NGC_ERR_BAD_PARAMS");
  }
});

test("the namespace: frozen, decode and encode are the functions of the same name", () => {
  assert.ok(Object.isFrozen(cs));
  assert.equal(cs.decode, ngcodec.decodeCompressedSegmentation);
  assert.equal(cs.encode, ngcodec.encodeCompressedSegmentation);
  assert.deepEqual(Object.keys(cs).sort(),
    ["contains", "counts", "decode", "encode", "labels", "mask", "readBox", "readVoxel", "readVoxels", "remap"]);
});

test("remap of a chunk whose table overlaps its header: decode, map, encode", async () => {
  // One 0-bit block whose table is its own header's second word (2): every
  // voxel is 2, and rewriting the table in place would change the header.
  const chunk = words(1, 1, 2);
  const args = [chunk, [2, 2, 2], "uint32", [2, 2, 2]];
  assertSameArray(await cs.decode(...args), new Uint32Array(8).fill(2));
  const out = await cs.remap(...args, new Map([[2, 7]]));
  assertSameArray(await cs.decode(out, ...args.slice(1)), new Uint32Array(8).fill(7));
  const kept = await cs.remap(...args, new Map([[5, 7]]), { preserveMissingLabels: true });
  assertSameArray(await cs.decode(kept, ...args.slice(1)), new Uint32Array(8).fill(2));
  await rejectsWith(cs.remap(...args, new Map([[5, 7]])), "NGC_ERR_NOT_MAPPED", { label: 2 });
  assert.deepEqual(chunk, words(1, 1, 2), "the input is not changed");
});

test("remap never changes its input; a uint64 NOT_MAPPED label is a bigint", async () => {
  const values = BigUint64Array.from([1n, 2n ** 63n + 5n, 1n, 1n, 7n, 7n, 7n, 1n]);
  const chunk = await cs.encode(values, [2, 2, 2], { chunkSize: [2, 2, 2] });
  const copy = chunk.slice();
  const args = [chunk, [2, 2, 2], "uint64", [2, 2, 2]];
  await rejectsWith(cs.remap(...args, new Map([[1n, 2n], [7n, 3n]])), "NGC_ERR_NOT_MAPPED", {
    label: 2n ** 63n + 5n,
    message: "compressed_segmentation remap: a voxel holds a label that the mapping does not map: " +
      `label ${2n ** 63n + 5n} (pass preserveMissingLabels: true to keep labels the mapping lacks) ` +
      "[NGC_ERR_NOT_MAPPED]",
  });
  const out = await cs.remap(...args, [[1, 7n, 1], [2n, 3, 2]], { preserveMissingLabels: true });
  assertSameArray(await cs.decode(out, ...args.slice(1)),
    BigUint64Array.from([2n, 2n ** 63n + 5n, 2n, 2n, 3n, 3n, 3n, 2n]));
  assert.deepEqual(chunk, copy);
});

// ---------------------------------------------------------------------------
// Damaged chunks

// Each question on a chunk, as test_js_ops.py's python_questions asks it.
function questions(buf, chunkSize, dtype, blockSize, numChannels) {
  const args = [buf, chunkSize, dtype, blockSize];
  const o = { numChannels };
  return {
    labels: async () => (await cs.labels(...args, o)).map((a) => Array.from(a, String)),
    counts: async () => (await cs.counts(...args, o)).map((c) => [Array.from(c.labels, String), Array.from(c.counts, String)]),
    contains: () => cs.contains(...args, [0, 1], o),
    mask: async () => (await cs.mask(...args, [0], o)).reduce((a, b) => a + b, 0),
    readBox: async () => Array.from((await cs.readBox(...args, [[0, 0, 0], chunkSize], o)).subarray(0, 16), String),
    readVoxel: async () => String(await cs.readVoxel(...args, [0, 0, 0], o)),
    readVoxels: async () => Array.from(await cs.readVoxels(...args,
      [[0, 0, 0], chunkSize.map((s) => s - 1), chunkSize.map((s) => s >> 1)],
      { numChannels, channel: numChannels - 1 }), String),
    remap: async () => (await cs.remap(...args, [[], []], { numChannels, preserveMissingLabels: true })).length,
  };
}
// The questions that read the whole chunk: they refuse what decode refuses.
const REFUSING = ["labels", "counts", "contains", "mask", "readBox", "remap"];
const WHAT = {
  labels: "labels", counts: "counts", contains: "contains", mask: "mask", readBox: "read_box",
  readVoxel: "read_voxel", readVoxels: "read_voxels", remap: "remap",
};

async function outcome(run) {
  try {
    return { value: await run() };
  } catch (e) {
    assert.ok(e instanceof NgcodecError, `not an NgcodecError: ${e?.stack ?? e}`);
    return {
      error: {
        class: e.name, status: e.status, statusName: e.statusName, channel: e.channel,
        block: e.block, message: e.message,
      },
    };
  }
}

// Damage: truncations, and header bytes changed (seeded).
function damaged(chunk, seed) {
  const out = [];
  for (const n of [0, 2, 4, 8, chunk.length >> 1, (chunk.length >> 1) + 1, chunk.length - 4, chunk.length - 1]) {
    out.push([`truncated to ${n}`, chunk.slice(0, n)]);
  }
  const rand = rng(seed);
  const first = new DataView(chunk.buffer, chunk.byteOffset).getUint32(0, true);
  for (let i = 0; i < 24; i++) {
    const copy = chunk.slice();
    const at = Math.floor(rand() * Math.min(copy.length, 4 * (first + 16)));
    copy[at] ^= 1 + Math.floor(rand() * 255);
    out.push([`byte ${at} changed`, copy]);
  }
  const bits = chunk.slice();
  bits[4 * first + 3] = 3; // channel 0, block 0: 3 bits
  out.push(["bits 3", bits]);
  return out;
}

test("damaged chunks: each question that reads the whole chunk refuses as decode does", async () => {
  let refused = 0;
  for (const spec of [MADE[0], MADE[1], MADE[2]]) {
    const { args, numChannels } = await made(spec);
    const [chunk, chunkSize, dtype, blockSize] = args;
    for (const [damage, bad] of damaged(chunk, refused + 1)) {
      const decoded = await outcome(() => cs.decode(bad, chunkSize, dtype, blockSize, { numChannels }));
      if (!decoded.error) continue; // still a valid chunk
      refused++;
      assert.equal(decoded.error.class, "InvalidFormatError", `${spec[0]}, ${damage}`);
      const runs = questions(bad, chunkSize, dtype, blockSize, numChannels);
      for (const name of REFUSING) {
        const got = await outcome(runs[name]);
        const where = `${spec[0]}, ${damage}: ${name}`;
        assert.ok(got.error, `${where} answered ${JSON.stringify(got.value)}`);
        const what = `compressed_segmentation ${WHAT[name]}`;
        assert.deepEqual(got.error, {
          ...decoded.error,
          message: decoded.error.message.replace("compressed_segmentation decode", what),
        }, where);
      }
    }
  }
  assert.ok(refused >= 20, `only ${refused} damaged chunks were refused`);
  // The module still answers after all that.
  const { values, args } = await made(MADE[3]);
  assertSameArray((await cs.labels(...args))[0], refCounts(values, args[1], 1)[0].labels);
});

// ---------------------------------------------------------------------------
// Bad arguments

test("bad arguments: InvalidParameterError naming the argument", async () => {
  const chunk = await cs.encode(new Uint32Array([1, 2, 3, 4, 5, 6, 7, 8]), [2, 2, 2], { chunkSize: [2, 2, 2] });
  const a = [chunk, [2, 2, 2], "uint32", [2, 2, 2]];
  const bad = (run, text) => rejectsWith(run, "NGC_ERR_BAD_PARAMS").then(() =>
    run.catch((e) => assert.ok(e.message.includes(text), `${e.message} lacks ${text}`)));
  for (const label of [1.5, "1", null, undefined, {}, [1, 2.5], NaN, [[1]], Infinity, true]) {
    await bad(cs.contains(...a, label), "labels must be integers");
    await bad(cs.mask(...a, label), "labels must be integers");
  }
  await bad(cs.contains(...a, [3, -2, -7n]), "labels must be non-negative, got -7");
  await bad(cs.mask(...a, -1), "labels must be non-negative, got -1");
  await bad(cs.contains(...a, 1, { perChannel: "yes" }), "perChannel must be true or false");
  await bad(cs.remap(...a, new Map(), { preserveMissingLabels: 1 }), "preserveMissingLabels must be true or false");
  for (const box of [5, null, [[0, 0, 0]], [[0, 0, 0], [1, 1, 1], [2, 2, 2]], "[[0,0,0],[1,1,1]]"]) {
    await bad(cs.readBox(...a, box), "box must be ((x0, y0, z0), (x1, y1, z1))");
  }
  await bad(cs.readBox(...a, [[0, 0, 0], [1, 1.5, 1]]), "box upper corner must be 3 integers");
  await bad(cs.readBox(...a, [[0, 0, 0], [1, 1, 3]]), "is not inside the chunk (0, 0, 0)..(2, 2, 2)");
  await bad(cs.readBox(...a, [[2, 0, 0], [1, 1, 1]]), "box (2, 0, 0)..(1, 1, 1) is not inside");
  for (const channel of [1, -1, 0.5, "0", null, 1n]) {
    await bad(cs.readVoxel(...a, [0, 0, 0], { channel }), "channel must be in [0, 1)");
  }
  await bad(cs.readVoxel(...a, [0, 0, 2]), "position (0, 0, 2) is outside the chunk (0, 0, 0)..(2, 2, 2)");
  await bad(cs.readVoxel(...a, [0, 0, 2 ** 32 - 1]), "position (0, 0, 4294967295) is outside the chunk");
  await bad(cs.readVoxel(...a, [0, 0]), "position must be 3 integers");
  await bad(cs.readVoxel(...a, [0, 0, -1]), "position must be 3 integers (x, y, z) in [0, 2**32)");
  for (const channel of [1, -1, 0.5, "0", null, 1n]) {
    await bad(cs.readVoxels(...a, [[0, 0, 0]], { channel }), "channel must be in [0, 1)");
  }
  for (const positions of [5, null, "000", [[0, 0]], [[0, 0, 0, 0]], [0, 0, 0, 0], [[0, 0, 0], 1, 2, 3],
    [[0, 0.5, 0]], [0, 0, NaN], new Float32Array(3), [[0, 0, "0"]], { length: 3 }, new DataView(new ArrayBuffer(12))]) {
    await bad(cs.readVoxels(...a, positions), "positions must be an (N, 3) array of integers (x, y, z)");
  }
  await bad(cs.readVoxels(...a, [[0, 0, 0], [1, 2, 1]]), "position (1, 2, 1) is outside the chunk (0, 0, 0)..(2, 2, 2)");
  await bad(cs.readVoxels(...a, [1, 1, 1, 0, -1, 0]), "position (0, -1, 0) is outside the chunk");
  await bad(cs.readVoxels(...a, [[0, 0, 2n ** 64n]]), "position (0, 0, 18446744073709551616) is outside");
  await bad(cs.readVoxels(...a, new Int32Array([0, 0, -3])), "position (0, 0, -3) is outside");
  for (const mapping of [{ 1: 2 }, [[1], [2], [3]], null, "1:2", new Set([1, 2])]) {
    await bad(cs.remap(...a, mapping), "mapping must be a Map or a pair [keys, values]");
  }
  await bad(cs.remap(...a, [["1"], [2]]), "mapping keys must be integers");
  await bad(cs.remap(...a, [null, [2]]), "mapping keys must be integers");
  await bad(cs.remap(...a, new Map([[1, 2.5]])), "mapping values must be integers");
  await bad(cs.remap(...a, [[1], [{}]]), "mapping values must be integers");
  // One integer on each side is a mapping of one key, as in Python.
  const single = await cs.remap(...a, [5, 50], { preserveMissingLabels: true });
  assertSameArray(await cs.decode(single, ...a.slice(1)), new Uint32Array([1, 2, 3, 4, 50, 6, 7, 8]));
  await bad(cs.remap(...a, [[1, 2], [3]]), "mapping has 2 keys but 1 values");
  await bad(cs.remap(...a, new Map([[1, 2 ** 32]])), "mapping value 4294967296 does not fit in uint32");
  await bad(cs.remap(...a, [[2n ** 64n, -1], [1, 1]]), "mapping key -1 does not fit in uint32");
  await bad(cs.remap(...a, [[1, 4, 1, 4], [2, 5, 2, 6]]), "mapping gives key 4 two values");
  // A key given twice with one value is one key.
  const once = await cs.remap(...a, [[1, 1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 0, 0, 0, 0]]);
  assertSameArray(await cs.decode(once, ...a.slice(1)), new Uint32Array(8));
  // The chunk's own arguments, as decode checks them.
  await bad(cs.labels(chunk, [2, 2, 2], "uint32", [2, 0, 2]), "block size must be 3 integers");
  await bad(cs.counts(chunk, [2, 2], "uint32", [2, 2, 2]), "chunk size must be 3 integers");
  await bad(cs.mask(chunk, [2, 2, 2], "uint16", [2, 2, 2], 1), "dtype uint16 is not supported");
  await bad(cs.readBox(...a, [[0, 0, 0], [1, 1, 1]], { numChannels: 0 }), "number of channels");
});

test("bad buffers and options: TypeError", async () => {
  const a = [[2, 2, 2], "uint32", [2, 2, 2]];
  const calls = (buf, options) => [
    cs.labels(buf, ...a, options), cs.counts(buf, ...a, options), cs.contains(buf, ...a, 1, options),
    cs.mask(buf, ...a, 1, options), cs.readBox(buf, ...a, [[0, 0, 0], [1, 1, 1]], options),
    cs.readVoxel(buf, ...a, [0, 0, 0], options), cs.readVoxels(buf, ...a, [[0, 0, 0]], options),
    cs.remap(buf, ...a, new Map(), options),
  ];
  for (const buf of [null, "abcd", [1, 0, 0, 0], 12]) {
    for (const run of calls(buf)) await assert.rejects(run, TypeError);
  }
  const chunk = words(1, 2, 3, 42);
  for (const options of [null, 5, "x", [1]]) {
    for (const run of calls(chunk, options)) await assert.rejects(run, TypeError);
  }
  for (const run of calls(chunk, { numChannel: 1 })) {
    await assert.rejects(run, (e) => e instanceof TypeError && /unknown option numChannel/.test(e.message));
  }
  // Options of one question are unknown to another.
  await assert.rejects(cs.labels(chunk, ...a, { perChannel: true }), TypeError);
  await assert.rejects(cs.mask(chunk, ...a, 1, { out: new Uint8Array(8) }), TypeError);
  await assert.rejects(cs.readVoxel(chunk, ...a, [0, 0, 0], { out: new Uint32Array(1) }), TypeError);
  await assert.rejects(cs.readVoxels(chunk, ...a, [[0, 0, 0]], { out: new Uint32Array(1) }), TypeError);
});

// ---------------------------------------------------------------------------
// Fixtures of test_js_ops.py

const manifest = OPS_FIXTURES
  ? JSON.parse(await readFile(join(OPS_FIXTURES, "manifest.json"), "utf8"))
  : { cases: [], corrupt: [] };
const RESULTS = OPS_FIXTURES ? join(OPS_FIXTURES, "results") : null;

// Fixture labels (decimal strings) as the caller would pass them: bigints,
// and numbers for every other one that a number holds exactly.
const asLabel = (s, i) => (i % 2 && BigInt(s) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(s) : BigInt(s));
const strs = (a) => Array.from(a, String);

async function typed(file, dtype) {
  const bytes = await readFile(join(OPS_FIXTURES, file));
  const copy = new Uint8Array(bytes).buffer;
  return dtype === "uint64" ? new BigUint64Array(copy) : new Uint32Array(copy);
}

if (OPS_FIXTURES) {
  test("the ops fixture manifest is not empty", () => {
    assert.ok(manifest.cases.length >= 5 && manifest.corrupt.length >= 40);
  });
}

for (const c of manifest.cases) {
  for (const [kind, file] of Object.entries(c.encodings)) {
    test(`fixture ${c.name} (${kind}): every question has the array's answer`, async () => {
      const chunk = await readFile(join(OPS_FIXTURES, file));
      const args = [chunk, c.chunkSize, c.dtype, c.blockSize];
      const o = { numChannels: c.numChannels };
      const result = { labels: null, counts: null, remapErrors: [] };

      result.labels = (await cs.labels(...args, o)).map(strs);
      assert.deepEqual(result.labels, c.labels, "labels");
      result.counts = (await cs.counts(...args, o)).map((x) => [strs(x.labels), strs(x.counts)]);
      assert.deepEqual(result.counts, c.counts, "counts");
      for (const item of c.contains) {
        const set = item.labels.map(asLabel);
        assert.equal(await cs.contains(...args, set, o), item.any, `contains ${item.labels}`);
        assert.deepEqual(await cs.contains(...args, set, { ...o, perChannel: true }), item.perChannel,
          `contains ${item.labels} per channel`);
      }
      for (const item of c.masks) {
        const got = await cs.mask(...args, item.labels.map(asLabel), o);
        const want = await readFile(join(OPS_FIXTURES, item.file));
        assert.equal(Buffer.compare(Buffer.from(got), want), 0, `mask of ${item.labels}`);
      }
      for (const item of c.boxes) {
        assertSameArray(await cs.readBox(...args, item.box, o), await typed(item.file, c.dtype),
          `box ${JSON.stringify(item.box)}`);
      }
      for (const item of c.voxels) {
        const got = await cs.readVoxel(...args, item.position, { ...o, channel: item.channel });
        assert.equal(typeof got, c.dtype === "uint64" ? "bigint" : "number");
        assert.equal(String(got), item.value, `voxel ${item.position} channel ${item.channel}`);
      }
      result.points = [];
      for (const [channel, item] of c.points.entries()) {
        // Triples for channel 0, a flat Uint32Array for the others.
        const positions = channel === 0 ? item.positions : Uint32Array.from(item.positions.flat());
        const got = strs(await cs.readVoxels(...args, positions, { ...o, channel }));
        assert.deepEqual(got, item.values, `voxels of channel ${channel}`);
        result.points.push(got);
      }
      await mkdir(RESULTS, { recursive: true });
      for (const [i, item] of c.remaps.entries()) {
        const keys = item.keys.map(asLabel);
        const values = item.values.map(asLabel);
        // A Map for every other mapping, a pair of typed arrays for the rest.
        const mapping = i % 2 === 0
          ? new Map(keys.map((k, j) => [k, values[j]]))
          : [BigUint64Array.from(keys, BigInt), c.dtype === "uint64" ? BigUint64Array.from(values, BigInt)
            : Uint32Array.from(values, Number)];
        const run = cs.remap(...args, mapping, { ...o, preserveMissingLabels: item.preserve });
        if (item.missing) {
          await rejectsWith(run, "NGC_ERR_NOT_MAPPED");
          const e = await run.catch((err) => err);
          assert.ok(item.missing.includes(String(e.label)), `${e.label} is not missing`);
          assert.equal(typeof e.label, c.dtype === "uint64" ? "bigint" : "number");
          result.remapErrors.push({ label: String(e.label), message: e.message });
          continue;
        }
        result.remapErrors.push(null);
        const out = await run;
        assertSameArray(await cs.decode(out, ...args.slice(1), o), await typed(item.file, c.dtype), `remap ${i}`);
        await writeFile(join(RESULTS, `${c.name}.${kind}.remap${i}.cseg`), out);
      }
      await writeFile(join(RESULTS, `${c.name}.${kind}.json`), JSON.stringify(result));
    });
  }
}

if (manifest.corrupt.length) {
  test("fixture damaged chunks: Python's outcome of every question", async () => {
    for (const item of manifest.corrupt) {
      const bad = await readFile(join(OPS_FIXTURES, item.file));
      const runs = questions(bad, item.chunkSize, item.dtype, item.blockSize, item.numChannels);
      for (const [name, run] of Object.entries(runs)) {
        const got = await outcome(run);
        if (REFUSING.includes(name)) {
          assert.equal(got.error?.class, "InvalidFormatError", `${item.name}: ${name}`);
        }
        assert.deepEqual(got, item.outcomes[name], `${item.name}: ${name}`);
      }
    }
    await mkdir(RESULTS, { recursive: true });
    await writeFile(join(RESULTS, "corrupt.json"), JSON.stringify(manifest.corrupt.length));
  });
}
