import { describe, expect, it } from "vitest";
import {
  GptAttentionCache,
  attentionOf,
  decodeGptAttention,
  decodeSparsity,
  encodeGptAttention,
  encodeSparsity,
  gptAttention,
  sparsitySummary,
  symmetricRange,
} from "../../src/chapters/chapter-data.js";
import { gptCardFromJson, gptFromCard, syntheticGptCard } from "../../src/live/gpt-source.js";
import { viewOfTrace } from "../../src/trace/trace.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { GptModel, gptWeightsFromTensors } from "../../src/transformer/gpt.js";
import { syntheticGptTensors } from "../../src/transformer/synthetic.js";

const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 12, layerNormEps: 1e-5 };
const tokens = [1, 4, 1, 5, 9, 2, 6, 5, 3, 5];

describe("chapter data (JSON written at build time, read by the pages)", () => {
  it("GPT attention: the JSON form decodes to the same weights, and each (layer, head) block is the model's", () => {
    const shape = { nLayer: 2, nEmbd: 12, nHead: 3, vocabSize: 12, blockSize: 16 };
    const gpt = new GptModel(gptWeightsFromTensors(syntheticGptTensors(shape, 4), { nHead: 3 }));
    const att = gptAttention(gpt, tokens, { text: "x", synthetic: true, source: "precomputed" });
    const back = decodeGptAttention(JSON.parse(JSON.stringify(encodeGptAttention(att))));
    expect(Array.from(back.data)).toEqual(Array.from(att.data));
    expect(back.source).toBe("precomputed");
    const direct = gpt.forward(tokens, { attention: true }).attention!;
    expect(Array.from(attentionOf(back, 1, 2))).toEqual(Array.from(direct[1][2]));
    expect(() => attentionOf(back, 2, 0)).toThrow(/layers 0\.\.1/);
    expect(() => attentionOf(back, 0, 3)).toThrow(/heads 0\.\.2/);
    expect(() => decodeGptAttention({ format: "nope" })).toThrow(/gpt-attention\/1/);
  });

  it("GPT attention, incremental while typing: equal to the full forward after appends, edits and deletions", () => {
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

  it("sparsity summary: JSON round trip, histogram over a range symmetric about 0 holding every value", () => {
    const model = new RwkvModel(syntheticWeights(config, 3));
    const trace = model.forward(tokens, undefined, { trace: true }).trace!;
    const view = viewOfTrace(trace, tokens, {
      labels: tokens.map(String),
      text: "t",
      backend: "reference (JS)",
      synthetic: true,
    });
    const s = sparsitySummary(view);
    for (const [l, h] of s.histograms.entries()) {
      expect(h.edges[0]).toBe(-h.edges[h.edges.length - 1]);
      expect(h.edges[h.edges.length / 2 - 0.5]).toBe(0); // 64 bins: edge 32 of 65 is 0
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(tokens.length * config.ffnSize);
      expect(h.nonPositive).toBe(s.layers[l].zeros); // zeros of max(k',0)^2 are exactly k' <= 0
    }
    const back = decodeSparsity(JSON.parse(JSON.stringify(encodeSparsity(s))));
    expect(back.layers.map((l) => [l.zeros, Array.from(l.perToken)])).toEqual(
      s.layers.map((l) => [l.zeros, Array.from(l.perToken)]),
    );
    expect(back.histograms).toEqual(s.histograms);
    expect(symmetricRange([0.2, -1.3])).toEqual([-1.5, 1.5]);
    expect(symmetricRange([])).toEqual([-0.5, 0.5]);
  });
});

describe("GPT model source", () => {
  it("reads n_head and layer_norm_eps from the training script's card and checks the vocabulary", () => {
    const json = {
      name: "tiny-gpt",
      config: { n_layer: 2, n_embd: 12, n_head: 3, layer_norm_eps: 1e-5 },
      vocabulary: "abcdefghijkl",
      results: { validation_windowed: { nats_per_char: 1.6 } },
    };
    const card = gptCardFromJson(json);
    expect([card.nHead, card.layerNormEps, card.validationLoss, card.synthetic]).toEqual([
      3,
      1e-5,
      1.6,
      false,
    ]);
    expect(() => gptCardFromJson({ ...json, config: {} })).toThrow(/n_head/);
    expect(() => gptCardFromJson({ ...json, vocabulary: "" })).toThrow(/vocabulary/);
    expect(gptCardFromJson({ synthetic: true }).synthetic).toBe(true);
    // the weights must match the vocabulary: 12 tokens here
    const tensors = syntheticGptTensors({ nLayer: 2, nEmbd: 12, nHead: 3, vocabSize: 12, blockSize: 8 }, 1);
    const bytes = safetensorsBytes(tensors);
    expect(gptFromCard(card, bytes).config.nLayer).toBe(2);
    expect(() => gptFromCard({ ...card, vocabulary: "abc" }, bytes)).toThrow(/12 tokens/);
    expect(() => gptFromCard(card, null)).toThrow(/missing/);
    expect(gptFromCard(syntheticGptCard(), null).config.vocabSize).toBe(65);
  });
});

/** A minimal F32 safetensors writer (format: 8-byte header length, JSON header, data) for the test above. */
function safetensorsBytes(
  tensors: Map<string, { shape: readonly number[]; data: Float32Array }>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [k, t] of tensors) {
    header[k] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  let o = 8 + json.length;
  for (const t of tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), o);
    o += t.data.byteLength;
  }
  return out;
}
