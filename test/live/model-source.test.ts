import { mkdtempSync, copyFileSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readModelFiles } from "../../src/build/build-model.js";
import { cardFromJson, syntheticCard, weightsFromCard } from "../../src/live/model-source.js";
import { TINY_SHAKESPEARE_VOCABULARY, encodePrompt } from "../../src/trace/prompt.js";
import { CharTokenizer } from "../../src/rwkv/tokenizer.js";
import { SHAPES } from "../../src/rwkv/synthetic.js";
import { FIXTURE_DIR, manifest } from "../fixtures/checkpoints/fixtures.js";

describe("model source", () => {
  it("falls back to the labelled synthetic stand-in when data/models lacks the files", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "models-"));
    try {
      const { card, bytes } = readModelFiles("tiny-rwkv", dir);
      expect(card.synthetic).toBe(true);
      expect(bytes).toBeNull();
      expect(weightsFromCard(card, bytes).config).toEqual(SHAPES.tiny);
      expect([...card.vocabulary].length).toBe(SHAPES.tiny.vocabSize);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("loads a trained checkpoint and its card from a models folder", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "models-"));
    try {
      copyFileSync(path.join(FIXTURE_DIR, "blinkdl-f32.safetensors"), path.join(dir, "m.safetensors"));
      const V = manifest.shape.V;
      const vocabulary = Array.from({ length: V }, (_, i) => String.fromCharCode(65 + i)).join("");
      writeFileSync(path.join(dir, "m.json"), JSON.stringify({ name: "m", vocabulary, val_loss: 1.5 }));
      const { card, bytes } = readModelFiles("m", dir);
      expect(card.synthetic).toBe(false);
      expect(card.validationLoss).toBe(1.5);
      expect(weightsFromCard(card, bytes).config).toEqual(manifest.expected.config);
      // a card whose vocabulary does not fit the weights is refused with a clear message
      expect(() => weightsFromCard({ ...card, vocabulary: "ab" }, bytes)).toThrow(/lists 2 characters/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("refuses a card without a vocabulary", () => {
    expect(() => cardFromJson({ name: "x" })).toThrow(/vocabulary/);
    expect(cardFromJson({ synthetic: true }).synthetic).toBe(true);
    expect(syntheticCard().synthetic).toBe(true);
  });

  it("the page's prompt encoding gives the project's CharTokenizer ids for known characters", () => {
    const text = "ROMEO:\nBut soft, what light through yonder window breaks?";
    const tok = new CharTokenizer(TINY_SHAKESPEARE_VOCABULARY);
    expect(encodePrompt(text, TINY_SHAKESPEARE_VOCABULARY).tokens).toEqual(tok.encode(text));
  });
});
