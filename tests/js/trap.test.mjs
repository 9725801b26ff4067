// A trap inside the module becomes an error with status and statusName null,
// the message "{what}: the module trapped: {detail}", InvalidFormatError from
// a decoder (the data is to blame) and NgcodecError from an encoder, and the
// trapped instance is dropped, so the next call gets a fresh one.
// The real module cannot be made to trap on purpose, so this loads a tiny
// hand-assembled stand-in (below) through init(), then the real one again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ngcodec, NgcodecError, InvalidFormatError, WASM_URL } from "./helpers.mjs";

// Unsigned LEB128 and length-prefixed vectors/strings of the wasm format.
const leb = (n) => {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
};
const vec = (items) => [...leb(items.length), ...items.flat()];
const str = (s) => vec([...s].map((c) => c.charCodeAt(0)));
const section = (id, body) => [id, ...leb(body.length), ...body];

const I32 = 0x7f;
const TYPES = [
  [0x60, 0, 0], // 0: () -> ()
  [0x60, 0, 1, I32], // 1: () -> i32
  [0x60, 1, I32, 1, I32], // 2: (i32) -> i32
  [0x60, 1, I32, 0], // 3: (i32) -> ()
  [0x60, 2, I32, I32, 1, I32], // 4: (i32, i32) -> i32
];
// [export name, type, body]; a mutable global counts ngc_version calls, so
// its value tells a fresh instance (1) from a reused one.
const FUNCS = [
  ["_initialize", 0, [0x0b]],
  ["malloc", 2, [0x41, ...leb(1024), 0x0b]], // every buffer at 1024: enough here
  ["free", 3, [0x0b]],
  ["ngc_version", 1, [0x23, 0, 0x41, 1, 0x6a, 0x24, 0, 0x23, 0, 0x0b]],
  ["ngc_error_name", 2, [0x41, 0, 0x0b]], // "" at address 0
  ["ngc_decoded_size", 4, [0x00, 0x0b]], // unreachable: the trap
];

function trappingModule() {
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(TYPES)),
    ...section(3, vec(FUNCS.map(([, type]) => [type]))),
    ...section(5, vec([[0x00, 1]])), // memory: min 1 page
    ...section(6, vec([[I32, 1, 0x41, 0, 0x0b]])), // global i32 mut = 0
    ...section(7, vec([
      ...FUNCS.map(([name], i) => [...str(name), 0x00, i]),
      [...str("memory"), 0x02, 0],
    ])),
    // Code: each body is its size, 0 local declarations, the instructions.
    ...section(10, vec(FUNCS.map(([, , body]) => [...leb(body.length + 1), 0, ...body]))),
  ]);
}

// Asserts a trap error of `Class` for the call `what`.
async function rejectsWithTrap(promise, Class, what) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.constructor, Class, String(err));
    assert.equal(err.name, Class.name);
    assert.equal(err.status, null);
    assert.equal(err.statusName, null);
    assert.equal(err.channel, null);
    assert.equal(err.block, null);
    assert.ok(err.cause instanceof WebAssembly.RuntimeError);
    assert.equal(err.message, `${what}: the module trapped: ${err.cause.message}`);
    assert.match(err.message, /unreachable/);
    return true;
  });
}

test("a trap throws with null status and the next call re-instantiates", async () => {
  await ngcodec.init(trappingModule());
  assert.equal(await ngcodec.version(), "0.0.1");
  assert.equal(await ngcodec.version(), "0.0.2"); // same instance
  await rejectsWithTrap(ngcodec.decodeRaw(new Uint8Array(8), [8, 1, 1], "uint8"),
    InvalidFormatError, "raw decode");
  assert.equal(await ngcodec.version(), "0.0.1"); // a fresh instance
  assert.equal(await ngcodec.version(), "0.0.2");
  // Not decoding: the data is not to blame, so a plain NgcodecError.
  await rejectsWithTrap(ngcodec.encodeRaw(new Uint8Array(8), { chunkSize: [8, 1, 1] }),
    NgcodecError, "raw encode");
  assert.equal(await ngcodec.version(), "0.0.1"); // a fresh instance again
});

test("the real module loads again after the stand-in", async () => {
  await ngcodec.init(WASM_URL);
  const out = await ngcodec.decodeRaw(new Uint8Array([1, 2]), [2, 1, 1], "uint8");
  assert.deepEqual([...out], [1, 2]);
  const labels = await ngcodec.decodeCompressedSegmentation(
    new Uint8Array(new Uint32Array([1, 2, 3, 42]).buffer), [2, 1, 1], "uint32", [8, 8, 8]);
  assert.deepEqual([...labels], [42, 42]);
});
