/**
 * Stored element types and their decoding to fp32 (the only dtype the model library uses).
 * F32 becomes a zero-copy Float32Array view into the file bytes when it is 4-byte aligned (and the host is
 * little-endian, as every browser and Node platform is); F16 and BF16 are decoded once into new arrays.
 */
import { CRC_TABLE, crc32Register } from "./crc32.js";
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

/**
 * Decode a whole storage (all of `bytes`, a zip entry's data) to fp32 and compute its CRC-32 in the same pass:
 * F16 and BF16 are converted 4 values (8 bytes, one slice-by-8 CRC step) per iteration; F32 becomes a zero-copy
 * view (or one copy when unaligned) after a CRC pass, the one pass over its bytes the loader makes.
 * `bytes.length` must be a multiple of the element size.
 */
export function decodeWithCrc(bytes: Uint8Array, dtype: StoredDtype): { data: Float32Array; crc: number } {
  const size = DTYPE_BYTES[dtype];
  const n = bytes.length;
  if (n % size !== 0) {
    throw new CheckpointError("shape-mismatch", `${n} bytes are not a whole number of ${dtype} elements`);
  }
  if (dtype === "F32") {
    const crc = ~crc32Register(bytes, 0, n, ~0) >>> 0;
    return { data: decodeToF32(bytes, 0, n / 4, "F32"), crc };
  }
  const T = CRC_TABLE;
  const out = new Float32Array(n / 2);
  let c = ~0;
  let i = 0;
  let j = 0;
  if (dtype === "F16") {
    const h = halfTable();
    for (; i + 8 <= n; i += 8, j += 4) {
      const b0 = bytes[i] | (bytes[i + 1] << 8);
      const b1 = bytes[i + 2] | (bytes[i + 3] << 8);
      const b2 = bytes[i + 4] | (bytes[i + 5] << 8);
      const b3 = bytes[i + 6] | (bytes[i + 7] << 8);
      c ^= b0 | (b1 << 16);
      const hi = b2 | (b3 << 16);
      c =
        T[1792 + (c & 0xff)] ^
        T[1536 + ((c >>> 8) & 0xff)] ^
        T[1280 + ((c >>> 16) & 0xff)] ^
        T[1024 + (c >>> 24)] ^
        T[768 + (hi & 0xff)] ^
        T[512 + ((hi >>> 8) & 0xff)] ^
        T[256 + ((hi >>> 16) & 0xff)] ^
        T[hi >>> 24];
      out[j] = h[b0];
      out[j + 1] = h[b1];
      out[j + 2] = h[b2];
      out[j + 3] = h[b3];
    }
    for (; i < n; i += 2, j++) out[j] = h[bytes[i] | (bytes[i + 1] << 8)];
  } else {
    const bits = new Uint32Array(out.buffer);
    for (; i + 8 <= n; i += 8, j += 4) {
      const b0 = bytes[i] | (bytes[i + 1] << 8);
      const b1 = bytes[i + 2] | (bytes[i + 3] << 8);
      const b2 = bytes[i + 4] | (bytes[i + 5] << 8);
      const b3 = bytes[i + 6] | (bytes[i + 7] << 8);
      c ^= b0 | (b1 << 16);
      const hi = b2 | (b3 << 16);
      c =
        T[1792 + (c & 0xff)] ^
        T[1536 + ((c >>> 8) & 0xff)] ^
        T[1280 + ((c >>> 16) & 0xff)] ^
        T[1024 + (c >>> 24)] ^
        T[768 + (hi & 0xff)] ^
        T[512 + ((hi >>> 8) & 0xff)] ^
        T[256 + ((hi >>> 16) & 0xff)] ^
        T[hi >>> 24];
      bits[j] = (b0 << 16) >>> 0;
      bits[j + 1] = (b1 << 16) >>> 0;
      bits[j + 2] = (b2 << 16) >>> 0;
      bits[j + 3] = (b3 << 16) >>> 0;
    }
    for (; i < n; i += 2, j++) bits[j] = ((bytes[i] | (bytes[i + 1] << 8)) << 16) >>> 0;
  }
  c = crc32Register(bytes, n - (n % 8), n, c); // the tail bytes the 8-byte loop left
  return { data: out, crc: ~c >>> 0 };
}
