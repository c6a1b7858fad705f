import katex from "katex";
import { describe, expect, it } from "vitest";
import {
  TEX,
  applyRows,
  attentionChecks,
  attentionCostData,
  attentionOf,
  attentionView,
  channelOfRank,
  decodeAttentionTrace,
  decodeGptAttention,
  distinctiveHeads,
  encodeGptAttention,
  eq10Form,
  windowedLoss,
  wkvAttentionMatrix,
  wkvChecks,
  wkvDiagonalStats,
  type GptAttention,
} from "../../src/chapters/attention.js";
import { paramsOfWeights } from "../../src/chapters/params.js";
import { gptAttention } from "../../src/live/gpt-attention.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { EQ } from "../../src/ui/page.js";
import { encodeTrace, viewOfTrace, type TraceView } from "../../src/trace/trace.js";
import { GptModel, gptWeightsFromTensors } from "../../src/transformer/gpt.js";
import { syntheticGptTensors } from "../../src/transformer/synthetic.js";

describe("chapter 2's equations", () => {
  it("every one renders with KaTeX, its symbols tagged for hover linking", () => {
    for (const [name, tex] of Object.entries(TEX)) {
      const html = katex.renderToString(tex, { ...EQ, throwOnError: true });
      expect(html, name).toContain("katex-display");
    }
    const wkv = katex.renderToString(TEX.wkvAlpha, { ...EQ, throwOnError: true });
    for (const s of ["wkv", "alpha", "v", "w", "k", "u"]) expect(wkv).toContain(`data-sym="${s}"`);
    expect(katex.renderToString(TEX.softmaxRow, { ...EQ, throwOnError: true })).toContain(
      'data-sym="softmax"',
    );
    expect(TEX.wkv).toContain("\\tag{16}");
  });
});

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

  it("attentionChecks finds a row that does not sum to 1 and weight on the masked future", () => {
    const { rowSumError, aboveDiagonal } = attentionChecks([1, 0.25, 0.5, 0.25], 2);
    expect(rowSumError).toBeCloseTo(0.25, 12); // row 0 sums to 1.25
    expect(aboveDiagonal).toBe(0.25);
  });

  it("channelOfRank: rank 0 is the slowest decay (largest w), ties keep channel order", () => {
    const w = [-0.5, -0.01, -3, -0.01, -1];
    expect([0, 1, 2, 3, 4].map((r) => channelOfRank(w, r))).toEqual([1, 3, 0, 4, 2]);
  });
});

describe("the transformer's attention in its JSON form", () => {
  const tokens = [1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
  it("decodes to the same weights, and each (layer, head) block is the model's", () => {
    const shape = { nLayer: 2, nEmbd: 12, nHead: 3, vocabSize: 12, blockSize: 16 };
    const gpt = new GptModel(gptWeightsFromTensors(syntheticGptTensors(shape, 4), { nHead: 3 }));
    const att = gptAttention(gpt, tokens, { text: "x", synthetic: true, source: "precomputed" });
    const back = decodeGptAttention(JSON.parse(JSON.stringify(encodeGptAttention(att))));
    expect(Array.from(back.data)).toEqual(Array.from(att.data));
    expect(back.source).toBe("precomputed");
    const direct = gpt.forward(tokens, { attention: true }).attention!;
    expect(Array.from(attentionOf(back, 1, 2))).toEqual(Array.from(direct[1][2]));
    expect(() => attentionOf(back, 2, 0)).toThrow(/layers 0\.\.1/);
    expect(() => attentionOf(back, 0, 3)).toThrow(/heads 0\.\.2/);
    expect(() => decodeGptAttention({ format: "nope" })).toThrow(/gpt-attention\/1/);
    const cut = { ...encodeGptAttention(att), T: 11 };
    expect(() => decodeGptAttention(cut)).toThrow(/expected/);
  });
});

// a small RWKV, its trace of a prompt as the page sees it, and the weights the page reads
const config = { nLayer: 2, nEmbd: 8, ffnSize: 32, vocabSize: 12, layerNormEps: 1e-5 };
const weights = syntheticWeights(config, 7);
const params = paramsOfWeights(weights, { synthetic: true, vocabulary: "abcdefghijkl" });
const tokens = [3, 1, 4, 1, 5, 9, 2, 6];
const text = "dbebfjcg";
const trace = new RwkvModel(weights).forward(tokens, undefined, { trace: true }).trace!;
const view: TraceView = viewOfTrace(trace, tokens, {
  labels: [...text],
  text,
  backend: "reference (JS)",
  synthetic: true,
});

/** A fake transformer attention for `text` whose head (l, h) puts weight `p` on the previous token. */
function fakeGpt(forText: string, nLayer = 2, nHead = 2): GptAttention {
  const T = [...forText].length;
  const data = new Float32Array(nLayer * nHead * T * T);
  for (let l = 0; l < nLayer; l++)
    for (let h = 0; h < nHead; h++)
      for (let t = 0; t < T; t++) {
        const row = (l * nHead + h) * T * T + t * T;
        if (t === 0) data[row] = 1;
        else if (l === 1 && h === 0) {
          data[row + t - 1] = 0.9; // the previous-character head
          data[row + t] = 0.1;
        } else for (let i = 0; i <= t; i++) data[row + i] = 1 / (t + 1);
      }
  return {
    text: forText,
    tokens: [],
    T,
    nLayer,
    nHead,
    synthetic: true,
    source: "live",
    backend: "wasm",
    data,
  };
}

describe("what chapter 2's page shows", () => {
  it("attentionView: the WKV panel of the ranked channel, and the transformer's only for the same prompt", () => {
    const sel = { layer: 1, rank: 2, gLayer: 1, head: 0 };
    const v = attentionView(view, params, fakeGpt(text), sel);
    const channel = channelOfRank(weights.blocks[1].att.w, 2);
    expect(v.channel).toBe(channel);
    const want = wkvAttentionMatrix(
      trace.layers[1].k,
      weights.blocks[1].att.w,
      weights.blocks[1].att.u,
      8,
      8,
      channel,
    );
    expect(Array.from(v.wkv)).toEqual(Array.from(want));
    expect(v.panels.map((p) => p.title)).toEqual([
      `RWKV WKV · layer 1 · channel ${channel}`,
      "Transformer softmax · layer 1 · head 0",
    ]);
    expect(v.panels[0].subtitle).toContain(
      `e⁻ʷ = ${Math.exp(weights.blocks[1].att.w[channel]).toPrecision(3)}`,
    );
    expect(v.softmax![8 * 7 + 6]).toBeCloseTo(0.9, 6);
    expect(v.dataset).toEqual({ wkvBackend: "reference (JS)", softmaxBackend: "wasm" });
    const stale = attentionView(view, params, fakeGpt("dbeb"), sel);
    expect([stale.panels.length, stale.softmax, stale.dataset.softmaxBackend]).toEqual([1, null, undefined]);
  });

  it("wkvChecks: sum_i alpha v_i against the trace's own wkv, row sums, the half-life", () => {
    const v = attentionView(view, params, fakeGpt(text), { layer: 0, rank: 0, gLayer: 0, head: 1 });
    const c = wkvChecks(view, params, v, 0);
    expect(c.wkv.maxAbsDiff).toBeLessThan(1e-6);
    expect(c.wkv.scope).toBe(`layer 0, channel ${v.channel}, all 8 positions`);
    expect(c.rowSum).toBeLessThan(1e-6);
    expect(c.softmaxRowSum).toBeLessThan(1e-6);
    // rank 0 is the slowest decay: weight halves after ln(1/2) / w tokens
    const w = weights.blocks[0].att.w[v.channel];
    const h = Math.log(0.5) / w;
    expect(c.halfLife).toBe(h.toFixed(h < 10 ? 2 : 0));
    // a trace without v and wkv (the precomputed one) quotes the build-time check
    const keysOnly = decodeAttentionTrace({
      trace: encodeTrace(view, { fields: ["k"] }),
      check: { maxAbsDiff: 3e-7, layers: 2, channels: 8, positions: 8 },
    });
    const sel = { layer: 0, rank: 0, gLayer: 0, head: 0 };
    const pre = wkvChecks(keysOnly, params, attentionView(keysOnly, params, null, sel), 0, keysOnly.check);
    expect(pre.wkv).toEqual({
      maxAbsDiff: 3e-7,
      scope: "every layer and channel, all 8 positions, checked at build time",
    });
    expect(pre.softmaxRowSum).toBeUndefined();
    expect(() => decodeAttentionTrace({ trace: {} })).toThrow(/chapter 2/);
  });

  it("wkvDiagonalStats: the averages of alpha's diagonal and its left neighbour over channels and positions", () => {
    const s = wkvDiagonalStats(view, params, 1)!;
    // the same averages read off the T x T matrices of every channel (a different computation)
    const { w, u } = weights.blocks[1].att;
    let diag = 0;
    let prev = 0;
    let n = 0;
    for (let c = 0; c < 8; c++) {
      const A = wkvAttentionMatrix(trace.layers[1].k, w, u, 8, 8, c);
      for (let t = 1; t < 8; t++) {
        diag += A[t * 8 + t];
        prev += A[t * 8 + t - 1];
        n++;
      }
    }
    expect(s.diag).toBeCloseTo(diag / n, 6);
    expect(s.prev).toBeCloseTo(prev / n, 6);
    expect(s.uNeg).toBe(Array.from(u).filter((x) => x < 0).length);
    expect([s.uMin, s.uMax]).toEqual([Math.min(...u), Math.max(...u)]);
    expect(wkvDiagonalStats(null, params, 1)).toBeNull();
  });

  it("distinctiveHeads: finds the previous-character head and the head that looks at the latest space", () => {
    const t = "ab cd ef";
    const gpt = fakeGpt(t);
    // head (0, 1): all weight on the latest space before the query (or the first token if none)
    const T = 8;
    const row0 = (0 * 2 + 1) * T * T;
    gpt.data.fill(0, row0, row0 + T * T);
    for (let q = 0; q < T; q++) {
      let j = q - 1;
      while (j >= 0 && t[j] !== " ") j--;
      gpt.data[row0 + q * T + (j >= 0 ? j : 0)] = 1;
    }
    const d = distinctiveHeads(gpt, { ...view, text: t })!;
    expect([d.prev.l, d.prev.h]).toEqual([1, 0]);
    expect(d.prev.v).toBeCloseTo(0.9, 6);
    expect([d.space.l, d.space.h, d.space.v]).toEqual([0, 1, 1]);
    expect(distinctiveHeads(gpt, view)).toBeNull(); // another prompt
    expect(distinctiveHeads(null, view)).toBeNull();
  });

  it("windowedLoss reads the held-out windows' loss, never a synthetic model's", () => {
    const raw = { results: { validation_windowed: { nats_per_char: 1.48 } } };
    expect(windowedLoss({ synthetic: false, raw })).toBe(1.48);
    expect(windowedLoss({ synthetic: true, raw })).toBeUndefined();
    expect(windowedLoss({ synthetic: false, raw: { results: {} } })).toBeUndefined();
  });
});

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

describe("Eq. 10's t - i against Eq. 16's t - 1 - i", () => {
  it("Eq. 9 with Eq. 10's bias and u - w for the current token is Eq. 16 (float64, written out here)", () => {
    const C = config.nEmbd;
    for (const layer of [0, 1])
      for (let c = 0; c < C; c++) {
        const { w, u } = params.layers[layer]; // loaded: w = -(the paper's w)
        const k = trace.layers[layer].k;
        const v = trace.layers[layer].v;
        const z = eq10Form(k, v, w, u, 8, C, c);
        for (let t = 0; t < 8; t++) {
          let [num, den] = [0, 0];
          for (let i = 0; i <= t; i++) {
            const e = Math.exp(i < t ? (t - 1 - i) * w[c] + k[i * C + c] : u[c] + k[t * C + c]); // Eq. 16
            num += e * v[i * C + c];
            den += e;
          }
          expect(z[t]).toBeCloseTo(num / den, 10);
          expect(z[t]).toBeCloseTo(trace.layers[layer].wkv[t * C + c], 5); // and the model's own
        }
      }
  });

  it("the checks list reports it live, and the build-time figure for the precomputed trace", () => {
    const v = attentionView(view, params, null, { layer: 1, rank: 0, gLayer: 0, head: 0 });
    expect(wkvChecks(view, params, v, 1).eq10).toBeLessThan(1e-5);
    const keysOnly = decodeAttentionTrace({
      trace: encodeTrace(view, { fields: ["k"] }),
      check: { maxAbsDiff: 1e-7, eq10: 2e-7, layers: 2, channels: 8, positions: 8 },
    });
    expect(wkvChecks(keysOnly, params, v, 1, keysOnly.check).eq10).toBe(2e-7);
    katex.renderToString(TEX.shift, { ...EQ, throwOnError: true });
  });
});
