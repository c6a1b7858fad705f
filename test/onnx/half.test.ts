/**
 * fp32 -> fp16 rounding checked against the maths (known bit patterns, ties to even, subnormals, overflow) and
 * against the checkpoint reader's independent fp16 decoder (src/rwkv/checkpoint/dtype.ts): decoding the bits gives
 * the nearest fp16 value.
 */
import { describe, expect, it } from "vitest";
import { f32ToF16Bits } from "../../src/onnx/half.js";
import { f16ToF32 } from "../../src/rwkv/checkpoint/dtype.js";

describe("f32ToF16Bits", () => {
  it("known values", () => {
    const cases: [number, number][] = [
      [0, 0x0000],
      [-0, 0x8000],
      [1, 0x3c00],
      [-2, 0xc000],
      [0.5, 0x3800],
      [65504, 0x7bff], // largest fp16
      [65520, 0x7c00], // rounds up to Infinity
      [1e6, 0x7c00],
      [-Infinity, 0xfc00],
      [2 ** -14, 0x0400], // smallest normal
      [2 ** -24, 0x0001], // smallest subnormal
      [2 ** -25, 0x0000], // half of it: a tie, to even (0)
      [3 * 2 ** -25, 0x0002], // 1.5 subnormal steps: a tie, to even (2)
      [1 + 2 ** -11, 0x3c00], // tie between 1 and 1 + 2^-10: to even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // tie between 1 + 2^-10 and 1 + 2^-9: to even
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie: up
    ];
    const got = f32ToF16Bits(cases.map(([x]) => x));
    cases.forEach(([x, bits], i) => expect(got[i], `f16(${x})`).toBe(bits));
    expect(f32ToF16Bits([NaN])[0] & 0x7c00).toBe(0x7c00);
    expect(f32ToF16Bits([NaN])[0] & 0x3ff).not.toBe(0);
  });

  it("decodes to the nearest fp16 value (checked by the checkpoint reader's decoder) over a sweep", () => {
    const xs: number[] = [];
    for (let i = 0; i < 20000; i++)
      xs.push(((Math.sin(i * 12.9898) * 43758.5453) % 1) * 2 ** ((i % 40) - 26));
    const bits = f32ToF16Bits(xs);
    xs.forEach((x, i) => {
      const y = f16ToF32(bits[i]);
      const xf = Math.fround(x);
      // neighbours of the chosen code must not be closer
      for (const nb of [bits[i] - 1, bits[i] + 1]) {
        if ((nb & 0x7fff) >= 0x7c00 || nb < 0 || ((nb ^ bits[i]) & 0x8000) !== 0) continue;
        expect(Math.abs(f16ToF32(nb) - xf), `x = ${x}`).toBeGreaterThanOrEqual(Math.abs(y - xf));
      }
    });
  });
});
