import { describe, expect, it } from "vitest";
import {
  argmaxPerPosition,
  maxAbsDiffPerPosition,
  referenceModes,
  runModes,
  runtimeModes,
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

describe("runtime modes (the ONNX graphs' slot)", () => {
  it("drive a stateful runtime: reset, then step per token (RNN) or one forward (parallel)", async () => {
    const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 10, layerNormEps: 1e-5 };
    const model = new RwkvModel(syntheticWeights(config, 4));
    // a fake runtime backed by the reference model, recording its calls
    const calls: string[] = [];
    let state = model.initialState();
    const rt = {
      ep: "wasm",
      reset: async () => {
        calls.push("reset");
        state = model.initialState();
      },
      step: async (t: number) => {
        calls.push("step");
        const r = model.step(t, state);
        state = r.state;
        return { logits: r.logits };
      },
      forward: async (tokens: ArrayLike<number>) => {
        calls.push("forward");
        const r = model.forward(Array.from(tokens), state);
        state = r.state;
        return { logits: r.logits };
      },
    };
    const tokens = [1, 2, 3, 4, 5];
    const runs = await runModes(runtimeModes(rt, 10), tokens, { repeat: 1, warmup: false });
    expect(calls).toEqual(["reset", "step", "step", "step", "step", "step", "reset", "forward"]);
    expect(runs.map((r) => r.backend)).toEqual(["onnxruntime-web (wasm)", "onnxruntime-web (wasm)"]);
    expect(Math.max(...maxAbsDiffPerPosition(runs[0].logits, runs[1].logits, 5, 10))).toBeLessThan(1e-4);
    // a parallel graph that returns only the last row is refused with a clear message
    const lastOnly = { ...rt, forward: async () => ({ logits: new Float32Array(10) }) };
    await expect(runtimeModes(lastOnly, 10)[1].run(tokens)).rejects.toThrow(/parallelLogits "all"/);
  });
});
