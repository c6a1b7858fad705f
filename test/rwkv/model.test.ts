import { describe, expect, it } from "vitest";
import { RwkvModel, RwkvError } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvConfig } from "../../src/rwkv/weights.js";
import { mulberry32 } from "../../src/rwkv/random.js";
import { maxAbsDiff, rnnLogits } from "./helpers.js";

const small: RwkvConfig = { nLayer: 3, nEmbd: 24, ffnSize: 96, vocabSize: 37, layerNormEps: 1e-5 };

function randomTokens(n: number, V: number, seed: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(r() * V));
}

describe("RwkvModel: RNN mode equals parallel mode", () => {
  const model = new RwkvModel(syntheticWeights(small, 7));

  it("gives the same logits (chunked WKV, scan WKV) and the same final state on T = 1024 random tokens", () => {
    const tokens = randomTokens(1024, small.vocabSize, 1);
    const rnn = rnnLogits(model, tokens);
    const chunked = model.forward(tokens, undefined, { wkv: "chunked", chunk: 32 });
    const scan = model.forward(tokens, undefined, { wkv: "scan" });
    expect(maxAbsDiff(rnn.logits, chunked.logits)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(rnn.logits, scan.logits)).toBeLessThanOrEqual(1e-5);
    // the logits are not trivially equal (e.g. all zero): they vary across positions
    expect(
      maxAbsDiff(
        rnn.logits.subarray(0, small.vocabSize),
        rnn.logits.subarray(small.vocabSize, 2 * small.vocabSize),
      ),
    ).toBeGreaterThan(1e-3);
    for (let l = 0; l < small.nLayer; l++) {
      for (const key of ["attX", "ffnX"] as const) {
        expect(maxAbsDiff(rnn.state[l][key], chunked.state[l][key])).toBeLessThanOrEqual(1e-6);
      }
      // the WKV state is (a, b, p) up to a common scale e^p: compare the true accumulators relative to p
      for (let c = 0; c < small.nEmbd; c++) {
        const s1 = rnn.state[l];
        const s2 = chunked.state[l];
        const A1 = s1.a[c],
          B1 = s1.b[c];
        const scale = Math.exp(s2.p[c] - s1.p[c]);
        expect(Math.abs(s2.a[c] * scale - A1)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(A1)));
        expect(Math.abs(s2.b[c] * scale - B1)).toBeLessThanOrEqual(1e-4 * (1 + Math.abs(B1)));
      }
    }
  });

  it("continues from a carried state: forward(a ++ b) == forward(b, state after a)", () => {
    const tokens = randomTokens(70, small.vocabSize, 2);
    const whole = model.forward(tokens);
    const first = model.forward(tokens.slice(0, 33));
    const rest = model.forward(tokens.slice(33), first.state);
    const V = small.vocabSize;
    expect(maxAbsDiff(whole.logits.subarray(33 * V), rest.logits)).toBeLessThanOrEqual(1e-5);
  });

  it("chunk size does not change the answer", () => {
    const tokens = randomTokens(100, small.vocabSize, 3);
    const a = model.forward(tokens, undefined, { chunk: 1 });
    const b = model.forward(tokens, undefined, { chunk: 64 });
    expect(maxAbsDiff(a.logits, b.logits)).toBeLessThanOrEqual(1e-5);
  });

  it("lastOnly returns the last row of the full logits", () => {
    const tokens = randomTokens(20, small.vocabSize, 4);
    const a = model.forward(tokens);
    const b = model.forward(tokens, undefined, { lastOnly: true });
    expect(maxAbsDiff(a.logits.subarray(19 * small.vocabSize), b.logits)).toBe(0);
  });

  it("does not modify the state it is given", () => {
    const s0 = model.forward([1, 2, 3]).state;
    const copy = JSON.stringify(s0.map((s) => Array.from(s.a)));
    model.step(4, s0);
    model.forward([5, 6], s0);
    expect(JSON.stringify(s0.map((s) => Array.from(s.a)))).toBe(copy);
  });

  it("rejects token ids outside the vocabulary with a clear message", () => {
    expect(() => model.step(small.vocabSize)).toThrow(RwkvError);
    expect(() => model.forward([0, -1])).toThrow(/out of range/);
    expect(() => model.forward([])).toThrow(/at least one token/);
  });

  it("trace records every named tensor with the right shapes, and tracing does not change the logits", () => {
    const tokens = randomTokens(9, small.vocabSize, 5);
    const plain = model.forward(tokens);
    const traced = model.forward(tokens, undefined, { trace: true });
    expect(maxAbsDiff(plain.logits, traced.logits)).toBeLessThanOrEqual(1e-5);
    const tr = traced.trace!;
    expect(tr.layers).toHaveLength(small.nLayer);
    const T = 9,
      C = small.nEmbd,
      F = small.ffnSize;
    const l0 = tr.layers[0];
    for (const key of [
      "xr",
      "xk",
      "xv",
      "r",
      "k",
      "v",
      "wkv",
      "a",
      "b",
      "p",
      "att",
      "xAfterAtt",
      "ffnR",
      "ffn",
      "xOut",
    ] as const) {
      expect(l0[key].length, key).toBe(T * C);
    }
    expect(l0.ffnK.length).toBe(T * F);
    expect(l0.ffnAct.length).toBe(T * F);
    expect(l0.decay.length).toBe(C);
    // squared ReLU is never negative and is exactly relu(k')^2
    for (let i = 0; i < T * F; i++) expect(l0.ffnAct[i]).toBeCloseTo(Math.max(l0.ffnK[i], 0) ** 2, 5);
    // wkv is a convex combination of the values seen so far: bounded by their min and max
    for (let c = 0; c < C; c++) {
      let lo = Infinity,
        hi = -Infinity;
      for (let t = 0; t < T; t++) {
        lo = Math.min(lo, l0.v[t * C + c]);
        hi = Math.max(hi, l0.v[t * C + c]);
        const y = l0.wkv[t * C + c];
        expect(y).toBeGreaterThanOrEqual(lo - 1e-5);
        expect(y).toBeLessThanOrEqual(hi + 1e-5);
      }
    }
  });
});
