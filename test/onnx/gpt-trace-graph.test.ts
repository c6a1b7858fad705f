/**
 * The GPT's causal-trace step graph (src/onnx/gpt-trace-graph.ts) on ORT (Node, wasm EP, one thread) against the
 * reference model's KV-cache step with hooks (src/transformer/gpt.ts): B runs at the same position with different
 * caches, embeddings (noise added) and restored blocks; logits, this step's keys/values and block outputs to <= 1e-5.
 */
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { GPT_NAMES } from "../../src/onnx/gpt-graph.js";
import { buildGptTraceStepGraph } from "../../src/onnx/gpt-trace-graph.js";
import { TRACE } from "../../src/onnx/names.js";
import { configureNodeOrt } from "../../src/runtime/node.js";
import { GptModel, type KvCache } from "../../src/transformer/gpt.js";
import { tinyModels } from "../chapters/memory/helpers.js";
import { lcg, maxAbsDiff } from "./helpers.js";

const TOL = 1e-5;

describe("GPT trace-step graph vs the reference model with hooks", () => {
  beforeAll(() => configureNodeOrt());

  for (const P of [0, 5]) {
    it(`the shipped tiny GPT at position ${P}: logits, keys/values, block outputs within 1e-5`, async () => {
      const ref: GptModel = tinyModels().gpt;
      const w = ref.weights;
      const { nLayer: L, nEmbd: C, vocabSize: V } = w.config;
      const session = await ort.InferenceSession.create(buildGptTraceStepGraph(w), {
        executionProviders: ["wasm"],
      });
      const rnd = lcg(17 + P);
      const B = 3;
      const caches: KvCache[] = [];
      const tokens: number[] = [];
      for (let b = 0; b < B; b++) {
        const cache = ref.newCache();
        for (let i = 0; i < P; i++) ref.step(Math.floor(rnd() * V), cache);
        caches.push(cache);
        tokens.push(Math.floor(rnd() * V));
      }
      const xEmb = new Float32Array(B * C);
      for (let b = 0; b < B; b++)
        for (let c = 0; c < C; c++)
          xEmb[b * C + c] = w.wte[tokens[b] * C + c] + (b === 1 ? 0 : 0.3 * (rnd() - 0.5));
      const mask = new Float32Array(L * B);
      const restoreX = new Float32Array(L * B * C);
      for (let l = 0; l < L; l++) {
        for (let b = 0; b < B; b++) {
          mask[l * B + b] = (l + b) % 2 === 0 && b !== 1 ? 1 : 0;
          for (let c = 0; c < C; c++) restoreX[(l * B + b) * C + c] = 2 * rnd() - 1;
        }
      }
      const past = (which: "k" | "v") => {
        const d = new Float32Array(L * B * P * C);
        for (let l = 0; l < L; l++)
          for (let b = 0; b < B; b++) d.set(caches[b][which][l].subarray(0, P * C), (l * B + b) * P * C);
        return new ort.Tensor("float32", d, [L, B, P, C]);
      };
      const out = await session.run({
        [TRACE.xEmb]: new ort.Tensor("float32", xEmb, [B, C]),
        [TRACE.position]: new ort.Tensor("int64", BigInt64Array.from([BigInt(P)]), [1]),
        [GPT_NAMES.pastK]: past("k"),
        [GPT_NAMES.pastV]: past("v"),
        [TRACE.restoreMask]: new ort.Tensor("float32", mask, [L, B]),
        [TRACE.restoreX]: new ort.Tensor("float32", restoreX, [L, B, C]),
      });
      const S = P + 1;
      let dl = 0;
      let dkv = 0;
      let dx = 0;
      for (let b = 0; b < B; b++) {
        const blockX: Float32Array[] = [];
        const logits = ref.step(tokens[b], caches[b], {
          embedding: (e) => e.set(xEmb.subarray(b * C, (b + 1) * C)),
          blockOutput: (l, x) => {
            if (mask[l * B + b]) x.set(restoreX.subarray((l * B + b) * C, (l * B + b + 1) * C));
            blockX.push(x.slice());
          },
        });
        dl = Math.max(
          dl,
          maxAbsDiff((out[GPT_NAMES.logits].data as Float32Array).subarray(b * V, (b + 1) * V), logits),
        );
        for (let l = 0; l < L; l++) {
          for (const [name, which] of [
            [TRACE.newK, "k"],
            [TRACE.newV, "v"],
          ] as const) {
            // this step's key and value: row P of the reference cache after its step
            const o = (l * B + b) * C;
            dkv = Math.max(
              dkv,
              maxAbsDiff(
                (out[name].data as Float32Array).subarray(o, o + C),
                caches[b][which][l].subarray(P * C, S * C),
              ),
            );
          }
          const row = (out[TRACE.blockX].data as Float32Array).subarray((l * B + b) * C, (l * B + b + 1) * C);
          dx = Math.max(dx, maxAbsDiff(row, blockX[l]));
        }
      }
      await session.release();
      expect(dl).toBeLessThanOrEqual(TOL);
      expect(dkv).toBeLessThanOrEqual(TOL);
      expect(dx).toBeLessThanOrEqual(TOL);
    });
  }
});
