import { describe, expect, it } from "vitest";
import { blendRows, muProfile } from "../../src/chapters/token-shift.js";
import { bytesLabel, stateMeterData } from "../../src/components/state-meter.js";
import { heatmapScale } from "../../src/components/heatmap.js";
import { countStateNumbers, kvCacheNumbers, stateSizeNumbers } from "../../src/live/live-model.js";
import { decodeParams, encodeParams, layerNormInput, paramsOfWeights } from "../../src/chapters/params.js";
import { rowOf, viewOfTrace } from "../../src/trace/trace.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

const config = { nLayer: 3, nEmbd: 8, ffnSize: 32, vocabSize: 7, layerNormEps: 1e-5 };
const weights = syntheticWeights(config, 3);

describe("chapter 1: state size against a KV cache", () => {
  it("the state the model really carries has 5·L·C numbers, whatever the length", () => {
    const model = new RwkvModel(weights);
    let state = model.initialState();
    for (const tok of [1, 2, 3, 4, 5, 6]) {
      state = model.step(tok, state).state;
      expect(countStateNumbers(state)).toBe(stateSizeNumbers(config));
    }
    expect(stateSizeNumbers(config)).toBe(5 * 3 * 8);
  });

  it("a transformer's cache holds a key and a value per layer per token", () => {
    expect(kvCacheNumbers(config, 10)).toBe(2 * 3 * 10 * 8);
    const d = stateMeterData({ nLayer: 12, nEmbd: 768, T: 1024 });
    expect(d.rwkvNumbers).toBe(46_080);
    expect(d.kvNumbers).toBe(18_874_368);
    expect(bytesLabel(d.rwkvNumbers)).toBe("180.0 KB");
    expect(() => stateMeterData({ nLayer: 1, nEmbd: 1, T: -1 })).toThrow(RangeError);
  });
});

describe("chapter 3: token shift", () => {
  it("the model's mixed inputs equal mu·x_t + (1-mu)·x_{t-1} of the LayerNorm outputs (Eq. 11-13)", () => {
    const tokens = [1, 4, 2, 6, 3];
    const res = new RwkvModel(weights).forward(tokens, undefined, { trace: true });
    const view = viewOfTrace(res.trace!, tokens, {
      labels: tokens.map(String),
      text: "",
      backend: "reference (JS)",
      synthetic: true,
    });
    const params = decodeParams(
      JSON.parse(
        JSON.stringify(encodeParams(paramsOfWeights(weights, { synthetic: true, vocabulary: "abcdefg" }))),
      ),
    );
    for (let l = 0; l < 3; l++) {
      for (const t of [0, 3]) {
        const { current, previous } = layerNormInput(view, params, l, t);
        const xk = rowOf(view, l, "xk", t);
        for (let c = 0; c < 8; c++) {
          const mu = params.layers[l].muK[c];
          expect(xk[c]).toBeCloseTo(mu * current[c] + (1 - mu) * previous[c], 5);
        }
        if (t === 0) expect(Array.from(previous)).toEqual(new Array(8).fill(0));
      }
    }
  });

  it("muProfile sorts and counts the mixes outside [0, 1]", () => {
    const p = muProfile(Float32Array.of(0.5, -0.25, 1.5, 1, 0));
    expect(Array.from(p.sorted)).toEqual([-0.25, 0, 0.5, 1, 1.5]);
    expect([p.below, p.above]).toEqual([1, 1]);
  });

  it("blendRows spreads the picked channels over the order of mu and recomputes the formula", () => {
    const C = 10;
    const mu = Float32Array.from({ length: C }, (_, c) => (C - c) / C); // descending
    const cur = Float32Array.from({ length: C }, (_, c) => c);
    const prev = new Float32Array(C).fill(1);
    const rows = blendRows({ current: cur, previous: prev, mu, mixed: cur }, 3);
    expect(rows.map((r) => r.channel)).toEqual([9, 4, 0]); // smallest, middle and largest mu
    for (const r of rows) expect(r.formula).toBeCloseTo(r.mu * r.current + (1 - r.mu) * r.previous, 6);
    expect(() => blendRows({ current: cur, previous: prev, mu: mu.subarray(1), mixed: cur }, 3)).toThrow(
      RangeError,
    );
  });
});

describe("heatmap colour scale", () => {
  it("is symmetric around zero for signed data and ignores non-finite values", () => {
    const s = heatmapScale(Float32Array.of(-1, 0.5, 3, Number.NaN, Infinity), "diverging");
    expect(s.domain[0]).toBe(-s.domain[1]);
    expect(s.domain[1]).toBe(3);
    expect(heatmapScale(Float32Array.of(2, 2), "sequential").domain).toEqual([2, 3]);
  });
});
