import { describe, expect, it } from "vitest";
import { gptCardFromJson, gptFromCard, syntheticGptCard } from "../../src/live/gpt-source.js";
import { syntheticGptTensors } from "../../src/transformer/synthetic.js";

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
