import { describe, expect, it } from "vitest";
import { attentionCostData } from "../../src/components/attention-cost.js";

describe("attentionCostData (home page figure)", () => {
  it("per-sequence softmax cost is the sum of the per-token costs, T(T+1)d", () => {
    const d = 64;
    const rows = attentionCostData(200, { d, maxPoints: 1000 });
    expect(rows.map((r) => r.t)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    let softmaxSum = 0;
    let rwkvSum = 0;
    for (const row of rows) {
      softmaxSum += row.softmaxToken; // generating tokens 1..t one by one with a KV cache
      rwkvSum += row.rwkvToken;
      expect(row.softmaxTotal).toBe(softmaxSum);
      expect(row.rwkvTotal).toBe(rwkvSum);
    }
  });

  it("counts 2td multiply-adds per softmax token and a constant 5d per RWKV step", () => {
    const [first, , third] = attentionCostData(3, { d: 10 });
    expect(first).toEqual({ t: 1, softmaxToken: 20, rwkvToken: 50, softmaxTotal: 20, rwkvTotal: 50 });
    expect(third.softmaxToken).toBe(60); // q.k_i and alpha_i v_i for i = 1..3 over 10 channels
    expect(third.rwkvToken).toBe(50);
  });

  it("samples long contexts to at most maxPoints rows, ending exactly at T", () => {
    const rows = attentionCostData(8191, { maxPoints: 400 });
    expect(rows.length).toBeLessThanOrEqual(400);
    expect(rows[0].t).toBe(1);
    expect(rows[rows.length - 1].t).toBe(8191);
    for (let i = 1; i < rows.length; i++) expect(rows[i].t).toBeGreaterThan(rows[i - 1].t);
    // The quadratic term dominates: at T = 8191 a sequence costs (T + 1) / 5 times more with softmax.
    const last = rows[rows.length - 1];
    expect(last.softmaxTotal / last.rwkvTotal).toBeCloseTo(8192 / 5, 9);
  });

  it("rejects bad input with a RangeError", () => {
    expect(() => attentionCostData(0)).toThrow(RangeError);
    expect(() => attentionCostData(2.5)).toThrow(/integer/);
    expect(() => attentionCostData(Number.NaN)).toThrow(RangeError);
    expect(() => attentionCostData(10, { d: 0 })).toThrow(/d must be/);
    expect(() => attentionCostData(10, { maxPoints: 1 })).toThrow(/maxPoints/);
  });
});
