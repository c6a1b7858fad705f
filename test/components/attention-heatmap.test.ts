import { describe, expect, it } from "vitest";
import {
  applyRows,
  attentionChecks,
  cellOpacity,
  tokenLabel,
  wkvAttentionMatrix,
} from "../../src/components/attention-heatmap.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

describe("wkvAttentionMatrix (chapter 2)", () => {
  it("row t is Eq. 16's weights e^{(t-1-i)w + k_i} (i < t) and e^{u + k_t} (i = t), normalised", () => {
    const w = [-0.5];
    const u = [0.2];
    const k = [0.1, 0.4, -0.3];
    const A = wkvAttentionMatrix(k, w, u, 3, 1, 0);
    // written out by hand from Eq. 16
    const row = (e: number[]) => e.map((x) => Math.exp(x) / e.reduce((s, y) => s + Math.exp(y), 0));
    const want = [
      [...row([0.2 + 0.1]), 0, 0],
      [...row([0 * -0.5 + 0.1, 0.2 + 0.4]), 0],
      row([1 * -0.5 + 0.1, 0 * -0.5 + 0.4, 0.2 - 0.3]),
    ].flat();
    expect(A[0]).toBe(1);
    for (let j = 0; j < 9; j++) expect(Math.abs(A[j] - want[j])).toBeLessThan(1e-7);
  });

  it("is stable where the direct exponentials overflow (k = 200, w = -1e-4)", () => {
    const A = wkvAttentionMatrix([200, 150, 300], [-1e-4], [0.5], 3, 1, 0);
    for (const a of A) expect(Number.isFinite(a)).toBe(true);
    const { rowSumError, aboveDiagonal } = attentionChecks(A, 3);
    expect(rowSumError).toBeLessThan(1e-6);
    expect(aboveDiagonal).toBe(0);
    expect(A[2 * 3 + 2]).toBeCloseTo(1, 6); // u + k_2 = 300.5 dominates
  });

  it("its weighted average of v reproduces the model's own WKV output (stable scan) for every channel", () => {
    const config = { nLayer: 2, nEmbd: 32, ffnSize: 128, vocabSize: 20, layerNormEps: 1e-5 };
    const weights = syntheticWeights(config, 5);
    const model = new RwkvModel(weights);
    const tokens = [1, 5, 9, 2, 7, 7, 3, 0, 19, 4, 11, 6, 8, 2, 13, 17, 5, 5, 1, 10];
    const T = tokens.length;
    const C = config.nEmbd;
    const trace = model.forward(tokens, undefined, { trace: true }).trace!;
    let worst = 0;
    let scale = 0;
    for (let l = 0; l < config.nLayer; l++) {
      const { k, v, wkv } = trace.layers[l];
      const { w, u } = weights.blocks[l].att;
      for (let c = 0; c < C; c++) {
        const A = wkvAttentionMatrix(k, w, u, T, C, c);
        const { rowSumError, aboveDiagonal } = attentionChecks(A, T);
        expect(rowSumError).toBeLessThan(1e-6);
        expect(aboveDiagonal).toBe(0);
        const y = applyRows(A, v, T, C, c);
        for (let t = 0; t < T; t++) {
          worst = Math.max(worst, Math.abs(y[t] - wkv[t * C + c]));
          scale = Math.max(scale, Math.abs(wkv[t * C + c]));
        }
      }
    }
    expect(scale).toBeGreaterThan(0.1); // a non-trivial comparison
    expect(worst).toBeLessThan(2e-6);
  });

  it("rejects bad arguments with RangeError", () => {
    expect(() => wkvAttentionMatrix([1, 2], [-1], [0], 2, 1, 1)).toThrow(RangeError);
    expect(() => wkvAttentionMatrix([1, 2], [-1], [0], 3, 1, 0)).toThrow(/expected T\*C = 3/);
    expect(() => wkvAttentionMatrix([], [-1], [0], 0, 1, 0)).toThrow(RangeError);
  });
});

describe("heatmap helpers", () => {
  it("opacity is 0 for masked cells, grows with the weight, and saturates at 1", () => {
    expect(cellOpacity(0, "log")).toBe(0);
    expect(cellOpacity(1, "log")).toBeCloseTo(1, 9);
    expect(cellOpacity(1e-6, "log")).toBeCloseTo(0.04, 9);
    expect(cellOpacity(0.01, "log")).toBeGreaterThan(cellOpacity(0.001, "log"));
    expect(cellOpacity(0.5, "linear")).toBeCloseTo(0.52, 9);
  });
  it("makes whitespace visible on the axes", () => {
    expect([" ", "\n", "a"].map(tokenLabel)).toEqual(["␣", "↵", "a"]);
  });
});
