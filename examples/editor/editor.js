// editor.js - paint labels into one chunk, upload it to `ngcodec view
// --allow-upload --page examples/editor`, and watch Neuroglancer show it.
//
// URL parameters fill the form: ?scale=KEY&chunk=NAME&z=Z&token=T (the token
// only for scripted tests; type it otherwise). window.editor exposes
// load(), paint(x, y, radius, label) and upload() for tests.
const $ = (id) => document.getElementById(id);
const status = (state, text) => {
  $("status").dataset.state = state;
  $("status").textContent = text;
};

const worker = new Worker("worker.js", { type: "module" });
let nextId = 0;
const pending = new Map();
worker.onmessage = ({ data }) => {
  const { resolve, reject } = pending.get(data.id);
  pending.delete(data.id);
  data.ok ? resolve(data.result) : reject(new Error(data.error));
};
const call = (message, transfer = []) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  worker.postMessage({ id, ...message }, transfer);
});

let info = null;
let scale = null;
let chunk = null; // { name, size: [x, y, z], labels: BigUint64Array | Uint32Array }

function chunkSize(name) {
  const v = name.split(/[_-]/).map(Number);
  if (v.length !== 6 || v.some(Number.isNaN)) throw new Error(`not a chunk name: ${name}`);
  return [v[1] - v[0], v[3] - v[2], v[5] - v[4]];
}

async function load() {
  status("busy", "loading");
  scale = info.scales.find((s) => s.key === $("scale").value);
  if (!scale) throw new Error(`no scale ${$("scale").value}`);
  const name = $("chunk").value;
  const size = chunkSize(name);
  const response = await fetch(`/${scale.key}/${name}`);
  if (!response.ok) throw new Error(`GET ${name}: HTTP ${response.status}`);
  const buf = new Uint8Array(await response.arrayBuffer());
  const labels = await call({
    op: "decode", buf, chunkSize: size, dtype: info.data_type, encoding: scale.encoding,
    blockSize: scale.compressed_segmentation_block_size || [8, 8, 8],
  }, [buf.buffer]);
  chunk = { name, size, labels };
  draw();
  status("ready", `loaded ${name} (${buf.byteLength} bytes)`);
}

function colour(v) {
  const h = Number(BigInt.asUintN(32, BigInt(v) * 2654435761n) & 0xffffffn);
  return [h & 255, (h >> 8) & 255, (h >> 16) & 255];
}

function draw() {
  const [X, Y] = chunk.size;
  const z = Number($("z").value);
  const canvas = $("slice");
  canvas.width = X;
  canvas.height = Y;
  canvas.style.width = `${X * 4}px`;
  const ctx = canvas.getContext("2d");
  const img = ctx.createImageData(X, Y);
  for (let y = 0; y < Y; y++) {
    for (let x = 0; x < X; x++) {
      const [r, g, b] = colour(chunk.labels[(z * Y + y) * X + x]);
      img.data.set([r, g, b, 255], 4 * (y * X + x));
    }
  }
  ctx.putImageData(img, 0, 0);
}

function paint(px, py, radius, label) {
  const [X, Y] = chunk.size;
  const z = Number($("z").value);
  const value = chunk.labels instanceof BigUint64Array ? BigInt(label) : Number(label);
  let n = 0;
  for (let y = Math.max(0, py - radius); y <= Math.min(Y - 1, py + radius); y++) {
    for (let x = Math.max(0, px - radius); x <= Math.min(X - 1, px + radius); x++) {
      chunk.labels[(z * Y + y) * X + x] = value;
      n++;
    }
  }
  draw();
  return n;
}

async function upload() {
  status("busy", "encoding");
  const array = chunk.labels.slice();
  const body = await call({
    op: "encode", array, chunkSize: chunk.size, dtype: info.data_type,
    encoding: scale.encoding, blockSize: scale.compressed_segmentation_block_size || [8, 8, 8],
  }, [array.buffer]);
  status("busy", `uploading ${body.byteLength} bytes`);
  const response = await fetch(`/${scale.key}/${chunk.name}`, {
    method: "PUT", body, headers: { Authorization: `Bearer ${$("token").value}` },
  });
  const reply = await response.json();
  if (response.status !== 201) throw new Error(`PUT: HTTP ${response.status}: ${reply.error}`);
  status("uploaded", `uploaded ${reply.written}: the server decoded it in its sandbox`);
  showViewer();
  return reply;
}

function showViewer() {
  const state = {
    layers: [{ type: info.type === "segmentation" ? "segmentation" : "image",
               source: `precomputed://${location.origin}`, name: "dataset" }],
    layout: "4panel",
  };
  $("viewer").src = `/v/ngcodec/?reload=${Date.now()}#!${encodeURIComponent(JSON.stringify(state))}`;
}

const guard = (fn) => async (...args) => {
  try {
    return await fn(...args);
  } catch (e) {
    status("error", String(e.message || e));
    throw e;
  }
};

window.editor = { load: guard(load), paint, upload: guard(upload) };

(async () => {
  const params = new URLSearchParams(location.search);
  for (const k of ["scale", "chunk", "z", "token"]) if (params.has(k)) $(k).value = params.get(k);
  info = await (await fetch("/info")).json();
  if (!$("scale").value) $("scale").value = info.scales[0].key;
  $("load").onclick = () => window.editor.load();
  $("upload").onclick = () => window.editor.upload();
  let down = false;
  const at = (e) => {
    const r = $("slice").getBoundingClientRect();
    const [X, Y] = chunk.size;
    paint(Math.floor((e.clientX - r.left) / r.width * X), Math.floor((e.clientY - r.top) / r.height * Y),
          Number($("radius").value), $("label").value);
  };
  $("slice").onmousedown = (e) => { down = true; if (chunk) at(e); };
  $("slice").onmousemove = (e) => { if (down && chunk) at(e); };
  window.onmouseup = () => { down = false; };
  showViewer();
  if ($("chunk").value) await window.editor.load();
  else status("ready", "choose a chunk and load it");
})().catch((e) => status("error", String(e.message || e)));
