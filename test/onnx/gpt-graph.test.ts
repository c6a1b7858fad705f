/**
 * The transformer baseline's ONNX graph on ORT (Node, wasm) matches the reference GptModel (src/transformer/gpt.ts):
 * full-prompt logits and attention weights, and KV-cache decoding token by token, to 1e-4.
 */
import { describe, expect, it } from "vitest";
import { decodeModel } from "../../src/onnx/proto.js";
import { buildGptGraph } from "../../src/onnx/gpt-graph.js";
import { PromptTooLongError, TokenOutOfRangeError, createOrtGpt } from "../../src/runtime/node.js";
import { GptModel, gptWeightsFromTensors, type GeluKind } from "../../src/transformer/gpt.js";
import { syntheticGptTensors } from "../../src/transformer/synthetic.js";
import { maxAbsDiff } from "./helpers.js";

const SHAPE = { nLayer: 2, nEmbd: 24, nHead: 3, vocabSize: 19, blockSize: 16 };

function weights(gelu: GeluKind, bias = true) {
  return gptWeightsFromTensors(syntheticGptTensors({ ...SHAPE, bias }, 4), { nHead: SHAPE.nHead, gelu });
}

describe("transformer baseline graph (KV cache) vs GptModel", () => {
  it("uses opset 17 standard operators only, no Loop/Scan/Shape", () => {
    const m = decodeModel(buildGptGraph(weights("erf")));
    expect(m.opsetImport).toEqual([{ domain: "", version: 17 }]);
    const ops = new Set(m.graph.node.map((n) => n.opType));
    for (const banned of ["Loop", "Scan", "If", "Shape"]) expect(ops.has(banned)).toBe(false);
  });

  for (const gelu of ["erf", "tanh"] as const) {
    it(`prompt logits and attention weights (GELU ${gelu})`, async () => {
      const w = weights(gelu);
      const ref = new GptModel(w).forward([3, 1, 4, 1, 5, 9, 2], { attention: true });
      const m = await createOrtGpt(w, { attention: true });
      const o = await m.forward([3, 1, 4, 1, 5, 9, 2]);
      await m.dispose();
      expect(maxAbsDiff(o.logits, ref.logits)).toBeLessThanOrEqual(1e-4);
      const T = 7;
      for (let l = 0; l < SHAPE.nLayer; l++) {
        for (let h = 0; h < SHAPE.nHead; h++) {
          const mine = o.attention![l].subarray(h * T * T, (h + 1) * T * T);
          expect(maxAbsDiff(mine, ref.attention![l][h])).toBeLessThanOrEqual(1e-5);
        }
      }
    });
  }

  it("decoding with the KV cache: prompt, then one token at a time, equals the reference step", async () => {
    const w = weights("erf", false);
    const ref = new GptModel(w);
    const cache = ref.newCache();
    const m = await createOrtGpt(w);
    const prompt = [2, 7, 1, 8];
    let o = await m.forward(prompt);
    let refLogits: Float32Array = new Float32Array(0);
    for (const t of prompt) refLogits = ref.step(t, cache);
    const V = SHAPE.vocabSize;
    expect(maxAbsDiff(o.logits.subarray(3 * V), refLogits)).toBeLessThanOrEqual(1e-4);
    for (const t of [2, 8, 1, 8, 2]) {
      o = await m.step(t, o.cache);
      expect(maxAbsDiff(o.logits, ref.step(t, cache))).toBeLessThanOrEqual(1e-4);
    }
    expect(o.cache.length).toBe(9);
    expect(o.cache.k.dims).toEqual([SHAPE.nLayer, 9, SHAPE.nEmbd]);
    await expect(m.step(SHAPE.vocabSize, o.cache)).rejects.toBeInstanceOf(TokenOutOfRangeError);
    await expect(m.forward(new Array(8).fill(1), o.cache)).rejects.toBeInstanceOf(PromptTooLongError);
    await m.dispose();
  });
});
