/** Shared by chapter 9's tests: the shipped tiny models (data/models, committed) and small fakes. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadRwkvCheckpoint } from "../../../src/rwkv/checkpoint/index.js";
import { readSafetensors } from "../../../src/rwkv/checkpoint/safetensors.js";
import { RwkvModel } from "../../../src/rwkv/model.js";
import { GptModel, gptWeightsFromTensors } from "../../../src/transformer/gpt.js";
import type { SequenceModel } from "../../../src/chapters/memory/lm.js";

const MODELS = path.resolve(import.meta.dirname, "../../../data/models");

interface Card {
  vocabulary: string;
  config: { n_head?: number; layer_norm_eps: number };
}

function card(name: string): Card {
  return JSON.parse(readFileSync(path.join(MODELS, `${name}.json`), "utf-8")) as Card;
}

let cached: { rwkv: RwkvModel; gpt: GptModel; vocabulary: string } | undefined;

/** The trained tiny RWKV and GPT (loaded once per test file). */
export function tinyModels(): { rwkv: RwkvModel; gpt: GptModel; vocabulary: string } {
  if (cached) return cached;
  const rc = card("tiny-rwkv");
  const gc = card("tiny-gpt");
  const rwkv = new RwkvModel(
    loadRwkvCheckpoint(new Uint8Array(readFileSync(path.join(MODELS, "tiny-rwkv.safetensors")))).weights,
  );
  const { tensors } = readSafetensors(
    new Uint8Array(readFileSync(path.join(MODELS, "tiny-gpt.safetensors"))),
  );
  const gpt = new GptModel(
    gptWeightsFromTensors(tensors, { nHead: gc.config.n_head!, layerNormEps: gc.config.layer_norm_eps }),
  );
  if (rc.vocabulary !== gc.vocabulary) throw new Error("the two models' vocabularies differ");
  cached = { rwkv, gpt, vocabulary: rc.vocabulary };
  return cached;
}

export function encode(vocabulary: string, text: string): number[] {
  return [...text].map((c) => {
    const id = vocabulary.indexOf(c);
    if (id < 0) throw new Error(`${JSON.stringify(c)} is not in the vocabulary`);
    return id;
  });
}

/**
 * A model that knows nothing: every logit 0, so every loss is exactly ln V. With `cheat`, row i puts a large
 * logit on `cheat(tokens, i)` (an oracle that "knows" the next token).
 */
export function fakeModel(
  V: number,
  maxLength = Infinity,
  cheat?: (tokens: readonly number[], i: number) => number | null,
): SequenceModel & { calls: number[][] } {
  const calls: number[][] = [];
  return {
    label: "fake",
    vocabSize: V,
    maxLength,
    calls,
    logits(tokens) {
      calls.push([...tokens]);
      const out = new Float32Array(tokens.length * V);
      if (cheat) {
        for (let i = 0; i < tokens.length; i++) {
          const id = cheat(tokens, i);
          if (id !== null) out[i * V + id] = 50;
        }
      }
      return out;
    },
  };
}

/** Relative difference |a - b| / max(|a|, |b|, tiny). */
export function relDiff(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), 1e-300);
}
