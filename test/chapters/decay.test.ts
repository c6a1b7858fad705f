import { describe, expect, it } from "vitest";
import { halfLife, sortedDecay, wFromHalfLife, wkvChannel, wkvWeights } from "../../src/chapters/decay.js";

describe("half-life of a channel's memory", () => {
  it("after halfLife(w) steps the decay factor e^{w t} is one half", () => {
    for (const w of [-0.01, -0.3, -2, -7]) {
      expect(Math.exp(w * halfLife(w))).toBeCloseTo(0.5, 12);
    }
    expect(halfLife(-Math.LN2)).toBeCloseTo(1, 12); // e^{-ln 2} = 1/2 per step
    expect(halfLife(0)).toBe(Infinity);
  });

  it("wFromHalfLife inverts halfLife and rejects non-positive half-lives", () => {
    expect(wFromHalfLife(halfLife(-0.123))).toBeCloseTo(-0.123, 12);
    expect(() => wFromHalfLife(0)).toThrow(RangeError);
  });

  it("sortedDecay sorts e^{w} ascending", () => {
    const got = Array.from(sortedDecay(Float32Array.of(-1, -3, -0.5)));
    const want = [-3, -1, -0.5].map(Math.exp);
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 12));
  });
});

describe("Eq. 16 as weights over the sequence", () => {
  // an independent evaluation of Eq. 16 in float64, straight from the formula
  function eq16(w: number, u: number, k: number[], v: number[], t: number): number {
    let num = 0;
    let den = 0;
    for (let i = 0; i < t; i++) {
      const e = Math.exp((t - 1 - i) * w + k[i]);
      num += e * v[i];
      den += e;
    }
    const e = Math.exp(u + k[t]);
    return (num + e * v[t]) / (den + e);
  }
  const k = [0.3, -1.2, 2.0, 0.1, -0.4, 1.1];
  const v = [1.0, -2.0, 0.5, 3.0, -1.0, 0.25];
  const w = -0.7;
  const u = 0.4;

  it("the weights sum to one and their average of v is Eq. 16", () => {
    for (let t = 0; t < k.length; t++) {
      const a = wkvWeights({ w, u, k, t });
      expect(a.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 12);
      const avg = a.reduce((s, x, i) => s + x * v[i], 0);
      expect(avg).toBeCloseTo(eq16(w, u, k, v, t), 10);
    }
  });

  it("wkvChannel (the stable scan) equals Eq. 16 at every position", () => {
    const out = wkvChannel(w, u, Float32Array.from(k), Float32Array.from(v));
    for (let t = 0; t < k.length; t++) expect(out[t]).toBeCloseTo(eq16(w, u, k, v, t), 5);
  });

  it("a faster decay moves the weight onto recent tokens", () => {
    const slow = wkvWeights({ w: -0.05, u, k, t: 5 });
    const fast = wkvWeights({ w: -3, u, k, t: 5 });
    expect(fast[4] + fast[5]).toBeGreaterThan(slow[4] + slow[5]);
    expect(fast[0]).toBeLessThan(slow[0]);
  });
});
