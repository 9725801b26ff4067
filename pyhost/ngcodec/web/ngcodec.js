// ngcodec.js - the browser/Node host of ngcodec.wasm.
//
// Loads the same WebAssembly module the Python package uses and exposes the
// Neuroglancer precomputed chunk codecs as plain async functions. The C ABI
// it drives is wasm_src/ngcodec.h; read that header before changing a call.
//
// Rules kept by every call:
// - Inputs are copied into malloc'd linear memory, results are copied out
//   (.slice()) and every buffer is freed, also when the codec fails.
// - Views of linear memory are re-derived after every wasm call, because a
//   malloc may grow memory and detach the previous ArrayBuffer.
// - A trap (WebAssembly.RuntimeError) leaves the instance in an unknown
//   state, so it is dropped; the next call re-instantiates from the cached
//   compiled Module.

/** Status code used for a trap; it is not one of the C NGC_ERR_* codes. */
const TRAP_CODE = -1000;
const TRAP_NAME = "NGC_ERR_TRAP";
const BAD_PARAMS = -1; // NGC_ERR_BAD_PARAMS, never renumbered (ngcodec.h)

/** An error reported by the codec, with the C status and its stable name. */
export class NgcodecError extends Error {
  constructor(code, codeName, message, options) {
    super(message, options);
    this.name = "NgcodecError";
    this.code = code;
    this.codeName = codeName;
  }
}

// dataType -> [TypedArray constructor, bytes per value].
const DATA_TYPES = {
  uint8: [Uint8Array, 1],
  int8: [Int8Array, 1],
  uint16: [Uint16Array, 2],
  int16: [Int16Array, 2],
  uint32: [Uint32Array, 4],
  int32: [Int32Array, 4],
  uint64: [BigUint64Array, 8],
  int64: [BigInt64Array, 8],
  float32: [Float32Array, 4],
  float64: [Float64Array, 8],
};
const CSEG_TYPES = new Set(["uint32", "uint64"]);

// ---------------------------------------------------------------------------
// Loading

let compiled = null; // Promise<WebAssembly.Module>, kept across traps
let live = null; // Promise<exports> of the current instance

const isNode =
  typeof process === "object" && typeof process.versions?.node === "string";

/**
 * Loads, compiles and instantiates ngcodec.wasm once; later calls reuse it.
 * With a `source`, that source replaces any module loaded before. The codec
 * functions call init() themselves, so calling it is only needed to choose
 * the source or to load early.
 */
export async function init(source) {
  if (source !== undefined) {
    compiled = null;
    live = null;
  }
  await instance(source);
}

// The current instance's exports, instantiating (and compiling) if needed.
function instance(source) {
  if (!compiled) compiled = forgetOnFailure(compileFrom(source));
  if (!live) {
    live = forgetOnFailure(
      compiled.then(async (module) => {
        // An emscripten STANDALONE_WASM reactor with no imports.
        const { exports } = await WebAssembly.instantiate(module, {});
        exports._initialize();
        return exports;
      }),
    );
  }
  return live;
}

// A failed load must not stick: a later call retries (after a network
// error, say), unless init() already replaced the promise.
function forgetOnFailure(promise) {
  promise.catch(() => {
    if (compiled === promise) compiled = null;
    if (live === promise) live = null;
  });
  return promise;
}

async function compileFrom(source) {
  if (source instanceof WebAssembly.Module) return source;
  if (source === undefined) return compileLoaded(await fetchDefault());
  if (typeof Response === "function" && source instanceof Response) {
    return compileResponse(source);
  }
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    return WebAssembly.compile(source);
  }
  if (typeof source === "string" || source instanceof URL) {
    return compileLoaded(await fetchUrl(source));
  }
  throw new TypeError(
    "init(source): expected a URL, Response, BufferSource or WebAssembly.Module",
  );
}

// fetchUrl gives file bytes (Node) or a Response (fetch).
async function compileLoaded(bytesOrResponse) {
  return bytesOrResponse instanceof Uint8Array
    ? WebAssembly.compile(bytesOrResponse)
    : compileResponse(bytesOrResponse);
}

async function compileResponse(response) {
  if (!response.ok) {
    throw new Error(`ngcodec: cannot load ${response.url}: ${response.status}`);
  }
  // compileStreaming insists on the application/wasm content type; servers
  // that do not send it still get a working (non-streaming) compile.
  const type = response.headers.get("content-type") || "";
  if (WebAssembly.compileStreaming && type.startsWith("application/wasm")) {
    return WebAssembly.compileStreaming(response);
  }
  return WebAssembly.compile(await response.arrayBuffer());
}

// The module's one home is beside this file, in the Python wheel
// (ngcodec/web/) and in the npm package alike.
function fetchDefault() {
  return fetchUrl(new URL("./ngcodec.wasm", import.meta.url));
}

// Node's fetch has no file: URLs, so Node reads those (and bare paths) from
// the file system. The node: import is dynamic so browsers never see it.
async function fetchUrl(url) {
  if (isNode) {
    let fileUrl = null;
    if (url instanceof URL) fileUrl = url.protocol === "file:" ? url : null;
    else if (url.startsWith("file:")) fileUrl = new URL(url);
    // A path: no URL scheme, or a Windows drive letter ("C:\\...").
    else if (!/^[a-z][a-z0-9+.-]*:/i.test(url) || /^[a-z]:[\\/]/i.test(url)) fileUrl = url;
    if (fileUrl !== null) {
      const fs = await import(/* webpackIgnore: true */ "node:fs/promises");
      return new Uint8Array(await fs.readFile(fileUrl));
    }
  }
  return fetch(url);
}

// ---------------------------------------------------------------------------
// Calling the module

/**
 * Runs `body(ctx)` against the live instance. ctx.alloc() mallocs buffers
 * that are freed afterwards. Codec errors pass through; a trap drops the
 * instance (freeing would mean calling into a broken instance) and becomes
 * an NgcodecError with code TRAP_CODE.
 */
async function withModule(body) {
  const current = instance();
  const exports = await current;
  const owned = [];
  const ctx = {
    exports,
    alloc(nbytes) {
      // malloc(0) may return NULL; ask for one byte so 0 means failure.
      // Pointers are unsigned: above 2 GiB the i32 result reads negative.
      const ptr = exports.malloc(Math.max(nbytes, 1)) >>> 0;
      if (ptr === 0) throw statusError(exports, -14, "malloc", "");
      owned.push(ptr);
      return ptr;
    },
  };
  let trapped = false;
  try {
    return body(ctx);
  } catch (e) {
    if (e instanceof NgcodecError) throw e;
    trapped = true;
    if (live === current) live = null;
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
      throw new NgcodecError(TRAP_CODE, TRAP_NAME, `ngcodec trapped: ${e.message}`, {
        cause: e,
      });
    }
    throw e;
  } finally {
    if (!trapped) for (const ptr of owned) exports.free(ptr);
  }
}

const bytes = (exports) => new Uint8Array(exports.memory.buffer);
const view = (exports) => new DataView(exports.memory.buffer);

function readCString(exports, ptr) {
  const mem = bytes(exports);
  let end = ptr;
  while (end < mem.length && mem[end] !== 0) end++;
  return new TextDecoder().decode(mem.subarray(ptr, end));
}

function statusError(exports, status, fn, detail) {
  const name = readCString(exports, exports.ngc_error_name(status) >>> 0);
  return new NgcodecError(status, name, `${fn} returned ${name}${detail}`);
}

function check(exports, status, fn, detail = "") {
  if (status < 0) throw statusError(exports, status, fn, detail);
}

// ngc_chunk: 10 little-endian uint32 (40 bytes), followed here by one uint32
// used as the size_t out-parameter of the call.
const CHUNK_BYTES = 40;
const FAIL_CHANNEL = 32;
const FAIL_BLOCK = 36;

function writeChunk(ctx, chunk) {
  const ptr = ctx.alloc(CHUNK_BYTES + 4);
  const dv = view(ctx.exports);
  const fields = [
    ...chunk.size, chunk.numChannels, chunk.valueBytes,
    ...(chunk.blockSize ?? [1, 1, 1]), 0, 0, 0,
  ];
  fields.forEach((v, i) => dv.setUint32(ptr + 4 * i, v, true));
  return { ptr, ret: ptr + CHUNK_BYTES };
}

const readU32 = (exports, ptr) => view(exports).getUint32(ptr, true);

function copyIn(ctx, src) {
  const ptr = ctx.alloc(src.byteLength);
  bytes(ctx.exports).set(src, ptr);
  return ptr;
}

function copyOut(exports, ptr, nbytes) {
  return new Uint8Array(exports.memory.buffer, ptr, nbytes).slice();
}

// ---------------------------------------------------------------------------
// Parameters

function paramError(message) {
  return new NgcodecError(BAD_PARAMS, "NGC_ERR_BAD_PARAMS", message);
}

function uint32s(value, what) {
  if (!Array.isArray(value) && !ArrayBuffer.isView(value)) {
    throw paramError(`${what} must be [x, y, z]`);
  }
  const out = Array.from(value, Number);
  if (out.length !== 3 || !out.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
    throw paramError(`${what} must be three integers in [0, 2**32): got ${value}`);
  }
  return out;
}

function chunkOf(chunkSize, blockSize, dataType, numChannels, allowed) {
  const type = DATA_TYPES[dataType];
  if (!type || (allowed && !allowed.has(dataType))) {
    const names = [...(allowed ?? Object.keys(DATA_TYPES))].join(", ");
    throw paramError(`dataType must be one of ${names}: got ${dataType}`);
  }
  if (!Number.isInteger(numChannels) || numChannels < 1 || numChannels > 0xffffffff) {
    throw paramError(`numChannels must be a positive integer: got ${numChannels}`);
  }
  return {
    size: uint32s(chunkSize, "chunkSize"),
    blockSize: blockSize === null ? null : uint32s(blockSize, "blockSize"),
    numChannels,
    valueBytes: type[1],
    Array: type[0],
  };
}

// Any BufferSource, viewed as its bytes (no copy).
function asBytes(data, what) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) {
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }
  throw new TypeError(`${what} must be an ArrayBuffer or a typed array`);
}

// ---------------------------------------------------------------------------
// Codecs

/** ngc_version() as "major.minor.patch". */
export async function version() {
  return withModule(({ exports }) => {
    const n = exports.ngc_version() >>> 0;
    return `${Math.floor(n / 10000)}.${Math.floor(n / 100) % 100}.${n % 100}`;
  });
}

// compressed_segmentation errors for which ngc_chunk's fail_channel and
// fail_block name the place (the header leaves them unspecified otherwise).
const PLACED = {
  NGC_ERR_BAD_CHANNEL_OFFSET: "channel",
  NGC_ERR_BAD_BITS: "block",
  NGC_ERR_BAD_TABLE_OFFSET: "block",
  NGC_ERR_BAD_VALUES_OFFSET: "block",
  NGC_ERR_BAD_TABLE_INDEX: "block",
  NGC_ERR_EMPTY_TABLE: "block",
};

function placedError(exports, status, fn, chunkPtr) {
  const err = statusError(exports, status, fn, "");
  const where = PLACED[err.codeName];
  if (where) {
    err.failChannel = readU32(exports, chunkPtr + FAIL_CHANNEL);
    err.message += ` (channel ${err.failChannel}`;
    if (where === "block") {
      err.failBlock = readU32(exports, chunkPtr + FAIL_BLOCK);
      err.message += `, block ${err.failBlock}`;
    }
    err.message += ")";
  }
  return err;
}

// Shared body of the two decoders: one chunk struct, src in, dst out.
function decodeWith(fn, chunk, data) {
  const src = asBytes(data, "data");
  return withModule((ctx) => {
    const { exports } = ctx;
    const c = writeChunk(ctx, chunk);
    check(exports, exports.ngc_decoded_size(c.ptr, c.ret), "ngc_decoded_size");
    const size = readU32(exports, c.ret);
    const srcPtr = copyIn(ctx, src);
    const dst = ctx.alloc(size);
    const status = exports[fn](c.ptr, srcPtr, src.byteLength, dst, size);
    if (status < 0) throw placedError(exports, status, fn, c.ptr);
    return new chunk.Array(copyOut(exports, dst, size).buffer);
  });
}

/**
 * Decodes a compressed_segmentation chunk into a (C, Z, Y, X) array, x
 * fastest: Uint32Array for "uint32", BigUint64Array for "uint64".
 */
export async function decodeCompressedSegmentation(
  data, chunkSize, blockSize, dataType, numChannels = 1,
) {
  const chunk = chunkOf(chunkSize, blockSize, dataType, numChannels, CSEG_TYPES);
  return decodeWith("ngc_cseg_decode", chunk, data);
}

/** Encodes a (C, Z, Y, X) uint32/uint64 array as compressed_segmentation. */
export async function encodeCompressedSegmentation(
  array, chunkSize, blockSize, dataType, numChannels = 1,
) {
  const chunk = chunkOf(chunkSize, blockSize, dataType, numChannels, CSEG_TYPES);
  const src = asBytes(array, "array");
  return withModule((ctx) => {
    const { exports } = ctx;
    const c = writeChunk(ctx, chunk);
    check(exports, exports.ngc_cseg_encode_bound(c.ptr, c.ret), "ngc_cseg_encode_bound");
    const bound = readU32(exports, c.ret);
    const srcPtr = copyIn(ctx, src);
    const dst = ctx.alloc(bound);
    const status = exports.ngc_cseg_encode(c.ptr, srcPtr, src.byteLength, dst, bound, c.ret);
    check(exports, status, "ngc_cseg_encode");
    return copyOut(exports, dst, readU32(exports, c.ret));
  });
}

/** Decodes a raw chunk (little-endian bytes) into the dataType's TypedArray. */
export async function decodeRaw(data, chunkSize, dataType, numChannels = 1) {
  const chunk = chunkOf(chunkSize, null, dataType, numChannels, null);
  return decodeWith("ngc_raw_decode", chunk, data);
}

/** Encodes a (C, Z, Y, X) array as a raw chunk. */
export async function encodeRaw(array, chunkSize, dataType, numChannels = 1) {
  const chunk = chunkOf(chunkSize, null, dataType, numChannels, null);
  const src = asBytes(array, "array");
  return withModule((ctx) => {
    const { exports } = ctx;
    const c = writeChunk(ctx, chunk);
    check(exports, exports.ngc_decoded_size(c.ptr, c.ret), "ngc_decoded_size");
    const capacity = readU32(exports, c.ret);
    const srcPtr = copyIn(ctx, src);
    const dst = ctx.alloc(capacity);
    const status = exports.ngc_raw_encode(c.ptr, srcPtr, src.byteLength, dst, capacity, c.ret);
    check(exports, status, "ngc_raw_encode");
    return copyOut(exports, dst, readU32(exports, c.ret));
  });
}
