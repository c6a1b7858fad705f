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

/**
 * IEEE 754 binary16 rounding, round-to-nearest-even, from its definition: 10 fraction bits, exponent >= -14
 * (below that, subnormals with a fixed step of 2^-24), largest finite 65504, and anything at or past
 * 65520 (halfway to 2^16) rounds to infinity. All steps are exact in float64 (powers of two).
 */
function roundToF16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const ax = Math.abs(x);
  let e = Math.floor(Math.log2(ax));
  if (2 ** e > ax) e--;
  if (2 ** (e + 1) <= ax) e++;
  const step = 2 ** (Math.max(e, -14) - 10);
  const q = ax / step;
  let n = Math.floor(q);
  const frac = q - n;
  if (frac > 0.5 || (frac === 0.5 && n % 2 === 1)) n++;
  const out = n * step;
  return Math.sign(x) * (out > 65504 ? Infinity : out);
}

describe("roundToF16 (this test's independent fp16 rounding)", () => {
  it("agrees with the graph builder's encoder and the checkpoint reader's decoder on 20,000 values", () => {
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const xs = new Float32Array(20000);
    for (let i = 0; i < xs.length; i++) xs[i] = (rand() - 0.5) * 2 ** (Math.floor(rand() * 44) - 28);
    xs.set([65504, 65519.996, 65520, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11], 0);
    const viaEncoder = Float32Array.from(f32ToF16Bits(xs), f16ToF32);
    let mismatches = 0;
    xs.forEach((x, i) => {
      if (!Object.is(Math.fround(roundToF16(x)), viaEncoder[i])) mismatches++;
    });
    expect(mismatches).toBe(0);
  });
});

/** The weights with every matrix the graph stores in fp16 (the blocks' W* and the head) rounded to fp16. */
function roundedMatrices(w: RwkvWeights): RwkvWeights {
  // rounded to fp16 by the arithmetic below, not by the encoder the graph builder uses (src/onnx/half.ts)
  const r = (a: Float32Array) => Float32Array.from(a, roundToF16);
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
