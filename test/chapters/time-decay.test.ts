import katex from "katex";
import { describe, expect, it } from "vitest";
import { paramsOfWeights, type ModelParams } from "../../src/chapters/params.js";
import {
  HALF_LIFE_SLIDER,
  TEX,
  autoChannel,
  channelView,
  decaySeries,
  decaySummary,
  fmtHalfLife,
  halfLifeStarts,
  hlParam,
  initTimeDecay,
  learnedDecay,
  readout,
  sliderHalfLife,
  sliderValue,
} from "../../src/chapters/time-decay.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { columnOf, viewOfTrace } from "../../src/trace/trace.js";

/** The loaded decay w (< 0) whose half-life is h tokens: e^{w h} = 1/2. */
const wOf = (h: number) => Math.log(0.5) / h;

/** Params with the given per-layer decays (and bonuses); the rest is not read by chapter 4. */
function paramsWith(layers: { w: number[]; u?: number[] }[]): ModelParams {
  return {
    config: {
      nLayer: layers.length,
      nEmbd: layers[0].w.length,
      ffnSize: 4,
      vocabSize: 2,
      layerNormEps: 1e-5,
    },
    synthetic: false,
    vocabulary: "ab",
    layers: layers.map(({ w, u }) => ({
      w: Float32Array.from(w),
      u: Float32Array.from(u ?? w.map(() => 0)),
    })),
  } as unknown as ModelParams;
}

describe("chapter 4: the paper's Figure 10 and its companions", () => {
  it("decaySeries sorts e^{-w}, the half-lives and the bonuses of each layer largest first, as Figure 10", () => {
    const s = decaySeries([{ w: Float32Array.of(-1, -0.1, -3, 0), u: Float32Array.of(0.5, -2, 1, 0) }]);
    expect(Array.from(s.decay[0])).toEqual([0, -0.1, -1, -3].map((w) => Math.exp(Math.fround(w))));
    const h = Array.from(s.halfLife[0]);
    expect(h[0]).toBe(Infinity); // w = 0 never decays
    [-1, -0.1, -3]
      .map((w) => Math.log(2) / -Math.fround(w))
      .sort((a, b) => b - a)
      .forEach((want, i) => expect(h[i + 1]).toBeCloseTo(want, 12));
    expect(Array.from(s.bonus[0])).toEqual([1, 0.5, 0, -2]);
    expect(s.caption).toContain("largest value to the smallest");
    expect(s.caption).toContain("1 to 12");
  });

  it("fmtHalfLife: two decimals below 10 tokens, one below 100, none above, ∞ for no decay", () => {
    expect([0.123, 5.678, 12.34, 456.7, Infinity].map(fmtHalfLife)).toEqual([
      "0.12",
      "5.68",
      "12.3",
      "457",
      "∞",
    ]);
  });

  it("initTimeDecay is the Appendix E schedule: -5 at the first channel, 3 at the last, faster in low layers", () => {
    expect(initTimeDecay(0, 0, 16, 4)).toBe(-5);
    expect(initTimeDecay(15, 3, 16, 4)).toBeCloseTo(3, 12);
    expect(initTimeDecay(5, 0, 11, 4)).toBeCloseTo(-5 + 8 * 0.5 ** 0.7, 12);
    expect(initTimeDecay(5, 3, 11, 4)).toBeCloseTo(-5 + 8 * 0.5 ** 2, 12);
    expect(initTimeDecay(5, 0, 11, 1)).toBeCloseTo(-5 + 8 * 0.5 ** 0.7, 12); // one layer: no division by 0
  });
});

describe("chapter 4: the numbers the prose quotes", () => {
  it("median half-life per layer, and the channels under one token and over 20 tokens", () => {
    const s = decaySummary(
      paramsWith([{ w: [100, 0.5, 30, 2, 12].map(wOf) }, { w: [21, 22, 0.1, 0.2, 3].map(wOf) }]),
    );
    expect(s.layers.map((l) => l.median)).toEqual([12, 3].map((h) => Math.log(0.5) / Math.fround(wOf(h))));
    expect(s.medians).toBe("layer 0: 12.0, layer 1: 3.00");
    expect(s.short).toBe("1, 2");
    expect(s.long).toBe("2, 2");
  });

  it("a model still at its initialisation moved by nothing, and its medians are the initial ones", () => {
    const C = 9;
    const L = 3;
    const layers = Array.from({ length: L }, (_, l) => ({
      w: Array.from({ length: C }, (_, c) => -Math.exp(initTimeDecay(c, l, C, L))),
    }));
    const s = decaySummary(paramsWith(layers));
    expect(s.movedMax).toBeLessThan(1e-6); // float32 rounding of w only
    expect(s.movedMean).toBeLessThan(1e-6);
    for (const [l, layer] of s.layers.entries()) {
      // channel c's half-life is ln 2 / e^{time_decay}: it falls with c, so the median channel is the middle one
      expect(layer.medianInit).toBeCloseTo(Math.log(2) / Math.exp(initTimeDecay(4, l, C, L)), 9);
      expect(layer.median).toBeCloseTo(layer.medianInit, 4);
    }
    expect(s.shorterThanInit).toBe(true);
  });

  it("training that moved one channel's log w by 1.5 shows as that move", () => {
    const C = 5;
    const w = Array.from({ length: C }, (_, c) => -Math.exp(initTimeDecay(c, 0, C, 1)));
    w[2] = -Math.exp(initTimeDecay(2, 0, C, 1) + 1.5); // a faster decay: a shorter memory
    const s = decaySummary(paramsWith([{ w }]));
    expect(s.movedMax).toBeCloseTo(1.5, 5);
    expect(s.movedMean).toBeCloseTo(1.5 / C, 5);
  });
});

describe("chapter 4: the channel and half-life controls", () => {
  it("autoChannel picks the half-life closest to 6 tokens on a log scale", () => {
    expect(autoChannel(Float32Array.from([1, 5, 8, 40].map(wOf)))).toBe(1); // |ln 5/6| < |ln 8/6|
    expect(autoChannel(Float32Array.from([1, 4, 9, 40].map(wOf)))).toBe(2); // |ln 9/6| < |ln 4/6|
    expect(autoChannel(Float32Array.from([1, 100].map(wOf)), 50)).toBe(1);
  });

  it("the slider is log10 of the half-life, clamped to its range", () => {
    expect(sliderValue(10)).toBeCloseTo(1, 12);
    expect(sliderValue(1e6)).toBe(HALF_LIFE_SLIDER.max);
    expect(sliderValue(1e-6)).toBeCloseTo(Math.log10(0.032), 12);
    expect(sliderValue(1e-6)).toBeGreaterThanOrEqual(HALF_LIFE_SLIDER.min);
  });

  it("a shared link's hl sets the first start only; a bad hl is ignored", () => {
    const start = halfLifeStarts("316");
    expect(start(5)).toBe(316);
    expect(start(7)).toBe(7);
    for (const bad of ["", "0", "-3", "abc"]) expect(halfLifeStarts(bad)(5)).toBe(5);
  });

  it("the slider's half-life is the exact start until it moves", () => {
    expect(sliderHalfLife(0.75, 0.75, 5.6234)).toBe(5.6234);
    expect(sliderHalfLife(2.5, 0.75, 5.6234)).toBeCloseTo(316.2278, 4);
  });

  it("the address keeps hl only when it differs from the learned half-life by 1% or more", () => {
    expect(hlParam(10.05, 10)).toBe("");
    expect(hlParam(316.2278, 10)).toBe("316");
    expect(hlParam(0.0123456, 10)).toBe("0.0123");
  });

  it("the readout writes the paper's w = -(loaded w), e^{-w} and the half-life of both decays", () => {
    const learned = { w: wOf(1), u: -0.25, h: 1 };
    const r = readout(learned, 10);
    expect(r.w).toBeCloseTo(Math.log(0.5) / 10, 15);
    expect(r.rows).toEqual([
      { label: "learned", w: "0.6931", decay: "0.5000", halfLife: "1.00" },
      { label: "slider", w: (Math.LN2 / 10).toFixed(4), decay: (0.5 ** 0.1).toFixed(4), halfLife: "10.0" },
    ]);
    expect(r.bonus).toBe("-0.250");
  });
});

describe("chapter 4: one channel recomputed from a trace", () => {
  const config = { nLayer: 2, nEmbd: 8, ffnSize: 32, vocabSize: 9, layerNormEps: 1e-5 };
  const weights = syntheticWeights(config, 5);
  const tokens = [1, 4, 1, 5, 8, 2, 6];
  const trace = new RwkvModel(weights).forward(tokens, undefined, { trace: true }).trace!;
  const view = viewOfTrace(trace, tokens, {
    labels: tokens.map(String),
    text: "",
    backend: "reference (JS)",
    synthetic: true,
  });
  const params = paramsOfWeights(weights, { synthetic: true, vocabulary: "abcdefghi" });

  it("with the learned w it reproduces the model's own wkv, and Eq. 16's weights average v into it", () => {
    const layer = 1;
    const channel = 3;
    const token = 5;
    const learned = learnedDecay(params, layer, channel);
    expect(learned.w).toBe(weights.blocks[layer].att.w[channel]);
    const d = channelView(view, { layer, channel, token, learned, w: learned.w });
    expect(d.check.maxError).toBeLessThan(1e-5);
    expect(d.check.text).toMatch(/reference \(JS\)/);
    expect(Array.from(d.compare.modified)).toEqual(Array.from(d.compare.original));
    const v = columnOf(view, layer, "v", channel);
    const wkv = columnOf(view, layer, "wkv", channel);
    let sum = 0;
    let avg = 0;
    for (let i = 0; i <= token; i++) {
      sum += d.kernel.original[i];
      avg += d.kernel.original[i] * v[i];
    }
    expect(sum).toBeCloseTo(1, 12);
    expect(avg).toBeCloseTo(wkv[token], 4); // Eq. 16: wkv_t = Σ alpha_i v_i
  });

  it("a much longer half-life spreads the weight back over the earlier tokens", () => {
    const learned = learnedDecay(params, 0, 2);
    const slow = channelView(view, { layer: 0, channel: 2, token: 6, learned, w: wOf(1e4) });
    const fast = channelView(view, { layer: 0, channel: 2, token: 6, learned, w: wOf(0.02) });
    const past = (k: Float64Array) => k.slice(0, 5).reduce((a, b) => a + b, 0); // positions 0..t-2
    expect(past(slow.kernel.modified)).toBeGreaterThan(past(fast.kernel.modified));
    expect(past(fast.kernel.modified)).toBeLessThan(1e-9); // e^{-35} per step back
  });
});

describe("chapter 4's equations", () => {
  it("render in KaTeX with the decay, the bonus and the half-life hover-linked", () => {
    const opts = { displayMode: true, trust: true, strict: "ignore" as const, throwOnError: true };
    const wkv = katex.renderToString(TEX.wkv, opts);
    for (const s of ["wkv", "w", "u", "k", "v"]) expect(wkv).toContain(`data-sym="${s}"`);
    expect(katex.renderToString(TEX.halfLife, opts)).toContain('data-sym="halflife"');
  });
});
