// Types of ngcodec.js, the browser/Node host of ngcodec.wasm.
//
// Arrays are flat, in (C, Z, Y, X) order with x varying fastest; chunk and
// block sizes are [x, y, z]. Data on the wire is little-endian.

/** Data types of Neuroglancer precomputed raw chunks. */
export type DataType =
  | "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32"
  | "uint64" | "int64" | "float32" | "float64";

/** Label types of compressed_segmentation chunks. */
export type SegmentationDataType = "uint32" | "uint64";

/** The TypedArray returned for each data type. */
export interface TypedArrayFor {
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  uint32: Uint32Array;
  int32: Int32Array;
  uint64: BigUint64Array;
  int64: BigInt64Array;
  float32: Float32Array;
  float64: Float64Array;
}

/**
 * Input bytes: an ArrayBuffer or any view of one (a typed array of any
 * element type, a DataView). Spelled out rather than BufferSource so that
 * typed arrays returned by these functions are accepted under TS 5.7+.
 */
export type Bytes = ArrayBuffer | ArrayBufferView;

/** [x, y, z] */
export type Vec3 = readonly [number, number, number];

/**
 * Where to load ngcodec.wasm from: a URL (fetched in browsers; file: URLs
 * and bare paths are read from the file system in Node), a fetch Response,
 * the module's bytes, or an already compiled module.
 */
export type WasmSource =
  | string | URL | Response | Bytes | WebAssembly.Module;

/**
 * Loads, compiles and instantiates the module once (the codec functions call
 * it themselves). The default source is `new URL("./ngcodec.wasm",
 * import.meta.url)`: the module beside ngcodec.js.
 * Passing a source replaces any module loaded before. A load that fails
 * rejects with the loader's own error (a fetch or file system error,
 * WebAssembly.CompileError, TypeError for an unusable source), not an
 * NgcodecError, and the next call tries again.
 */
export function init(source?: WasmSource): Promise<void>;

/** The module's version, "major.minor.patch" (from ngc_version()). */
export function version(): Promise<string>;

/**
 * The error every codec function throws for bad data or bad parameters.
 *
 * - `code` is the C status (a negative NGC_ERR_* value of ngcodec.h) and
 *   `codeName` its stable name, e.g. "NGC_ERR_BAD_TABLE_INDEX".
 * - Invalid arguments (unknown dataType, sizes that are not three uint32)
 *   are rejected before the module is called, as NGC_ERR_BAD_PARAMS (-1).
 * - If the module traps (WebAssembly.RuntimeError, or a stack overflow
 *   RangeError), `code` is -1000 and `codeName` "NGC_ERR_TRAP", `cause` is
 *   the original error, and the instance is discarded: the next call gets a
 *   fresh one. No C status uses -1000.
 */
export class NgcodecError extends Error {
  readonly name: "NgcodecError";
  code: number;
  codeName: string;
  /** compressed_segmentation decoding: the channel at fault, if known. */
  failChannel?: number;
  /** compressed_segmentation decoding: the block at fault (x fastest). */
  failBlock?: number;
}

/** Decodes a compressed_segmentation chunk. */
export function decodeCompressedSegmentation<T extends SegmentationDataType>(
  data: Bytes,
  chunkSize: Vec3,
  blockSize: Vec3,
  dataType: T,
  numChannels?: number,
): Promise<TypedArrayFor[T]>;

/**
 * Encodes a (C, Z, Y, X) label array (normally the TypedArray of `dataType`;
 * any Bytes holding its little-endian values are accepted).
 */
export function encodeCompressedSegmentation(
  array: Bytes,
  chunkSize: Vec3,
  blockSize: Vec3,
  dataType: SegmentationDataType,
  numChannels?: number,
): Promise<Uint8Array>;

/** Decodes a raw chunk; its size must be exactly C*X*Y*Z values. */
export function decodeRaw<T extends DataType>(
  data: Bytes,
  chunkSize: Vec3,
  dataType: T,
  numChannels?: number,
): Promise<TypedArrayFor[T]>;

/** Encodes a (C, Z, Y, X) array as a raw chunk. */
export function encodeRaw(
  array: Bytes,
  chunkSize: Vec3,
  dataType: DataType,
  numChannels?: number,
): Promise<Uint8Array>;
