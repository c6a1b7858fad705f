import { describe, expect, it } from "vitest";
import { decodeParams, encodeParams, layerNormInput, paramsOfWeights } from "../../src/chapters/params.js";
import katex from "katex";
import {
  MU_CAPTION,
  TEX,
  blendRows,
  muProfile,
  tokenShiftConv,
  tokenShiftView,
} from "../../src/chapters/token-shift.js";
import { EQ } from "../../src/ui/page.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { rowOf, viewOfTrace } from "../../src/trace/trace.js";

const config = { nLayer: 3, nEmbd: 8, ffnSize: 32, vocabSize: 7, layerNormEps: 1e-5 };
const weights = syntheticWeights(config, 3);

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

describe("chapter 3: token shift as a convolution over time", () => {
  const tokens = [1, 4, 2, 6, 3, 5];
  const view = viewOfTrace(
    new RwkvModel(weights).forward(tokens, undefined, { trace: true }).trace!,
    tokens,
    {
      labels: [..."bechdf"],
      text: "bechdf",
      backend: "reference (JS)",
      synthetic: true,
    },
  );
  const params = paramsOfWeights(weights, { synthetic: true, vocabulary: "abcdefg" });

  it("a width-2 causal kernel [mu, 1 - mu] slid along the LayerNorm outputs gives the model's inputs", () => {
    for (const mix of ["r", "k", "v"] as const)
      for (let layer = 0; layer < 3; layer++) {
        const conv = tokenShiftConv(view, params, { layer, mix });
        expect(conv.maxError).toBeLessThan(1e-5);
        expect(conv.channels.length).toBe(3);
        const mu = params.layers[layer][({ r: "muR", k: "muK", v: "muV" } as const)[mix]];
        const sorted = Array.from(mu).sort((a, b) => a - b);
        expect(conv.channels.map((c) => c.mu)).toEqual([sorted[0], sorted[3], sorted[7]]);
        for (const ch of conv.channels) {
          expect(ch.kernel).toEqual([ch.mu, 1 - ch.mu]);
          // an explicit convolution with one zero of left padding, written out here
          const padded = [0, ...ch.x];
          for (let t = 0; t < view.T; t++) {
            const y = ch.kernel[0] * padded[t + 1] + ch.kernel[1] * padded[t];
            expect(ch.conv[t]).toBeCloseTo(y, 12);
            expect(ch.mixed[t]).toBeCloseTo(y, 5);
          }
        }
        expect(conv.caption).not.toMatch(/_\{|\^\{|\\/);
      }
  });

  it("the equations render with KaTeX; labels and captions carry no raw TeX", () => {
    for (const tex of [TEX.timeMix, TEX.channelMix, TEX.conv])
      katex.renderToString(tex, { ...EQ, throwOnError: true });
    const { labels } = tokenShiftView(view, params, { layer: 1, token: 3, mix: "k" });
    for (const s of [labels.caption, labels.current, labels.previous, labels.muLabel, MU_CAPTION])
      expect(s).not.toMatch(/_\{|\^\{|\\|\b[a-z]_[a-z0-9]\b/i);
    expect([labels.current, labels.previous, labels.muLabel]).toEqual(["xₜ", "xₜ₋₁", "μₖ"]);
  });
});
