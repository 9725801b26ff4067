// Types of ngcodec.js, the browser/Node host of ngcodec.wasm.
//
// The functions take the arguments of the Python API (ngcodec.raw,
// ngcodec.compressed_segmentation) in the same order, camelCase, optional
// ones in a trailing options object. Arrays are flat, in (C, Z, Y, X) order
// with x varying fastest; chunk and block sizes are [x, y, z]. Data on the
// wire is little-endian.
//
// Errors. Every codec function rejects with
// - TypeError when `buf` (decoders) or `array` (encoders) is not an
//   ArrayBuffer or an ArrayBufferView, when `options` is given but is not an
//   object, or when `options` has a key the function does not know (say
//   `dataType`); nothing else is a TypeError;
// - InvalidParameterError (status NGC_ERR_BAD_PARAMS) for argument values
//   no chunk can have: a dtype outside the function's list, sizes that are
//   not 3 integers in range, a zero block size, a number of channels below
//   1, a missing chunkSize or dtype where one is required, an `out` that is
//   not a TypedArray of the dtype and exact length;
// - InvalidFormatError, ResourceLimitError or NgcodecError for a status of
//   the module (see STATUSES) or a trap.
// init() is the exception: see there. The compressedSegmentation questions
// (labels, counts, contains, mask, readBox, readVoxel, readVoxels, remap) take `buf` as
// the decoders do and check the chunk as decode does (a chunk decode
// refuses, they refuse with the same error); their other arguments are
// checked as values: a label or mapping entry that is not an integer
// (number or bigint) or is negative, a box outside the chunk, a channel out
// of range, a flag that is not a boolean, are InvalidParameterError.

/** The data types of Neuroglancer precomputed raw chunks. */
export type DType =
  | "uint8" | "int8" | "uint16" | "int16" | "uint32" | "int32" | "uint64" | "float32";

/** The label types of compressed_segmentation chunks. */
export type SegmentationDType = "uint32" | "uint64";

/** The TypedArray of each dtype. */
export interface TypedArrayFor {
  uint8: Uint8Array;
  int8: Int8Array;
  uint16: Uint16Array;
  int16: Int16Array;
  uint32: Uint32Array;
  int32: Int32Array;
  uint64: BigUint64Array;
  float32: Float32Array;
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
 * WebAssembly.CompileError, TypeError for a source of none of the
 * WasmSource kinds), not an NgcodecError, and the next call tries again.
 */
export function init(source?: WasmSource): Promise<void>;

/** The module's version, "major.minor.patch" (from ngc_version()). */
export function version(): Promise<string>;

/**
 * Base of every error the codecs throw (Python: ngcodec.NgcodecError), with
 * the message text the Python host writes for the same failure:
 * `"{what}: {text}{detail}{place} [{statusName}]"`, e.g.
 * `"compressed_segmentation decode: a block header has an invalid number of
 * encoding bits (channel 0, block (1, 0, 0) in x, y, z) [NGC_ERR_BAD_BITS]"`.
 * A trap inside the module is `"{what}: the module trapped: {detail}"`, with
 * status and statusName null and `cause` the WebAssembly.RuntimeError (or
 * the stack overflow's RangeError); it is an InvalidFormatError from the
 * decoders, an NgcodecError otherwise, and the instance is discarded: the
 * next call gets a fresh one.
 */
export class NgcodecError extends Error {
  /** The module's status, a negative NGC_ERR_* value; null for a trap. */
  readonly status: number | null;
  /** Its stable name, e.g. "NGC_ERR_BAD_TABLE_INDEX"; null for a trap. */
  readonly statusName: string | null;
  /** compressed_segmentation: the channel at fault, when the module names one. */
  readonly channel: number | null;
  /** compressed_segmentation: the block at fault, [bx, by, bz] in the block grid. */
  readonly block: [number, number, number] | null;
  /** compressedSegmentation.remap, NGC_ERR_NOT_MAPPED: the label the mapping lacks. */
  readonly label?: number | bigint;
}

/** Chunk data that cannot be decoded. */
export class InvalidFormatError extends NgcodecError {}

/** Argument values no chunk can have (status NGC_ERR_BAD_PARAMS, ...). */
export class InvalidParameterError extends NgcodecError {}

/** More memory than the module can have (NGC_ERR_TOO_LARGE, NGC_ERR_NO_MEMORY). */
export class ResourceLimitError extends NgcodecError {}

/** One status of ngcodec.h and the error thrown for it. */
export interface Status {
  readonly code: number;
  readonly name: string;
  readonly error: typeof NgcodecError;
  readonly text: string;
}

/** Every status, as Python's ngcodec.errors.STATUSES. */
export const STATUSES: readonly Status[];

/** Options of the decoders. */
export interface DecodeOptions<T extends DType> {
  /** Channels in the chunk (default 1). */
  numChannels?: number;
  /**
   * Receives the result instead of a new array: a TypedArray of the dtype
   * with exactly numChannels * x * y * z elements. It is returned.
   */
  out?: TypedArrayFor[T];
}

/** Options of the encoders. */
export interface EncodeOptions<T extends DType> {
  /** Required: the chunk size [x, y, z] (the array is flat). */
  chunkSize: Vec3;
  /** Channels in the array (default 1). */
  numChannels?: number;
  /**
   * The array's dtype. Taken from the TypedArray (Uint32Array is "uint32",
   * BigUint64Array "uint64", ...) and then needed only to read bytes as
   * other values: required for an ArrayBuffer or a DataView, optional for a
   * Uint8Array (which is "uint8" without it). Any other TypedArray must hold
   * this dtype. BigInt64Array and Float64Array are refused.
   */
  dtype?: T;
}

/**
 * Decodes a compressed_segmentation chunk into a (C, Z, Y, X) array:
 * Uint32Array for "uint32", BigUint64Array for "uint64".
 */
export function decodeCompressedSegmentation<T extends SegmentationDType>(
  buf: Bytes,
  chunkSize: Vec3,
  dtype: T,
  blockSize: Vec3,
  options?: DecodeOptions<T>,
): Promise<TypedArrayFor[T]>;

/**
 * Encodes a (C, Z, Y, X) label array (its byteLength must be that of
 * numChannels * x * y * z labels). Resolves to the encoded bytes.
 */
export function encodeCompressedSegmentation<T extends SegmentationDType>(
  array: TypedArrayFor[T] | Bytes,
  blockSize: Vec3,
  options: EncodeOptions<T>,
): Promise<Uint8Array>;

/** Decodes a raw chunk; its size must be exactly that of the chunk. */
export function decodeRaw<T extends DType>(
  buf: Bytes,
  chunkSize: Vec3,
  dtype: T,
  options?: DecodeOptions<T>,
): Promise<TypedArrayFor[T]>;

/** Encodes a (C, Z, Y, X) array as a raw chunk: its little-endian bytes. */
export function encodeRaw<T extends DType>(
  array: TypedArrayFor[T] | Bytes,
  options: EncodeOptions<T>,
): Promise<Uint8Array>;

/**
 * The arrays downsample takes: those of the precomputed dtypes (a
 * Uint8ClampedArray is uint8), as Python's downsample.
 */
export type DownsampleArray =
  | Uint8Array | Uint8ClampedArray | Int8Array | Uint16Array | Int16Array
  | Uint32Array | Int32Array | BigUint64Array | Float32Array;

/**
 * Downsamples a (C, Z, Y, X) array of size [x, y, z] (x fastest; the number
 * of channels is data.length / (x * y * z)) by integer `factors` [fx, fy,
 * fz], as Python's ngcodec.precomputed.downsample.downsample and
 * tensorstore's downsample driver compute it. Each output voxel comes from
 * its block of fx * fy * fz voxels; a block cut by the array's edge uses
 * only the voxels that exist.
 * - "mode": the most frequent value of the block, ties to the smallest.
 *   float32: -0 and +0 are one value (written +0), every NaN is one value
 *   above +Infinity.
 * - "mean": integers: the exact sum over the count, rounded to nearest,
 *   ties to even (1.5 -> 2, 2.5 -> 2, -2.5 -> -2). float32: summed in
 *   float32 in raster order, divided by the count in float32.
 * Resolves to { data: the same TypedArray type, size: [ceil(x / fx),
 * ceil(y / fy), ceil(z / fz)] }. An empty input or output resolves to an
 * empty array without calling the module. `data` that is not one of
 * DownsampleArray, a `size` or `factors` that is not 3 integers in range
 * (factors >= 1), a data.length that is not a multiple of x * y * z, or a
 * method other than "mode" and "mean" is InvalidParameterError. `options`
 * takes no key yet (any key is a TypeError).
 */
export function downsample<A extends DownsampleArray>(
  data: A,
  size: Vec3,
  factors: Vec3,
  method: "mode" | "mean",
  options?: Record<string, never>,
): Promise<{ data: A; size: [number, number, number] }>;

/** A label: a number, or a bigint (uint64 labels past 2**53 need one). */
export type Label = number | bigint;

/** The label of each dtype's arrays: number for "uint32", bigint for "uint64". */
export interface LabelFor {
  uint32: number;
  uint64: bigint;
}

/** The labels of one channel and how many voxels hold each. */
export interface LabelCounts<T extends SegmentationDType> {
  /** Ascending, unique. */
  labels: TypedArrayFor[T];
  /** counts[i] voxels hold labels[i]. */
  counts: BigUint64Array;
}

/** A box of a chunk: [[x0, y0, z0], [x1, y1, z1]], the upper corner excluded. */
export type Box = readonly [Vec3, Vec3];

/**
 * Voxel positions for readVoxels: [x, y, z] triples, or 3N integers in a
 * flat array or integer typed array (x, y, z, x, y, z, ...).
 */
export type Positions =
  | readonly (readonly [number | bigint, number | bigint, number | bigint] | Vec3)[]
  | readonly (number | bigint)[]
  | Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array | Int32Array
  | BigUint64Array | BigInt64Array;

/** The option every question takes. */
export interface ChunkOptions {
  /** Channels in the chunk (default 1). */
  numChannels?: number;
}

/**
 * compressed_segmentation chunks (Python: ngcodec.compressed_segmentation).
 * `decode` and `encode` are decodeCompressedSegmentation and
 * encodeCompressedSegmentation. The others answer on the compressed chunk:
 * they read its tables and packed indices and never decode every voxel.
 * Labels are those of the chunk's voxels, whatever else a table holds.
 * Label arguments the dtype cannot hold (2**40 for "uint32") match no voxel.
 */
export const compressedSegmentation: Readonly<{
  decode: typeof decodeCompressedSegmentation;
  encode: typeof encodeCompressedSegmentation;

  /** The sorted unique labels of each channel (one array per channel). */
  labels<T extends SegmentationDType>(
    buf: Bytes, chunkSize: Vec3, dtype: T, blockSize: Vec3, options?: ChunkOptions,
  ): Promise<TypedArrayFor[T][]>;

  /** The labels of each channel with their voxel counts. */
  counts<T extends SegmentationDType>(
    buf: Bytes, chunkSize: Vec3, dtype: T, blockSize: Vec3, options?: ChunkOptions,
  ): Promise<LabelCounts<T>[]>;

  /**
   * Whether a voxel holds `label` (one label, or any of an iterable of
   * them): a boolean, or with perChannel one boolean per channel.
   */
  contains(
    buf: Bytes, chunkSize: Vec3, dtype: SegmentationDType, blockSize: Vec3,
    label: Label | Iterable<Label>,
    options?: ChunkOptions & { perChannel?: false },
  ): Promise<boolean>;
  contains(
    buf: Bytes, chunkSize: Vec3, dtype: SegmentationDType, blockSize: Vec3,
    label: Label | Iterable<Label>,
    options: ChunkOptions & { perChannel: true },
  ): Promise<boolean[]>;

  /** A (C, Z, Y, X) array of 0 and 1: 1 where a voxel holds one of `labels`. */
  mask(
    buf: Bytes, chunkSize: Vec3, dtype: SegmentationDType, blockSize: Vec3,
    labels: Label | Iterable<Label>, options?: ChunkOptions,
  ): Promise<Uint8Array>;

  /**
   * The voxels of `box` (inside the chunk) as a (C, z1 - z0, y1 - y0,
   * x1 - x0) array, decoding only the blocks the box meets. `out`: as for
   * the decoders, of the box's length.
   */
  readBox<T extends SegmentationDType>(
    buf: Bytes, chunkSize: Vec3, dtype: T, blockSize: Vec3, box: Box,
    options?: ChunkOptions & { out?: TypedArrayFor[T] },
  ): Promise<TypedArrayFor[T]>;

  /**
   * The label at `position` [x, y, z] of `channel` (default 0), read from
   * its block's packed index and table (the block is checked, not decoded).
   * A position outside the chunk is InvalidParameterError.
   */
  readVoxel<T extends SegmentationDType>(
    buf: Bytes, chunkSize: Vec3, dtype: T, blockSize: Vec3, position: Vec3,
    options?: ChunkOptions & { channel?: number },
  ): Promise<LabelFor[T]>;

  /**
   * The labels at N `positions` of `channel` (default 0) in one call, in
   * their order: an array of [x, y, z] triples, or a flat array or integer
   * typed array of 3N integers (x, y, z, x, y, z, ...). Each is read from its
   * block's packed index and table; every block a position lies in is
   * checked as decode checks it, no block is decoded. A position outside the
   * chunk, or positions of another shape, are InvalidParameterError.
   */
  readVoxels<T extends SegmentationDType>(
    buf: Bytes, chunkSize: Vec3, dtype: T, blockSize: Vec3, positions: Positions,
    options?: ChunkOptions & { channel?: number },
  ): Promise<TypedArrayFor[T]>;

  /**
   * The chunk with every label replaced by its value in `mapping` (a Map,
   * or a pair [keys, values] of arrays or typed arrays), made by rewriting
   * its lookup tables: the packed indices are kept. A label that voxels
   * hold but the mapping lacks rejects with InvalidParameterError (status
   * NGC_ERR_NOT_MAPPED, the label in its `label` field: number or bigint as
   * the dtype's), unless preserveMissingLabels keeps such labels. Resolves
   * to the new chunk's bytes.
   */
  remap(
    buf: Bytes, chunkSize: Vec3, dtype: SegmentationDType, blockSize: Vec3,
    mapping: ReadonlyMap<Label, Label> | readonly [Iterable<Label>, Iterable<Label>],
    options?: ChunkOptions & { preserveMissingLabels?: boolean },
  ): Promise<Uint8Array>;
}>;

// ---------------------------------------------------------------------------
// zarr v3 in zarrita.js (docs/ZARR.md): ngcodec.js does not import zarrita;
// registerZarrita(registry) adds the codec to the registry zarrita exports.

/** A chunk as zarrita.js hands it to codecs: C-order data of `shape`. */
export interface ZarritaChunk<T extends SegmentationDType = SegmentationDType> {
  data: TypedArrayFor[T];
  shape: number[];
  /** Element strides (C order). */
  stride: number[];
}

/** What zarrita passes to fromConfig: the chunk's data type and shape. */
export interface ZarritaChunkMetadata {
  dataType: string;
  shape: readonly number[];
  codecs?: readonly unknown[];
  fillValue?: unknown;
}

/** The configuration of "ngcodec.compressed_segmentation" in zarr.json. */
export interface ZarrCompressedSegmentationConfiguration {
  /** The encoding block, (z, y, x); default [8, 8, 8]. */
  block_shape?: readonly [number, number, number];
}

/**
 * The zarr v3 array -> bytes codec "ngcodec.compressed_segmentation" as a
 * zarrita.js codec. Arrays are uint32 or uint64 with 3 axes (z, y, x) or 4
 * (c, z, y, x); a chunk's bytes are one Neuroglancer compressed_segmentation
 * chunk of chunk size (x, y, z), block size block_shape reversed. A bad
 * configuration, data type or chunk shape is InvalidParameterError (thrown
 * by fromConfig); decode rejects as decodeCompressedSegmentation does.
 */
export class zarritaCodec {
  /** "ngcodec.compressed_segmentation" */
  static readonly codecName: "ngcodec.compressed_segmentation";
  static readonly kind: "array_to_bytes";
  static fromConfig(
    configuration: ZarrCompressedSegmentationConfiguration | null | undefined,
    meta: ZarritaChunkMetadata,
  ): zarritaCodec;
  constructor(
    configuration: ZarrCompressedSegmentationConfiguration | null | undefined,
    meta: ZarritaChunkMetadata,
  );
  readonly kind: "array_to_bytes";
  /** (z, y, x) */
  readonly blockShape: [number, number, number];
  /** A chunk's bytes as a (C-order) chunk of the metadata's shape and type. */
  decode(bytes: Uint8Array): Promise<ZarritaChunk>;
  /** A chunk of the metadata's shape (C order) as its bytes. */
  encode(chunk: ZarritaChunk): Promise<Uint8Array>;
}

/**
 * Registers zarritaCodec in zarrita's codec registry under
 * "ngcodec.compressed_segmentation" (`registerZarrita(zarr.registry)`);
 * returns the registry.
 */
export function registerZarrita<
  // zarrita's registry (Map<string, () => Promise<CodecEntry>>); its
  // CodecEntry types codecs as numcodecs' bytes codecs, so the entry is any.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  R extends { set(name: string, entry: () => Promise<any>): unknown },
>(registry: R): R;
