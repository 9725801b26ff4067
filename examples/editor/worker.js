// worker.js - decodes and encodes chunks off the main thread with the same
// ngcodec.wasm the server runs (served by `ngcodec view --page` at /ngcodec/web/).
//
// Request: { id, op: "decode", buf, chunkSize, dtype, encoding, blockSize }
//          { id, op: "encode", array, chunkSize, dtype, encoding, blockSize }
// Reply:   { id, ok: true, result } (transferred) or { id, ok: false, error }.
import {
  init, decodeCompressedSegmentation, encodeCompressedSegmentation, decodeRaw, encodeRaw,
} from "/ngcodec/web/ngcodec.js";

self.onmessage = async ({ data: r }) => {
  try {
    await init();
    let result;
    if (r.op === "decode") {
      result = r.encoding === "compressed_segmentation"
        ? await decodeCompressedSegmentation(r.buf, r.chunkSize, r.dtype, r.blockSize)
        : await decodeRaw(r.buf, r.chunkSize, r.dtype);
    } else {
      const options = { chunkSize: r.chunkSize, numChannels: 1, dtype: r.dtype };
      result = r.encoding === "compressed_segmentation"
        ? await encodeCompressedSegmentation(r.array, r.blockSize, options)
        : await encodeRaw(r.array, options);
    }
    self.postMessage({ id: r.id, ok: true, result }, [result.buffer]);
  } catch (e) {
    self.postMessage({ id: r.id, ok: false, error: String(e && e.message || e) });
  }
};
