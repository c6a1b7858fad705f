/**
 * safetensors reader (format: https://github.com/huggingface/safetensors, "Format"):
 *   8 bytes   N, little-endian u64: length of the JSON header
 *   N bytes   UTF-8 JSON {"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}
 *   rest      the data area; offsets are relative to its start
 * Every field is validated and every offset bounds-checked before a byte of tensor data is touched.
 */
import type { Tensor, TensorMap } from "../tensor.js";
import { CheckpointError, quote } from "./errors.js";
import { DTYPE_BYTES, decodeToF32, isStoredDtype, type StoredDtype } from "./dtype.js";

/** Refuse headers above this size (the 169M model's header is ~15 KB; 100 MiB bounds the JSON parse). */
export const MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024;

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
      `safetensors: header length ${n} exceeds the ${MAX_SAFETENSORS_HEADER}-byte limit`,
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

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function nonNegInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

export function readSafetensors(bytes: Uint8Array): SafetensorsResult {
  const n = safetensorsHeaderLength(bytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new CheckpointError("bad-header", "safetensors: the header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(
      "bad-header",
      `safetensors: the header is not valid JSON (${(e as Error).message})`,
    );
  }
  if (!isRecord(header))
    throw new CheckpointError("bad-header", "safetensors: the header is not a JSON object");

  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const specs: { name: string; dtype: StoredDtype; shape: number[]; begin: number; end: number }[] = [];

  for (const name of Object.keys(header)) {
    const entry = header[name];
    if (name === "__metadata__") {
      if (!isRecord(entry))
        throw new CheckpointError("bad-header", "safetensors: __metadata__ is not an object");
      for (const k of Object.keys(entry)) {
        const v = entry[k];
        if (typeof v !== "string") {
          throw new CheckpointError("bad-header", `safetensors: __metadata__[${quote(k)}] is not a string`);
        }
        metadata[k] = v;
      }
      continue;
    }
    const where = `safetensors: tensor ${quote(name)}`;
    if (!isRecord(entry)) throw new CheckpointError("bad-header", `${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== "string")
      throw new CheckpointError("bad-header", `${where}: "dtype" is not a string`);
    if (!isStoredDtype(dtype)) {
      throw new CheckpointError(
        "unsupported-dtype",
        `${where}: dtype ${quote(dtype)} is not supported (F32, F16 or BF16 expected)`,
      );
    }
    if (!Array.isArray(shape) || shape.length > 8 || !shape.every(nonNegInt)) {
      throw new CheckpointError(
        "bad-header",
        `${where}: "shape" is not a list of at most 8 non-negative integers`,
      );
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(nonNegInt)) {
      throw new CheckpointError(
        "bad-header",
        `${where}: "data_offsets" is not a pair of non-negative integers`,
      );
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLen) {
      throw new CheckpointError(
        "offset-out-of-range",
        `${where}: data_offsets [${begin}, ${end}] lie outside the ${dataLen}-byte data area`,
      );
    }
    let numel = 1;
    for (const d of shape as number[]) {
      numel *= d;
      if (numel > Number.MAX_SAFE_INTEGER)
        throw new CheckpointError("bad-header", `${where}: shape is too large`);
    }
    if (numel * DTYPE_BYTES[dtype] !== end - begin) {
      throw new CheckpointError(
        "shape-mismatch",
        `${where}: shape [${(shape as number[]).join(", ")}] of ${dtype} needs ${numel * DTYPE_BYTES[dtype]} bytes, ` +
          `data_offsets span ${end - begin}`,
      );
    }
    specs.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // the format forbids overlapping tensors
  const sorted = [...specs].sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) {
      throw new CheckpointError(
        "bad-header",
        `safetensors: tensors ${quote(sorted[i - 1].name)} and ${quote(sorted[i].name)} overlap in the data area`,
      );
    }
  }

  const tensors: TensorMap = new Map();
  const dtypes = new Set<string>();
  for (const s of specs) {
    const count = (s.end - s.begin) / DTYPE_BYTES[s.dtype];
    const t: Tensor = { shape: s.shape, data: decodeToF32(bytes, dataStart + s.begin, count, s.dtype) };
    tensors.set(s.name, t);
    dtypes.add(s.dtype);
  }
  return { tensors, metadata, dtype: summarizeDtypes(dtypes) };
}

export function summarizeDtypes(dtypes: Set<string>): string {
  return dtypes.size === 0 ? "none" : [...dtypes].sort().join("+");
}
