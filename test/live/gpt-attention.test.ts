/**
 * The JS transformer's softmax attention for chapter 2: the whole prompt at once equals the model's own attention
 * output, and the incremental cache (the page's fallback when onnxruntime-web cannot start) equals the whole
 * forward after every kind of edit, running only the tokens after the first change.
 */
import { describe, expect, it } from "vitest";
import { attentionOf } from "../../src/chapters/attention.js";
import { GptAttentionCache, gptAttention } from "../../src/live/gpt-attention.js";
import { GptModel, gptWeightsFromTensors } from "../../src/transformer/gpt.js";
import { syntheticGptTensors } from "../../src/transformer/synthetic.js";

describe("gptAttention and GptAttentionCache", () => {
  it("gptAttention lays out the model's attention as (layer, head, T, T)", () => {
    const shape = { nLayer: 2, nEmbd: 12, nHead: 3, vocabSize: 12, blockSize: 16 };
    const gpt = new GptModel(gptWeightsFromTensors(syntheticGptTensors(shape, 4), { nHead: 3 }));
    const tokens = [1, 4, 1, 5, 9, 2];
    const att = gptAttention(gpt, tokens, { text: "abcdef", synthetic: true });
    expect([att.T, att.nLayer, att.nHead, att.source, att.text]).toEqual([6, 2, 3, "live", "abcdef"]);
    const direct = gpt.forward(tokens, { attention: true }).attention!;
    for (let l = 0; l < 2; l++)
      for (let h = 0; h < 3; h++)
        expect(Array.from(attentionOf(att, l, h))).toEqual(Array.from(direct[l][h]));
  });

  it("incremental while typing: equal to the full forward after appends, edits and deletions", () => {
    const shape = { nLayer: 2, nEmbd: 12, nHead: 3, vocabSize: 12, blockSize: 32 };
    const gpt = new GptModel(gptWeightsFromTensors(syntheticGptTensors(shape, 5), { nHead: 3 }));
    const cache = new GptAttentionCache(gpt);
    const edits = [
      [1, 2, 3],
      [1, 2, 3, 4, 5], // append: 2 new tokens run
      [1, 2, 7, 4, 5], // change in the middle: from position 2
      [1, 2], // delete: nothing runs
      [1, 2, 7, 4, 5, 6, 8, 9, 10, 11],
    ];
    const runs: number[] = [];
    for (const toks of edits) {
      const before = cache.tokensRun;
      const inc = cache.attention(toks, { text: "", synthetic: true });
      runs.push(cache.tokensRun - before);
      const full = gptAttention(gpt, toks, { text: "", synthetic: true });
      let worst = 0;
      for (let i = 0; i < full.data.length; i++)
        worst = Math.max(worst, Math.abs(inc.data[i] - full.data[i]));
      expect(worst).toBeLessThan(1e-6);
    }
    expect(runs).toEqual([3, 2, 3, 0, 8]);
  });

  it("a failed step leaves a cache that still gives the right attention afterwards", () => {
    const shape = { nLayer: 1, nEmbd: 8, nHead: 2, vocabSize: 12, blockSize: 32 };
    const gpt = new GptModel(gptWeightsFromTensors(syntheticGptTensors(shape, 6), { nHead: 2 }));
    const cache = new GptAttentionCache(gpt);
    cache.attention([1, 2, 3], { text: "", synthetic: true });
    expect(() => cache.attention([1, 2, 3, 4, 99], { text: "", synthetic: true })).toThrow(); // 99: no embedding
    const got = cache.attention([1, 2, 3, 4, 5], { text: "", synthetic: true });
    const want = gptAttention(gpt, [1, 2, 3, 4, 5], { text: "", synthetic: true });
    let worst = 0;
    for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]));
    expect(worst).toBeLessThan(1e-6);
  });
});
