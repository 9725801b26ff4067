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
      throw new TypeError(`${what}: unknown option ${key} (the options are ${allowed.join(", ")})`);
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

/**
 * Decodes a compressed_segmentation chunk into a (C, Z, Y, X) array, x
 * fastest: Uint32Array for "uint32", BigUint64Array for "uint64".
 */
export async function decodeCompressedSegmentation(buf, chunkSize, dtype, blockSize, options) {
  const what = "compressed_segmentation decode";
  const { numChannels = 1, out } = optionsOf(options, ["numChannels", "out"], what);
  const size = xyz(chunkSize, "chunk size", 0, what);
  const block = xyz(blockSize, "block size", 1, what);
  const channels = channelCount(numChannels, what);
  const type = dtypeOf(dtype, CSEG_DTYPES, what);
  const src = asBytes(buf, what, "buf");
  const nbytes = decodedNbytes(channels, size, type.bytes, what);
  const target = outputArray(out, nbytes, type, what);
  return withModule(what, true, (ctx) => {
    const { exports } = ctx;
    const chunk = writeChunk(ctx, size, channels, type.bytes, block);
    const srcPtr = copyIn(ctx, src);
    const dst = ctx.alloc(nbytes);
    const status = exports.ngc_cseg_decode(chunk.ptr, srcPtr, src.byteLength, dst, nbytes);
    if (status < 0) {
      throw errorForStatus(status, what, "", ...failurePlace(exports, chunk.ptr, size, block));
    }
    return copyOut(exports, dst, nbytes, type, target);
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
    if (status < 0) {
      throw errorForStatus(status, what, "", ...failurePlace(exports, chunk.ptr, size, block));
    }
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
