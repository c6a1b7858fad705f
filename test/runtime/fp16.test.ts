/**
 * fp16 weight storage (graph option weights: "fp16"): both graphs on the wasm EP equal the reference model run on
 * the same weights rounded to fp16 (rounded here through the checkpoint reader's independent fp16 decoder), and
 * their matrices really are stored as fp16 (half the bytes).
 */
import { describe, expect, it } from "vitest";
import { f32ToF16Bits } from "../../src/onnx/half.js";
import { buildParallelGraph, buildRnnStepGraph, prepareOnnxWeights } from "../../src/onnx/rwkv-graph.js";
import { DataType, decodeModel } from "../../src/onnx/proto.js";
import { createOrtRwkv } from "../../src/runtime/node.js";
import { f16ToF32 } from "../../src/rwkv/checkpoint/dtype.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvWeights } from "../../src/rwkv/weights.js";
import { SMALL, maxAbsDiff } from "../onnx/helpers.js";

/** The weights with every matrix the graph stores in fp16 (the blocks' W* and the head) rounded to fp16. */
function roundedMatrices(w: RwkvWeights): RwkvWeights {
  const r = (a: Float32Array) => Float32Array.from(f32ToF16Bits(a), f16ToF32);
  return {
    ...w,
    head: r(w.head),
    blocks: w.blocks.map((b) => ({
      ...b,
      att: { ...b.att, Wk: r(b.att.Wk), Wv: r(b.att.Wv), Wr: r(b.att.Wr), Wo: r(b.att.Wo) },
      ffn: { ...b.ffn, Wk: r(b.ffn.Wk), Wv: r(b.ffn.Wv), Wr: r(b.ffn.Wr) },
    })),
  };
}

describe("fp16 weights", () => {
  const weights = syntheticWeights(SMALL, 8);
  const tokens = [3, 1, 4, 1, 5, 9, 2, 6];

  it("store every matrix as FLOAT16 and nothing else", () => {
    const ow = prepareOnnxWeights(weights);
    for (const bytes of [
      buildRnnStepGraph(ow, { weights: "fp16" }),
      buildParallelGraph(ow, { weights: "fp16" }),
    ]) {
      const m = decodeModel(bytes);
      const half = m.graph.initializer.filter((t) => t.dataType === DataType.FLOAT16).map((t) => t.name);
      // 4 matrices (stacked k/v/r, output, ffn r, k, v = 5 names) per layer + the head
      expect(half.length).toBe(5 * SMALL.nLayer + 1);
      expect(half.every((n) => n.includes("weight_T"))).toBe(true);
    }
  });

  it("RNN and parallel graphs on wasm equal the reference on fp16-rounded matrices (<= 1e-4)", async () => {
    const ref = new RwkvModel(roundedMatrices(weights)).forward(tokens);
    const exact = new RwkvModel(weights).forward(tokens);
    const m = await createOrtRwkv(weights, { weights: "fp16", chunk: 3 });
    try {
      const par = await m.forward(tokens);
      expect(maxAbsDiff(par.logits, ref.logits)).toBeLessThanOrEqual(1e-4);
      let state = m.initialState();
      const V = SMALL.vocabSize;
      for (let t = 0; t < tokens.length; t++) {
        const r = await m.step(tokens[t], state);
        expect(
          maxAbsDiff(r.logits, ref.logits.subarray(t * V, (t + 1) * V)),
          `step ${t}`,
        ).toBeLessThanOrEqual(1e-4);
        state = r.state;
      }
      // the rounding is real: the fp32 model's logits differ
      expect(maxAbsDiff(par.logits, exact.logits)).toBeGreaterThan(1e-6);
    } finally {
      await m.dispose();
    }
  });
});
