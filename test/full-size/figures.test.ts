import { describe, expect, it } from "vitest";
import {
  generationSummary,
  memoryFacts,
  prefillSummary,
  sameOrder,
  table2Row,
} from "../../src/full-size/figures.js";
import { PILE_169M_SHAPE } from "../../src/full-size/full-size.js";

describe("prefill summary", () => {
  it("tokens per second both ways and the ratio, at the longest T that RNN mode also ran", () => {
    expect(
      prefillSummary([
        { T: 32, parallelMs: 5, rnnMs: 20 },
        { T: 64, parallelMs: 10, rnnMs: 40 },
      ]),
    ).toEqual({ T: 64, parallelTps: 6400, rnnTps: 1600, speedup: 4 });
    expect(prefillSummary([{ T: 64, parallelMs: 10 }])).toBeUndefined();
    expect(prefillSummary(undefined)).toBeUndefined();
  });
});

describe("generation summary", () => {
  // RWKV flat at 2 ms; the transformer 1 ms + 0.1 ms per position (a slope of 100 µs per position)
  const positions = Array.from({ length: 20 }, (_, i) => i + 1);
  const rwkvMs = positions.map(() => 2);
  const gptMs = positions.map((p) => 1 + 0.1 * p);
  const sums = (xs: number[]) => xs.map((_, i) => xs.slice(0, i + 1).reduce((a, b) => a + b, 0));
  const gen = { positions, rwkvMs, gptMs, rwkvCumulative: sums(rwkvMs), gptCumulative: sums(gptMs) };

  it("medians of the first and last quarter, the slope in µs per position, the totals in seconds", () => {
    const s = generationSummary(gen)!;
    expect(s.tokens).toBe(20);
    expect(s.rwkv).toEqual({ first: 2, last: 2, slopeUs: 0, totalS: 0.04 });
    // quarters of 5 positions: 1..5 -> median at p = 3, 16..20 -> p = 18
    expect(s.gpt!.first).toBeCloseTo(1.3, 12);
    expect(s.gpt!.last).toBeCloseTo(2.8, 12);
    expect(s.gpt!.slopeUs).toBeCloseTo(100, 9);
    expect(s.gpt!.totalS).toBeCloseTo((20 * 1 + 0.1 * 210) / 1000, 12);
  });

  it("without the transformer only RWKV's line; 16 positions or fewer: no summary", () => {
    expect(generationSummary({ ...gen, gptMs: [], gptCumulative: [] })!.gpt).toBeUndefined();
    const short = positions.slice(0, 16);
    expect(generationSummary({ ...gen, positions: short, rwkvMs: rwkvMs.slice(0, 16) })).toBeUndefined();
  });
});

describe("memory facts (paper Sect. 3: state 5LC, KV cache 2LTC)", () => {
  it("169M: 46,080 numbers of state; the cache passes it after 2.5 tokens; 18,874,368 numbers at T = 1024", () => {
    expect(memoryFacts(12, 768)).toEqual({
      L: 12,
      C: 768,
      state: 46_080,
      passesAfter: 2.5,
      T: 1024,
      kv: 18_874_368,
    });
  });
});

describe("Table 2 row of the loaded model", () => {
  it("the 169M shape: the formulas round to the paper's printed 1.693e8 parameters and 2.613e8 FLOPs", () => {
    const r = table2Row("RWKV-4-Pile-169M", PILE_169M_SHAPE, 169_342_464);
    expect(r.paper).toEqual({ params: 1.693e8, flops: 2.613e8 });
    expect(Number(r.formula.toPrecision(4))).toBe(1.693e8);
    expect(Number(r.flops.toPrecision(4))).toBe(2.613e8);
    // 2VD + 13 D^2 L + D(11L + 4) with V = 50,277, D = 768, L = 12
    expect(r.formula).toBe(2 * 50277 * 768 + 13 * 768 * 768 * 12 + 768 * (11 * 12 + 4));
    expect(r.stored).toBe(169_342_464);
  });

  it("another shape (or an FFN other than 4D) is not in Table 2", () => {
    expect(table2Row("small", { ...PILE_169M_SHAPE, nLayer: 4 }).paper).toBeUndefined();
    const f = table2Row("ffn", { ...PILE_169M_SHAPE, ffnSize: 2048 });
    expect(f.paper).toBeUndefined();
    expect(f.flops).toBe(2 * (50277 * 768 + 12 * (5 * 768 * 768 + 2 * 768 * 2048)));
  });
});

describe("top-5 order", () => {
  it("same ids in the same order, or not", () => {
    const a: [number, number][] = [
      [4, 9],
      [1, 8],
    ];
    expect(sameOrder({ topRnn: a, topParallel: a.map(([i, l]) => [i, l + 1e-6]) })).toBe(true);
    expect(sameOrder({ topRnn: a, topParallel: [a[1], a[0]] })).toBe(false);
  });
});
