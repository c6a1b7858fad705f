import katex from "katex";
import { describe, expect, it } from "vitest";
import { paramsOfWeights } from "../../src/chapters/params.js";
import {
  EMPTY_STATE,
  FP32_EXP_LIMIT,
  SWEEP_SCALES,
  TEX,
  channelsByDecay,
  f4,
  keyScaleParam,
  keyScaleSlider,
  overflowInputs,
  overflowStats,
  overflowSweep,
  overflowSweepFor,
  overflowView,
  recurrenceStep,
  stateHeatmaps,
  wkvStep,
} from "../../src/chapters/wkv.js";
import { heatmapGrid } from "../../src/components/heatmap.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { viewOfTrace, type TraceView } from "../../src/trace/trace.js";
import { EQ } from "../../src/ui/page.js";

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

// a small RWKV and its trace of a prompt, as the page sees it
const config = { nLayer: 2, nEmbd: 6, ffnSize: 24, vocabSize: 12, layerNormEps: 1e-5 };
const weights = syntheticWeights(config, 11);
const params = paramsOfWeights(weights, { synthetic: true, vocabulary: "abcdefghijkl" });
const tokens = [3, 1, 4, 1, 5, 9, 2];
const model = new RwkvModel(weights);
const view: TraceView = viewOfTrace(model.forward(tokens, undefined, { trace: true }).trace!, tokens, {
  labels: [..."dbebfjc"],
  text: "dbebfjc",
  backend: "reference (JS)",
  synthetic: true,
});

describe("chapter 5's equations", () => {
  it("render with KaTeX, with the state's symbols tagged for hover linking", () => {
    for (const tex of [TEX.recurrent, TEX.stable]) {
      const html = katex.renderToString(tex, { ...EQ, throwOnError: true });
      for (const s of ["wkv", "a", "b", "u", "k", "v", "w"]) expect(html).toContain(`data-sym="${s}"`);
    }
    expect(katex.renderToString(TEX.stable, { ...EQ, throwOnError: true })).toContain('data-sym="p"');
  });
});

describe("what chapter 5's page shows", () => {
  it("f4 prints 4 decimals, or an exponent for large and tiny numbers", () => {
    expect([
      f4(1.23456),
      f4(-0.5),
      f4(0),
      f4(12345.6),
      f4(0.000123),
      f4(-1e38),
      f4(NaN),
      f4(Infinity),
    ]).toEqual(["1.2346", "-0.5000", "0.0000", "1.235e+4", "1.230e-4", "-1.000e+38", "NaN", "Infinity"]);
  });

  it("channelsByDecay: fastest decay first; the default channel 60% of the way down", () => {
    const { order, auto } = channelsByDecay([-0.1, -5, -1, -0.01, -2]);
    expect(order).toEqual([1, 4, 2, 0, 3]);
    expect(auto).toBe(order[3]); // floor(5 * 0.6)
  });

  it("the state heatmaps hold the model's a, b, p after every token (RNN steps) and a / b", () => {
    const layer = 1;
    const { order } = channelsByDecay(weights.blocks[layer].att.w);
    const maps = stateHeatmaps(view, { layer, token: 4, channel: 2, order });
    const forTheGrid: Parameters<typeof heatmapGrid>[0] = maps; // what src/components/heatmap.ts takes
    expect(forTheGrid.map((m) => m.name)).toEqual([
      "wkv-state-a",
      "wkv-state-b",
      "wkv-state-p",
      "wkv-state-mean",
    ]);
    expect(maps.map((m) => m.kind)).toEqual([undefined, "sequential", "sequential", undefined]);
    for (const m of maps) {
      expect([m.matrix.rows, m.matrix.cols, m.revealed, m.highlightRow, m.highlightCol]).toEqual([
        7, 6, 5, 2, 4,
      ]);
      expect(m.rowOrder).toBe(order);
    }
    // the same numbers from the model run one token at a time (an independent path to the state)
    let state = model.initialState();
    const C = config.nEmbd;
    tokens.forEach((tok, t) => {
      state = model.step(tok, state).state;
      const { a, b, p } = state[layer];
      for (let c = 0; c < C; c++) {
        expect(maps[0].matrix.data[t * C + c]).toBeCloseTo(a[c], 4);
        expect(maps[1].matrix.data[t * C + c]).toBeCloseTo(b[c], 4);
        expect(maps[2].matrix.data[t * C + c]).toBeCloseTo(p[c], 4);
        expect(maps[3].matrix.data[t * C + c]).toBeCloseTo(a[c] / b[c], 4);
      }
    });
  });

  it("the step table recomputes Appendix D from the stored state and agrees with the model", () => {
    const s = wkvStep(view, params, { layer: 0, channel: 3, token: 2 });
    expect(s.title).toBe("layer 0, channel 3, token 2 “e”");
    expect(s.maxError).toBeLessThan(1e-5);
    expect(s.rows).toHaveLength(7);
    expect(s.rows[0][2]).toBe("after “b”");
    const w = weights.blocks[0].att.w[3];
    expect(s.rows[2]).toEqual([
      "w, u (learned)",
      `${f4(-w)}, ${f4(weights.blocks[0].att.u[3])}`,
      expect.any(String),
    ]);
    expect(s.rows[2][2]).toBe(`half-life ${(Math.log(0.5) / w).toFixed(2)} tokens`);
    const first = wkvStep(view, params, { layer: 0, channel: 3, token: 0 });
    expect(first.rows[0]).toEqual([
      "state before: a′ₜ₋₁, b′ₜ₋₁, pₜ₋₁",
      "0.0000, 0.0000, -1.000e+38",
      "the empty state",
    ]);
    expect(first.maxError).toBeLessThan(1e-5);
  });

  it("the overflow view is one channel of overflowStats at the chosen scale", async () => {
    const inputs = overflowInputs(view, params, 1);
    expect([inputs.T, inputs.C, inputs.labels.join("")]).toEqual([7, 6, "dbebfjc"]);
    const sweep = await overflowSweepFor(inputs, "fp32");
    expect(sweep!.map((s) => s.scale)).toEqual(SWEEP_SCALES);
    expect(SWEEP_SCALES).toHaveLength(28);
    expect(SWEEP_SCALES[27]).toBeCloseTo(10 ** 2.7, 9);
    expect(sweep).toEqual(overflowSweep({ ...inputs, scales: SWEEP_SCALES }));
    const scale = SWEEP_SCALES[20];
    const d = overflowView(inputs, { scale, channel: 4, sweep: sweep! });
    const st = overflowStats({ ...inputs, scale });
    expect(Array.from(d.direct)).toEqual(Array.from({ length: 7 }, (_, t) => st.direct[t * 6 + 4]));
    expect(Array.from(d.stable)).toEqual(Array.from({ length: 7 }, (_, t) => st.stable[t * 6 + 4]));
    expect([d.total, d.nonFiniteDirect, d.maxDiff, d.predictedScale]).toEqual([
      42,
      st.nonFiniteDirect,
      st.maxDiff,
      st.predictedScale,
    ]);
    expect(await overflowSweepFor(null, "fp32")).toBeNull();
    expect(await overflowSweepFor(inputs, "fp16", Promise.resolve())).toBeNull(); // invalidated before the first scale
  });

  it("the key scale between the address and the log slider", () => {
    expect([
      keyScaleSlider("1"),
      keyScaleSlider("100"),
      keyScaleSlider("oops"),
      keyScaleSlider("9999"),
    ]).toEqual([0, 2, 0, Math.log10(500)]);
    expect([keyScaleParam(1), keyScaleParam(10 ** 2.4), keyScaleParam(1 + 1e-12)]).toEqual(["1", "251", "1"]);
  });
});
