/**
 * Corrupted data no longer loads silently (issue 16): CRC-32 of every zip entry read, local headers against
 * the central directory, entries that overlap, storages of exactly numel x element size, safetensors data
 * areas without holes; and the two-phase reading (unexpected keys refused before decoding; a storage shared by
 * many tensors decoded once). Expected CRCs come from node:zlib, files from the independent writers in
 * checkpoint-writers.ts or the fixtures (written by PyTorch 1.13, make.py).
 */
import { crc32 as zlibCrc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  CheckpointError,
  crc32,
  decodeToF32,
  loadRwkvCheckpoint,
  readSafetensors,
  readTorchZip,
  readZipDirectory,
} from "../../src/rwkv/checkpoint/index.js";
import { decodeWithCrc } from "../../src/rwkv/checkpoint/dtype.js";
import { mulberry32 } from "../../src/rwkv/random.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { fixtureBytes, fixtureConfig } from "../fixtures/checkpoints/fixtures.js";
import {
  blinkTensors,
  concat,
  f32Bytes,
  localRecord,
  safetensorsFile,
  torchZip,
  torchZipOf,
  zipFile,
} from "./checkpoint-writers.js";

const SMALL = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 23, layerNormEps: 1e-5 };
const ZIPS = ["blinkdl-fp32.pth", "blinkdl-bf16.pth", "hf-fp16/pytorch_model.bin", "blinkdl-fp32-zip64.pth"];

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return "loaded";
  } catch (e) {
    if (e instanceof CheckpointError) return e.code;
    throw e;
  }
}

function load(rel: string, bytes: Uint8Array): unknown {
  const hfConfig = fixtureConfig(rel);
  return loadRwkvCheckpoint(bytes, hfConfig ? { hfConfig } : {});
}

describe("CRC-32", () => {
  it("matches zlib's on every length 0..70 and on 1 MB, and continues across pieces", () => {
    const r = mulberry32(1);
    const b = Uint8Array.from({ length: 1 << 20 }, () => Math.floor(r() * 256));
    for (let n = 0; n <= 70; n++) expect(crc32(b.subarray(0, n))).toBe(zlibCrc32(b.subarray(0, n)));
    expect(crc32(b)).toBe(zlibCrc32(b));
    expect(crc32(b.subarray(777), crc32(b.subarray(0, 777)))).toBe(zlibCrc32(b));
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926); // APPNOTE's check value
  });

  it("decodeWithCrc: the values of decodeToF32 and zlib's CRC in one pass, for every dtype and tail length", () => {
    const r = mulberry32(2);
    for (const n of [0, 2, 4, 6, 8, 10, 12, 14, 16, 1026, 4100]) {
      const b = Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
      for (const dtype of ["F16", "BF16", "F32"] as const) {
        const size = dtype === "F32" ? 4 : 2;
        if (n % size) continue;
        const got = decodeWithCrc(b, dtype);
        expect(got.crc, `${dtype} ${n}`).toBe(zlibCrc32(b));
        const want = decodeToF32(b, 0, n / size, dtype);
        expect(Array.from(got.data).map(String), `${dtype} ${n}`).toEqual(Array.from(want).map(String));
      }
    }
  });
});

describe("zip entries are checked against their CRC-32 and their central directory record", () => {
  for (const rel of ZIPS) {
    it(`${rel}: a flipped bit in any storage's bytes or in data.pkl is a checksum-mismatch`, () => {
      const original = fixtureBytes(rel);
      const r = mulberry32(rel.length);
      const entries = readZipDirectory(original).filter((e) => /\/data(\/\d+|\.pkl)$/.test(e.name));
      expect(entries.length).toBeGreaterThan(20);
      for (const e of entries) {
        const b = Uint8Array.from(original);
        const at = e.dataOffset + Math.floor(r() * e.size);
        b[at] ^= 1 << Math.floor(r() * 8);
        expect(
          codeOf(() => load(rel, b)),
          `${e.name} byte ${at - e.dataOffset}`,
        ).toBe("checksum-mismatch");
      }
    });
  }

  it("an edited local header (name, method, flags, extra length) is refused", () => {
    const original = fixtureBytes("blinkdl-fp32.pth");
    const e = readZipDirectory(original).find((x) => x.name.endsWith("data/3"))!;
    const lo = e.localOffset;
    const edit = (f: (b: Uint8Array, dv: DataView) => void): string => {
      const b = Uint8Array.from(original);
      f(b, new DataView(b.buffer));
      return codeOf(() => load("blinkdl-fp32.pth", b));
    };
    expect(edit((b) => (b[lo + 30 + 5] ^= 0x20))).toBe("bad-header"); // a letter of the name
    expect(edit((_, v) => v.setUint16(lo + 8, 8, true))).toBe("bad-header"); // method deflate
    expect(edit((_, v) => v.setUint16(lo + 6, v.getUint16(lo + 6, true) & ~8, true))).toBe("bad-header");
    for (const d of [-4, -1, 1, 2, 4, 64]) {
      // the extra length moves the data window: the extra records no longer parse, or the CRC fails
      const got = edit((_, v) => v.setUint16(lo + 28, v.getUint16(lo + 28, true) + d, true));
      expect(["bad-header", "checksum-mismatch", "truncated"], `extra length ${d}`).toContain(got);
    }
  });

  it("two directory records for one name, and an entry hidden inside another's data, are refused", () => {
    const pkl = new Uint8Array([0x80, 0x02, 0x7d, 0x2e]); // {}
    const inner = new Uint8Array(64).fill(7);
    const outerData = localRecord("archive/data/1", inner);
    const z = zipFile(
      [
        { name: "archive/data.pkl", data: pkl },
        { name: "archive/data/0", data: outerData },
      ],
      { descriptor: false, align: 1 },
    );
    // where data/0's data begin: after data.pkl's record and data/0's own header
    const at = 30 + "archive/data.pkl".length + pkl.length + 30 + "archive/data/0".length;
    const nested = zipFile(
      [
        { name: "archive/data.pkl", data: pkl },
        { name: "archive/data/0", data: outerData },
      ],
      { descriptor: false, align: 1, extraCentral: [{ name: "archive/data/1", at, data: inner }] },
    );
    expect(codeOf(() => readZipDirectory(z))).toBe("loaded");
    expect(() => readZipDirectory(nested)).toThrow(/overlaps/);
    const dup = zipFile(
      [
        { name: "archive/data.pkl", data: pkl },
        { name: "archive/data.pkl", data: pkl },
      ],
      { align: 1 },
    );
    expect(() => readZipDirectory(dup)).toThrow(/two entries named/);
  });
});

describe("storages hold exactly numel x element size bytes", () => {
  const tensors = blinkTensors(syntheticWeights(SMALL, 1));

  it("a FloatStorage relabelled BFloat16Storage (the issue's emb.weight[2] = 7.8e27) is refused", () => {
    const items = tensors.map((t, i) => ({
      key: t.name,
      storageClass: t.name === "emb.weight" ? "BFloat16Storage" : "FloatStorage",
      storageKey: String(i),
      storageNumel: t.data.length,
      offset: 0,
      size: t.shape,
      bytes: f32Bytes(t.data),
    }));
    expect(() => loadRwkvCheckpoint(torchZip(items))).toThrow(/exactly numel x element size/);
    // the untouched file loads
    expect(codeOf(() => loadRwkvCheckpoint(torchZipOf(tensors)))).toBe("loaded");
  });

  it("a storage larger than its declared element count is refused", () => {
    const items = tensors.map((t, i) => ({
      key: t.name,
      storageClass: "FloatStorage",
      storageKey: String(i),
      storageNumel: t.data.length,
      offset: 0,
      size: t.shape,
      bytes: t.name === "head.weight" ? concat([f32Bytes(t.data), new Uint8Array(4)]) : f32Bytes(t.data),
    }));
    expect(codeOf(() => loadRwkvCheckpoint(torchZip(items)))).toBe("offset-out-of-range");
  });
});

describe("safetensors data areas have no holes (the format's rule)", () => {
  const a = { name: "a", dtype: "F32", shape: [2], bytes: f32Bytes(new Float32Array([1, 2])) };
  const b = { name: "b", dtype: "F32", shape: [1], bytes: f32Bytes(new Float32Array([3])) };

  it("a tiled file reads; a gap between tensors, a gap before the first and trailing bytes do not", () => {
    expect(Array.from(readSafetensors(safetensorsFile([a, b])).tensors.get("b")!.data)).toEqual([3]);
    const gap = safetensorsFile([a, { ...b, name: "pad", dtype: "F32", shape: [1] }, { ...b, name: "b" }]);
    // rewrite: drop "pad" from the header, keeping its bytes as a hole
    const text = new TextDecoder().decode(
      gap.subarray(8, 8 + Number(new DataView(gap.buffer).getBigUint64(0, true))),
    );
    const header = JSON.parse(text) as Record<string, unknown>;
    const data = gap.subarray(8 + text.length);
    for (const [drop, where] of [
      ["pad", "before"],
      ["a", "before"],
      ["b", "after the last"],
    ] as const) {
      const h = { ...header };
      delete h[drop];
      const json = new TextEncoder().encode(JSON.stringify(h));
      const len = new Uint8Array(8);
      new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
      const file = concat([len, json, data]);
      expect(() => readSafetensors(file), `${drop}: hole ${where}`).toThrow(/belong to no tensor/);
      expect(
        codeOf(() => readSafetensors(file)),
        drop,
      ).toBe("bad-header");
    }
  });

  it("zero-size tensors may sit anywhere; a tensor named twice is refused", () => {
    const empty = { name: "e", dtype: "F16", shape: [0, 3], bytes: new Uint8Array(0) };
    expect(readSafetensors(safetensorsFile([a, empty, b])).tensors.get("e")!.shape).toEqual([0, 3]);
    const twice = new TextEncoder().encode(
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
    );
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(twice.length), true);
    expect(() => readSafetensors(concat([len, twice, new Uint8Array(8)]))).toThrow(/appears twice/);
  });
});

/** the safetensors schema and tiling rules, checked on JSON.parse's result (independent of the reader) */
function schemaValid(h: unknown, dataLen: number): boolean {
  if (typeof h !== "object" || h === null || Array.isArray(h)) return false;
  const spans: [number, number][] = [];
  for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
    if (k === "__metadata__") {
      if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
      if (!Object.values(v).every((x) => typeof x === "string")) return false;
      continue;
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
    const { dtype, shape, data_offsets: o } = v as Record<string, unknown>;
    const size = ({ F32: 4, F16: 2, BF16: 2 } as Record<string, number>)[dtype as string];
    const int = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
    if (typeof dtype !== "string" || !size) return false;
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every(int)) return false;
    if (!Array.isArray(o) || o.length !== 2 || !o.every(int) || o[0] > o[1]) return false;
    if (shape.reduce((a: number, d: number) => a * d, 1) * size !== o[1] - o[0]) return false;
    spans.push([o[0], o[1]]);
  }
  spans.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let pos = 0;
  for (const [b, e] of spans) {
    if (b !== pos) return false;
    pos = e;
  }
  return pos === dataLen;
}

describe("the safetensors header reader accepts exactly the JSON that JSON.parse accepts", () => {
  it("2,000 single-character edits of a real header: same verdict as JSON.parse, same tensors when valid", () => {
    const original = fixtureBytes("blinkdl-bf16.safetensors");
    const n = Number(new DataView(original.buffer).getBigUint64(0, true));
    const text = new TextDecoder().decode(original.subarray(8, 8 + n));
    const data = original.subarray(8 + n);
    const r = mulberry32(5);
    const alphabet = ' {}[]:,"\\0123456789-+.eE\tnulltruefalseu\u00e9\u2028x';
    let agreedInvalid = 0;
    let agreedValid = 0;
    for (let i = 0; i < 2000; i++) {
      const at = Math.floor(r() * text.length);
      const ch = alphabet[Math.floor(r() * alphabet.length)];
      const kind = Math.floor(r() * 3);
      const edited =
        kind === 0
          ? text.slice(0, at) + ch + text.slice(at + 1)
          : kind === 1
            ? text.slice(0, at) + ch + text.slice(at)
            : text.slice(0, at) + text.slice(at + 1);
      const json = new TextEncoder().encode(edited);
      const len = new Uint8Array(8);
      new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
      const file = concat([len, json, data]);
      let parsed: unknown;
      let jsonOk = true;
      try {
        parsed = JSON.parse(edited);
      } catch {
        jsonOk = false;
      }
      let ours: ReturnType<typeof readSafetensors> | undefined;
      let err: CheckpointError | undefined;
      try {
        ours = readSafetensors(file);
      } catch (e) {
        if (!(e instanceof CheckpointError)) throw e;
        err = e;
      }
      if (!jsonOk) {
        expect(err?.code, edited.slice(Math.max(0, at - 20), at + 20)).toBe("bad-header");
        agreedInvalid++;
      } else if (ours) {
        // JSON.parse's reading of the same header gives the same names and shapes
        const h = parsed as Record<string, { shape: number[] }>;
        const names = Object.keys(h).filter((k) => k !== "__metadata__");
        expect([...ours.tensors.keys()].sort()).toEqual(names.sort());
        for (const k of names) expect(ours.tensors.get(k)!.shape).toEqual(h[k].shape);
        agreedValid++;
      } else {
        // valid JSON refused: only if it breaks the schema or the tiling, judged here from JSON.parse's reading
        expect(schemaValid(parsed, data.length), `${err?.message} in ${edited.slice(at - 20, at + 20)}`).toBe(
          false,
        );
      }
    }
    console.log(
      `header edits: ${agreedInvalid} invalid JSON refused, ${agreedValid} valid ones read identically`,
    );
    expect(agreedInvalid).toBeGreaterThan(500);
    expect(agreedValid).toBeGreaterThan(50);
  });
});

describe("two-phase reading", () => {
  it("unexpected keys are refused before any tensor is decoded: corrupt extra data is never looked at", () => {
    const tensors = blinkTensors(syntheticWeights(SMALL, 2));
    const items = tensors.map((t, i) => ({
      key: t.name,
      storageClass: "FloatStorage",
      storageKey: String(i),
      storageNumel: t.data.length,
      offset: 0,
      size: t.shape,
      bytes: f32Bytes(t.data),
    }));
    const extra = {
      key: "blocks.0.att.extra",
      storageClass: "FloatStorage",
      storageKey: "x",
      storageNumel: 4,
      offset: 0,
      size: [4],
      bytes: new Uint8Array(16),
    };
    const file = torchZip([...items, extra]);
    // corrupt the extra storage's bytes: a decode would report checksum-mismatch; the key check comes first
    const e = readZipDirectory(file).find((x) => x.name.endsWith("/data/x"))!;
    file[e.dataOffset] ^= 0xff;
    expect(codeOf(() => loadRwkvCheckpoint(file))).toBe("extra-key");
    expect(codeOf(() => readTorchZip(file))).toBe("checksum-mismatch");
  });

  it("tensors viewing one storage share its single decoded copy", () => {
    const bytes = new Uint8Array(4096 * 2).fill(0x3c);
    const views = Array.from({ length: 50 }, (_, i) => ({
      key: `t${i}`,
      storageClass: "HalfStorage",
      storageKey: "s",
      storageNumel: 4096,
      offset: i * 8,
      size: [64],
      bytes,
    }));
    const t = readTorchZip(torchZip(views)).tensors;
    const buffers = new Set([...t.values()].map((x) => x.data.buffer));
    expect(buffers.size).toBe(1);
    expect(t.get("t3")!.data[0]).toBe(t.get("t0")!.data[24]);
  });
});
