/**
 * Parity with the training script (data/train/train.py): the PyTorch GPT's logits on a validation snippet
 * (data/models/tiny-gpt.parity.json, fp16 weights upcast to fp32, CPU, eval mode) reproduced by our TypeScript
 * forward to <= 1e-4, both as a full sequence and token by token with the KV cache. The files are committed: under
 * CI=true a missing one fails (test/helpers/fixtures.ts).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { gptCardFromJson, gptFromCard } from "../../src/live/gpt-source.js";
import { committedFixtures } from "../helpers/fixtures.js";

const models = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../data/models");
const files = ["tiny-gpt.safetensors", "tiny-gpt.json", "tiny-gpt.parity.json"].map((f) =>
  path.join(models, f),
);
const gate = committedFixtures("GPT parity", files);

describe.runIf(gate.run)("tiny-gpt parity with PyTorch", () => {
  it("has its committed fixtures", gate.check);

  // read lazily: the describe body runs even when the files are absent and the tests are skipped
  const load = () => {
    const card = gptCardFromJson(JSON.parse(readFileSync(files[1], "utf-8")));
    const model = gptFromCard(card, new Uint8Array(readFileSync(files[0])));
    const fixture = JSON.parse(readFileSync(files[2], "utf-8")) as {
      tokens: number[];
      logits: number[][];
      snippet: string;
    };
    return { card, model, fixture, V: model.config.vocabSize };
  };

  it("the fixture is for this model and vocabulary", () => {
    const { card, fixture, V } = load();
    expect(fixture.tokens.length).toBeGreaterThan(8);
    expect(fixture.logits).toHaveLength(fixture.tokens.length);
    expect(fixture.logits[0]).toHaveLength(V);
    expect(fixture.tokens).toEqual([...fixture.snippet].map((ch) => card.vocabulary.indexOf(ch)));
  });

  it("full-sequence logits match PyTorch to <= 1e-4", () => {
    const { model, fixture, V } = load();
    const { logits } = model.forward(fixture.tokens);
    let worst = 0;
    fixture.logits.forEach((row, t) =>
      row.forEach((x, v) => (worst = Math.max(worst, Math.abs(x - logits[t * V + v])))),
    );
    console.log(
      `GPT parity (full sequence, ${fixture.tokens.length} positions): max |diff| = ${worst.toExponential(2)}`,
    );
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it("KV-cache decode logits match PyTorch to <= 1e-4", () => {
    const { model, fixture } = load();
    const cache = model.newCache();
    let worst = 0;
    fixture.tokens.forEach((tok, t) => {
      const row = model.step(tok, cache);
      fixture.logits[t].forEach((x, v) => (worst = Math.max(worst, Math.abs(x - row[v]))));
    });
    console.log(`GPT parity (KV cache): max |diff| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});
