/**
 * The causal-tracing hooks added to the reference models (src/rwkv/model.ts `BlockHooks`, src/transformer/gpt.ts
 * `GptHooks`): absent or empty they change nothing; `embedding` is the same as editing the embedding matrix;
 * `blockOutput` sees what the trace records; `enter` at block l with block l-1's output reproduces the full run.
 * References: the models without hooks, models built from edited weight copies, and the parallel-mode trace.
 */
import { describe, expect, it } from "vitest";
import { RwkvError, RwkvModel } from "../../../src/rwkv/model.js";
import type { RwkvState } from "../../../src/rwkv/weights.js";
import { GptError, GptModel } from "../../../src/transformer/gpt.js";
import { maxAbsDiff } from "../../rwkv/helpers.js";
import { encode, tinyModels } from "./helpers.js";

const TEXT = "ROMEO:\nBut soft, what light";

describe("RWKV hooks", () => {
  const { rwkv, vocabulary } = tinyModels();
  const tokens = encode(vocabulary, TEXT);
  const { nEmbd: C, nLayer: L } = rwkv.config;

  it("no hooks, empty hooks and identity hooks give bit-identical logits and states", () => {
    let a: RwkvState | undefined;
    let b: RwkvState | undefined;
    for (const tok of tokens) {
      const r1 = rwkv.step(tok, a);
      const r2 = rwkv.step(tok, b, { embedding: () => {}, blockOutput: () => {} });
      expect(r2.logits).toEqual(r1.logits);
      a = r1.state;
      b = r2.state;
    }
    expect(b).toEqual(a);
    const f1 = rwkv.forward(tokens);
    const f2 = rwkv.forward(tokens, undefined, { hooks: { embedding: () => {}, blockOutput: () => {} } });
    expect(f2.logits).toEqual(f1.logits);
  });

  it("`embedding` adding delta equals running with emb[token] + delta in the weights (one occurrence)", () => {
    const pos = TEXT.indexOf("B"); // "B" occurs once
    const tok = tokens[pos];
    const delta = Float32Array.from({ length: C }, (_, c) => 0.05 * Math.sin(c + 1));
    const emb = rwkv.weights.emb.slice();
    for (let c = 0; c < C; c++) emb[tok * C + c] += delta[c];
    const edited = new RwkvModel({ ...rwkv.weights, emb });
    const ref = edited.forward(tokens);
    const hooked = rwkv.forward(tokens, undefined, {
      hooks: {
        embedding: (e) => {
          for (let c = 0; c < C; c++) e[pos * C + c] += delta[c];
        },
      },
    });
    expect(maxAbsDiff(hooked.logits, ref.logits)).toBe(0);
    expect(maxAbsDiff(hooked.logits, rwkv.forward(tokens).logits)).toBeGreaterThan(1e-4);
  });

  it("`blockOutput` sees the residual stream the parallel trace records as xOut", () => {
    const seen: Float32Array[] = [];
    const traced = rwkv.forward(tokens, undefined, { trace: true }); // a trace runs the WKV as a scan
    rwkv.forward(tokens, undefined, { wkv: "scan", hooks: { blockOutput: (l, x) => (seen[l] = x.slice()) } });
    for (let l = 0; l < L; l++) expect(maxAbsDiff(seen[l], traced.trace!.layers[l].xOut)).toBe(0);
  });

  it("`enter` at block l with block l-1's output reproduces the full step, and layer L runs the head only", () => {
    let state: RwkvState | undefined;
    for (const tok of tokens.slice(0, 5)) state = rwkv.step(tok, state).state;
    const tok = tokens[5];
    const h: Float32Array[] = [];
    const full = rwkv.step(tok, state, { blockOutput: (l, x) => (h[l] = x.slice()) });
    for (let l = 1; l <= L; l++) {
      const r = rwkv.step(tok, state, { enter: { layer: l, x: h[l - 1] } });
      expect(maxAbsDiff(r.logits, full.logits)).toBe(0);
      for (let b = l; b < L; b++) expect(r.state[b]).toEqual(full.state[b]);
      for (let b = 0; b < l; b++) expect(r.state[b]).toEqual(state![b]); // skipped blocks: passed through
    }
  });

  it("`enter` in parallel mode matches the full forward", () => {
    const T = tokens.length;
    const h: Float32Array[] = [];
    const full = rwkv.forward(tokens, undefined, { hooks: { blockOutput: (l, x) => (h[l] = x.slice()) } });
    const r = rwkv.forward(tokens, undefined, { hooks: { enter: { layer: 3, x: h[2] } } });
    expect(r.logits.length).toBe(T * rwkv.config.vocabSize);
    expect(maxAbsDiff(r.logits, full.logits)).toBeLessThanOrEqual(1e-6);
  });

  it("rejects a bad `enter` and `enter` with a trace", () => {
    const x = new Float32Array(C);
    expect(() => rwkv.step(0, undefined, { enter: { layer: L + 1, x } })).toThrow(RwkvError);
    expect(() => rwkv.step(0, undefined, { enter: { layer: 1, x: new Float32Array(C + 1) } })).toThrow(
      RwkvError,
    );
    expect(() => rwkv.forward([0], undefined, { trace: true, hooks: { enter: { layer: 1, x } } })).toThrow(
      RwkvError,
    );
  });
});

describe("GPT hooks", () => {
  const { gpt, vocabulary } = tinyModels();
  const tokens = encode(vocabulary, TEXT);
  const { nEmbd: C, nLayer: L } = gpt.config;

  it("empty and identity hooks change nothing, in forward and with the KV cache", () => {
    const f1 = gpt.forward(tokens);
    const f2 = gpt.forward(tokens, { hooks: { embedding: () => {}, blockOutput: () => {} } });
    expect(f2.logits).toEqual(f1.logits);
    const c1 = gpt.newCache();
    const c2 = gpt.newCache();
    for (const tok of tokens) {
      expect(gpt.step(tok, c2, { embedding: () => {}, blockOutput: () => {} })).toEqual(gpt.step(tok, c1));
    }
  });

  it("`embedding` sees wte[token] before the positions: adding delta equals editing wte", () => {
    const pos = TEXT.indexOf("B");
    const tok = tokens[pos];
    const delta = Float32Array.from({ length: C }, (_, c) => 0.05 * Math.cos(c));
    const wte = gpt.weights.wte.slice();
    for (let c = 0; c < C; c++) wte[tok * C + c] += delta[c];
    // keep the head the same array it was (the tiny GPT's head is not tied)
    const edited = new GptModel({ ...gpt.weights, wte, head: gpt.weights.head });
    const ref = edited.forward(tokens);
    const add = (e: Float32Array, row: number) => {
      for (let c = 0; c < C; c++) e[row * C + c] += delta[c];
    };
    const hooked = gpt.forward(tokens, { hooks: { embedding: (e) => add(e, pos) } });
    expect(maxAbsDiff(hooked.logits, ref.logits)).toBe(0);
    const cache = gpt.newCache();
    const refCache = edited.newCache();
    tokens.forEach((t, u) => {
      const got = gpt.step(t, cache, u === pos ? { embedding: (e) => add(e, 0) } : undefined);
      expect(maxAbsDiff(got, edited.step(t, refCache))).toBe(0);
    });
  });

  it("`enter` with the KV cache reproduces the full decode step", () => {
    const cache = gpt.newCache();
    for (const tok of tokens.slice(0, 6)) gpt.step(tok, cache);
    const h: Float32Array[] = [];
    const full = gpt.step(tokens[6], cache, { blockOutput: (l, x) => (h[l] = x.slice()) });
    for (let l = 1; l <= L; l++) {
      cache.length = 6;
      expect(maxAbsDiff(gpt.step(tokens[6], cache, { enter: { layer: l, x: h[l - 1] } }), full)).toBe(0);
    }
  });

  it("`enter` in forward matches the full forward; bad `enter` throws", () => {
    const h: Float32Array[] = [];
    const full = gpt.forward(tokens, { hooks: { blockOutput: (l, x) => (h[l] = x.slice()) } });
    const r = gpt.forward(tokens, { hooks: { enter: { layer: 2, x: h[1] } } });
    expect(maxAbsDiff(r.logits, full.logits)).toBeLessThanOrEqual(1e-6);
    expect(() => gpt.forward([0], { hooks: { enter: { layer: -1, x: new Float32Array(C) } } })).toThrow(
      GptError,
    );
  });
});
