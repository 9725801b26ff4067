// zarr_write.mjs - writes zarr v3 arrays with the codec
// "ngcodec.compressed_segmentation" through zarrita.js, for
// tests/test_zarr_js.py to read with zarr-python (not a node --test file).
//
//   node zarr_write.mjs ROOT
//
// ROOT/write.json: [{"name", "dtype", "shape", "chunkShape", "codecs",
// "fillValue", "file"}]: each array is created under ROOT/<name> and set
// from the little-endian C-order values in ROOT/<file>.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import * as zarr from "zarrita";
import { FileSystemStore } from "@zarrita/storage";
import { registerZarrita } from "../../pyhost/ngcodec/web/ngcodec.js";

const [root] = process.argv.slice(2);
if (!root) {
  console.error("usage: node zarr_write.mjs ROOT");
  process.exit(2);
}

registerZarrita(zarr.registry);

const store = new FileSystemStore(root);
const arrays = JSON.parse(await readFile(join(root, "write.json"), "utf8"));
for (const { name, dtype, shape, chunkShape, codecs, fillValue, file } of arrays) {
  const arr = await zarr.create(zarr.root(store).resolve(name), { shape, chunkShape, dtype, codecs, fillValue });
  const bytes = await readFile(join(root, file));
  const copy = new Uint8Array(bytes).buffer;
  const data = dtype === "uint64" ? new BigUint64Array(copy) : new Uint32Array(copy);
  const stride = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  await zarr.set(arr, null, { data, shape, stride });
}
console.log(`wrote ${arrays.length} arrays`);
