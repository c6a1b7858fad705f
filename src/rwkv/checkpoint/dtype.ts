/**
 * Stored element types and their decoding to fp32 (the only dtype the model library uses).
 * F32 becomes a zero-copy Float32Array view into the file bytes when it is 4-byte aligned (and the host is
 * little-endian, as every browser and Node platform is); F16 and BF16 are decoded once into new arrays.
 */
import { CheckpointError } from "./errors.js";

export type StoredDtype = "F32" | "F16" | "BF16";

export const DTYPE_BYTES: Readonly<Record<StoredDtype, number>> = { F32: 4, F16: 2, BF16: 2 };

export function isStoredDtype(s: string): s is StoredDtype {
  return s === "F32" || s === "F16" || s === "BF16";
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

let f16Table: Float32Array | null = null;
/** All 65,536 IEEE 754 binary16 values as fp32 (256 KB, built on first use). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0)
      t[h] = sign * frac * 2 ** -24; // subnormal (and zero)
    else if (exp === 31) t[h] = frac === 0 ? sign * Infinity : NaN;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  f16Table = t;
  return t;
}

/** Decode one F16 value (for tests and small reads). */
export function f16ToF32(h: number): number {
  return halfTable()[h & 0xffff];
}

/**
 * Decode `count` elements of `dtype` starting at `byteOffset` of `bytes` into fp32.
 * The caller has bounds-checked `byteOffset + count * DTYPE_BYTES[dtype] <= bytes.length`; this re-checks.
 */
export function decodeToF32(
  bytes: Uint8Array,
  byteOffset: number,
  count: number,
  dtype: StoredDtype,
): Float32Array {
  const size = DTYPE_BYTES[dtype];
  if (
    !Number.isSafeInteger(byteOffset) ||
    !Number.isSafeInteger(count) ||
    byteOffset < 0 ||
    count < 0 ||
    byteOffset + count * size > bytes.length
  ) {
    throw new CheckpointError(
      "offset-out-of-range",
      `tensor data [${byteOffset}, ${byteOffset + count * size}) lies outside the ${bytes.length}-byte buffer`,
    );
  }
  if (dtype === "F32") {
    const abs = bytes.byteOffset + byteOffset;
    if (HOST_LITTLE_ENDIAN && abs % 4 === 0) return new Float32Array(bytes.buffer, abs, count); // zero copy
    const out = new Float32Array(count);
    if (HOST_LITTLE_ENDIAN) {
      new Uint8Array(out.buffer).set(bytes.subarray(byteOffset, byteOffset + count * 4));
    } else {
      const dv = new DataView(bytes.buffer, abs, count * 4);
      for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
    }
    return out;
  }
  const out = new Float32Array(count);
  if (dtype === "F16") {
    const t = halfTable();
    for (let i = 0, o = byteOffset; i < count; i++, o += 2) out[i] = t[bytes[o] | (bytes[o + 1] << 8)];
  } else {
    // BF16 is the upper half of an fp32: shift the 16 bits into place (typed arrays alias in native order,
    // so this is endian-independent)
    const bits = new Uint32Array(out.buffer);
    for (let i = 0, o = byteOffset; i < count; i++, o += 2)
      bits[i] = ((bytes[o] | (bytes[o + 1] << 8)) << 16) >>> 0;
  }
  return out;
}
