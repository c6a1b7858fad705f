/**
 * fp32 -> IEEE 754 binary16 bits, round to nearest, ties to even (what a GPU's f16 conversion does); values past
 * the fp16 range become +-Infinity, NaN stays NaN. For fp16 weight initializers (./rwkv-graph.ts `weights: "fp16"`).
 *
 * API: f32ToF16Bits(values) -> Uint16Array
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function one(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Infinity, NaN (quiet)
  const e = exp - 127 + 15; // the fp16 exponent
  if (e >= 0x1f) return sign | 0x7c00; // too large: Infinity
  if (e <= 0) {
    // an fp16 subnormal (or zero): the value is mant' * 2^-24 with the implicit 1 made explicit
    if (e < -10) return sign; // below half the smallest subnormal: +-0
    mant |= 0x800000;
    const shift = 14 - e; // 14..24
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && h & 1)) h++; // may carry into the smallest normal: still right
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry may reach Infinity: right as well
  return sign | h;
}

export function f32ToF16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = one(values[i]);
  return out;
}
