// The module itself and loading it: no imports, the ABI's exports, every
// kind of init() source, version(), and use from a Node worker thread.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { ngcodec, WASM_URL, words } from "./helpers.mjs";

const wasmBytes = await readFile(WASM_URL);

const ABI_EXPORTS = [
  "memory", "_initialize", "malloc", "free",
  "ngc_version", "ngc_error_name", "ngc_decoded_size",
  "ngc_raw_decode", "ngc_raw_encode",
  "ngc_cseg_encode_bound", "ngc_cseg_encode", "ngc_cseg_decode",
];

test("the module has no imports and instantiates with {}", async () => {
  const module = await WebAssembly.compile(wasmBytes);
  assert.deepEqual(WebAssembly.Module.imports(module), []);
  const names = WebAssembly.Module.exports(module).map((e) => e.name);
  for (const name of ABI_EXPORTS) assert.ok(names.includes(name), `exports ${name}`);
  const { exports } = await WebAssembly.instantiate(module, {});
  exports._initialize();
  assert.ok(exports.memory instanceof WebAssembly.Memory);
  assert.equal(typeof exports.ngc_version(), "number");
});

test("version() is major.minor.patch of ngc_version()", async () => {
  const { instance } = await WebAssembly.instantiate(wasmBytes, {});
  instance.exports._initialize();
  const n = instance.exports.ngc_version();
  const expected = `${Math.floor(n / 10000)}.${Math.floor(n / 100) % 100}.${n % 100}`;
  assert.equal(await ngcodec.version(), expected);
  assert.match(expected, /^\d+\.\d+\.\d+$/);
});

test("init() accepts every kind of source", async () => {
  const module = await WebAssembly.compile(wasmBytes);
  const sources = {
    "file URL": WASM_URL,
    "URL string": WASM_URL.href,
    "file path": fileURLToPath(WASM_URL),
    Uint8Array: new Uint8Array(wasmBytes),
    ArrayBuffer: new Uint8Array(wasmBytes).buffer,
    "Response (application/wasm)": () =>
      new Response(wasmBytes, { headers: { "content-type": "application/wasm" } }),
    "Response (no content type)": () => new Response(wasmBytes),
    "WebAssembly.Module": module,
  };
  for (const [what, source] of Object.entries(sources)) {
    await ngcodec.init(typeof source === "function" ? source() : source);
    const out = await ngcodec.decodeCompressedSegmentation(words(1, 2, 3, 42), [2, 2, 2], "uint32", [8, 8, 8]);
    assert.deepEqual([...out], new Array(8).fill(42), what);
  }
  await ngcodec.init(); // cached: no reload
});

test("init() rejects bad sources and stays usable", async () => {
  await assert.rejects(ngcodec.init(42), TypeError);
  await assert.rejects(ngcodec.init(new Response("nope", { status: 404 })), /404/);
  await assert.rejects(ngcodec.init(new Uint8Array([0, 1, 2, 3])), WebAssembly.CompileError);
  await assert.rejects(ngcodec.init(new URL("./no-such.wasm", WASM_URL)), { code: "ENOENT" });
  // After a failed init, the next call loads the default module again.
  assert.match(await ngcodec.version(), /^\d+\.\d+\.\d+$/);
});

test("the ES module exports exactly the documented API", async () => {
  assert.deepEqual(Object.keys(ngcodec).sort(), [
    "InvalidFormatError", "InvalidParameterError", "NgcodecError", "ResourceLimitError", "STATUSES",
    "compressedSegmentation", "decodeCompressedSegmentation", "decodeRaw", "downsample",
    "encodeCompressedSegmentation", "encodeRaw",
    "init", "registerZarrita", "version", "zarritaCodec",
  ]);
  // The .d.ts declares each of them.
  const dts = await readFile(new URL("../../pyhost/ngcodec/web/ngcodec.d.ts", import.meta.url), "utf8");
  for (const name of Object.keys(ngcodec)) {
    assert.match(dts, new RegExp(`export (declare )?(async )?(function|class|const) ${name}\\b`), name);
  }
  for (const Class of [ngcodec.InvalidFormatError, ngcodec.InvalidParameterError, ngcodec.ResourceLimitError]) {
    assert.ok(new Class("x") instanceof ngcodec.NgcodecError);
    assert.ok(new Class("x") instanceof Error);
    assert.equal(new Class("x").name, Class.name);
  }
  const plain = new ngcodec.NgcodecError("x");
  assert.deepEqual([plain.status, plain.statusName, plain.channel, plain.block], [null, null, null, null]);
  assert.ok(Object.isFrozen(ngcodec.STATUSES) && ngcodec.STATUSES.every(Object.isFrozen));
});

test("the package folder holds the library only", async () => {
  const { readdir } = await import("node:fs/promises");
  const folder = new URL("../../pyhost/ngcodec/web/", import.meta.url);
  assert.deepEqual((await readdir(folder)).sort(), [
    "README.md", "ngcodec.d.ts", "ngcodec.js", "ngcodec.wasm", "package.json",
  ]);
  const pkg = JSON.parse(await readFile(new URL("package.json", folder), "utf8"));
  assert.deepEqual([...pkg.files].sort(), ["README.md", "ngcodec.d.ts", "ngcodec.js", "ngcodec.wasm"]);
  assert.equal(pkg.scripts?.prepack, undefined, "no prepack copy of the .wasm");
  assert.equal(pkg.type, "module");
  assert.equal(pkg.sideEffects, false);
});

test("works in a Node worker thread", async () => {
  const script = `
    import { parentPort } from "node:worker_threads";
    import { encodeCompressedSegmentation, decodeCompressedSegmentation } from ${JSON.stringify(
      new URL("../../pyhost/ngcodec/web/ngcodec.js", import.meta.url).href,
    )};
    const input = new BigUint64Array(4 * 4 * 4).map((_, i) => BigInt(i % 3) << 40n);
    const encoded = await encodeCompressedSegmentation(input, [2, 2, 2], { chunkSize: [4, 4, 4] });
    const out = await decodeCompressedSegmentation(encoded, [4, 4, 4], "uint64", [2, 2, 2]);
    parentPort.postMessage(out.every((v, i) => v === input[i]));
  `;
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(script)}`));
  const ok = await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  assert.equal(ok, true);
  await worker.terminate();
});
