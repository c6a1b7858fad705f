/**
 * The runtime's contract in Node (wasm EP): typed errors for bad input, serialised calls, probes that equal
 * the reference model's trace, and state objects that do not alias.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROBE_FIELD, PROBE_NAMES, X0, probeOut } from "../../src/onnx/names.js";
import {
  OrtRwkvError,
  PromptTooLongError,
  TokenOutOfRangeError,
  createOrtRwkv,
  type OrtRwkv,
  type OrtState,
} from "../../src/runtime/node.js";
import { RwkvModel, type Trace } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvWeights } from "../../src/rwkv/weights.js";
import { SMALL, maxAbsDiff } from "../onnx/helpers.js";

describe("runtime errors and contract (Node, wasm)", () => {
  let weights: RwkvWeights;
  let m: OrtRwkv;
  beforeAll(async () => {
    weights = syntheticWeights(SMALL, 3);
    m = await createOrtRwkv(weights, { maxTokens: 8, chunk: 3 });
  });
  afterAll(() => m.dispose());

  it("reports the wasm EP", () => {
    expect(m.ep).toBe("wasm");
  });

  it("token ids out of range -> TokenOutOfRangeError (both modes), and the model keeps working", async () => {
    for (const bad of [-1, SMALL.vocabSize, 2.5, NaN]) {
      await expect(m.step(bad)).rejects.toBeInstanceOf(TokenOutOfRangeError);
      await expect(m.forward([1, bad])).rejects.toBeInstanceOf(TokenOutOfRangeError);
    }
    const ok = await m.step(SMALL.vocabSize - 1);
    expect(ok.logits.length).toBe(SMALL.vocabSize);
  });

  it("too long and empty prompts -> typed errors", async () => {
    await expect(m.forward(new Array(9).fill(1))).rejects.toBeInstanceOf(PromptTooLongError);
    await expect(m.forward([])).rejects.toMatchObject({ code: "empty-prompt" });
  });

  it("a state of the wrong shape -> bad-state error", async () => {
    const wrong = new RwkvModel(syntheticWeights({ ...SMALL, nEmbd: 8, ffnSize: 32 }, 1)).initialState();
    await expect(m.step(1, wrong)).rejects.toMatchObject({ code: "bad-state" });
  });

  it("concurrent calls are serialised and give the same results as sequential ones", async () => {
    const seq: Float32Array[] = [];
    for (const t of [1, 2, 3, 4]) seq.push((await m.step(t)).logits);
    const par = await Promise.all([1, 2, 3, 4].map((t) => m.step(t)));
    par.forEach((r, i) => expect(maxAbsDiff(r.logits, seq[i])).toBe(0));
  });

  it("after dispose, calls fail with a 'disposed' error", async () => {
    const m2 = await createOrtRwkv(weights, { mode: "rnn" });
    await m2.dispose();
    await expect(m2.step(1)).rejects.toBeInstanceOf(OrtRwkvError);
    await expect(m2.step(1)).rejects.toMatchObject({ code: "disposed" });
  });
});

describe("introspection outputs (probes) equal the reference model's trace", () => {
  // every probe with a trace field, x0, and the per-token WKV state (a_t, b_t, p_t), against the reference
  // model's trace (src/rwkv/model.ts, its own scan); the state probes of the parallel graph are a separate
  // parallel computation, so this checks them against the recurrence
  const tokens = [3, 1, 4, 1, 5, 9, 2];
  const check = (probes: Record<string, Float32Array>, tr: Trace, from: number, n: number) => {
    const C = SMALL.nEmbd;
    expect(maxAbsDiff(probes[X0], tr.x0.subarray(from * C, (from + n) * C)), X0).toBeLessThanOrEqual(1e-5);
    for (let l = 0; l < SMALL.nLayer; l++) {
      for (const p of PROBE_NAMES) {
        const got = probes[probeOut(l, p)];
        expect(got, probeOut(l, p)).toBeDefined();
        const field = PROBE_FIELD[p];
        if (!field) continue;
        const width = got.length / n;
        const want = tr.layers[l][field].subarray(from * width, (from + n) * width);
        expect(got.length, probeOut(l, p)).toBe(want.length);
        expect(maxAbsDiff(got, want), probeOut(l, p)).toBeLessThanOrEqual(1e-4);
      }
    }
  };

  it("parallel graph: all layers, 7 tokens in chunks of 3, from the initial state and from a later one", async () => {
    const weights = syntheticWeights(SMALL, 4);
    const tr = new RwkvModel(weights).forward(tokens, undefined, { trace: true }).trace!;
    const m = await createOrtRwkv(weights, { mode: "parallel", probes: true, chunk: 3 });
    try {
      const o = await m.forward(tokens);
      check(o.probes!, tr, 0, tokens.length);
      // the last token's state probes are the graph's final state
      const s = await o.state.read();
      const C = SMALL.nEmbd;
      for (let l = 0; l < SMALL.nLayer; l++) {
        expect(maxAbsDiff(o.probes![probeOut(l, "att_p")].subarray(6 * C), s[l].p)).toBeLessThanOrEqual(1e-6);
      }
      // tokens 4.. from the reference state after token 3 (how the explainer extends a trace)
      const head = new RwkvModel(weights).forward(tokens.slice(0, 4));
      const rest = await m.forward(tokens.slice(4), head.state);
      check(rest.probes!, tr, 4, 3);
    } finally {
      await m.dispose();
    }
  });

  it("RNN-step graph: every step's probes, the state ones equal to the step's new state", async () => {
    const weights = syntheticWeights(SMALL, 4);
    const tr = new RwkvModel(weights).forward(tokens, undefined, { trace: true }).trace!;
    const m = await createOrtRwkv(weights, { mode: "rnn", probes: true });
    try {
      let state: OrtState | undefined;
      for (let t = 0; t < tokens.length; t++) {
        const o = await m.step(tokens[t], state);
        check(o.probes!, tr, t, 1);
        state = o.state;
      }
    } finally {
      await m.dispose();
    }
  });
});

describe("steps(): RNN mode over a sequence", () => {
  it("gives the reference model's last logits and final state, from a given state too; empty -> typed error", async () => {
    const weights = syntheticWeights(SMALL, 6);
    const tokens = [4, 8, 15, 16, 2, 19];
    const ref = new RwkvModel(weights);
    const m = await createOrtRwkv(weights, { mode: "rnn" });
    try {
      const r = await m.steps(tokens);
      const want = ref.forward(tokens, undefined, { lastOnly: true });
      expect(r.logits.length).toBe(SMALL.vocabSize);
      expect(maxAbsDiff(r.logits, want.logits)).toBeLessThanOrEqual(1e-4);
      const s = await r.state.read();
      for (let l = 0; l < SMALL.nLayer; l++)
        for (const k of ["attX", "a", "b", "p", "ffnX"] as const)
          expect(maxAbsDiff(s[l][k], want.state[l][k]), `${k}[${l}]`).toBeLessThanOrEqual(1e-4);
      // the last two tokens from the state after the first four
      const head = ref.forward(tokens.slice(0, 4));
      const tail = await m.steps(tokens.slice(4), head.state);
      expect(maxAbsDiff(tail.logits, want.logits)).toBeLessThanOrEqual(1e-4);
      await expect(m.steps([])).rejects.toMatchObject({ code: "empty-prompt" });
      await expect(m.steps([1, SMALL.vocabSize])).rejects.toBeInstanceOf(TokenOutOfRangeError);
    } finally {
      await m.dispose();
    }
  });
});

describe("parallel graph with last-position logits (prompt ingestion)", () => {
  it("returns the last row of the all-positions logits and the same state, across chunks", async () => {
    const weights = syntheticWeights(SMALL, 5);
    const tokens = [2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4];
    const all = await createOrtRwkv(weights, { mode: "parallel", chunk: 4 });
    const last = await createOrtRwkv(weights, { mode: "parallel", chunk: 4, parallelLogits: "last" });
    const a = await all.forward(tokens);
    const b = await last.forward(tokens);
    const V = SMALL.vocabSize;
    expect(b.logits.length).toBe(V);
    expect(maxAbsDiff(b.logits, a.logits.subarray((tokens.length - 1) * V))).toBeLessThanOrEqual(1e-6);
    const sa = await a.state.read();
    const sb = await b.state.read();
    for (let l = 0; l < SMALL.nLayer; l++) expect(maxAbsDiff(sa[l].p, sb[l].p)).toBe(0);
    // and the reference model's last-position logits
    const r = new RwkvModel(weights).forward(tokens, undefined, { lastOnly: true });
    expect(maxAbsDiff(b.logits, r.logits)).toBeLessThanOrEqual(1e-4);
    await all.dispose();
    await last.dispose();
  });
});

describe("graph capture asked for where it cannot run (wasm EP in Node)", () => {
  it("falls back to the plain sessions with the reason, and the results equal the reference model's", async () => {
    const w = syntheticWeights(SMALL, 5);
    const m = await createOrtRwkv(w, { graphCapture: "both", chunk: 3 });
    try {
      expect(m.graphCapture).toBe(false);
      expect(m.graphCaptureParallel).toBe(false);
      expect(m.graphCaptureFallback).toMatch(/WebGPU/);
      const toks = [3, 1, 4, 1, 5, 9, 2];
      const ref = new RwkvModel(w).forward(toks);
      const par = await m.forward(toks);
      expect(maxAbsDiff(par.logits, ref.logits)).toBeLessThanOrEqual(1e-4);
      let state = m.initialState();
      for (let t = 0; t < toks.length; t++) {
        const r = await m.step(toks[t], state);
        const V = SMALL.vocabSize;
        expect(maxAbsDiff(r.logits, ref.logits.subarray(t * V, (t + 1) * V))).toBeLessThanOrEqual(1e-4);
        state = r.state;
      }
    } finally {
      await m.dispose();
    }
  });

  it("without the option there is no fallback reason", async () => {
    const m = await createOrtRwkv(syntheticWeights(SMALL, 5), { mode: "rnn" });
    expect(m.graphCapture).toBe(false);
    expect(m.graphCaptureFallback).toBeUndefined();
    await m.dispose();
  });
});
