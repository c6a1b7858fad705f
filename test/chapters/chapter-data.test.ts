import { describe, expect, it } from "vitest";
import {
  decodeSparsity,
  encodeSparsity,
  sparsitySummary,
  symmetricRange,
} from "../../src/chapters/chapter-data.js";
import { viewOfTrace } from "../../src/trace/trace.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 12, layerNormEps: 1e-5 };
const tokens = [1, 4, 1, 5, 9, 2, 6, 5, 3, 5];

describe("chapter data (JSON written at build time, read by the pages)", () => {
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
});
