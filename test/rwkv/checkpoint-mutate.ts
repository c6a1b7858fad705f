/**
 * The seeded checkpoint mutations of checkpoint-fuzz.test.ts (CI: a few thousand cases) and
 * scripts/fuzz-checkpoints.ts (the long run, docs/hostile-inputs.md): byte flips aimed at headers, pickles and
 * zip records, inserted/deleted bytes, truncation, header-length edits, zip field edits, pickle opcode edits,
 * slices repeated thousands of times, safetensors JSON edits. fuzzFixtures runs them over every fixture and
 * classifies each outcome (issue 16):
 *   - a CheckpointError code (typed, with a message), or
 *   - "loaded": a complete model with finite weights; for a zip (.pth/.bin) "loaded (zip, original data)",
 *     and only with exactly the original's weights: every entry read is CRC-checked.
 * Anything else (another exception type, a zip that loads changed weights) throws, naming seed and case.
 */
import { CheckpointError, loadRwkvCheckpoint, readZipDirectory } from "../../src/rwkv/checkpoint/index.js";
import type { RwkvWeights } from "../../src/rwkv/weights.js";
import { fixtureBytes, fixtureConfig, manifest } from "../fixtures/checkpoints/fixtures.js";

/** mulberry32: a small seeded PRNG (independent of the project's) */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rand = () => number;
export const int = (r: Rand, n: number): number => Math.floor(r() * n);
export const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

const INTERESTING_U32 = [
  0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff,
];
export const PICKLE_OPS = [
  0x28, 0x2e, 0x30, 0x31, 0x32, 0x4a, 0x4b, 0x4d, 0x4e, 0x51, 0x52, 0x58, 0x61, 0x62, 0x63, 0x65, 0x68, 0x6a,
  0x5d, 0x71, 0x72, 0x73, 0x74, 0x29, 0x75, 0x7d, 0x80, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8c, 0x93, 0x94,
  0x95, 0x47, 0x42, 0x43, 0x54, 0x55, 0x8d, 0x69, 0x81, 0x6f, 0x00, 0xff,
];

interface Region {
  start: number;
  end: number;
}

/** where a mutation hurts most: the safetensors header, or the zip's pickle and directory records */
function regions(bytes: Uint8Array, rel: string): { hot: Region[]; pickle?: Region; records: number[] } {
  if (rel.endsWith(".safetensors")) {
    const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
    return { hot: [{ start: 0, end: 8 + n }], records: [] };
  }
  const records: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i++) {
    if (bytes[i] === 0x50 && bytes[i + 1] === 0x4b && [1, 3, 5, 6].includes(bytes[i + 2])) records.push(i);
  }
  let pickle: Region | undefined;
  try {
    const e = readZipDirectory(bytes).find((x) => x.name.endsWith("data.pkl"));
    if (e) pickle = { start: e.dataOffset, end: e.dataOffset + e.size };
  } catch {
    // not a readable zip (legacy pickle): uniform mutations only
  }
  const cdStart = records.find((p) => bytes[p + 2] === 1) ?? bytes.length;
  const hot = [{ start: cdStart, end: bytes.length }];
  if (pickle) hot.push(pickle);
  return { hot, pickle, records };
}

function position(r: Rand, bytes: Uint8Array, hot: Region[]): number {
  if (r() < 0.6 && hot.length > 0) {
    const g = pick(r, hot);
    if (g.end > g.start) return g.start + int(r, g.end - g.start);
  }
  return int(r, bytes.length);
}

function setU32(b: Uint8Array, at: number, v: number): void {
  if (at + 4 <= b.length) new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0, true);
}

function setU16(b: Uint8Array, at: number, v: number): void {
  if (at + 2 <= b.length) new DataView(b.buffer, b.byteOffset).setUint16(at, v & 0xffff, true);
}

/** an edit of the safetensors JSON header (rewritten with a consistent or, sometimes, a stale length) */
function jsonEdit(r: Rand, bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset);
  const n = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
    string,
    Record<string, unknown>
  >;
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  const name = pick(r, names);
  const entry = header[name];
  const weird: unknown[] = [-1, 0, 1, 2, 1.5, 2 ** 40, 2 ** 53 + 2, "3", null, [], {}, true];
  switch (int(r, 9)) {
    case 0:
      entry.dtype = pick(r, ["F32", "F16", "BF16", "I64", "F64", "", 5, null]);
      break;
    case 1: {
      const shape = [...(entry.shape as unknown[])];
      if (shape.length > 0 && r() < 0.7) shape[int(r, shape.length)] = pick(r, weird);
      else if (r() < 0.5) shape.push(pick(r, [1, 2, 0]));
      else shape.pop();
      entry.shape = shape;
      break;
    }
    case 2: {
      const off = [...(entry.data_offsets as number[])];
      const i = int(r, 2);
      off[i] = r() < 0.5 ? off[i] + pick(r, [-4, -2, -1, 1, 2, 4, 64, 4096]) : (pick(r, weird) as number);
      entry.data_offsets = r() < 0.1 ? [off[1], off[0]] : off;
      break;
    }
    case 3:
      delete entry[pick(r, ["dtype", "shape", "data_offsets"])];
      break;
    case 4:
      delete header[name];
      break;
    case 5:
      header[
        pick(r, [
          "blocks.0.att.time_faaaa",
          "extra",
          "rwkv.blocks.0.ln1.weight",
          "blocks.7.ln1.weight",
          "__proto__",
        ])
      ] = entry;
      break;
    case 6:
      header["__metadata__"] = pick(r, [5, "x", { a: 1 }, null, [] as unknown]) as Record<string, unknown>;
      break;
    case 7: {
      const other = header[pick(r, names)];
      entry.data_offsets = other.data_offsets; // overlap
      break;
    }
    default:
      header[name] = pick(r, [null, 5, "x", []]) as unknown as Record<string, unknown>;
  }
  const text = new TextEncoder().encode(JSON.stringify(header));
  const data = bytes.subarray(8 + n);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(r() < 0.8 ? text.length : n), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

export function mutate(r: Rand, original: Uint8Array, rel: string): { bytes: Uint8Array; kind: string } {
  const { hot, pickle, records } = regions(original, rel);
  const st = rel.endsWith(".safetensors");
  const kinds = [
    "flip",
    "flip",
    "insert",
    "delete",
    "truncate",
    st ? "json" : "zipfield",
    st ? "json" : "pickle",
    "hlen",
    "repeat",
  ];
  const kind = pick(r, kinds);
  let b = Uint8Array.from(original);
  switch (kind) {
    case "flip": {
      const k = 1 + int(r, 8);
      for (let i = 0; i < k; i++) {
        const p = position(r, b, hot);
        b[p] = r() < 0.5 ? b[p] ^ (1 << int(r, 8)) : int(r, 256);
      }
      break;
    }
    case "insert": {
      const p = position(r, b, hot);
      const ins = Uint8Array.from({ length: 1 + int(r, 16) }, () => int(r, 256));
      const out = new Uint8Array(b.length + ins.length);
      out.set(b.subarray(0, p));
      out.set(ins, p);
      out.set(b.subarray(p), p + ins.length);
      b = out;
      break;
    }
    case "delete": {
      const p = position(r, b, hot);
      const len = Math.min(1 + int(r, 32), b.length - p);
      const out = new Uint8Array(b.length - len);
      out.set(b.subarray(0, p));
      out.set(b.subarray(p + len), p);
      b = out;
      break;
    }
    case "truncate":
      b = b.slice(0, int(r, b.length));
      break;
    case "json":
      b = jsonEdit(r, b);
      break;
    case "zipfield": {
      // overwrite a field of a zip record (sizes, offsets, name/extra lengths, counts)
      const rec = records.length > 0 ? pick(r, records) : 0;
      const at = rec + 4 + 2 * int(r, 21);
      if (r() < 0.5) setU32(b, at, pick(r, INTERESTING_U32) + (r() < 0.3 ? int(r, 64) - 32 : 0));
      else setU16(b, at, pick(r, INTERESTING_U32));
      break;
    }
    case "pickle": {
      if (!pickle) break;
      const k = 1 + int(r, 4);
      for (let i = 0; i < k; i++) {
        const p = pickle.start + int(r, pickle.end - pickle.start);
        b[p] =
          r() < 0.5 ? pick(r, PICKLE_OPS) : r() < 0.5 ? pick(r, [0, 1, 2, 8, 0x7f, 0x80, 0xff]) : int(r, 256);
      }
      break;
    }
    case "repeat": {
      // a slice of the pickle (or the safetensors header) repeated up to 20,000 times in place: floods of
      // opcodes, objects, marks and memo entries, or a header far longer than its entries need
      const g = pickle ?? hot[0];
      if (!g || g.end <= g.start) break;
      const from = g.start + int(r, g.end - g.start);
      const len = 1 + int(r, Math.min(32, g.end - from));
      const times = pick(r, [2, 10, 1000, 20000]);
      const piece = b.subarray(from, from + len);
      const out = new Uint8Array(b.length + len * (times - 1));
      out.set(b.subarray(0, from));
      for (let k = 0; k < times; k++) out.set(piece, from + k * len);
      out.set(b.subarray(from + len), from + times * len);
      b = out;
      break;
    }
    case "hlen": {
      // the safetensors header length, or the zip end record's directory size / offset
      if (st) {
        const dv = new DataView(b.buffer);
        const n = dv.getBigUint64(0, true);
        const v = pick(r, [
          0n,
          1n,
          2n ** 32n,
          2n ** 63n,
          2n ** 64n - 1n,
          n + 1n,
          n - 1n,
          n + 8n,
          BigInt(b.length),
        ]);
        dv.setBigUint64(0, BigInt.asUintN(64, v), true);
      } else {
        const eocd = records.filter((p) => b[p + 2] === 5).pop() ?? b.length - 22;
        setU32(b, eocd + pick(r, [12, 16]), pick(r, INTERESTING_U32));
      }
      break;
    }
  }
  return { bytes: b, kind };
}

/** every array of a model, in a fixed order */
function weightArrays(w: RwkvWeights): Float32Array[] {
  const out = [w.emb, w.head, w.ln0.weight, w.ln0.bias, w.lnOut.weight, w.lnOut.bias];
  for (const b of w.blocks) {
    out.push(b.ln1.weight, b.ln1.bias, b.ln2.weight, b.ln2.bias);
    const a = b.att;
    out.push(a.muK, a.muV, a.muR, a.w, a.u, a.Wk, a.Wv, a.Wr, a.Wo);
    const f = b.ffn;
    out.push(f.muK, f.muR, f.Wk, f.Wv, f.Wr);
  }
  return out;
}

/** bit-identical weights (NaN never occurs: the loader refuses it) */
export function sameWeights(a: RwkvWeights, b: RwkvWeights): boolean {
  const x = weightArrays(a);
  const y = weightArrays(b);
  return (
    x.length === y.length &&
    x.every((arr, i) => arr.length === y[i].length && arr.every((v, j) => Object.is(v, y[i][j])))
  );
}

/** A model that loaded must be complete and consistent */
export function checkModel(w: RwkvWeights): void {
  const { nLayer: L, nEmbd: C, ffnSize: F, vocabSize: V } = w.config;
  const arrays: [Float32Array, number][] = [
    [w.emb, V * C],
    [w.head, V * C],
    [w.ln0.weight, C],
    [w.lnOut.bias, C],
  ];
  for (const b of w.blocks) {
    arrays.push([b.att.Wk, C * C], [b.att.Wo, C * C], [b.att.w, C], [b.att.u, C], [b.att.muR, C]);
    arrays.push([b.ffn.Wk, F * C], [b.ffn.Wv, C * F], [b.ffn.Wr, C * C], [b.ffn.muK, C], [b.ln2.weight, C]);
  }
  if (w.blocks.length !== L) throw new Error(`loaded ${w.blocks.length} blocks, config says ${L}`);
  for (const [a, n] of arrays) {
    if (a.length !== n) throw new Error(`loaded an array of ${a.length} values where ${n} belong`);
    // w = -exp(time_decay) may be -Infinity (decay > 88.7: instant forgetting); nothing may be NaN
    const isW = w.blocks.some((b) => b.att.w === a);
    for (let i = 0; i < a.length; i++) {
      if (Number.isNaN(a[i]) || (!Number.isFinite(a[i]) && !(isW && a[i] === -Infinity))) {
        throw new Error(`non-finite weight loaded: ${a[i]}`);
      }
    }
  }
}

export interface FuzzStats {
  cases: number;
  ms: number;
  slowest: number;
  slowestCase: string;
  outcomes: Map<string, number>;
  kinds: Map<string, number>;
}

/** `casesPerFixture` mutations of every fixture of the manifest, from `seed`. */
export function fuzzFixtures(
  seed: number,
  casesPerFixture: number,
  onProgress?: (s: FuzzStats) => void,
): FuzzStats {
  const SEED = seed;
  const CASES_PER_FIXTURE = casesPerFixture;
  const targets = Object.keys(manifest.files);
  const r = prng(SEED);
  const outcomes = new Map<string, number>();
  const kinds = new Map<string, number>();
  let cases = 0;
  let slowest = 0;
  let slowestCase = "";
  const t0 = performance.now();
  for (const rel of targets) {
    const original = fixtureBytes(rel);
    const hfConfig = fixtureConfig(rel);
    const isZip = original[0] === 0x50 && original[1] === 0x4b;
    let reference: RwkvWeights | undefined;
    try {
      reference = loadRwkvCheckpoint(original, hfConfig ? { hfConfig } : {}).weights;
    } catch {
      // a fixture that is meant to be refused
    }
    for (let i = 0; i < CASES_PER_FIXTURE; i++) {
      const { bytes, kind } = mutate(r, original, rel);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const t = performance.now();
      let outcome: string;
      try {
        const loaded = loadRwkvCheckpoint(bytes, hfConfig ? { hfConfig } : {});
        checkModel(loaded.weights);
        outcome = "loaded";
        if (isZip) {
          // every entry read is CRC-checked: a zip that loads carries the original's data, bit for bit
          if (!reference || !sameWeights(loaded.weights, reference)) {
            throw new Error(`fuzz case ${i} of ${rel} (${kind}, seed ${SEED}) loaded changed weights`);
          }
          outcome = "loaded (zip, original data)";
        }
      } catch (e) {
        if (!(e instanceof CheckpointError)) {
          throw new Error(`fuzz case ${i} of ${rel} (${kind}, seed ${SEED}) threw ${String(e)}`, {
            cause: e,
          });
        }
        outcome = e.code;
        if (e.message.length < 10)
          throw new Error(`fuzz case ${i} of ${rel}: message ${JSON.stringify(e.message)}`);
      }
      const dt = performance.now() - t;
      if (dt > slowest) {
        slowest = dt;
        slowestCase = `${rel} #${i} (${kind})`;
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      cases++;
      if (onProgress && cases % 1000 === 0)
        onProgress({ cases, ms: performance.now() - t0, slowest, slowestCase, outcomes, kinds });
    }
  }
  return { cases, ms: performance.now() - t0, slowest, slowestCase, outcomes, kinds };
}
