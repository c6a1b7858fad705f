/**
 * src/cli/ort.ts's createOrtModel follows the reference model's calling pattern (the CLI's generate and eval):
 * prompt in parallel mode with last-position logits, then RNN steps; and pieces carrying the state.
 */
import { describe, expect, it } from "vitest";
import { createOrtModel } from "../../src/cli/ort.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { SMALL, maxAbsDiff } from "../onnx/helpers.js";

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

describe("createOrtModel (CLI generate/eval on ORT)", () => {
  it("generate: parallel prompt (last logits) then greedy RNN steps match the reference", async () => {
    const weights = syntheticWeights(SMALL, 9);
    const ref = new RwkvModel(weights);
    const m = createOrtModel(weights);
    try {
      const prompt = [3, 14, 15, 9, 2, 6];
      let o = await m.forward(prompt, undefined, { lastOnly: true });
      let r = ref.forward(prompt, undefined, { lastOnly: true });
      for (let n = 0; n < 6; n++) {
        expect(maxAbsDiff(o.logits, r.logits)).toBeLessThanOrEqual(1e-4);
        const next = argmax(r.logits);
        expect(argmax(o.logits)).toBe(next);
        o = await m.step(next, o.state);
        r = ref.step(next, r.state);
      }
    } finally {
      await m.dispose();
    }
  });

  it("eval: pieces with all logits, state carried from the empty state", async () => {
    const weights = syntheticWeights(SMALL, 10);
    const ref = new RwkvModel(weights);
    const m = createOrtModel(weights);
    try {
      const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
      const a = await m.forward(ids.slice(0, 4), m.initialState());
      const b = await m.forward(ids.slice(4), a.state);
      const r = ref.forward(ids);
      const V = SMALL.vocabSize;
      expect(maxAbsDiff(a.logits, r.logits.subarray(0, 4 * V))).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDiff(b.logits, r.logits.subarray(4 * V))).toBeLessThanOrEqual(1e-4);
    } finally {
      await m.dispose();
    }
  });
});
