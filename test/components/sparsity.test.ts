import { describe, expect, it } from "vitest";
import { ffnSparsity, histogram } from "../../src/components/sparsity.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

describe("ffnSparsity (chapter 6)", () => {
  it("counts zeros of max(k', 0)^2 per layer and token", () => {
    // T = 2 tokens, F = 4 units
    const acts = [new Float32Array([0, 1, 0, 4, 0, 0, 0, 9]), new Float32Array([1, 1, 1, 1, 0, 1, 1, 1])];
    const s = ffnSparsity(acts, 2, 4);
    expect(s.map((l) => [l.zeros, l.total, l.fraction])).toEqual([
      [5, 8, 5 / 8],
      [1, 8, 1 / 8],
    ]);
    expect(Array.from(s[0].perToken)).toEqual([0.5, 0.75]);
    expect(Array.from(s[1].perToken)).toEqual([0, 0.25]);
  });

  it("on a model trace, the zeros are exactly the units with k' <= 0", () => {
    const config = { nLayer: 3, nEmbd: 32, ffnSize: 128, vocabSize: 20, layerNormEps: 1e-5 };
    const model = new RwkvModel(syntheticWeights(config, 2));
    const tokens = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8];
    const trace = model.forward(tokens, undefined, { trace: true }).trace!;
    const s = ffnSparsity(
      trace.layers.map((l) => l.ffnAct),
      trace.T,
      trace.F,
    );
    trace.layers.forEach((l, i) => {
      let nonPositive = 0;
      for (const x of l.ffnK) if (x <= 0) nonPositive++;
      expect(s[i].zeros).toBe(nonPositive);
      expect(s[i].fraction).toBeGreaterThan(0.05);
      expect(s[i].fraction).toBeLessThan(0.95);
    });
  });

  it("rejects mismatched shapes", () => {
    expect(() => ffnSparsity([new Float32Array(7)], 2, 4)).toThrow(/expected 8/);
    expect(() => ffnSparsity([], 0, 4)).toThrow(RangeError);
  });
});

describe("histogram", () => {
  it("bins values and counts the non-positive ones", () => {
    const h = histogram([-1, -0.5, 0, 0.2, 0.9, 1], 4, [-1, 1]);
    expect(h.edges).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(h.counts).toEqual([1, 1, 2, 2]);
    expect(h.nonPositive).toBe(3);
    expect(h.total).toBe(6);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(6);
  });
});
