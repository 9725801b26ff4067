// helpers.mjs - shared by the Node tests: the module under test, a seeded
// PRNG, label generators and hand-made compressed_segmentation buffers.
import assert from "node:assert/strict";

export * as ngcodec from "../../pyhost/ngcodec/web/ngcodec.js";
export {
  NgcodecError, InvalidFormatError, InvalidParameterError, ResourceLimitError, STATUSES,
} from "../../pyhost/ngcodec/web/ngcodec.js";
import * as lib from "../../pyhost/ngcodec/web/ngcodec.js";

/** The wasm the tests load (the package's committed module). */
export const WASM_URL = new URL("../../pyhost/ngcodec/web/ngcodec.wasm", import.meta.url);

/** Fixture folder written by tests/test_js.py, or null when run alone. */
export const FIXTURES = process.env.NGCODEC_JS_FIXTURES || null;

/** mulberry32: a tiny seeded PRNG, so a failing case can be replayed. */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A (C, Z, Y, X) label array of `count` voxels drawn from `distinct` labels
 * (a palette of random 32- or 64-bit values), in runs so that some blocks
 * are uniform (0-bit) and others are mixed.
 */
export function labels(dtype, count, distinct, seed = 1) {
  const rand = rng(seed);
  const wide = dtype === "uint64";
  const palette = Array.from({ length: distinct }, (_, i) => {
    const low = Math.floor(rand() * 2 ** 32);
    return wide ? (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(low) : low >>> 0;
  });
  palette[0] = wide ? 0n : 0; // background label
  const out = wide ? new BigUint64Array(count) : new Uint32Array(count);
  let i = 0;
  while (i < count) {
    const run = 1 + Math.floor(rand() * 40);
    const value = palette[Math.floor(rand() ** 2 * distinct)];
    out.fill(value, i, Math.min(count, i + run));
    i += run;
  }
  return out;
}

/** The bytes of a Uint32Array built from words (for hand-made chunks). */
export function words(...values) {
  return new Uint8Array(new Uint32Array(values).buffer);
}

/**
 * Asserts that `promise` rejects with the NgcodecError of status
 * `statusName`: its class is the one STATUSES gives, `status` its number,
 * the message ends in "[statusName]", and each key of `extra` (channel,
 * block, message...) has the value given (deep equality).
 */
export async function rejectsWith(promise, statusName, extra = {}) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof lib.NgcodecError, `not an NgcodecError: ${err}`);
    assert.equal(err.statusName, statusName, err.message);
    const entry = lib.STATUSES.find((s) => s.name === statusName);
    assert.ok(entry, `no status ${statusName}`);
    assert.equal(err.status, entry.code);
    assert.equal(err.constructor, entry.error, `${err.name} for ${statusName}`);
    assert.equal(err.name, entry.error.name);
    assert.ok(err.message.endsWith(` [${statusName}]`), err.message);
    for (const [key, value] of Object.entries(extra)) assert.deepEqual(err[key], value, key);
    return true;
  });
}

/** Compares two typed arrays element by element, reporting the first miss. */
export function assertSameArray(actual, expected, what = "array") {
  assert.equal(actual.constructor.name, expected.constructor.name, `${what} type`);
  assert.equal(actual.length, expected.length, `${what} length`);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      assert.fail(`${what}[${i}] is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}
