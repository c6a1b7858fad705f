/**
 * ORT (Node, wasm EP, one thread) runs the ONNX graphs built from weights and matches the reference model
 * src/rwkv/model.ts (an independent TypeScript implementation) to max |diff| <= 1e-4, in both modes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrtRwkv, type OrtRwkv } from "../../src/runtime/node.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { SHAPES, syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvState, RwkvWeights } from "../../src/rwkv/weights.js";
import { SMALL, allFinite, maxAbsDiff, stateDiff, stressWeights } from "./helpers.js";

const TOL = 1e-4;

/** Feed tokens one by one through both implementations; returns the worst logits and state differences. */
async function rnnParity(
  m: OrtRwkv,
  ref: RwkvModel,
  tokens: number[],
  start?: RwkvState,
): Promise<{ logits: number; state: number; finite: boolean }> {
  let s = m.fromRwkvState(start ?? ref.initialState());
  let rs = start ?? ref.initialState();
  let dl = 0;
  let ds = 0;
  let finite = true;
  for (const t of tokens) {
    const o = await m.step(t, s);
    const r = ref.step(t, rs);
    dl = Math.max(dl, maxAbsDiff(o.logits, r.logits));
    finite &&= allFinite(o.logits);
    s = o.state;
    rs = r.state;
    ds = Math.max(ds, stateDiff(await s.read(), rs));
  }
  return { logits: dl, state: ds, finite };
}

function tokensFor(V: number, T: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: T }, () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % V;
  });
}

describe("ORT graphs vs the reference model, small shape (L=2, C=16, V=23)", () => {
  let weights: RwkvWeights;
  let ref: RwkvModel;
  let m: OrtRwkv;
  beforeAll(async () => {
    weights = syntheticWeights(SMALL, 1);
    ref = new RwkvModel(weights);
    m = await createOrtRwkv(weights, { chunk: 5 });
  });
  afterAll(() => m.dispose());

  const tokens = tokensFor(SMALL.vocabSize, 13, 3);

  it("RNN-step graph matches RwkvModel.step (logits and every state vector)", async () => {
    const d = await rnnParity(m, ref, tokens);
    expect(d.logits).toBeLessThanOrEqual(TOL);
    expect(d.state).toBeLessThanOrEqual(TOL);
  });

  it("parallel graph matches RwkvModel.forward: logits (T, V) and final state, 13 tokens in chunks of 5", async () => {
    const o = await m.forward(tokens);
    const r = ref.forward(tokens, undefined, { wkv: "scan" });
    expect(o.logits.length).toBe(tokens.length * SMALL.vocabSize);
    expect(maxAbsDiff(o.logits, r.logits)).toBeLessThanOrEqual(TOL);
    expect(stateDiff(await o.state.read(), r.state)).toBeLessThanOrEqual(TOL);
  });

  it("parallel graph == RNN graph (logits at every position, final state)", async () => {
    const o = await m.forward(tokens);
    let s = m.initialState();
    const V = SMALL.vocabSize;
    let d = 0;
    for (let t = 0; t < tokens.length; t++) {
      const r = await m.step(tokens[t], s);
      d = Math.max(d, maxAbsDiff(o.logits.subarray(t * V, (t + 1) * V), r.logits));
      s = r.state;
    }
    expect(d).toBeLessThanOrEqual(TOL);
    expect(stateDiff(await o.state.read(), await s.read())).toBeLessThanOrEqual(TOL);
  });

  it("continues from a non-empty state (the state inputs carry a prefix exactly)", async () => {
    const prefix = ref.forward(tokens.slice(0, 6), undefined, { wkv: "scan" }).state;
    const rest = tokens.slice(6);
    const o = await m.forward(rest, prefix);
    const r = ref.forward(rest, prefix, { wkv: "scan" });
    expect(maxAbsDiff(o.logits, r.logits)).toBeLessThanOrEqual(TOL);
    expect(stateDiff(await o.state.read(), r.state)).toBeLessThanOrEqual(TOL);
    const d = await rnnParity(m, ref, rest, prefix);
    expect(d.logits).toBeLessThanOrEqual(TOL);
  });

  it("one token through the parallel graph (T = 1) equals one RNN step", async () => {
    const o = await m.forward([4]);
    const r = ref.step(4);
    expect(maxAbsDiff(o.logits, r.logits)).toBeLessThanOrEqual(TOL);
    expect(stateDiff(await o.state.read(), r.state)).toBeLessThanOrEqual(TOL);
  });

  it("initial state is attX = ffnX = a = b = 0, p = -1e38", async () => {
    const s = await m.initialState().read();
    expect(s.length).toBe(SMALL.nLayer);
    for (const l of s) {
      expect([...l.attX, ...l.a, ...l.b, ...l.ffnX].every((x) => x === 0)).toBe(true);
      expect(l.p.every((x) => x === Math.fround(-1e38))).toBe(true);
    }
  });
});

describe("WKV numerics under stress: |k| in the hundreds, decays from -1e-7 to -1e6 and -inf", () => {
  it("both graphs stay finite and match the reference", async () => {
    const weights = stressWeights();
    const ref = new RwkvModel(weights);
    // the stress really is stressful: some keys are far past fp32's exp overflow at 88.7
    const k = ref.forward([1, 2, 3], undefined, { wkv: "scan", trace: true }).trace!.layers[0].k;
    expect(Math.max(...k.map(Math.abs))).toBeGreaterThan(150);
    const m = await createOrtRwkv(weights, { chunk: 8 });
    try {
      const tokens = tokensFor(SMALL.vocabSize, 20, 11);
      const d = await rnnParity(m, ref, tokens);
      expect(d.finite).toBe(true);
      expect(d.logits).toBeLessThanOrEqual(TOL);
      const o = await m.forward(tokens);
      const r = ref.forward(tokens, undefined, { wkv: "scan" });
      expect(allFinite(o.logits)).toBe(true);
      expect(maxAbsDiff(o.logits, r.logits)).toBeLessThanOrEqual(TOL);
      // states: compare the normalised accumulators a, b and p (p may be huge; compare it relatively)
      const os = await o.state.read();
      for (let l = 0; l < os.length; l++) {
        expect(maxAbsDiff(os[l].a, r.state[l].a)).toBeLessThanOrEqual(TOL);
        expect(maxAbsDiff(os[l].b, r.state[l].b)).toBeLessThanOrEqual(TOL);
        for (let c = 0; c < os[l].p.length; c++) {
          expect(Math.abs(os[l].p[c] - r.state[l].p[c])).toBeLessThanOrEqual(
            TOL * Math.max(1, Math.abs(r.state[l].p[c])),
          );
        }
      }
    } finally {
      await m.dispose();
    }
  });
});

describe("ORT graphs vs the reference model, the tiny model's shape (4 x 256, V = 65)", () => {
  it("RNN and parallel (64 tokens, one chunk and chunks of 24) match to 1e-4", async () => {
    const weights = syntheticWeights(SHAPES.tiny, 2);
    const ref = new RwkvModel(weights);
    const tokens = tokensFor(SHAPES.tiny.vocabSize, 64, 5);
    const r = ref.forward(tokens, undefined, { wkv: "scan" });
    for (const chunk of [64, 24]) {
      const m = await createOrtRwkv(weights, { chunk, mode: "parallel" });
      const o = await m.forward(tokens);
      expect(maxAbsDiff(o.logits, r.logits)).toBeLessThanOrEqual(TOL);
      expect(stateDiff(await o.state.read(), r.state)).toBeLessThanOrEqual(TOL);
      await m.dispose();
    }
    const m = await createOrtRwkv(weights, { mode: "rnn" });
    const d = await rnnParity(m, ref, tokens.slice(0, 16));
    expect(d.logits).toBeLessThanOrEqual(TOL);
    expect(d.state).toBeLessThanOrEqual(TOL);
    await m.dispose();
  });
});
