/**
 * The causal-trace step graph (src/onnx/rwkv-trace-graph.ts) on ORT (Node, wasm EP, one thread) against the
 * reference model's step with hooks (src/rwkv/model.ts, an independent TypeScript implementation): B runs with
 * different states, embeddings (noise added) and restored blocks, logits, states and block outputs to <= 1e-5.
 */
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { LOGITS, STATE_NAMES, TRACE, stateIn, stateOut } from "../../src/onnx/names.js";
import { prepareOnnxWeights } from "../../src/onnx/rwkv-graph.js";
import { buildRwkvTraceStepGraph } from "../../src/onnx/rwkv-trace-graph.js";
import { configureNodeOrt } from "../../src/runtime/node.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvState, RwkvWeights } from "../../src/rwkv/weights.js";
import { tinyModels } from "../chapters/memory/helpers.js";
import { SMALL, lcg, maxAbsDiff } from "./helpers.js";

const TOL = 1e-5;

async function check(
  weights: RwkvWeights,
  seed: number,
): Promise<{ logits: number; state: number; blockX: number }> {
  const ref = new RwkvModel(weights);
  const { nLayer: L, nEmbd: C, vocabSize: V } = weights.config;
  const session = await ort.InferenceSession.create(buildRwkvTraceStepGraph(prepareOnnxWeights(weights)), {
    executionProviders: ["wasm"],
  });
  const rnd = lcg(seed);
  const B = 3;
  // run b: a state reached by a few reference steps, a noisy embedding, and restores at some blocks
  const states: RwkvState[] = [];
  const tokens: number[] = [];
  for (let b = 0; b < B; b++) {
    let s = ref.initialState();
    for (let i = 0; i < 2 + 3 * b; i++) s = ref.step(Math.floor(rnd() * V), s).state;
    states.push(s);
    tokens.push(Math.floor(rnd() * V));
  }
  const xEmb = new Float32Array(B * C);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      xEmb[b * C + c] = weights.emb[tokens[b] * C + c] + (b === 1 ? 0 : rnd() - 0.5);
  const mask = new Float32Array(L * B);
  const restoreX = new Float32Array(L * B * C);
  for (let l = 0; l < L; l++) {
    for (let b = 0; b < B; b++) {
      mask[l * B + b] = (l + b) % 2 === 0 && b !== 1 ? 1 : 0; // run 1: no restore, no noise
      for (let c = 0; c < C; c++) restoreX[(l * B + b) * C + c] = 2 * rnd() - 1;
    }
  }
  const feeds: Record<string, ort.Tensor> = {
    [TRACE.xEmb]: new ort.Tensor("float32", xEmb, [B, C]),
    [TRACE.restoreMask]: new ort.Tensor("float32", mask, [L, B]),
    [TRACE.restoreX]: new ort.Tensor("float32", restoreX, [L, B, C]),
  };
  for (const s of STATE_NAMES) {
    const d = new Float32Array(L * B * C);
    for (let l = 0; l < L; l++) for (let b = 0; b < B; b++) d.set(states[b][l][s], (l * B + b) * C);
    feeds[stateIn(s)] = new ort.Tensor("float32", d, [L, B, C]);
  }
  const out = await session.run(feeds);
  const worst = { logits: 0, state: 0, blockX: 0 };
  for (let b = 0; b < B; b++) {
    const blockX: Float32Array[] = [];
    const r = ref.step(tokens[b], states[b], {
      embedding: (e) => e.set(xEmb.subarray(b * C, (b + 1) * C)),
      blockOutput: (l, x) => {
        if (mask[l * B + b]) x.set(restoreX.subarray((l * B + b) * C, (l * B + b + 1) * C));
        blockX.push(x.slice());
      },
    });
    const logits = (out[LOGITS].data as Float32Array).subarray(b * V, (b + 1) * V);
    worst.logits = Math.max(worst.logits, maxAbsDiff(logits, r.logits));
    for (let l = 0; l < L; l++) {
      const row = (name: string) =>
        (out[name].data as Float32Array).subarray((l * B + b) * C, (l * B + b + 1) * C);
      worst.blockX = Math.max(worst.blockX, maxAbsDiff(row(TRACE.blockX), blockX[l]));
      for (const s of STATE_NAMES)
        worst.state = Math.max(worst.state, maxAbsDiff(row(stateOut(s)), r.state[l][s]));
      // restored blocks give back exactly the restored values
      if (mask[l * B + b])
        expect(Array.from(row(TRACE.blockX))).toEqual(
          Array.from(restoreX.subarray((l * B + b) * C, (l * B + b + 1) * C)),
        );
    }
  }
  await session.release();
  return worst;
}

describe("RWKV trace-step graph vs the reference model with hooks", () => {
  beforeAll(() => configureNodeOrt());

  it("synthetic weights (L=2, C=16, V=23): logits, states, block outputs within 1e-5", async () => {
    const d = await check(syntheticWeights(SMALL, 3), 11);
    expect(d.logits).toBeLessThanOrEqual(TOL);
    expect(d.state).toBeLessThanOrEqual(TOL);
    expect(d.blockX).toBeLessThanOrEqual(TOL);
  });

  it("the shipped tiny RWKV: logits, states, block outputs within 1e-5", async () => {
    const d = await check(tinyModels().rwkv.weights, 5);
    expect(d.logits).toBeLessThanOrEqual(TOL);
    expect(d.state).toBeLessThanOrEqual(TOL);
    expect(d.blockX).toBeLessThanOrEqual(TOL);
  });
});
