import { describe, expect, it } from "vitest";
import { EMPTY_STATE, FP32_EXP_LIMIT, overflowStats, recurrenceStep } from "../../src/chapters/wkv-demo.js";

describe("one step of the stable recurrence (Appendix D)", () => {
  it("reproduces Eq. 16 computed directly in float64 over a short sequence", () => {
    const w = -0.6;
    const u = 0.3;
    const k = [1.5, -0.5, 2.2, 0.7];
    const v = [0.4, -1.1, 2.0, 0.9];
    let s = { ...EMPTY_STATE };
    for (let t = 0; t < k.length; t++) {
      const step = recurrenceStep({ ...s, w, u, k: k[t], v: v[t] });
      let num = Math.exp(u + k[t]) * v[t];
      let den = Math.exp(u + k[t]);
      for (let i = 0; i < t; i++) {
        num += Math.exp((t - 1 - i) * w + k[i]) * v[i];
        den += Math.exp((t - 1 - i) * w + k[i]);
      }
      expect(step.wkv).toBeCloseTo(num / den, 12);
      // the stored state stands for the true sums A = e^p a and B = e^p b (decayed to position t)
      let A = 0;
      let B = 0;
      for (let i = 0; i <= t; i++) {
        A += Math.exp((t - i) * w + k[i]) * v[i];
        B += Math.exp((t - i) * w + k[i]);
      }
      expect(Math.exp(step.p2) * step.a2).toBeCloseTo(A, 10);
      expect(Math.exp(step.p2) * step.b2).toBeCloseTo(B, 10);
      s = { a: step.a2, b: step.b2, p: step.p2 };
    }
  });
});

describe("the direct form overflows, the stable form does not", () => {
  const T = 6;
  const C = 2;
  const w = Float32Array.of(-0.5, -2);
  const u = Float32Array.of(0.5, -0.5);
  const k = Float32Array.from({ length: T * C }, (_, i) => ((i * 7) % 5) - 1.5); // in [-1.5, 2.5]
  const v = Float32Array.from({ length: T * C }, (_, i) => Math.sin(i));

  it("agree at scale 1 (no exponent anywhere near the fp32 limit)", () => {
    const s = overflowStats({ w, u, k, v, T, C, scale: 1 });
    expect(s.nonFiniteDirect).toBe(0);
    expect(s.maxDiff).toBeLessThan(1e-5);
  });

  it("past the predicted scale the direct form returns non-finite values and the stable one stays finite", () => {
    const s1 = overflowStats({ w, u, k, v, T, C, scale: 1 });
    // the largest key is 2.5: e^{2.5 s} overflows fp32 once 2.5 s > 88.72 (u shifts the current token's term)
    expect(s1.predictedScale).toBeLessThanOrEqual(FP32_EXP_LIMIT / 2.5 + 1e-9);
    expect(s1.predictedScale).toBeGreaterThan((FP32_EXP_LIMIT - 0.5) / 2.5 - 1e-9);
    const below = overflowStats({ w, u, k, v, T, C, scale: s1.predictedScale * 0.98 });
    expect(below.nonFiniteDirect).toBe(0);
    const above = overflowStats({ w, u, k, v, T, C, scale: s1.predictedScale * 1.05 });
    expect(above.nonFiniteDirect).toBeGreaterThan(0);
    expect(above.nonFiniteStable).toBe(0);
  });
});
