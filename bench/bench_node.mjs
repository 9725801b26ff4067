// Times the JS host (pyhost/ngcodec/web/ngcodec.js) on the FIB-25 chunk.
// Run by bench/bench.py; prints one JSON line on stdout.
//
//   node bench/bench_node.mjs --cseg FILE.cseg8 [--raw FILE.dat]
//        [--rounds N] [--sample-ms MS]
//
// decode: decodeCompressedSegmentation of the .cseg8 bytes; encode:
// encodeCompressedSegmentation of the raw uint64 chunk (the .dat file, or the
// decoded chunk when none is given); naive_decode: a plain JS decoder of the
// format for reference. The three alternate round by round (rotating which
// goes first); each sample runs enough awaited calls to last about
// --sample-ms; the medians of seconds per call are reported.

import { readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import * as ng from "../pyhost/ngcodec/web/ngcodec.js";

const CHUNK = [64, 64, 64];
const BLOCK = [8, 8, 8];

function parseArgs(argv) {
  const args = { rounds: 60, sampleMs: 2, raw: null, cseg: null };
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    if (k === "--cseg") args.cseg = v;
    else if (k === "--raw") args.raw = v;
    else if (k === "--rounds") args.rounds = Math.max(1, parseInt(v, 10));
    else if (k === "--sample-ms") args.sampleMs = parseFloat(v);
    else throw new Error(`unknown argument ${k}`);
  }
  if (!args.cseg) throw new Error("--cseg FILE is required");
  return args;
}

// A straightforward decoder of one uint64 channel, written from the format:
// per block two header words (table offset | bits << 24, values offset),
// offsets in 32-bit words from the channel start; indices packed LSB first.
function naiveDecodeUint64(bytes, [X, Y, Z], [bx, by, bz]) {
  const w = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  const out = new Uint32Array(X * Y * Z * 2);
  const base = w[0];
  const gx = Math.ceil(X / bx);
  const gy = Math.ceil(Y / by);
  const gz = Math.ceil(Z / bz);
  let h = base;
  for (let gzi = 0; gzi < gz; gzi++) {
    for (let gyi = 0; gyi < gy; gyi++) {
      for (let gxi = 0; gxi < gx; gxi++, h += 2) {
        const table = base + (w[h] & 0xffffff);
        const bits = w[h] >>> 24;
        const values = base + w[h + 1];
        const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
        const x0 = gxi * bx;
        const y0 = gyi * by;
        const z0 = gzi * bz;
        const vx = Math.min(bx, X - x0);
        const vy = Math.min(by, Y - y0);
        const vz = Math.min(bz, Z - z0);
        for (let z = 0; z < vz; z++) {
          for (let y = 0; y < vy; y++) {
            let o = 2 * (((z0 + z) * Y + y0 + y) * X + x0);
            let i = (z * by + y) * bx;
            for (let x = 0; x < vx; x++, i++, o += 2) {
              let idx = 0;
              if (bits) {
                const bit = i * bits;
                idx = (w[values + (bit >>> 5)] >>> (bit & 31)) & mask;
              }
              out[o] = w[table + 2 * idx];
              out[o + 1] = w[table + 2 * idx + 1];
            }
          }
        }
      }
    }
  }
  return new BigUint64Array(out.buffer);
}

function sameBytes(a, b) {
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function timeCalls(fn, n) {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t0) / 1000 / n;
}

const args = parseArgs(process.argv.slice(2));
const cseg = new Uint8Array(await readFile(args.cseg));
await ng.init();
const decoded = await ng.decodeCompressedSegmentation(cseg, CHUNK, "uint64", BLOCK);
let raw = decoded;
if (args.raw) {
  const file = await readFile(args.raw);
  raw = new BigUint64Array(file.buffer.slice(file.byteOffset, file.byteOffset + file.byteLength));
  if (!sameBytes(raw, decoded)) throw new Error("decode of the .cseg8 differs from the .dat");
}
if (!sameBytes(naiveDecodeUint64(cseg, CHUNK, BLOCK), decoded)) {
  throw new Error("the naive decoder disagrees with ngcodec");
}
const encoded = await ng.encodeCompressedSegmentation(raw, BLOCK, { chunkSize: CHUNK, dtype: "uint64" });
const again = await ng.decodeCompressedSegmentation(encoded, CHUNK, "uint64", BLOCK);
if (!sameBytes(again, raw)) throw new Error("encode/decode round trip differs");

const impls = {
  decode: () => ng.decodeCompressedSegmentation(cseg, CHUNK, "uint64", BLOCK),
  encode: () => ng.encodeCompressedSegmentation(raw, BLOCK, { chunkSize: CHUNK, dtype: "uint64" }),
  naive_decode: async () => naiveDecodeUint64(cseg, CHUNK, BLOCK),
};
const names = Object.keys(impls);
const inner = {};
for (const name of names) {
  for (let i = 0; i < 20; i++) await impls[name](); // warm-up (JIT)
  const one = Math.min(await timeCalls(impls[name], 3), await timeCalls(impls[name], 3));
  inner[name] = Math.max(1, Math.min(2000, Math.round(args.sampleMs / 1000 / one)));
}
const samples = Object.fromEntries(names.map((n) => [n, []]));
const ratios = [];
for (let r = 0; r < args.rounds; r++) {
  const k = r % names.length;
  const t = {};
  for (const name of [...names.slice(k), ...names.slice(0, k)]) {
    t[name] = await timeCalls(impls[name], inner[name]);
    samples[name].push(t[name]);
  }
  ratios.push(t.naive_decode / t.decode);
}
console.log(JSON.stringify({
  node: process.version,
  bytes: raw.byteLength,
  encoded_bytes: encoded.byteLength,
  rounds: args.rounds,
  inner,
  median_s: Object.fromEntries(names.map((n) => [n, median(samples[n])])),
  ratio_naive: median(ratios),
}));
