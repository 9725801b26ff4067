// demo.js - the demo page: asks worker.js to decode the bundled chunk, then
// draws z slices of it with one colour per label (colors.js).
//
// For tests: after each draw the canvas gets data-ready="1" and data-z (the
// slice drawn); each voxel (x, y) is a SCALE x SCALE square at
// (x * SCALE, y * SCALE), painted exactly labelColor(label).
import { labelColor } from "./colors.js";

const CHUNK = {
  url: new URL("./data/fib25_64x64x64_uint64.cseg8", import.meta.url).href,
  chunkSize: [64, 64, 64],
  dtype: "uint64",
  blockSize: [8, 8, 8],
};
const [NX, NY, NZ] = CHUNK.chunkSize;
const SCALE = 6;

const canvas = document.getElementById("slice");
const slider = document.getElementById("z");
const zValue = document.getElementById("zvalue");
const stats = document.getElementById("stats");
const hover = document.getElementById("hover");

let labels = null; // BigUint64Array, (z, y, x)
const colorCache = new Map();

function colorOf(label) {
  let c = colorCache.get(label);
  if (c === undefined) colorCache.set(label, (c = labelColor(label)));
  return c;
}

function draw(z) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(NX * SCALE, NY * SCALE);
  const px = image.data;
  const rowBytes = NX * SCALE * 4;
  for (let y = 0; y < NY; y++) {
    for (let x = 0; x < NX; x++) {
      const [r, g, b] = colorOf(labels[(z * NY + y) * NX + x]);
      for (let dy = 0; dy < SCALE; dy++) {
        let i = (y * SCALE + dy) * rowBytes + x * SCALE * 4;
        for (let dx = 0; dx < SCALE; dx++, i += 4) {
          px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = 255;
        }
      }
    }
  }
  ctx.putImageData(image, 0, 0);
  zValue.value = String(z);
  canvas.dataset.z = String(z);
  canvas.dataset.ready = "1";
}

function showHover(event) {
  if (!labels) return;
  const rect = canvas.getBoundingClientRect();
  const x = Math.floor(((event.clientX - rect.left) / rect.width) * NX);
  const y = Math.floor(((event.clientY - rect.top) / rect.height) * NY);
  if (x < 0 || y < 0 || x >= NX || y >= NY) return;
  const z = Number(slider.value);
  hover.textContent = `label at (${x}, ${y}, ${z}): ${labels[(z * NY + y) * NX + x]}`;
}

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
worker.onmessage = ({ data: reply }) => {
  if (!reply.ok) {
    stats.textContent = `error: ${reply.error}`;
    stats.classList.add("error");
    canvas.dataset.error = reply.error;
    return;
  }
  labels = reply.labels;
  const rawBytes = labels.byteLength;
  stats.textContent = [
    `ngcodec ${reply.version}`,
    `module load: ${reply.loadMs.toFixed(1)} ms`,
    `decode time: ${reply.decodeMs.toFixed(2)} ms`,
    `compressed: ${reply.encodedBytes} bytes, raw: ${rawBytes} bytes`,
    `compression ratio: ${(rawBytes / reply.encodedBytes).toFixed(1)}x`,
  ].join("\n");
  slider.max = String(NZ - 1);
  draw(Number(slider.value));
};
worker.onerror = (event) => {
  stats.textContent = `worker failed: ${event.message}`;
  stats.classList.add("error");
  canvas.dataset.error = event.message || "worker error";
};
slider.addEventListener("input", () => labels && draw(Number(slider.value)));
canvas.addEventListener("mousemove", showHover);
worker.postMessage(CHUNK);
