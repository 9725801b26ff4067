// Chunks encoded by another implementation (the compressed-segmentation
// PyPI package), written by tests/test_js.py into $NGCODEC_JS_FIXTURES:
//
//   manifest.json  {"cases": [{name, chunkSize, blockSize, dtype,
//                              numChannels, cseg, raw}, ...]}
//   <cseg>, <raw>  the encoded chunk and its (C, Z, Y, X) little-endian bytes
//
// ngcodec must decode each to exactly the raw bytes. Our own encoding of
// each raw array goes to ours/<name>.cseg, which test_js.py then decodes
// with the other package (interoperate both ways, never compare bytes).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ngcodec, FIXTURES } from "./helpers.mjs";

const skip = FIXTURES ? false : "NGCODEC_JS_FIXTURES is not set (run through tests/test_js.py)";
const cases = FIXTURES
  ? JSON.parse(await readFile(join(FIXTURES, "manifest.json"), "utf8")).cases
  : [];

test("the fixture manifest is not empty", { skip }, () => {
  assert.ok(cases.length > 0);
});

for (const c of cases) {
  test(`decodes ${c.name} (compressed-segmentation package) to its raw bytes`, async () => {
    const encoded = await readFile(join(FIXTURES, c.cseg));
    const raw = await readFile(join(FIXTURES, c.raw));
    const decoded = await ngcodec.decodeCompressedSegmentation(
      encoded, c.chunkSize, c.dtype, c.blockSize, { numChannels: c.numChannels },
    );
    assert.equal(decoded.byteLength, raw.byteLength);
    // Buffer.compare reports a mismatch without printing megabytes.
    assert.equal(Buffer.compare(Buffer.from(decoded.buffer), raw), 0, "decoded bytes differ");
  });

  test(`encodes ${c.name} into ours/ for the other package to decode`, async () => {
    const raw = await readFile(join(FIXTURES, c.raw));
    // A Buffer is bytes: dtype is required.
    const encoded = await ngcodec.encodeCompressedSegmentation(raw, c.blockSize, {
      chunkSize: c.chunkSize, numChannels: c.numChannels, dtype: c.dtype,
    });
    await mkdir(join(FIXTURES, "ours"), { recursive: true });
    await writeFile(join(FIXTURES, "ours", `${c.name}.cseg`), encoded);
  });
}
