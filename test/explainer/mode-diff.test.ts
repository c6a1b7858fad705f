import { describe, expect, it } from "vitest";
import {
  argmaxPerPosition,
  maxAbsDiffPerPosition,
  referenceModes,
  runModes,
} from "../../src/components/mode-diff.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

describe("mode comparison (chapter 8)", () => {
  it("maxAbsDiffPerPosition takes the max over the vocabulary, per position, and propagates NaN", () => {
    const a = [1, 2, 3, 4, 5, 6];
    const b = [1, 2.5, 3, 4, 5, 5.75];
    expect(Array.from(maxAbsDiffPerPosition(a, b, 2, 3))).toEqual([0.5, 0.25]);
    expect(Number.isNaN(maxAbsDiffPerPosition([NaN, 0], [0, 0], 1, 2)[0])).toBe(true);
    expect(() => maxAbsDiffPerPosition(a, b, 3, 3)).toThrow(RangeError);
    expect(Array.from(argmaxPerPosition([0, 2, 1, 5, 4, 3], 2, 3))).toEqual([1, 0]);
  });

  it("the reference model's RNN mode and parallel mode agree to 1e-4 at every position", async () => {
    const config = { nLayer: 3, nEmbd: 48, ffnSize: 192, vocabSize: 30, layerNormEps: 1e-5 };
    const model = new RwkvModel(syntheticWeights(config, 9));
    const tokens = Array.from({ length: 70 }, (_, i) => (i * 7 + 3) % 30);
    const runs = await runModes(referenceModes(model), tokens, { repeat: 1 });
    expect(runs.map((r) => r.name)).toEqual(["rnn", "parallel"]);
    const d = maxAbsDiffPerPosition(runs[0].logits, runs[1].logits, tokens.length, 30);
    expect(Math.max(...d)).toBeLessThan(1e-4);
    // and RNN mode's last row is what step() alone gives after the whole prompt (not a shifted row)
    let state = model.initialState();
    let last: Float32Array = new Float32Array(30);
    for (const t of tokens) ({ logits: last, state } = model.step(t, state));
    expect(Array.from(runs[0].logits.subarray(69 * 30))).toEqual(Array.from(last));
  });

  it("times each mode with the median of the repeats, after an untimed warm-up", async () => {
    let clock = 0;
    const durations = [100, 5, 9, 7]; // warm-up (untimed), then three timed runs
    let calls = 0;
    const mode = {
      name: "fake",
      label: "fake",
      backend: "test",
      run: () => {
        clock += durations[calls++];
        return new Float32Array(2);
      },
    };
    const [r] = await runModes([mode], [0], { repeat: 3, now: () => clock });
    expect(calls).toBe(4);
    expect(r.times).toEqual([5, 9, 7]);
    expect(r.ms).toBe(7);
  });
});
