/**
 * The TypeScript GPT against an independent implementation: the training script's own PyTorch GPT
 * (data/train/models.py, run by data/fixtures/gpt_synthetic_fixture.py with PyTorch 2.11 on CPU, where attention is
 * F.scaled_dot_product_attention) with seeded random weights, including biases and LayerNorm parameters. The
 * weights and the logits are in test/fixtures/gpt/ (F32, so no rounding between the two).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { readSafetensors } from "../../src/rwkv/checkpoint/safetensors.js";
import { GptModel, gptWeightsFromTensors } from "../../src/transformer/gpt.js";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../fixtures/gpt");
const fixture = JSON.parse(readFileSync(path.join(dir, "gpt-synthetic.json"), "utf-8")) as {
  config: { n_head: number; layer_norm_eps: number; n_layer: number; n_embd: number; ctx_len: number };
  tokens: number[];
  logits: number[][];
  torch_version: string;
};
const { tensors } = readSafetensors(
  new Uint8Array(readFileSync(path.join(dir, "gpt-synthetic.safetensors"))),
);
const model = new GptModel(
  gptWeightsFromTensors(tensors, {
    nHead: fixture.config.n_head,
    layerNormEps: fixture.config.layer_norm_eps,
  }),
);
const V = model.config.vocabSize;

describe(`GPT forward vs PyTorch ${fixture.torch_version} (data/train/models.py)`, () => {
  it("infers the same config from the tensors", () => {
    expect([model.config.nLayer, model.config.nEmbd, model.config.blockSize, model.config.ffnSize]).toEqual([
      fixture.config.n_layer,
      fixture.config.n_embd,
      fixture.config.ctx_len,
      128,
    ]);
  });

  it("full-sequence logits equal PyTorch's to <= 1e-4 (24 positions x 65 logits)", () => {
    const { logits } = model.forward(fixture.tokens);
    let worst = 0;
    let scale = 0;
    fixture.logits.forEach((row, t) =>
      row.forEach((x, v) => {
        worst = Math.max(worst, Math.abs(x - logits[t * V + v]));
        scale = Math.max(scale, Math.abs(x));
      }),
    );
    console.log(`GPT vs PyTorch: max |diff| ${worst.toExponential(2)} for logits up to ${scale.toFixed(2)}`);
    expect(scale).toBeGreaterThan(1); // a non-trivial comparison
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it("KV-cache decode equals PyTorch's logits to <= 1e-4", () => {
    const cache = model.newCache();
    let worst = 0;
    fixture.tokens.forEach((tok, t) => {
      const row = model.step(tok, cache);
      fixture.logits[t].forEach((x, v) => (worst = Math.max(worst, Math.abs(x - row[v]))));
    });
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});
