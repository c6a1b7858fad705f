/**
 * Chapter 2's softmax attention from the transformer's ONNX graph (onnxruntime-web, wasm in Node) through the
 * incremental OrtGptAttentionCache equals the JS transformer's own attention (src/transformer/gpt.ts, an
 * independent implementation) after every kind of edit.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gptAttention } from "../../src/live/gpt-attention.js";
import { OrtGptAttentionCache, type GptAttentionRunner } from "../../src/live/gpt-ort-attention.js";
import { createOrtGpt, type GptCache, type OrtGpt } from "../../src/runtime/node.js";
import { GptModel, gptWeightsFromTensors } from "../../src/transformer/gpt.js";
import { syntheticGptTensors } from "../../src/transformer/synthetic.js";

const shape = { nLayer: 2, nEmbd: 12, nHead: 3, vocabSize: 12, blockSize: 16 };
const weights = gptWeightsFromTensors(syntheticGptTensors(shape, 4), { nHead: 3 });

describe("OrtGptAttentionCache (ONNX graph on wasm) equals the JS transformer's attention", () => {
  let ort: OrtGpt;
  let runner: GptAttentionRunner;
  beforeAll(async () => {
    ort = await createOrtGpt(weights, { attention: true });
    let cache: GptCache = ort.newCache();
    runner = {
      ep: ort.ep,
      reset: async () => {
        cache = ort.newCache();
      },
      forward: async (tokens) => {
        const r = await ort.forward(tokens, cache);
        cache = r.cache;
        return r;
      },
    };
  });
  afterAll(() => ort?.dispose());

  it("after appends, a change in the middle, a deletion and typing after it", async () => {
    const js = new GptModel(weights);
    const cache = new OrtGptAttentionCache(runner, shape);
    const edits = [
      { toks: [1, 2, 3], run: 3 },
      { toks: [1, 2, 3, 4, 5], run: 2 }, // append: only the new tokens
      { toks: [1, 2, 7, 4, 5], run: 5 }, // change in the middle: the worker's cache restarts
      { toks: [1, 2], run: 0 }, // delete: nothing runs
      { toks: [1, 2, 9], run: 3 }, // the worker's cache ran ahead of the prompt: restart
      { toks: [1, 2, 9, 10, 11, 0, 6, 8, 9, 10], run: 7 },
    ];
    for (const { toks, run } of edits) {
      const before = cache.stats.tokensRun;
      const got = await cache.attention(toks, { text: "", synthetic: true });
      expect(cache.stats.tokensRun - before, `tokens run for ${toks}`).toBe(run);
      expect(got.backend).toBe("wasm");
      const want = gptAttention(js, toks, { text: "", synthetic: true });
      expect(got.data.length).toBe(want.data.length);
      let worst = 0;
      for (let i = 0; i < want.data.length; i++)
        worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]));
      expect(worst, `attention for ${toks}`).toBeLessThanOrEqual(1e-5);
    }
  });

  it("a forward that fails leaves no stale cache: the next call restarts the runner and is right", async () => {
    // a runner on the JS model's KV cache, in the ONNX graph's output layout (per layer (H, n, P + n))
    const js = new GptModel(weights);
    let kv = js.newCache();
    let failNext = false;
    const fake: GptAttentionRunner = {
      ep: "wasm",
      reset: async () => {
        kv = js.newCache();
      },
      forward: async (tokens) => {
        const n = tokens.length;
        const keys = kv.length + n;
        const out = Array.from({ length: shape.nLayer }, () => new Float32Array(shape.nHead * n * keys));
        for (let i = 0; i < n; i++) {
          if (failNext && i === 1) {
            failNext = false;
            throw new Error("device lost"); // after the cache has grown by one token
          }
          const { attention } = js.stepWithAttention(tokens[i], kv);
          attention.forEach((heads, l) => heads.forEach((row, h) => out[l].set(row, (h * n + i) * keys)));
        }
        return { attention: out };
      },
    };
    const cache = new OrtGptAttentionCache(fake, shape);
    await cache.attention([1, 2, 3], { text: "", synthetic: true });
    failNext = true;
    await expect(cache.attention([1, 2, 3, 4, 5], { text: "", synthetic: true })).rejects.toThrow(
      "device lost",
    );
    const resets = cache.stats.resets;
    const got = await cache.attention([1, 2, 3, 4, 5], { text: "", synthetic: true });
    expect(cache.stats.resets).toBe(resets + 1);
    const want = gptAttention(new GptModel(weights), [1, 2, 3, 4, 5], { text: "", synthetic: true });
    let worst = 0;
    for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]));
    expect(worst).toBeLessThanOrEqual(1e-6);
  });
});
