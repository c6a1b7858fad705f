import { describe, expect, it } from "vitest";
import {
  TEX,
  activationShapes,
  activationStats,
  decodeSparsity,
  encodeSparsity,
  ffnSparsity,
  histogram,
  sparsitySummary,
  sparsityTotals,
  symmetricRange,
} from "../../src/chapters/channel-mixing.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { viewOfTrace } from "../../src/trace/trace.js";

const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 12, layerNormEps: 1e-5 };
const tokens = [1, 4, 1, 5, 9, 2, 6, 5, 3, 5];

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

describe("sparsity summary (chapter 6's precomputed file and live numbers)", () => {
  it("sparsity summary: JSON round trip, histogram over a range symmetric about 0 holding every value", () => {
    const model = new RwkvModel(syntheticWeights(config, 3));
    const trace = model.forward(tokens, undefined, { trace: true }).trace!;
    const view = viewOfTrace(trace, tokens, {
      labels: tokens.map(String),
      text: "t",
      backend: "reference (JS)",
      synthetic: true,
    });
    const s = sparsitySummary(view);
    for (const [l, h] of s.histograms.entries()) {
      expect(h.edges[0]).toBe(-h.edges[h.edges.length - 1]);
      expect(h.edges[h.edges.length / 2 - 0.5]).toBe(0); // 64 bins: edge 32 of 65 is 0
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(tokens.length * config.ffnSize);
      expect(h.nonPositive).toBe(s.layers[l].zeros); // zeros of max(k',0)^2 are exactly k' <= 0
    }
    const back = decodeSparsity(JSON.parse(JSON.stringify(encodeSparsity(s))));
    expect(back.layers.map((l) => [l.zeros, Array.from(l.perToken)])).toEqual(
      s.layers.map((l) => [l.zeros, Array.from(l.perToken)]),
    );
    expect(back.histograms).toEqual(s.histograms);
    expect(symmetricRange([0.2, -1.3])).toEqual([-1.5, 1.5]);
    expect(symmetricRange([])).toEqual([-0.5, 0.5]);
  });

  it("labels show whitespace visibly, also for a file written before labels were mapped", () => {
    const model = new RwkvModel(syntheticWeights(config, 3));
    const trace = model.forward([1, 2, 3], undefined, { trace: true }).trace!;
    const view = viewOfTrace(trace, [1, 2, 3], {
      labels: [" ", "\n", "a"],
      text: " \na",
      backend: "reference (JS)",
      synthetic: true,
    });
    const s = sparsitySummary(view);
    expect(s.labels).toEqual(["␣", "↵", "a"]);
    const json = encodeSparsity(s) as { labels: string[] };
    expect(decodeSparsity({ ...json, labels: [" ", "\n", "a"] }).labels).toEqual(["␣", "↵", "a"]);
    expect(() => decodeSparsity({ format: "other/1" })).toThrow(/ffn-sparsity/);
  });
});

describe("sparsityTotals (the sentence under chapter 6's figures)", () => {
  const layer = (zeros: number, total: number) => ({
    layer: 0,
    zeros,
    total,
    fraction: zeros / total,
    perToken: new Float64Array(1),
  });

  it("pools the zeros of all layers, and gives the sparsest and densest layer", () => {
    const t = sparsityTotals({ layers: [layer(30, 100), layer(90, 100), layer(60, 200)] }, false);
    expect(t.overall).toBeCloseTo(180 / 400, 12);
    expect([t.lowest, t.highest]).toEqual([0.3, 0.9]);
    expect(t.verdict).toBe(""); // 45%: about the half that random weights give
  });

  it("compares with the half random weights would give, except for synthetic weights", () => {
    expect(sparsityTotals({ layers: [layer(70, 100)] }, false).verdict).toMatch(/sparser/);
    expect(sparsityTotals({ layers: [layer(30, 100)] }, false).verdict).toMatch(/fewer zeros/);
    expect(sparsityTotals({ layers: [layer(70, 100)] }, true).verdict).toBe("");
  });
});

describe("chapter 6's equations", () => {
  it("mark r'_t, k'_t and the squared ReLU for hover linking, with the paper's equation numbers", () => {
    expect(TEX.channelMix).toContain("\\htmlData{sym=rp}{r'_t}");
    expect(TEX.channelMix).toContain("\\htmlData{sym=kp}{k'_t}");
    expect(TEX.channelMix).toMatch(/\(14\)[\s\S]*\(15\)/);
    expect(TEX.output).toContain("\\htmlData{sym=act}{\\max(k'_t, 0)^2}");
    expect(TEX.output).toContain("\\tag{18}");
  });
});

describe("chapter 6: ReLU², ReLU and GELU on the same k'", () => {
  it("counts exact zeros and the share of each token's activation in its largest 10% of units", () => {
    // one token, F = 10 units: the largest 10% is one unit
    const k = Float32Array.of(-2, -1, 0, 0.5, 1, 1, 1, 1, 1, 3);
    const [sq, relu, gelu] = activationStats(k, 1, 10);
    expect([sq.name, relu.name, gelu.name]).toEqual(["ReLU²", "ReLU", "GELU"]);
    expect(sq.zeros).toBeCloseTo(0.3, 12); // -2, -1, 0
    expect(relu.zeros).toBeCloseTo(0.3, 12);
    expect(gelu.zeros).toBeCloseTo(0.1, 12); // only GELU(0) = 0 exactly
    expect(sq.top10).toBeCloseTo(9 / (0.25 + 5 + 9), 12);
    expect(relu.top10).toBeCloseTo(3 / (0.5 + 5 + 3), 12);
    const g = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    const mags = Array.from(k, (x) => Math.abs(g(x)));
    expect(gelu.top10).toBeCloseTo(Math.max(...mags) / mags.reduce((a, b) => a + b, 0), 6);
    expect(() => activationStats(k, 2, 10)).toThrow(RangeError);
  });

  it("the summary carries them per layer, live and through the precomputed JSON, and the figure reads them", () => {
    const config = { nLayer: 2, nEmbd: 8, ffnSize: 32, vocabSize: 9, layerNormEps: 1e-5 };
    const tokens = [1, 5, 2, 7, 3];
    const trace = new RwkvModel(syntheticWeights(config, 4)).forward(tokens, undefined, {
      trace: true,
    }).trace!;
    const view = viewOfTrace(trace, tokens, {
      labels: [..."aebgc"],
      text: "aebgc",
      backend: "reference (JS)",
      synthetic: true,
    });
    const s = sparsitySummary(view);
    expect(s.shapes).toHaveLength(2);
    expect(s.shapes![1]).toEqual(activationStats(trace.layers[1].ffnK, 5, 32));
    // ReLU² zeros are exactly the zeros of the model's own activations
    expect(s.shapes![1][0].zeros).toBeCloseTo(s.layers[1].fraction, 12);
    const back = decodeSparsity(JSON.parse(JSON.stringify(encodeSparsity(s))));
    expect(back.shapes).toEqual(s.shapes);
    const fig = activationShapes(back, 1)!;
    expect(fig.curves.map((c) => c.name)).toEqual(["ReLU²", "ReLU", "GELU"]);
    expect(fig.range).toEqual([back.histograms[1].edges[0], back.histograms[1].edges.at(-1)]);
    expect(fig.caption).not.toMatch(/_\{|\^\{|\\/);
    expect(activationShapes({ ...back, shapes: undefined }, 1)).toBeNull();
  });
});
