// worker.js - decodes the demo chunk off the main thread.
//
// The library is the package's ngcodec/web/ folder, served at /web/ by
// serve.py; it loads ngcodec.wasm from beside itself.
//
// Request:  { url, chunkSize, dtype, blockSize }
// Reply:    { ok: true, labels, encodedBytes, loadMs, decodeMs, version }
//           (labels is transferred, not copied) or { ok: false, error }.
import { init, version, decodeCompressedSegmentation } from "./web/ngcodec.js";

self.onmessage = async ({ data: request }) => {
  try {
    const t0 = performance.now();
    await init(); // timed apart from the decode: compiling is a one-off cost
    const t1 = performance.now();
    const response = await fetch(request.url);
    if (!response.ok) throw new Error(`${request.url}: HTTP ${response.status}`);
    const encoded = new Uint8Array(await response.arrayBuffer());
    const t2 = performance.now();
    const labels = await decodeCompressedSegmentation(
      encoded, request.chunkSize, request.dtype, request.blockSize,
    );
    const decodeMs = performance.now() - t2;
    self.postMessage(
      {
        ok: true,
        labels,
        encodedBytes: encoded.byteLength,
        loadMs: t1 - t0,
        decodeMs,
        version: await version(),
      },
      [labels.buffer],
    );
  } catch (e) {
    const error = String(e); // "InvalidFormatError: compressed_segmentation decode: ..."
    self.postMessage({ ok: false, error });
  }
};
