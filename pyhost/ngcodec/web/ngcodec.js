// ngcodec.js - the browser/Node host of ngcodec.wasm.
//
// Loads the same WebAssembly module the Python package uses and exposes the
// Neuroglancer precomputed chunk codecs as plain async functions with the
// arguments of the Python API (ngcodec.raw, ngcodec.compressed_segmentation),
// in the same order, camelCase, optional ones in a trailing options object.
// Errors are the Python host's: the same classes per status, the same
// fields and the same message text (tests/test_host_parity.py compares
// them). The C ABI it drives is wasm_src/ngcodec.h; read that header before
// changing a call.
//
// Rules kept by every call:
// - Inputs are copied into malloc'd linear memory, results are copied out
//   and every buffer is freed, also when the codec fails.
// - Views of linear memory are re-derived after every wasm call, because a
//   malloc may grow memory and detach the previous ArrayBuffer.
// - A trap (WebAssembly.RuntimeError) leaves the instance in an unknown
//   state, so it is dropped; the next call re-instantiates from the cached
//   compiled Module.

// ---------------------------------------------------------------------------
// Errors: one status table, as in pyhost/ngcodec/errors.py

/**
 * Base of every error the codecs throw. `status` and `statusName` carry the
 * module's status (e.g. -7, "NGC_ERR_BAD_BITS"), or null (a trap); `channel`
 * and `block` ([bx, by, bz] block coordinates) the place in the chunk the
 * module named, or null.
 */
export class NgcodecError extends Error {
  constructor(message, { status = null, statusName = null, channel = null, block = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.status = status;
    this.statusName = statusName;
    this.channel = channel;
    this.block = block;
  }
}
NgcodecError.prototype.name = "NgcodecError";

/** Chunk data that cannot be decoded (a damaged or foreign chunk). */
export class InvalidFormatError extends NgcodecError {}
InvalidFormatError.prototype.name = "InvalidFormatError";

/** Parameters no chunk can have (an unknown dtype, a zero block size...). */
export class InvalidParameterError extends NgcodecError {}
InvalidParameterError.prototype.name = "InvalidParameterError";

/** The call needs more memory than the module may have. */
export class ResourceLimitError extends NgcodecError {}
ResourceLimitError.prototype.name = "ResourceLimitError";

const status = (code, name, error, text) => Object.freeze({ code, name, error, text });

/**
 * Every status of ngcodec.h: its number, stable name, the error class thrown
 * for it and the text of that error's message. Equal to Python's
 * ngcodec.errors.STATUSES (tests/test_host_parity.py checks it).
 */
export const STATUSES = Object.freeze([
  status(0, "NGC_OK", NgcodecError, "ok"),
  status(-1, "NGC_ERR_BAD_PARAMS", InvalidParameterError, "invalid parameters"),
  status(-2, "NGC_ERR_DST_TOO_SMALL", NgcodecError, "output buffer too small"),
  status(-3, "NGC_ERR_SIZE_MISMATCH", InvalidFormatError,
    "the buffer size does not match the chunk size"),
  status(-4, "NGC_ERR_TRUNCATED", InvalidFormatError,
    "the buffer is too short for its headers (truncated?)"),
  status(-5, "NGC_ERR_UNALIGNED", InvalidFormatError,
    "the buffer size is not a multiple of 4 bytes"),
  status(-6, "NGC_ERR_BAD_CHANNEL_OFFSET", InvalidFormatError,
    "a channel offset points past the end of the buffer"),
  status(-7, "NGC_ERR_BAD_BITS", InvalidFormatError,
    "a block header has an invalid number of encoding bits"),
  status(-8, "NGC_ERR_BAD_TABLE_OFFSET", InvalidFormatError,
    "a lookup table offset points past the end of the buffer"),
  status(-9, "NGC_ERR_BAD_VALUES_OFFSET", InvalidFormatError,
    "encoded values run past the end of the buffer"),
  status(-10, "NGC_ERR_BAD_TABLE_INDEX", InvalidFormatError,
    "an encoded value indexes past the end of the lookup table"),
  status(-11, "NGC_ERR_EMPTY_TABLE", InvalidFormatError,
    "a 0-bit block has an empty lookup table"),
  status(-12, "NGC_ERR_OFFSET_OVERFLOW", InvalidParameterError,
    "an offset does not fit in the 24 bits Neuroglancer reads " +
    "(chunk too large for this block size)"),
  status(-13, "NGC_ERR_TOO_LARGE", ResourceLimitError,
    "the chunk exceeds the 4 GiB wasm32 address space"),
  status(-14, "NGC_ERR_NO_MEMORY", ResourceLimitError,
    "out of memory (memory limit reached)"),
  status(-15, "NGC_ERR_NOT_MAPPED", InvalidParameterError,
    "a voxel holds a label that the mapping does not map"),
  status(-16, "NGC_ERR_TABLE_OVERLAP", NgcodecError,
    "a lookup table overlaps other data, so it cannot be rewritten in place"),
]);

const BY_CODE = new Map(STATUSES.map((s) => [s.code, s]));
const CODE = Object.fromEntries(STATUSES.map((s) => [s.name, s.code]));
const UNKNOWN = status(null, "NGC_ERR_UNKNOWN", NgcodecError, "unknown error");

// " (channel 1)", " (channel 0, block (3, 0, 1) in x, y, z)" or "".
function placeText(channel, block) {
  if (channel === null) return "";
  if (block === null) return ` (channel ${channel})`;
  return ` (channel ${channel}, block (${block[0]}, ${block[1]}, ${block[2]}) in x, y, z)`;
}

// The error for a negative status (number or name) of the call `what`:
// "{what}: {text}{detail}{place} [{NAME}]", as error_for_status() in Python.
function errorForStatus(code, what, detail = "", channel = null, block = null) {
  if (typeof code === "string") code = CODE[code];
  const entry = BY_CODE.get(code) ?? UNKNOWN;
  return new entry.error(
    `${what}: ${entry.text}${detail}${placeText(channel, block)} [${entry.name}]`,
    { status: code, statusName: entry.name, channel, block },
  );
}

// Invalid argument values: NGC_ERR_BAD_PARAMS, before the module is called.
const paramError = (what, detail) => errorForStatus("NGC_ERR_BAD_PARAMS", what, `: ${detail}`);

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

// An instance whose memory grew past this is dropped after its call, so one
// huge chunk does not pin its memory (which never shrinks) for good.
const RETAIN_MEMORY_BYTES = 256 * 1024 * 1024;

/**
 * Runs `body(ctx)` against the live instance; buffers from ctx.alloc() are
 * freed afterwards. Codec errors pass through. A trap drops the instance
 * (freeing would mean calling into a broken instance) and becomes an
 * InvalidFormatError when `decoding` (the data is to blame), an NgcodecError
 * otherwise; a ResourceLimitError drops it too, so its memory goes.
 */
async function withModule(what, decoding, body) {
  const current = instance();
  const exports = await current;
  const owned = [];
  const ctx = {
    exports,
    alloc(nbytes) {
      // malloc(0) may return NULL; ask for one byte so 0 means failure.
      // Pointers are unsigned: above 2 GiB the i32 result reads negative.
      const ptr = exports.malloc(Math.max(nbytes, 1)) >>> 0;
      if (ptr === 0) throw errorForStatus("NGC_ERR_NO_MEMORY", what, ` (${thousands(nbytes)} bytes)`);
      owned.push(ptr);
      return ptr;
    },
    // Frees a buffer of alloc() before the call ends (one that a retry
    // replaces).
    free(ptr) {
      owned.splice(owned.indexOf(ptr), 1);
      exports.free(ptr);
    },
  };
  const drop = () => {
    if (live === current) live = null;
  };
  let trapped = false;
  try {
    return body(ctx);
  } catch (e) {
    if (e instanceof NgcodecError) {
      if (e instanceof ResourceLimitError) drop();
      throw e;
    }
    trapped = true;
    drop();
    if (e instanceof WebAssembly.RuntimeError || e instanceof RangeError) {
      const TrapError = decoding ? InvalidFormatError : NgcodecError;
      throw new TrapError(`${what}: the module trapped: ${e.message}`, { cause: e });
    }
    throw e;
  } finally {
    if (!trapped) {
      for (const ptr of owned) exports.free(ptr);
      if (exports.memory.buffer.byteLength > RETAIN_MEMORY_BYTES) drop();
    }
  }
}

const bytes = (exports) => new Uint8Array(exports.memory.buffer);
const view = (exports) => new DataView(exports.memory.buffer);
const readU32 = (exports, ptr) => view(exports).getUint32(ptr, true);

// nbytes at an 8-byte-aligned address (for uint64 arrays and the structs
// holding a uint64), whatever alignment malloc gives.
function allocAligned(ctx, nbytes) {
  const ptr = ctx.alloc(nbytes + 7);
  return ptr + ((8 - (ptr % 8)) % 8);
}

// Little-endian uint32 words at ptr (a struct of ngcodec.h).
function writeU32s(exports, ptr, values) {
  const dv = view(exports);
  values.forEach((v, i) => dv.setUint32(ptr + 4 * i, v, true));
}

// struct ngc_chunk: 10 little-endian uint32 (40 bytes), followed here by one
// uint32 used as the size_t out-parameter of the call.
const CHUNK_BYTES = 40;
const FAIL_CHANNEL = 32;
const FAIL_BLOCK = 36;
const NO_PLACE = 0xffffffff; // NGC_NO_PLACE

function writeChunk(ctx, size, numChannels, valueBytes, blockSize = [1, 1, 1]) {
  const ptr = ctx.alloc(CHUNK_BYTES + 4);
  const dv = view(ctx.exports);
  [...size, numChannels, valueBytes, ...blockSize, NO_PLACE, NO_PLACE, 0].forEach((v, i) =>
    dv.setUint32(ptr + 4 * i, v, true),
  );
  return { ptr, ret: ptr + CHUNK_BYTES };
}

// The channel and block ([bx, by, bz]) a cseg call names in fail_channel /
// fail_block, each null where the module wrote NGC_NO_PLACE. Block indices
// count x fastest in the grid of ceil(chunkSize / blockSize) blocks.
function failurePlace(exports, chunkPtr, size, blockSize) {
  const channel = readU32(exports, chunkPtr + FAIL_CHANNEL);
  const index = readU32(exports, chunkPtr + FAIL_BLOCK);
  let block = null;
  if (index !== NO_PLACE) {
    const gx = Math.ceil(size[0] / blockSize[0]) || 1;
    const gy = Math.ceil(size[1] / blockSize[1]) || 1;
    block = [index % gx, Math.floor(index / gx) % gy, Math.floor(index / (gx * gy))];
  }
  return [channel === NO_PLACE ? null : channel, block];
}

function copyIn(ctx, src) {
  const ptr = ctx.alloc(src.byteLength);
  bytes(ctx.exports).set(src, ptr);
  return ptr;
}

// A BigUint64Array copied to an 8-byte-aligned buffer; its address.
function copyIn64(ctx, values) {
  const ptr = allocAligned(ctx, values.byteLength);
  new BigUint64Array(ctx.exports.memory.buffer, ptr, values.length).set(values);
  return ptr;
}

// Throws the error of a negative status of a cseg call, with the place the
// module wrote in the chunk struct.
function checkCseg(status, exports, chunk, what, size, blockSize) {
  if (status < 0) {
    throw errorForStatus(status, what, "", ...failurePlace(exports, chunk.ptr, size, blockSize));
  }
}

// A new TypedArray of `type` holding nbytes at ptr, or those bytes written
// into `out` (then returned).
function copyOut(exports, ptr, nbytes, type, out) {
  const data = new Uint8Array(exports.memory.buffer, ptr, nbytes);
  if (out) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(data);
    return out;
  }
  return type ? new type.Array(data.slice().buffer) : data.slice();
}

// ---------------------------------------------------------------------------
// Arguments, checked in the order and with the words of the Python host
// (pyhost/ngcodec/_geometry.py)

// dtype -> TypedArray and bytes per value: exactly the precomputed types.
const DTYPES = {
  uint8: { Array: Uint8Array, bytes: 1 },
  int8: { Array: Int8Array, bytes: 1 },
  uint16: { Array: Uint16Array, bytes: 2 },
  int16: { Array: Int16Array, bytes: 2 },
  uint32: { Array: Uint32Array, bytes: 4 },
  int32: { Array: Int32Array, bytes: 4 },
  uint64: { Array: BigUint64Array, bytes: 8 },
  float32: { Array: Float32Array, bytes: 4 },
};
const RAW_DTYPES = Object.keys(DTYPES);
const CSEG_DTYPES = ["uint32", "uint64"];
for (const [name, type] of Object.entries(DTYPES)) type.name = name;

// The dtype a typed array holds; int64 and float64 are named so that the
// error says which unsupported dtype it got.
const ARRAY_DTYPES = [
  [Uint8Array, "uint8"], [Uint8ClampedArray, "uint8"], [Int8Array, "int8"],
  [Uint16Array, "uint16"], [Int16Array, "int16"], [Uint32Array, "uint32"],
  [Int32Array, "int32"], [BigUint64Array, "uint64"], [BigInt64Array, "int64"],
  [Float32Array, "float32"], [Float64Array, "float64"],
];

// A value as Python's repr would show the argument: sequences as tuples.
function repr(value) {
  if (Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    const items = Array.from(value, repr);
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
  }
  if (typeof value === "string") return `'${value}'`;
  return String(value);
}

const thousands = (n) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");

// [x, y, z]: 3 integers in [minimum, 2**32).
function xyz(value, name, minimum, what) {
  const ok = Array.isArray(value) || (ArrayBuffer.isView(value) && !(value instanceof DataView));
  const values = ok ? Array.from(value) : [];
  if (!ok || !values.every((v) => Number.isInteger(v) || typeof v === "bigint")) {
    throw paramError(what, `${name} must be 3 integers (x, y, z), got ${repr(value)}`);
  }
  const numbers = values.map(Number);
  if (numbers.length !== 3 || !numbers.every((v) => v >= minimum && v < 2 ** 32)) {
    throw paramError(
      what, `${name} must be 3 integers (x, y, z) in [${minimum}, 2**32), got ${repr(value)}`);
  }
  return numbers;
}

function channelCount(numChannels, what) {
  if (!Number.isInteger(numChannels) || numChannels < 1 || numChannels >= 2 ** 32) {
    throw paramError(what, `number of channels must be a positive integer, got ${repr(numChannels)}`);
  }
  return numChannels;
}

function dtypeOf(dtype, allowed, what) {
  if (typeof dtype === "string" && allowed.includes(dtype)) return DTYPES[dtype];
  const shown = typeof dtype === "string" ? dtype : repr(dtype);
  throw paramError(what, `dtype ${shown} is not supported (use one of ${allowed.join(", ")})`);
}

// The dtype of an array to encode: its TypedArray's, or options.dtype for
// bytes (an ArrayBuffer, a DataView, or a Uint8Array read as other values).
function arrayDtype(array, dtype, what) {
  const own = ARRAY_DTYPES.find(([Array]) => array instanceof Array)?.[1];
  const isBytes = own === undefined || own === "uint8";
  if (dtype === undefined) {
    if (own === undefined) {
      throw paramError(what, "dtype is required when the array is an ArrayBuffer or a DataView");
    }
    return own;
  }
  if (!isBytes && dtype !== own) {
    throw paramError(what, `dtype ${repr(dtype)} does not match the ${array.constructor.name} (${own})`);
  }
  return dtype;
}

// Any ArrayBuffer or view, as its bytes (no copy); TypeError otherwise.
function asBytes(data, what, name) {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const got = data === null ? "null" : typeof data === "object" ? data.constructor?.name : typeof data;
  throw new TypeError(`${what}: ${name} must be an ArrayBuffer or an ArrayBufferView, got ${got}`);
}

// The options object: undefined, or an object with only the known keys.
function optionsOf(options, allowed, what) {
  if (options === undefined) return {};
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`${what}: options must be an object, got ${repr(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const known = allowed.length ? `the options are ${allowed.join(", ")}` : "it takes none";
      throw new TypeError(`${what}: unknown option ${key} (${known})`);
    }
  }
  return options;
}

// Linear memory is 32-bit: no decoded chunk can reach 4 GiB.
function decodedNbytes(numChannels, size, valueBytes, what) {
  const n = [numChannels, ...size, valueBytes].reduce((a, v) => a * BigInt(v), 1n);
  if (n > 0xffffffffn) throw errorForStatus("NGC_ERR_TOO_LARGE", what, ` (${thousands(n)} bytes)`);
  return Number(n);
}

function checkSize(what, got, expected, numChannels, size, type) {
  if (got !== expected) {
    throw errorForStatus("NGC_ERR_SIZE_MISMATCH", what, ` (${got} bytes, expected ${expected} for ` +
      `${numChannels} channel(s) of (${size.join(", ")}) ${type.name})`);
  }
}

function outputArray(out, nbytes, type, what) {
  if (out === undefined) return null;
  if (!(out instanceof type.Array) || out.byteLength !== nbytes) {
    throw paramError(
      what, `out must be a ${type.Array.name} of length ${nbytes / type.bytes}, got ${describeArray(out)}`);
  }
  return out;
}

function describeArray(value) {
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${value.length}`;
  return repr(value);
}

// ---------------------------------------------------------------------------
// Codecs

/** ngc_version() as "major.minor.patch". */
export async function version() {
  return withModule("version", false, ({ exports }) => {
    const n = exports.ngc_version() >>> 0;
    return `${Math.floor(n / 10000)}.${Math.floor(n / 100) % 100}.${n % 100}`;
  });
}

// The arguments every call on a compressed_segmentation chunk shares,
// checked in the order of Python's (decode, and _prelude of the questions):
// { what, size, block, channels, type, src, nbytes (decoded), check }.
function csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels) {
  const size = xyz(chunkSize, "chunk size", 0, what);
  const block = xyz(blockSize, "block size", 1, what);
  const channels = channelCount(numChannels, what);
  const type = dtypeOf(dtype, CSEG_DTYPES, what);
  const src = asBytes(buf, what, "buf");
  const nbytes = decodedNbytes(channels, size, type.bytes, what);
  const check = (status, exports, chunk) => checkCseg(status, exports, chunk, what, size, block);
  return { what, size, block, channels, type, src, nbytes, check };
}

// Runs body(ctx, chunk, srcPtr) with the chunk's struct and bytes in linear
// memory (a decoding call: a trap blames the data).
function withChunk(call, body) {
  return withModule(call.what, true, (ctx) => {
    const chunk = writeChunk(ctx, call.size, call.channels, call.type.bytes, call.block);
    return body(ctx, chunk, copyIn(ctx, call.src));
  });
}

/**
 * Decodes a compressed_segmentation chunk into a (C, Z, Y, X) array, x
 * fastest: Uint32Array for "uint32", BigUint64Array for "uint64".
 */
export async function decodeCompressedSegmentation(buf, chunkSize, dtype, blockSize, options) {
  const what = "compressed_segmentation decode";
  const { numChannels = 1, out } = optionsOf(options, ["numChannels", "out"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const target = outputArray(out, call.nbytes, call.type, what);
  return withChunk(call, (ctx, chunk, srcPtr) => {
    const dst = ctx.alloc(call.nbytes);
    const status = ctx.exports.ngc_cseg_decode(chunk.ptr, srcPtr, call.src.byteLength, dst, call.nbytes);
    call.check(status, ctx.exports, chunk);
    return copyOut(ctx.exports, dst, call.nbytes, call.type, target);
  });
}

/**
 * Encodes a (C, Z, Y, X) uint32/uint64 label array as compressed_segmentation.
 * options.chunkSize is required (the array is flat).
 */
export async function encodeCompressedSegmentation(array, blockSize, options) {
  const what = "compressed_segmentation encode";
  const { chunkSize, numChannels = 1, dtype } =
    optionsOf(options, ["chunkSize", "numChannels", "dtype"], what);
  const block = xyz(blockSize, "block size", 1, what);
  const src = asBytes(array, what, "array");
  const type = dtypeOf(arrayDtype(array, dtype, what), CSEG_DTYPES, what);
  const size = xyz(chunkSize, "chunk size", 0, what);
  const channels = channelCount(numChannels, what);
  checkSize(what, src.byteLength, decodedNbytes(channels, size, type.bytes, what), channels, size, type);
  return withModule(what, false, (ctx) => {
    const { exports } = ctx;
    const chunk = writeChunk(ctx, size, channels, type.bytes, block);
    const bound = exports.ngc_cseg_encode_bound(chunk.ptr, chunk.ret);
    if (bound < 0) throw errorForStatus(bound, what);
    const capacity = readU32(exports, chunk.ret);
    const srcPtr = copyIn(ctx, src);
    const dst = ctx.alloc(capacity);
    const status = exports.ngc_cseg_encode(chunk.ptr, srcPtr, src.byteLength, dst, capacity, chunk.ret);
    checkCseg(status, exports, chunk, what, size, block);
    return copyOut(exports, dst, readU32(exports, chunk.ret));
  });
}

// The module's word on a raw geometry (ngc_decoded_size), in bytes. The
// bytes themselves never pass through linear memory: for raw that would
// only add two copies to what is one.
function rawSize(what, decoding, size, channels, type) {
  return withModule(what, decoding, (ctx) => {
    const { exports } = ctx;
    const chunk = writeChunk(ctx, size, channels, type.bytes);
    const status = exports.ngc_decoded_size(chunk.ptr, chunk.ret);
    if (status < 0) throw errorForStatus(status, what);
    return readU32(exports, chunk.ret);
  });
}

/** Decodes a raw chunk (little-endian bytes) into the dtype's TypedArray. */
export async function decodeRaw(buf, chunkSize, dtype, options) {
  const what = "raw decode";
  const { numChannels = 1, out } = optionsOf(options, ["numChannels", "out"], what);
  const size = xyz(chunkSize, "chunk size", 0, what);
  const channels = channelCount(numChannels, what);
  const type = dtypeOf(dtype, RAW_DTYPES, what);
  const src = asBytes(buf, what, "buf");
  decodedNbytes(channels, size, type.bytes, what);
  const nbytes = await rawSize(what, true, size, channels, type);
  checkSize(what, src.byteLength, nbytes, channels, size, type);
  const target = outputArray(out, nbytes, type, what);
  if (target) {
    new Uint8Array(target.buffer, target.byteOffset, target.byteLength).set(src);
    return target;
  }
  return new type.Array(src.slice().buffer);
}

/** Encodes a (C, Z, Y, X) array as a raw chunk (its little-endian bytes). */
export async function encodeRaw(array, options) {
  const what = "raw encode";
  const { chunkSize, numChannels = 1, dtype } =
    optionsOf(options, ["chunkSize", "numChannels", "dtype"], what);
  const src = asBytes(array, what, "array");
  const type = dtypeOf(arrayDtype(array, dtype, what), RAW_DTYPES, what);
  const size = xyz(chunkSize, "chunk size", 0, what);
  const channels = channelCount(numChannels, what);
  decodedNbytes(channels, size, type.bytes, what);
  checkSize(what, src.byteLength, await rawSize(what, false, size, channels, type), channels, size, type);
  return src.slice();
}

// ---------------------------------------------------------------------------
// Downsampling: ngc_downsample, as pyhost/ngcodec/precomputed/downsample.py
// (whose docstring states the rules) and its call in runtime/downsample.py.

const DOWNSAMPLE_METHODS = new Map([["mean", 0], ["mode", 1]]); // NGC_DOWNSAMPLE_*
const DOWNSAMPLE_PARAMS_BYTES = 40; // struct ngc_downsample_params: 10 uint32
const KIND_UNSIGNED = 0; // NGC_KIND_*
const KIND_SIGNED = 1;
const KIND_FLOAT = 2;

// The arrays downsample takes, with their dtype and NGC_KIND_*: the
// precomputed dtypes, as Python's downsample.
const DOWNSAMPLE_ARRAYS = [
  [Uint8Array, "uint8", KIND_UNSIGNED], [Uint8ClampedArray, "uint8", KIND_UNSIGNED],
  [Int8Array, "int8", KIND_SIGNED], [Uint16Array, "uint16", KIND_UNSIGNED],
  [Int16Array, "int16", KIND_SIGNED], [Uint32Array, "uint32", KIND_UNSIGNED],
  [Int32Array, "int32", KIND_SIGNED], [BigUint64Array, "uint64", KIND_UNSIGNED],
  [Float32Array, "float32", KIND_FLOAT],
];
const DOWNSAMPLE_DTYPES = [...new Set(DOWNSAMPLE_ARRAYS.map(([, name]) => name))];

/**
 * Downsamples the (C, Z, Y, X) array `data` of size [x, y, z] by integer
 * `factors` [fx, fy, fz] with "mode" or "mean", as Python's
 * ngcodec.precomputed.downsample.downsample: { data (the same TypedArray
 * type), size: [ceil(x / fx), ceil(y / fy), ceil(z / fz)] }. The number of
 * channels is data.length / (x * y * z).
 */
export async function downsample(data, size, factors, method, options) {
  const what = "downsample";
  optionsOf(options, [], what);
  const entry = DOWNSAMPLE_ARRAYS.find(([Type]) => data instanceof Type);
  if (entry === undefined) {
    const other = ARRAY_DTYPES.find(([Type]) => data instanceof Type)?.[1];
    if (other !== undefined) {
      throw paramError(what, `dtype ${other} is not supported (use one of ${DOWNSAMPLE_DTYPES.join(", ")})`);
    }
    const got = data === null ? "null" : typeof data === "object" ? data.constructor?.name : typeof data;
    throw paramError(what, `data must be a TypedArray, got ${got}`);
  }
  const [Type, , kind] = entry;
  const [x, y, z] = xyz(size, "size", 0, what);
  const voxels = x * y * z;
  if (voxels === 0 ? data.length !== 0 : data.length % voxels !== 0) {
    throw paramError(what, `data has ${data.length} values, not a whole number of channels ` +
      `of size ${repr([x, y, z])}`);
  }
  const f = xyz(factors, "factors", 1, what);
  if (!DOWNSAMPLE_METHODS.has(method)) {
    throw paramError(what, `method must be 'mode' or 'mean', got ${repr(method)}`);
  }
  const channels = voxels === 0 ? 0 : data.length / voxels;
  const nbytes = decodedNbytes(channels, [x, y, z], Type.BYTES_PER_ELEMENT, what);
  const outSize = [x, y, z].map((n, i) => Math.ceil(n / f[i]));
  const outNbytes = channels * outSize[0] * outSize[1] * outSize[2] * Type.BYTES_PER_ELEMENT;
  if (outNbytes === 0) return { data: new Type(0), size: outSize };
  return withModule(what, false, (ctx) => {
    const { exports } = ctx;
    const paramsPtr = ctx.alloc(DOWNSAMPLE_PARAMS_BYTES);
    writeU32s(exports, paramsPtr, [x, y, z, channels, Type.BYTES_PER_ELEMENT, kind, ...f,
      DOWNSAMPLE_METHODS.get(method)]);
    // 8-byte aligned: the module reads uint64 and int64 values in place.
    const srcPtr = allocAligned(ctx, nbytes);
    const dst = allocAligned(ctx, outNbytes);
    bytes(exports).set(new Uint8Array(data.buffer, data.byteOffset, nbytes), srcPtr);
    const status = exports.ngc_downsample(paramsPtr, srcPtr, nbytes, dst, outNbytes);
    if (status < 0) throw errorForStatus(status, what);
    return { data: copyOut(exports, dst, outNbytes, { Array: Type }), size: outSize };
  });
}

// ---------------------------------------------------------------------------
// Questions asked of compressed_segmentation chunks (labels, counts,
// contains, mask, remap, box and voxel reads): the packed indices and tables
// are read, voxels are not decoded. Each checks the chunk as decode does, so
// a chunk decode refuses is refused with the same error and place. As
// pyhost/ngcodec/compressed_segmentation.py; the calls are those of
// runtime/questions.py.

// Room for this many (label, count) pairs first; the module says how many
// it needs when they do not fit.
const FIRST_COUNTS_CAPACITY = 4096;
const LABEL_COUNT_BYTES = 16; // struct ngc_label_count: uint64 label, count
const LABELS_BYTES = 8; // struct ngc_labels: labels, count
const MAPPING_BYTES = 24; // struct ngc_mapping: keys, values, count, flags, uint64 missing
const MAPPING_MISSING = 16;
const BOX_BYTES = 24; // struct ngc_box: lo[3], hi[3]
const PRESERVE_MISSING = 1; // NGC_PRESERVE_MISSING

const isInteger = (v) => typeof v === "bigint" || Number.isInteger(v);
const topOf = (type) => (1n << BigInt(8 * type.bytes)) - 1n;
// A uint64 label as the dtype's element: a number for uint32, else a bigint.
const labelOf = (value, type) => (type.bytes === 4 ? Number(value) : value);

// A boolean option: undefined is its default.
function flag(value, name, fallback, what) {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw paramError(what, `${name} must be true or false, got ${repr(value)}`);
  return value;
}

// Sorted, unique uint64 labels from one label (number or bigint) or an
// iterable of them; labels the dtype cannot hold are dropped (no voxel has
// them). As _label_set in Python.
function labelSet(labels, type, what) {
  const big = integers(labels, what, "labels").map(BigInt);
  const lowest = big.reduce((a, v) => (v < a ? v : a), 0n);
  if (lowest < 0n) throw paramError(what, `labels must be non-negative, got ${lowest}`);
  const top = topOf(type);
  return BigUint64Array.from(new Set(big.filter((v) => v <= top))).sort();
}

// Writes `set` and its struct ngc_labels; the struct's address.
function writeLabels(ctx, set) {
  const labelsPtr = copyIn64(ctx, set);
  const ptr = allocAligned(ctx, LABELS_BYTES);
  writeU32s(ctx.exports, ptr, [labelsPtr, set.length]);
  return ptr;
}

// [{ labels: BigUint64Array, counts: BigUint64Array }] per channel, from
// ngc_cseg_label_counts (labels still uint64).
function labelCounts(call) {
  return withChunk(call, (ctx, chunk, srcPtr) => {
    const { exports } = ctx;
    const endsPtr = ctx.alloc(4 * call.channels);
    let capacity = FIRST_COUNTS_CAPACITY;
    for (;;) {
      const buffer = ctx.alloc(capacity * LABEL_COUNT_BYTES + 7);
      const dst = buffer + ((8 - (buffer % 8)) % 8); // uint64 pairs: 8-byte aligned
      const status = exports.ngc_cseg_label_counts(
        chunk.ptr, srcPtr, call.src.byteLength, dst, capacity, endsPtr, chunk.ret);
      const needed = readU32(exports, chunk.ret);
      if (status === CODE.NGC_ERR_DST_TOO_SMALL && needed > capacity) {
        ctx.free(buffer);
        capacity = needed; // the exact need: once more
        continue;
      }
      call.check(status, exports, chunk);
      // (label, count) pairs, copied out of linear memory at once.
      const pairs = new BigUint64Array(exports.memory.buffer.slice(dst, dst + needed * LABEL_COUNT_BYTES));
      const ends = new Uint32Array(exports.memory.buffer.slice(endsPtr, endsPtr + 4 * call.channels));
      return Array.from(ends, (end, c) => {
        const start = c === 0 ? 0 : ends[c - 1];
        const labels = new BigUint64Array(end - start);
        const counts = new BigUint64Array(end - start);
        for (let i = start; i < end; i++) {
          labels[i - start] = pairs[2 * i];
          counts[i - start] = pairs[2 * i + 1];
        }
        return { labels, counts };
      });
    }
  });
}

// The labels of one channel in the dtype's TypedArray.
const typedLabels = (labels, type) => (type.bytes === 4 ? Uint32Array.from(labels, Number) : labels);

async function csegLabels(buf, chunkSize, dtype, blockSize, options) {
  const what = "compressed_segmentation labels";
  const { numChannels = 1 } = optionsOf(options, ["numChannels"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const channels = await labelCounts(call);
  return channels.map(({ labels }) => typedLabels(labels, call.type));
}

async function csegCounts(buf, chunkSize, dtype, blockSize, options) {
  const what = "compressed_segmentation counts";
  const { numChannels = 1 } = optionsOf(options, ["numChannels"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const channels = await labelCounts(call);
  return channels.map(({ labels, counts }) => ({ labels: typedLabels(labels, call.type), counts }));
}

async function csegContains(buf, chunkSize, dtype, blockSize, label, options) {
  const what = "compressed_segmentation contains";
  const { numChannels = 1, perChannel } = optionsOf(options, ["numChannels", "perChannel"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const each = flag(perChannel, "perChannel", false, what);
  const set = labelSet(label, call.type, what);
  const found = await withChunk(call, (ctx, chunk, srcPtr) => {
    const setPtr = writeLabels(ctx, set);
    const dst = ctx.alloc(call.channels);
    const status = ctx.exports.ngc_cseg_contains(chunk.ptr, srcPtr, call.src.byteLength, setPtr, dst);
    call.check(status, ctx.exports, chunk);
    return copyOut(ctx.exports, dst, call.channels);
  });
  return each ? Array.from(found, (b) => b !== 0) : found.some((b) => b !== 0);
}

async function csegMask(buf, chunkSize, dtype, blockSize, labels, options) {
  const what = "compressed_segmentation mask";
  const { numChannels = 1 } = optionsOf(options, ["numChannels"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const set = labelSet(labels, call.type, what);
  const nbytes = call.nbytes / call.type.bytes; // one byte per voxel
  return withChunk(call, (ctx, chunk, srcPtr) => {
    const setPtr = writeLabels(ctx, set);
    const dst = ctx.alloc(nbytes);
    const status = ctx.exports.ngc_cseg_mask(chunk.ptr, srcPtr, call.src.byteLength, setPtr, dst, nbytes);
    call.check(status, ctx.exports, chunk);
    return copyOut(ctx.exports, dst, nbytes);
  });
}

// [lower, upper] of a box [[x0, y0, z0], [x1, y1, z1]] inside the chunk.
function boxOf(box, size, what) {
  if (!Array.isArray(box) || box.length !== 2) {
    throw paramError(what, `box must be ((x0, y0, z0), (x1, y1, z1)), got ${repr(box)}`);
  }
  const lower = xyz(box[0], "box lower corner", 0, what);
  const upper = xyz(box[1], "box upper corner", 0, what);
  if (lower.some((lo, i) => lo > upper[i] || upper[i] > size[i])) {
    throw paramError(what, `box ${repr(lower)}..${repr(upper)} is not inside the chunk ` +
      `(0, 0, 0)..${repr(size)}`);
  }
  return [lower, upper];
}

async function csegReadBox(buf, chunkSize, dtype, blockSize, box, options) {
  const what = "compressed_segmentation read_box";
  const { numChannels = 1, out } = optionsOf(options, ["numChannels", "out"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const [lower, upper] = boxOf(box, call.size, what);
  const voxels = lower.reduce((n, lo, i) => n * (upper[i] - lo), 1);
  const nbytes = call.channels * voxels * call.type.bytes; // below the chunk's 4 GiB
  const target = outputArray(out, nbytes, call.type, what);
  return withChunk(call, (ctx, chunk, srcPtr) => {
    const boxPtr = ctx.alloc(BOX_BYTES);
    writeU32s(ctx.exports, boxPtr, [...lower, ...upper]);
    const dst = ctx.alloc(nbytes);
    const status = ctx.exports.ngc_cseg_decode_box(
      chunk.ptr, boxPtr, srcPtr, call.src.byteLength, dst, nbytes);
    call.check(status, ctx.exports, chunk);
    return copyOut(ctx.exports, dst, nbytes, call.type, target);
  });
}

// The channel option of a voxel read: an integer in [0, channels).
function channelIndex(channel, channels, what) {
  if (!Number.isInteger(channel) || channel < 0 || channel >= channels) {
    throw paramError(what, `channel must be in [0, ${channels}), got ${repr(channel)}`);
  }
  return channel;
}

const POINTS_BYTES = 12; // struct ngc_points: xyz, count, channel
const INTEGER_ARRAYS = [Uint8Array, Uint8ClampedArray, Int8Array, Uint16Array, Int16Array,
  Uint32Array, Int32Array, BigUint64Array, BigInt64Array];
const isIntegerArray = (v) => INTEGER_ARRAYS.some((Array) => v instanceof Array);

// Positions as flat (x, y, z) words in a Uint32Array: an array of [x, y, z]
// triples (arrays or integer typed arrays), or a flat array or integer typed
// array of 3N integers. A position outside the chunk is named, as in Python.
function pointsOf(positions, size, what) {
  const shape = () => paramError(what, "positions must be an (N, 3) array of integers (x, y, z)");
  let flat;
  if (isIntegerArray(positions)) {
    flat = positions;
  } else if (Array.isArray(positions)) {
    const nested = positions.length > 0 && positions.every((p) => Array.isArray(p) || isIntegerArray(p));
    if (nested) {
      flat = [];
      for (const p of positions) {
        if (p.length !== 3) throw shape();
        flat.push(p[0], p[1], p[2]);
      }
    } else {
      flat = positions;
    }
    if (!flat.every(isInteger)) throw shape();
  } else {
    throw shape();
  }
  if (flat.length % 3 !== 0) throw shape();
  const count = flat.length / 3;
  if (count >= 2 ** 32) throw shape();
  const points = new Uint32Array(flat.length);
  for (let i = 0; i < count; i++) {
    for (let a = 0; a < 3; a++) {
      const v = flat[3 * i + a];
      // Numbers and bigints compare with the size alike.
      if (v < 0 || v >= size[a]) {
        const bad = [flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]].map(String);
        throw paramError(what, `position (${bad.join(", ")}) is outside the chunk ` +
          `(0, 0, 0)..${repr(size)}`);
      }
      points[3 * i + a] = Number(v);
    }
  }
  return points;
}

// The labels at `points` (flat x, y, z words) of one channel, from
// ngc_cseg_read_voxels: a Uint32Array or a BigUint64Array.
function readPoints(call, points, channel) {
  const count = points.length / 3;
  const nbytes = count * call.type.bytes;
  return withChunk(call, (ctx, chunk, srcPtr) => {
    const { exports } = ctx;
    const xyzPtr = ctx.alloc(points.byteLength);
    new Uint32Array(exports.memory.buffer, xyzPtr, points.length).set(points);
    const pointsPtr = ctx.alloc(POINTS_BYTES);
    writeU32s(exports, pointsPtr, [xyzPtr, count, channel]);
    const dst = allocAligned(ctx, nbytes);
    const status = exports.ngc_cseg_read_voxels(chunk.ptr, pointsPtr, srcPtr, call.src.byteLength, dst, nbytes);
    call.check(status, exports, chunk);
    return copyOut(exports, dst, nbytes, call.type);
  });
}

async function csegReadVoxels(buf, chunkSize, dtype, blockSize, positions, options) {
  const what = "compressed_segmentation read_voxels";
  const { numChannels = 1, channel = 0 } = optionsOf(options, ["numChannels", "channel"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const c = channelIndex(channel, call.channels, what);
  return readPoints(call, pointsOf(positions, call.size, what), c);
}

async function csegReadVoxel(buf, chunkSize, dtype, blockSize, position, options) {
  const what = "compressed_segmentation read_voxel";
  const { numChannels = 1, channel = 0 } = optionsOf(options, ["numChannels", "channel"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const c = channelIndex(channel, call.channels, what);
  const at = xyz(position, "position", 0, what);
  if (at.some((p, i) => p >= call.size[i])) {
    throw paramError(what, `position ${repr(at)} is outside the chunk (0, 0, 0)..${repr(call.size)}`);
  }
  return (await readPoints(call, Uint32Array.from(at), c))[0];
}

// One integer or an iterable of them, as an array (else the error `name
// must be integers`); as _integers in Python's _labels.py.
function integers(value, what, name) {
  const iterable = typeof value === "object" && value !== null && Symbol.iterator in value;
  const values = iterable ? Array.from(value) : [value];
  if (!values.every(isInteger)) throw paramError(what, `${name} must be integers`);
  return values;
}

// { keys, values }: BigUint64Arrays, keys sorted and unique, from a Map or a
// pair [keys, values] (each an iterable of integers, or one integer). As
// mapping() in Python's _labels.py.
function mappingOf(mapping, type, what) {
  let keys;
  let values;
  if (mapping instanceof Map) {
    keys = Array.from(mapping.keys());
    values = Array.from(mapping.values());
  } else if (Array.isArray(mapping) && mapping.length === 2) {
    [keys, values] = mapping;
  } else {
    throw paramError(what, "mapping must be a Map or a pair [keys, values]");
  }
  keys = integers(keys, what, "mapping keys");
  values = integers(values, what, "mapping values");
  if (keys.length !== values.length) {
    throw paramError(what, `mapping has ${keys.length} keys but ${values.length} values`);
  }
  const top = topOf(type);
  const k = keys.map(BigInt);
  const v = values.map(BigInt);
  for (const [name, list] of [["key", k], ["value", v]]) {
    const lowest = list.reduce((a, x) => (x < a ? x : a), 0n);
    const highest = list.reduce((a, x) => (x > a ? x : a), 0n);
    if (lowest < 0n || highest > top) {
      const bad = lowest < 0n ? lowest : highest;
      throw paramError(what, `mapping ${name} ${bad} does not fit in ${type.name}`);
    }
  }
  const order = k.map((_, i) => i).sort((a, b) => (k[a] < k[b] ? -1 : k[a] > k[b] ? 1 : a - b));
  const outKeys = [];
  const outValues = [];
  for (const i of order) {
    const last = outKeys.length - 1;
    if (last >= 0 && outKeys[last] === k[i]) {
      if (outValues[last] !== v[i]) throw paramError(what, `mapping gives key ${k[i]} two values`);
      continue; // the same pair twice
    }
    outKeys.push(k[i]);
    outValues.push(v[i]);
  }
  return { keys: BigUint64Array.from(outKeys), values: BigUint64Array.from(outValues) };
}

function notMapped(what, label) {
  const error = errorForStatus("NGC_ERR_NOT_MAPPED", what,
    `: label ${label} (pass preserveMissingLabels: true to keep labels the mapping lacks)`);
  error.label = label;
  return error;
}

async function csegRemap(buf, chunkSize, dtype, blockSize, mapping, options) {
  const what = "compressed_segmentation remap";
  const { numChannels = 1, preserveMissingLabels } =
    optionsOf(options, ["numChannels", "preserveMissingLabels"], what);
  const call = csegChunk(what, buf, chunkSize, dtype, blockSize, numChannels);
  const preserve = flag(preserveMissingLabels, "preserveMissingLabels", false, what);
  const { keys, values } = mappingOf(mapping, call.type, what);
  const n = call.src.byteLength;
  const remapped = await withChunk(call, (ctx, chunk, srcPtr) => {
    const { exports } = ctx;
    const keysPtr = copyIn64(ctx, keys);
    const valuesPtr = copyIn64(ctx, values);
    const mappingPtr = allocAligned(ctx, MAPPING_BYTES);
    writeU32s(exports, mappingPtr, [keysPtr, valuesPtr, keys.length, preserve ? PRESERVE_MISSING : 0, 0, 0]);
    const dst = ctx.alloc(n);
    const status = exports.ngc_cseg_remap(chunk.ptr, srcPtr, n, mappingPtr, dst, n);
    if (status === CODE.NGC_ERR_NOT_MAPPED) {
      const label = view(exports).getBigUint64(mappingPtr + MAPPING_MISSING, true);
      throw notMapped(what, labelOf(label, call.type));
    }
    if (status === CODE.NGC_ERR_TABLE_OVERLAP) return null;
    call.check(status, exports, chunk);
    return copyOut(exports, dst, n);
  });
  if (remapped !== null) return remapped;
  // A valid chunk whose tables overlap other data (no encoder we know of
  // writes one): decode, map and encode it.
  const { size, block, channels, type } = call;
  const labels = await decodeCompressedSegmentation(call.src, size, type.name, block, { numChannels: channels });
  const index = new Map(Array.from(keys, (key, i) => [labelOf(key, type), labelOf(values[i], type)]));
  for (let i = 0; i < labels.length; i++) {
    const value = index.get(labels[i]);
    if (value !== undefined) labels[i] = value;
    else if (!preserve) throw notMapped(what, labels[i]);
  }
  return encodeCompressedSegmentation(labels, block, { chunkSize: size, numChannels: channels });
}

/**
 * compressed_segmentation in one namespace: decode and encode (the
 * functions above), and the questions answered on the compressed chunk
 * without decoding it. See ngcodec.d.ts.
 */
export const compressedSegmentation = Object.freeze({
  decode: decodeCompressedSegmentation,
  encode: encodeCompressedSegmentation,
  labels: csegLabels,
  counts: csegCounts,
  contains: csegContains,
  mask: csegMask,
  readBox: csegReadBox,
  readVoxel: csegReadVoxel,
  readVoxels: csegReadVoxels,
  remap: csegRemap,
});

// ---------------------------------------------------------------------------
// zarr v3 in zarrita.js: the array -> bytes codec
// "ngcodec.compressed_segmentation" of docs/ZARR.md. The codec is a plain
// class of zarrita's codec interface (fromConfig, kind, encode, decode);
// nothing here imports zarrita: the caller hands its registry over.

const ZARR_NAME = "ngcodec.compressed_segmentation";
const ZARR_WHAT = `zarr codec ${ZARR_NAME}`;
const ZARR_CONFIG_KEYS = ["block_shape"];

// A value of the zarr metadata (JSON) as Python's repr shows it.
const jsonText = (value) => (value === undefined ? "undefined" : JSON.stringify(value, (_, v) =>
  (typeof v === "bigint" ? Number(v) : v)));

// C-order element strides of `shape`.
function cStrides(shape) {
  const stride = new Array(shape.length);
  let n = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    stride[i] = n;
    n *= shape[i];
  }
  return stride;
}

// The codec's geometry from its configuration and zarrita's chunk metadata
// ({ dataType, shape }): checked as ngcodec.zarr.v3 checks it in Python.
function zarrGeometry(configuration, meta) {
  const config = configuration ?? {};
  if (typeof config !== "object" || Array.isArray(config)) {
    throw paramError(ZARR_WHAT, `configuration must be an object, got ${jsonText(configuration)}`);
  }
  const unknown = Object.keys(config).filter((k) => !ZARR_CONFIG_KEYS.includes(k)).sort();
  if (unknown.length) {
    throw paramError(ZARR_WHAT, `unknown configuration keys [${unknown.map((k) => `'${k}'`).join(", ")}]`);
  }
  const blockShape = config.block_shape ?? [8, 8, 8];
  if (!Array.isArray(blockShape) || blockShape.length !== 3 ||
      !blockShape.every((v) => Number.isInteger(v) && v >= 1 && v < 2 ** 32)) {
    throw paramError(ZARR_WHAT, `block_shape must be 3 positive integers (z, y, x), got ${jsonText(blockShape)}`);
  }
  const dtype = meta?.dataType;
  if (!CSEG_DTYPES.includes(dtype)) {
    throw paramError(ZARR_WHAT, `dtype ${dtype} is not supported ` +
      "(compressed_segmentation holds uint32 or uint64 labels)");
  }
  const shape = meta.shape;
  if (!Array.isArray(shape) || !shape.every((v) => Number.isInteger(v) && v >= 0)) {
    throw paramError(ZARR_WHAT, `chunk shape must be an array of integers, got ${jsonText(shape)}`);
  }
  if (shape.length !== 3 && shape.length !== 4) {
    throw paramError(ZARR_WHAT, `expected 3 axes (z, y, x) or 4 (c, z, y, x), got ${shape.length} ` +
      `(shape ${repr(shape)})`);
  }
  const [z, y, x] = shape.slice(-3);
  const [bz, by, bx] = blockShape;
  return {
    blockShape: blockShape.slice(),
    dtype,
    shape: shape.slice(),
    stride: cStrides(shape),
    chunkSize: [x, y, z],
    blockSize: [bx, by, bz],
    numChannels: shape.length === 4 ? shape[0] : 1,
  };
}

/**
 * The zarr v3 codec "ngcodec.compressed_segmentation" (docs/ZARR.md) for
 * zarrita.js: an array -> bytes codec whose chunk bytes are one Neuroglancer
 * compressed_segmentation chunk. Arrays have 3 axes (z, y, x) or 4
 * (c, z, y, x); block_shape is (z, y, x). Register it with
 * registerZarrita(zarr.registry).
 */
export class zarritaCodec {
  static codecName = ZARR_NAME;
  static kind = "array_to_bytes";

  /** zarrita's constructor: the codec's configuration, the chunk metadata. */
  static fromConfig(configuration, meta) {
    return new zarritaCodec(configuration, meta);
  }

  #geometry;

  constructor(configuration, meta) {
    this.kind = "array_to_bytes";
    this.#geometry = zarrGeometry(configuration, meta);
    this.blockShape = this.#geometry.blockShape.slice();
  }

  /** A chunk's bytes as { data, shape, stride }: C order, the dtype's TypedArray. */
  async decode(bytes) {
    const g = this.#geometry;
    const data = await decodeCompressedSegmentation(bytes, g.chunkSize, g.dtype, g.blockSize,
      { numChannels: g.numChannels });
    return { data, shape: g.shape.slice(), stride: g.stride.slice() };
  }

  /** { data, shape, stride } (C order, the chunk's shape) as the chunk's bytes. */
  async encode(chunk) {
    const g = this.#geometry;
    const { data, shape, stride } = chunk ?? {};
    if (shape !== undefined && (shape.length !== g.shape.length || shape.some((v, i) => v !== g.shape[i]))) {
      throw paramError(ZARR_WHAT, `chunk shape ${repr(shape)} is not the array's chunk shape ${repr(g.shape)}`);
    }
    if (stride !== undefined && (stride.length !== g.stride.length || stride.some((v, i) => v !== g.stride[i]))) {
      throw paramError(ZARR_WHAT, `chunk strides ${repr(stride)} are not C order ${repr(g.stride)}`);
    }
    return encodeCompressedSegmentation(data, g.blockSize,
      { chunkSize: g.chunkSize, numChannels: g.numChannels, dtype: g.dtype });
  }
}

/**
 * Adds zarritaCodec to zarrita's codec registry (`import { registry } from
 * "zarrita"`) under "ngcodec.compressed_segmentation"; returns the registry.
 */
export function registerZarrita(registry) {
  if (registry === null || typeof registry !== "object" || typeof registry.set !== "function") {
    throw new TypeError("registerZarrita(registry): expected zarrita's registry (a Map)");
  }
  registry.set(ZARR_NAME, async () => zarritaCodec);
  return registry;
}
