/**
 * Independent writers of the two checkpoint formats, for tests that need files the fixtures do not hold
 * (extreme weights, hostile structures built in memory). They share no code with src/rwkv/checkpoint:
 * CRC-32 is node:zlib's, the pickle opcodes are written by hand from Python's Lib/pickletools.py, the zip
 * records from APPNOTE.TXT 4.3.7 (local header), 4.3.9 (data descriptor), 4.3.12 (central directory) and
 * 4.3.16 (end record).
 */
import { crc32 } from "node:zlib";
import type { RwkvWeights } from "../../src/rwkv/weights.js";

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A model's tensors under BlinkDL's names, undoing the load transform: time_decay = ln(-w). */
export function blinkTensors(w: RwkvWeights): NamedTensor[] {
  const { nEmbd: C, ffnSize: F, vocabSize: V } = w.config;
  const out: NamedTensor[] = [{ name: "emb.weight", shape: [V, C], data: w.emb }];
  const vec = (name: string, data: Float32Array): void => void out.push({ name, shape: [C], data });
  vec("blocks.0.ln0.weight", w.ln0.weight);
  vec("blocks.0.ln0.bias", w.ln0.bias);
  w.blocks.forEach((b, i) => {
    const p = `blocks.${i}`;
    vec(`${p}.ln1.weight`, b.ln1.weight);
    vec(`${p}.ln1.bias`, b.ln1.bias);
    vec(`${p}.ln2.weight`, b.ln2.weight);
    vec(`${p}.ln2.bias`, b.ln2.bias);
    vec(
      `${p}.att.time_decay`,
      Float32Array.from(b.att.w, (x) => Math.log(-x)),
    );
    vec(`${p}.att.time_first`, b.att.u);
    vec(`${p}.att.time_mix_k`, b.att.muK);
    vec(`${p}.att.time_mix_v`, b.att.muV);
    vec(`${p}.att.time_mix_r`, b.att.muR);
    for (const [m, d] of [
      ["key", b.att.Wk],
      ["value", b.att.Wv],
      ["receptance", b.att.Wr],
      ["output", b.att.Wo],
    ] as const)
      out.push({ name: `${p}.att.${m}.weight`, shape: [C, C], data: d });
    vec(`${p}.ffn.time_mix_k`, b.ffn.muK);
    vec(`${p}.ffn.time_mix_r`, b.ffn.muR);
    out.push({ name: `${p}.ffn.key.weight`, shape: [F, C], data: b.ffn.Wk });
    out.push({ name: `${p}.ffn.receptance.weight`, shape: [C, C], data: b.ffn.Wr });
    out.push({ name: `${p}.ffn.value.weight`, shape: [C, F], data: b.ffn.Wv });
  });
  vec("ln_out.weight", w.lnOut.weight);
  vec("ln_out.bias", w.lnOut.bias);
  out.push({ name: "head.weight", shape: [V, C], data: w.head });
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** fp32 -> IEEE binary16 bits, round to nearest even (finite, in-range values only: test data) */
export function f16Bytes(a: Float32Array): Uint8Array {
  const out = new Uint8Array(a.length * 2);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < a.length; i++) {
    f[0] = a[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    let h: number;
    if (exp <= 0)
      h = sign; // flush tiny values to zero (test data never needs subnormals)
    else {
      const mant = x & 0x7fffff;
      h = sign | (exp << 10) | (mant >>> 13);
      const rest = mant & 0x1fff;
      if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    }
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >>> 8;
  }
  return out;
}

export interface RawTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A safetensors file: 8-byte length, JSON header, tensors back to back in the given order. */
export function safetensorsFile(tensors: RawTensor[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    off += t.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  return concat([len, json, ...tensors.map((t) => t.bytes)]);
}

export function safetensorsF32(tensors: NamedTensor[]): Uint8Array {
  return safetensorsFile(tensors.map((t) => ({ ...t, dtype: "F32", bytes: f32Bytes(t.data) })));
}

// ---------------------------------------------------------------------------------------------- pickle

/** Pickle opcodes (protocol 2), as bytes */
const op = {
  PROTO2: [0x80, 0x02],
  MARK: [0x28],
  STOP: [0x2e],
  EMPTY_TUPLE: [0x29],
  TUPLE: [0x74],
  REDUCE: [0x52],
  BINPERSID: [0x51],
  SETITEMS: [0x75],
  NEWFALSE: [0x89],
} as const;

function binunicode(s: string): number[] {
  const b = new TextEncoder().encode(s);
  return [0x58, b.length & 0xff, (b.length >>> 8) & 0xff, (b.length >>> 16) & 0xff, b.length >>> 24, ...b];
}
function binint(n: number): number[] {
  return [0x4a, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}
function global(module: string, name: string): number[] {
  return [0x63, ...new TextEncoder().encode(`${module}\n${name}\n`)];
}

export interface PickledTensor {
  key: string;
  /** torch storage class, e.g. "FloatStorage", "HalfStorage" */
  storageClass: string;
  storageKey: string;
  /** elements in the storage, as the persistent id declares them */
  storageNumel: number;
  offset: number;
  size: number[];
  /** default: row-major */
  stride?: number[];
}

/** data.pkl of torch.save(state_dict): an OrderedDict of _rebuild_tensor_v2(storage, offset, size, stride, ...) */
export function stateDictPickle(tensors: PickledTensor[]): Uint8Array {
  const b: number[] = [
    ...op.PROTO2,
    ...global("collections", "OrderedDict"),
    ...op.EMPTY_TUPLE,
    ...op.REDUCE,
  ];
  b.push(...op.MARK);
  for (const t of tensors) {
    const stride = t.stride ?? t.size.map((_, d) => t.size.slice(d + 1).reduce((a, x) => a * x, 1));
    b.push(...binunicode(t.key), ...global("torch._utils", "_rebuild_tensor_v2"), ...op.MARK);
    b.push(...op.MARK, ...binunicode("storage"), ...global("torch", t.storageClass));
    b.push(...binunicode(t.storageKey), ...binunicode("cpu"), ...binint(t.storageNumel), ...op.TUPLE);
    b.push(...op.BINPERSID, ...binint(t.offset));
    b.push(...op.MARK, ...t.size.flatMap(binint), ...op.TUPLE);
    b.push(...op.MARK, ...stride.flatMap(binint), ...op.TUPLE);
    b.push(...op.NEWFALSE, ...global("collections", "OrderedDict"), ...op.EMPTY_TUPLE, ...op.REDUCE);
    b.push(...op.TUPLE, ...op.REDUCE);
  }
  b.push(...op.SETITEMS, ...op.STOP);
  return Uint8Array.from(b);
}

// ------------------------------------------------------------------------------------------------- zip

export interface ZipInput {
  name: string;
  data: Uint8Array;
}

export interface ZipOptions {
  /** write CRC and sizes in a data descriptor after the data (flag bit 3), as PyTorch does (default true) */
  descriptor?: boolean;
  /** pad the local extra field so that data start at a multiple of this (PyTorch: 64) */
  align?: number;
  /**
   * extra central directory records for entries whose local header lies inside another entry's data
   * (`at`: the local header's offset in the file; crc and size of their data as given)
   */
  extraCentral?: { name: string; at: number; data: Uint8Array }[];
}

/** A local file header (APPNOTE 4.3.7) with CRC and sizes in it, no extra field: for nesting inside a zip. */
export function localRecord(name: string, data: Uint8Array): Uint8Array {
  const n = new TextEncoder().encode(name);
  const h = new Uint8Array(30);
  const v = new DataView(h.buffer);
  v.setUint32(0, 0x04034b50, true);
  v.setUint16(4, 20, true);
  v.setUint16(6, 0x800, true);
  v.setUint32(14, crc32(data), true);
  v.setUint32(18, data.length, true);
  v.setUint32(22, data.length, true);
  v.setUint16(26, n.length, true);
  return concat([h, n, data]);
}

/** A zip of stored entries in the layout torch.save writes. */
export function zipFile(entries: ZipInput[], opts: ZipOptions = {}): Uint8Array {
  const descriptor = opts.descriptor ?? true;
  const align = opts.align ?? 64;
  const enc = new TextEncoder();
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let off = 0;
  const flags = (descriptor ? 0x08 : 0) | 0x800;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const crc = crc32(e.data);
    const size = e.data.length;
    const before = off + 30 + name.length;
    let pad = align > 1 ? (align - ((before + 4) % align)) % align : 0;
    const extra = align > 1 ? new Uint8Array(4 + pad) : new Uint8Array(0);
    if (align > 1) {
      const dv = new DataView(extra.buffer);
      dv.setUint16(0, 0x4246, true); // "FB", PyTorch's padding record
      dv.setUint16(2, pad, true);
    } else pad = 0;
    const local = new Uint8Array(30);
    const l = new DataView(local.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true);
    l.setUint16(6, flags, true);
    l.setUint16(8, 0, true); // stored
    l.setUint32(14, descriptor ? 0 : crc, true);
    l.setUint32(18, descriptor ? 0 : size, true);
    l.setUint32(22, descriptor ? 0 : size, true);
    l.setUint16(26, name.length, true);
    l.setUint16(28, extra.length, true);
    parts.push(local, name, extra, e.data);
    const localOffset = off;
    off += 30 + name.length + extra.length + size;
    if (descriptor) {
      const d = new Uint8Array(16);
      const dv = new DataView(d.buffer);
      dv.setUint32(0, 0x08074b50, true);
      dv.setUint32(4, crc, true);
      dv.setUint32(8, size, true);
      dv.setUint32(12, size, true);
      parts.push(d);
      off += 16;
    }
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, flags, true);
    cv.setUint16(10, 0, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, size, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, localOffset, true);
    c.set(name, 46);
    central.push(c);
  }
  for (const x of opts.extraCentral ?? []) {
    const name = enc.encode(x.name);
    const c = new Uint8Array(46 + name.length);
    const cv = new DataView(c.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, 0x800, true);
    cv.setUint32(16, crc32(x.data), true);
    cv.setUint32(20, x.data.length, true);
    cv.setUint32(24, x.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, x.at, true);
    c.set(name, 46);
    central.push(c);
  }
  const cdOffset = off;
  const cd = concat(central);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, cd.length, true);
  ev.setUint32(16, cdOffset, true);
  return concat([...parts, cd, end]);
}

export interface TorchTensor extends PickledTensor {
  /** the storage's bytes; tensors naming the same storageKey share one entry (the first one's bytes) */
  bytes?: Uint8Array;
}

/** A torch.save zip: <archive>/data.pkl, <archive>/data/<key> for every storage, <archive>/version. */
export function torchZip(tensors: TorchTensor[], archive = "archive", pickle?: Uint8Array): Uint8Array {
  const storages = new Map<string, Uint8Array>();
  for (const t of tensors) if (t.bytes && !storages.has(t.storageKey)) storages.set(t.storageKey, t.bytes);
  return zipFile([
    { name: `${archive}/data.pkl`, data: pickle ?? stateDictPickle(tensors) },
    ...[...storages].map(([k, data]) => ({ name: `${archive}/data/${k}`, data })),
    { name: `${archive}/version`, data: new TextEncoder().encode("3\n") },
  ]);
}

/** A model as a torch.save zip, one storage per tensor, F32 ("FloatStorage") or F16 ("HalfStorage"). */
export function torchZipOf(tensors: NamedTensor[], dtype: "F32" | "F16" = "F32"): Uint8Array {
  return torchZip(
    tensors.map((t, i) => ({
      key: t.name,
      storageClass: dtype === "F32" ? "FloatStorage" : "HalfStorage",
      storageKey: String(i),
      storageNumel: t.data.length,
      offset: 0,
      size: t.shape,
      bytes: dtype === "F32" ? f32Bytes(t.data) : f16Bytes(t.data),
    })),
  );
}
