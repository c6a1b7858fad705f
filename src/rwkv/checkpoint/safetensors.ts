/**
 * safetensors reader (format: https://github.com/huggingface/safetensors, "Format"):
 *   8 bytes   N, little-endian u64: length of the JSON header
 *   N bytes   UTF-8 JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}
 *             (may end with spaces)
 *   rest      the data area; offsets are relative to its start. "The byte buffer needs to be entirely indexed,
 *             and cannot contain holes": sorted by offset, the tensors tile it exactly (no gap, no overlap,
 *             nothing after the last one).
 * Every field is validated and every offset bounds-checked before a byte of tensor data is touched.
 *
 * Memory (issue 16): the header is at most MAX_SAFETENSORS_HEADER bytes (16 MiB; the 14B RWKV-4 model's is
 * ~100 KB) and is parsed by a small JSON reader that checks the schema as it goes (parseHeader): it keeps only
 * valid tensor records and metadata strings, skips unknown fields without building them, refuses nesting
 * deeper than 8 and more than MAX_METADATA_ENTRIES metadata entries. So a hostile header costs at most a few
 * times its size (its UTF-16 text plus one small record per ~50 header bytes), never the ~30x of JSON.parse.
 */
import type { Tensor, TensorMap } from "../tensor.js";
import { CheckpointError, quote } from "./errors.js";
import { DTYPE_BYTES, decodeToF32, isStoredDtype, type StoredDtype } from "./dtype.js";
import { DecodeBudget, type TensorEntry, type TensorIndex } from "./lazy.js";

/** Refuse headers above this size (the 169M model's header is ~15 KB, the 14B model's ~100 KB). */
export const MAX_SAFETENSORS_HEADER = 16 * 1024 * 1024;
/** __metadata__ of real files holds a handful of entries ({"format": "pt"}) */
export const MAX_METADATA_ENTRIES = 4096;
/** containers may nest this deep (the format needs 3: header, tensor record, shape) */
const MAX_DEPTH = 8;

export interface SafetensorsResult {
  tensors: TensorMap;
  metadata: Record<string, string>;
  /** the stored dtype ("F32", "F16", "BF16"), or e.g. "F16+F32" for a mixed file, "none" when empty */
  dtype: string;
}

/** Read the 8-byte header length; throws unless it fits in the file. Returns N. */
export function safetensorsHeaderLength(bytes: Uint8Array): number {
  if (bytes.length < 8) {
    throw new CheckpointError(
      "truncated",
      `safetensors: file is ${bytes.length} bytes, shorter than the 8-byte header length`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (n > MAX_SAFETENSORS_HEADER) {
    throw new CheckpointError(
      "bad-header",
      `safetensors: header length ${n} exceeds the ${MAX_SAFETENSORS_HEADER}-byte limit ` +
        "(real headers are under 1 MB; docs/hostile-inputs.md)",
    );
  }
  if (8 + n > bytes.length) {
    throw new CheckpointError(
      "truncated",
      `safetensors: header announces ${n} bytes but only ${bytes.length - 8} follow the length field`,
    );
  }
  return n;
}

/** the record fields, quoted, matched before a key is decoded */
const FIELD_KEYS = ['"dtype"', '"shape"', '"data_offsets"'];

/** JSON's two-character escapes (RFC 8259 section 7) */
const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "\\": "\\",
  "/": "/",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
};

/** One tensor record as the header states it; fields that are missing or of the wrong JSON type are undefined. */
interface RawRecord {
  dtype?: string;
  /** null: present but not a list of at most 8 numbers */
  shape?: number[] | null;
  offsets?: number[] | null;
  /** false when the record is not a JSON object */
  isObject: boolean;
}

/**
 * A JSON reader for the safetensors header schema (RFC 8259 syntax) that builds only what the schema keeps.
 * Errors: CheckpointError("bad-header") naming the character offset.
 */
class HeaderParser {
  i = 0;
  constructor(private readonly s: string) {}

  fail(msg: string): never {
    throw new CheckpointError(
      "bad-header",
      `safetensors: the header is not valid JSON (${msg} at character ${this.i})`,
    );
  }
  ws(): void {
    const s = this.s;
    let i = this.i;
    for (
      let c = s.charCodeAt(i);
      c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
      c = s.charCodeAt(++i)
    );
    this.i = i;
  }
  peek(): number {
    return this.s.charCodeAt(this.i); // NaN at the end
  }
  expect(ch: string): void {
    if (this.s[this.i] !== ch)
      this.fail(this.i >= this.s.length ? `expected '${ch}', found the end` : `expected '${ch}'`);
    this.i++;
  }

  /** a JSON string (the opening quote at this.i); `keep` false only validates it */
  string(keep = true): string {
    const s = this.s;
    let i = this.i + 1;
    let out = "";
    let from = i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (Number.isNaN(c)) {
        this.i = i;
        this.fail("unterminated string");
      }
      if (c < 0x20) {
        this.i = i;
        this.fail("control character in a string");
      }
      if (c === 0x5c) {
        if (keep) out += s.slice(from, i);
        const e = s[i + 1];
        let ch: string;
        if (e === "u") {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.i = i;
            this.fail("bad \\u escape");
          }
          ch = String.fromCharCode(parseInt(hex, 16));
          i += 6;
        } else {
          if (e === undefined || !Object.hasOwn(ESCAPES, e)) {
            this.i = i;
            this.fail("bad escape");
          }
          ch = ESCAPES[e];
          i += 2;
        }
        if (keep) out += ch;
        from = i;
        continue;
      }
      i++;
    }
    if (keep) out += s.slice(from, i);
    this.i = i + 1;
    return out;
  }

  number(): number {
    const s = this.s;
    const start = this.i;
    if (s[this.i] === "-") this.i++;
    if (s[this.i] === "0") this.i++;
    else if (this.digits() === 0) this.fail("bad number");
    const c = s.charCodeAt(this.i);
    if (c !== 0x2e && c !== 0x65 && c !== 0x45 && this.i - start <= 15 && s[start] !== "-") {
      // a plain non-negative integer (every offset and dimension): its value without a substring
      let v = 0;
      for (let j = start; j < this.i; j++) v = v * 10 + (s.charCodeAt(j) - 0x30);
      return v;
    }
    if (s[this.i] === ".") {
      this.i++;
      if (this.digits() === 0) this.fail("bad number");
    }
    if (s[this.i] === "e" || s[this.i] === "E") {
      this.i++;
      if (s[this.i] === "+" || s[this.i] === "-") this.i++;
      if (this.digits() === 0) this.fail("bad number");
    }
    return Number(s.slice(start, this.i));
  }
  private digits(): number {
    const s = this.s;
    const d = this.i;
    let i = d;
    for (let c = s.charCodeAt(i); c >= 0x30 && c <= 0x39; c = s.charCodeAt(++i));
    this.i = i;
    return i - d;
  }

  /** validate one value of any type without keeping it; `depth` counts the containers around it */
  skip(depth: number): void {
    const c = this.peek();
    if (c === 0x7b || c === 0x5b) {
      if (depth + 1 > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} (the format needs 3)`);
      const close = c === 0x7b ? "}" : "]";
      this.i++;
      this.ws();
      if (this.s[this.i] === close) {
        this.i++;
        return;
      }
      for (;;) {
        if (c === 0x7b) {
          if (this.peek() !== 0x22) this.fail("expected a string key");
          this.string(false);
          this.ws();
          this.expect(":");
          this.ws();
        }
        this.skip(depth + 1);
        this.ws();
        if (this.s[this.i] === ",") {
          this.i++;
          this.ws();
          continue;
        }
        this.expect(close);
        return;
      }
    }
    if (c === 0x22) this.string(false);
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) this.number();
    else if (this.s.startsWith("true", this.i)) this.i += 4;
    else if (this.s.startsWith("false", this.i)) this.i += 5;
    else if (this.s.startsWith("null", this.i)) this.i += 4;
    else this.fail(this.i >= this.s.length ? "unexpected end" : "unexpected character");
  }

  /** consume `{` and the first `"key":`, returning the key, or undefined for `{}` (no callbacks: hot loop) */
  firstKey(depth: number): string | undefined {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH} (the format needs 3)`);
    this.expect("{");
    this.ws();
    if (this.peek() === 0x7d) {
      this.i++;
      return undefined;
    }
    return this.keyColon();
  }
  /** after a member's value: consume `, "key":` and return the key, or `}` and return undefined */
  nextKey(): string | undefined {
    this.ws();
    if (this.peek() === 0x2c) {
      this.i++;
      this.ws();
      return this.keyColon();
    }
    this.expect("}");
    return undefined;
  }
  private keyColon(): string {
    if (this.peek() !== 0x22) this.fail("expected a string key");
    let key: string | undefined;
    for (const k of FIELD_KEYS) {
      if (this.s.startsWith(k, this.i)) {
        key = k.slice(1, -1); // the same interned string every time: no garbage per record
        this.i += k.length;
        break;
      }
    }
    key ??= this.string();
    this.ws();
    this.expect(":");
    this.ws();
    return key;
  }

  /** a list of at most `max` numbers, or null (after validating the value) when it is anything else */
  numbers(depth: number, max: number): number[] | null {
    if (this.peek() !== 0x5b) {
      this.skip(depth);
      return null;
    }
    const out: number[] = [];
    let ok = true;
    this.i++;
    this.ws();
    if (this.peek() === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      const c = this.peek();
      if (ok && (c === 0x2d || (c >= 0x30 && c <= 0x39)) && out.length < max) out.push(this.number());
      else {
        ok = false;
        this.skip(depth + 1);
      }
      this.ws();
      if (this.peek() === 0x2c) {
        this.i++;
        this.ws();
        continue;
      }
      this.expect("]");
      return ok ? out : null;
    }
  }
}

/**
 * The whole header: each tensor record is handed to `onRecord` as soon as it is parsed (which validates and
 * keeps it, or throws), so that an invalid record stops the parse at once; returns the metadata. JSON syntax
 * and nesting errors are thrown.
 */
function parseHeader(
  text: string,
  onRecord: (name: string, rec: RawRecord) => void,
  seen: (name: string) => boolean,
): Record<string, string> {
  const p = new HeaderParser(text);
  p.ws();
  if (p.peek() !== 0x7b) {
    p.skip(0); // a valid non-object is "not an object"; anything else is "not valid JSON"
    p.ws();
    if (p.i < text.length) p.fail("trailing characters");
    throw new CheckpointError("bad-header", "safetensors: the header is not a JSON object");
  }
  const metadata = Object.create(null) as Record<string, string>;
  let metadataSeen = false;
  let metadataOk = true;
  let badMetadataKey: string | undefined;
  for (let name = p.firstKey(1); name !== undefined; name = p.nextKey()) {
    if (name === "__metadata__") {
      metadataSeen = true;
      if (p.peek() !== 0x7b) {
        metadataOk = false;
        p.skip(1);
        continue;
      }
      let n = 0;
      for (let k = p.firstKey(2); k !== undefined; k = p.nextKey()) {
        if (p.peek() !== 0x22) {
          badMetadataKey ??= k;
          p.skip(2);
          continue;
        }
        if (++n > MAX_METADATA_ENTRIES) {
          throw new CheckpointError(
            "over-budget",
            `safetensors: __metadata__ has more than ${MAX_METADATA_ENTRIES} entries`,
          );
        }
        metadata[k] = p.string();
      }
      continue;
    }
    if (seen(name)) {
      throw new CheckpointError(
        "bad-header",
        `safetensors: tensor ${quote(name)} appears twice in the header`,
      );
    }
    const rec: RawRecord = { isObject: p.peek() === 0x7b };
    if (!rec.isObject) p.skip(1);
    else {
      for (let field = p.firstKey(2); field !== undefined; field = p.nextKey()) {
        if (field === "dtype") {
          if (p.peek() === 0x22) rec.dtype = p.string();
          else {
            rec.dtype = undefined;
            p.skip(2);
          }
        } else if (field === "shape") rec.shape = p.numbers(2, 8);
        else if (field === "data_offsets") rec.offsets = p.numbers(2, 2);
        else p.skip(2); // unknown fields are ignored, as the reference reader does
      }
    }
    onRecord(name, rec);
  }
  p.ws();
  if (p.i < text.length) p.fail("trailing characters");
  if (metadataSeen && !metadataOk)
    throw new CheckpointError("bad-header", "safetensors: __metadata__ is not an object");
  if (badMetadataKey !== undefined) {
    throw new CheckpointError(
      "bad-header",
      `safetensors: __metadata__[${quote(badMetadataKey)}] is not a string`,
    );
  }
  return metadata;
}

/** the prefix of an error about one tensor (built only when there is an error) */
function whereIs(name: string): string {
  return `safetensors: tensor ${quote(name)}`;
}

function nonNegInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

interface Spec extends TensorEntry {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: StoredDtype;
  readonly begin: number;
  readonly end: number;
}

/**
 * Phase one (lazy.ts): the header parsed and every record and offset validated, nothing decoded.
 * The metadata come along.
 */
export function indexSafetensors(bytes: Uint8Array): TensorIndex & { metadata: Record<string, string> } {
  const n = safetensorsHeaderLength(bytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new CheckpointError("bad-header", "safetensors: the header is not valid UTF-8");
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const specs = new Map<string, Spec>();
  const metadata = parseHeader(
    text,
    (name, rec) => {
      if (!rec.isObject) throw new CheckpointError("bad-header", `${whereIs(name)}: entry is not an object`);
      const { dtype, shape, offsets } = rec;
      if (typeof dtype !== "string")
        throw new CheckpointError("bad-header", `${whereIs(name)}: "dtype" is not a string`);
      if (!isStoredDtype(dtype)) {
        throw new CheckpointError(
          "unsupported-dtype",
          `${whereIs(name)}: dtype ${quote(dtype)} is not supported (F32, F16 or BF16 expected)`,
        );
      }
      if (!Array.isArray(shape) || !shape.every(nonNegInt)) {
        throw new CheckpointError(
          "bad-header",
          `${whereIs(name)}: "shape" is not a list of at most 8 non-negative integers`,
        );
      }
      if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(nonNegInt)) {
        throw new CheckpointError(
          "bad-header",
          `${whereIs(name)}: "data_offsets" is not a pair of non-negative integers`,
        );
      }
      const [begin, end] = offsets as [number, number];
      if (begin > end || end > dataLen) {
        throw new CheckpointError(
          "offset-out-of-range",
          `${whereIs(name)}: data_offsets [${begin}, ${end}] lie outside the ${dataLen}-byte data area`,
        );
      }
      let numel = 1;
      for (const d of shape) {
        numel *= d;
        if (numel > Number.MAX_SAFE_INTEGER)
          throw new CheckpointError("bad-header", `${whereIs(name)}: shape is too large`);
      }
      if (numel * DTYPE_BYTES[dtype] !== end - begin) {
        throw new CheckpointError(
          "shape-mismatch",
          `${whereIs(name)}: shape [${shape.join(", ")}] of ${dtype} needs ${numel * DTYPE_BYTES[dtype]} bytes, ` +
            `data_offsets span ${end - begin}`,
        );
      }
      specs.set(name, { name, dtype, shape, begin, end });
    },
    (name) => specs.has(name),
  );

  // the tensors tile the data area exactly: no overlap, no hole, nothing after the last one
  const sorted = [...specs.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev = "";
  for (const s of sorted) {
    const name = s.name;
    if (s.begin < pos) {
      throw new CheckpointError(
        "bad-header",
        `safetensors: tensors ${quote(prev)} and ${quote(name)} overlap in the data area`,
      );
    }
    if (s.begin > pos) {
      throw new CheckpointError(
        "bad-header",
        `safetensors: bytes [${pos}, ${s.begin}) of the data area, before ${quote(name)}, belong to no tensor ` +
          "(the format forbids holes)",
      );
    }
    pos = s.end;
    prev = name;
  }
  if (pos !== dataLen) {
    throw new CheckpointError(
      "bad-header",
      `safetensors: the data area has ${dataLen - pos} bytes after the last tensor, which belong to no tensor ` +
        "(the format forbids holes)",
    );
  }

  const dtype = summarizeDtypes(new Set([...specs.values()].map((s) => s.dtype)));
  const decode = (names?: Iterable<string>): TensorMap => {
    const budget = new DecodeBudget(bytes.length);
    const tensors: TensorMap = new Map();
    for (const name of names ?? specs.keys()) {
      const s = specs.get(name);
      if (!s) throw new CheckpointError("missing-key", `safetensors: no tensor ${quote(name)}`);
      const count = (s.end - s.begin) / DTYPE_BYTES[s.dtype];
      const at = dataStart + s.begin;
      if (s.dtype !== "F32" || (bytes.byteOffset + at) % 4 !== 0)
        budget.take(count * 4, `tensor ${quote(name)}`);
      const t: Tensor = { shape: [...s.shape], data: decodeToF32(bytes, at, count, s.dtype) };
      tensors.set(name, t);
    }
    return tensors;
  };
  return { entries: specs, dtype, decode, metadata };
}

export function readSafetensors(bytes: Uint8Array): SafetensorsResult {
  const index = indexSafetensors(bytes);
  return { tensors: index.decode(), metadata: { ...index.metadata }, dtype: index.dtype };
}

export function summarizeDtypes(dtypes: Set<string>): string {
  return dtypes.size === 0 ? "none" : [...dtypes].sort().join("+");
}
