import katex from "katex";
import { describe, expect, it } from "vitest";
import { paramsOfWeights } from "../../src/chapters/params.js";
import {
  EMPTY_STATE,
  FP16_EXP_LIMIT,
  FP32_EXP_LIMIT,
  PARALLEL_CHUNK,
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
  outputGate,
  parallelView,
  recurrenceStep,
  roundHalf,
  stateHeatmaps,
  wkvStep,
} from "../../src/chapters/wkv.js";
import { heatmapGrid } from "../../src/components/heatmap.js";
import { TRACE_CHUNK } from "../../src/live/ort-trace.js";
import { f32ToF16Bits } from "../../src/onnx/half.js";
import { f16ToF32 } from "../../src/rwkv/checkpoint/dtype.js";
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

describe("fp16: the precision switch of the overflow figure", () => {
  it("roundHalf rounds as an independent fp32 -> fp16 converter does (src/onnx/half.ts, bit by bit)", () => {
    const xs = [
      0,
      1,
      -1,
      0.1,
      65504,
      65519.99,
      65520,
      1e-5,
      6.1e-5,
      2 ** -24,
      2 ** -25,
      3 * 2 ** -26,
      11.0898,
      1 / 3,
    ];
    for (let i = 0; i < 2000; i++)
      xs.push((Math.sin(i * 12.9898) * 43758.5453) % 70000, Math.exp(Math.sin(i) * 20));
    for (const x of xs.map(Math.fround)) {
      expect(roundHalf(x), String(x)).toBe(f16ToF32(f32ToF16Bits([x])[0]));
    }
    expect(roundHalf(NaN)).toBeNaN();
  });

  it("e^x is infinite in fp16 past ln 65504 ≈ 11.09, against ≈ 88.72 in fp32", () => {
    expect(FP16_EXP_LIMIT).toBeCloseTo(11.0899, 4);
    expect(FP32_EXP_LIMIT).toBeCloseTo(88.7228, 4);
    expect(roundHalf(Math.exp(11.08))).toBeLessThan(Infinity);
    expect(roundHalf(Math.exp(11.1))).toBe(Infinity);
  });

  it("the direct form overflows in fp16 at a far smaller key scale than in fp32; the stable form never does", () => {
    const T = 6;
    const C = 2;
    const w = Float32Array.of(-0.5, -2);
    const u = Float32Array.of(0.5, -0.5);
    const k = Float32Array.from({ length: T * C }, (_, i) => ((i * 7) % 5) - 1.5); // largest key 2.5
    const v = Float32Array.from({ length: T * C }, (_, i) => Math.sin(i));
    const s1 = overflowStats({ w, u, k, v, T, C, scale: 1, precision: "fp16" });
    expect(s1.nonFiniteDirect).toBe(0);
    expect(s1.maxDiff).toBeLessThan(5e-3); // fp16 has 11 significant bits
    expect(s1.predictedScale).toBeLessThanOrEqual(FP16_EXP_LIMIT / 2.5 + 1e-9);
    const s5 = overflowStats({ w, u, k, v, T, C, scale: 5, precision: "fp16" }); // 12.5 > 11.09
    expect(s5.nonFiniteDirect).toBeGreaterThan(0);
    expect(s5.nonFiniteStable).toBe(0);
    expect(overflowStats({ w, u, k, v, T, C, scale: 5, precision: "fp32" }).nonFiniteDirect).toBe(0);
    // both fp16 forms follow Eq. 16 in float64 to fp16's precision where finite
    for (let c = 0; c < C; c++)
      for (let t = 0; t < T; t++) {
        let [num, den] = [0, 0];
        for (let i = 0; i <= t; i++) {
          const e = Math.exp(i < t ? (t - 1 - i) * w[c] + k[i * C + c] : u[c] + k[t * C + c]);
          num += e * v[i * C + c];
          den += e;
        }
        expect(Math.abs(s1.stable[t * C + c] - num / den)).toBeLessThan(5e-3);
        expect(Math.abs(s1.direct[t * C + c] - num / den)).toBeLessThan(5e-3);
      }
  });

  it("the overflow view says which precision and limit it shows, in its labels and caption", () => {
    const inputs = overflowInputs(view, params, 1);
    const d = overflowView(inputs, { scale: 1, channel: 0, sweep: [], precision: "fp16" });
    expect([d.precision, d.limit]).toEqual(["fp16", FP16_EXP_LIMIT]);
    expect(d.caption).toContain("ln(65504) ≈ 11.09");
    expect(d.limitLabel).toContain("11.09");
    expect(d.directLabel).toContain("fp16");
    expect(overflowView(inputs, { scale: 1, channel: 0, sweep: [] }).caption).toContain("≈ 88.7");
  });
});

describe("Eq. 17 read off the model", () => {
  it("o_t = W_o (σ(r_t) ⊙ wkv_t): the trace's att, recomputed from W_o for every channel", () => {
    const C = config.nEmbd;
    for (const [layer, token] of [
      [0, 0],
      [1, 5],
    ]) {
      const Wo = weights.blocks[layer].att.Wo;
      const g = outputGate(view, { layer, channel: 2, token }, Wo);
      expect(g.maxError).toBeLessThan(1e-5);
      // independently: sigmoid of the trace's r times its wkv, through W_o
      const r = view.layers[layer].r!.subarray(token * C, token * C + C);
      const wkv = view.layers[layer].wkv!.subarray(token * C, token * C + C);
      let o2 = 0;
      for (let j = 0; j < C; j++) o2 += Wo[2 * C + j] * (1 / (1 + Math.exp(-r[j]))) * wkv[j];
      expect(Number(g.rows[5][1])).toBeCloseTo(o2, 4);
      expect(Number(g.rows[1][1])).toBeCloseTo(1 / (1 + Math.exp(-r[2])), 4);
      katex.renderToString(g.tex, { ...EQ, throwOnError: true });
    }
    const waiting = outputGate(view, { layer: 0, channel: 1, token: 3 });
    expect(waiting.maxError).toBeNaN();
    expect(waiting.rows[5][1]).toBe("…");
    expect(() => outputGate(view, { layer: 0, channel: 1, token: 3 }, new Float32Array(3))).toThrow(
      RangeError,
    );
  });
});

describe("the parallel form and the chunked form", () => {
  it("both reproduce the model's wkv (its recurrent scan), for one chunk and for chunks of 3", () => {
    for (const layer of [0, 1])
      for (let channel = 0; channel < config.nEmbd; channel++) {
        for (const chunk of [32, 3, 1]) {
          const p = parallelView(view, params, { layer, channel, chunk });
          expect(p.errParallel).toBeLessThan(1e-5);
          expect(p.errChunked).toBeLessThan(1e-5);
          expect(p.chunkStarts).toEqual(Array.from({ length: Math.ceil(7 / chunk) }, (_, i) => i * chunk));
        }
      }
  });

  it("every row's largest weight is exactly 1 and nothing above the diagonal: the row maximum was subtracted", () => {
    const p = parallelView(view, params, { layer: 1, channel: 4 });
    for (let t = 0; t < p.T; t++) {
      const row = Array.from(p.E.subarray(t * p.T, (t + 1) * p.T));
      expect(Math.max(...row)).toBe(1);
      expect(row.slice(t + 1).every((x) => x === 0)).toBe(true);
    }
    expect(p.maxExponent).toBe(Math.max(...p.m));
    expect(p.caption).toContain(`${p.T} × ${p.T}`);
  });

  it("the chunk length is the one the live and build-time traces run", () => {
    expect(PARALLEL_CHUNK).toBe(TRACE_CHUNK);
  });

  it("the equations render and are numbered as Appendix D numbers them", () => {
    for (const [tex, tags] of [
      [TEX.recurrent, ["(19)", "(20)", "(21)", "(22)"]],
      [TEX.stable, ["(23)", "(24)", "(25)", "(26)", "(27)", "(28)"]],
      [TEX.output, ["(17)"]],
      [TEX.parallel, []],
      [TEX.chunked, []],
    ] as const) {
      const html = katex.renderToString(tex, { ...EQ, throwOnError: true });
      for (const t of tags) expect(html).toContain(t);
    }
    expect(TEX.output).toContain("\\htmlData{sym=W_o}{W_o}");
  });
});
