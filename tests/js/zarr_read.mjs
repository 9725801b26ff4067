// zarr_read.mjs - reads zarr v3 arrays written by zarr-python with the codec
// "ngcodec.compressed_segmentation" through zarrita.js, for
// tests/test_zarr_js.py (not a node --test file: pytest checks its output).
//
//   node zarr_read.mjs ROOT OUT
//
// ROOT/manifest.json: {"arrays": [{"name": "u64", "reads": [SELECTION, ...]}]}
// where a SELECTION is null (the whole array) or one entry per axis: null
// (the whole axis), an integer, or [start, stop, step] (zarr.slice).
// For each read it writes OUT/<name>.<i>.bin (the TypedArray's bytes) and
// lists {shape, stride, type, file} in OUT/results.json.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as zarr from "zarrita";
import { FileSystemStore } from "@zarrita/storage";
import { registerZarrita } from "../../pyhost/ngcodec/web/ngcodec.js";

const [root, out] = process.argv.slice(2);
if (!out) {
  console.error("usage: node zarr_read.mjs ROOT OUT");
  process.exit(2);
}

registerZarrita(zarr.registry);

const selectionOf = (sel) => (sel === null ? null : sel.map((axis) => (
  Array.isArray(axis) ? zarr.slice(...axis) : axis)));

const manifest = JSON.parse(await readFile(join(root, "manifest.json"), "utf8"));
const store = new FileSystemStore(root);
const results = {};
await mkdir(out, { recursive: true });
for (const { name, reads } of manifest.arrays) {
  const arr = await zarr.open.v3(zarr.root(store).resolve(name), { kind: "array" });
  results[name] = { dtype: arr.dtype, shape: arr.shape, reads: [] };
  for (const [i, sel] of reads.entries()) {
    const got = await zarr.get(arr, selectionOf(sel));
    const file = `${name}.${i}.bin`;
    const { data } = got;
    await writeFile(join(out, file), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    results[name].reads.push({ shape: got.shape, stride: got.stride, type: data.constructor.name, file });
  }
}
await writeFile(join(out, "results.json"), JSON.stringify(results));
console.log(`read ${manifest.arrays.length} arrays`);
