/**
 * The transformer baseline's model source (chapter 2): model card + safetensors bytes -> GptModel, or the
 * synthetic stand-in while data/models/tiny-gpt.* is absent. DOM-free: the build-time loaders (Node) and the
 * pages use the same function, so precomputed and live attention come from the same weights.
 *
 * API:
 *   GPT_MODEL_NAME                         "tiny-gpt": data/models/tiny-gpt.{safetensors,json}
 *   interface GptCard {name, synthetic, vocabulary, nHead, layerNormEps, validationLoss?, raw?}
 *   gptCardFromJson(json) -> GptCard      reads the training script's card (config.n_head, config.layer_norm_eps)
 *   syntheticGptCard()                     the card served while the trained model is absent
 *   gptFromCard(card, bytes) -> GptModel  the trained weights, or syntheticGptTensors(TINY_GPT_SHAPE, 0)
 *   gptLabel(card)                         "tiny-gpt (trained)" / "synthetic GPT (untrained)"
 */
import { readSafetensors } from "../rwkv/checkpoint/safetensors.js";
import { GptModel, gptWeightsFromTensors } from "../transformer/gpt.js";
import { TINY_GPT_SHAPE, syntheticGptTensors } from "../transformer/synthetic.js";
import { ModelSourceError } from "./model-source.js";
import { TINY_SHAKESPEARE_VOCABULARY } from "../trace/prompt.js";

export const GPT_MODEL_NAME = "tiny-gpt";

export interface GptCard {
  name: string;
  synthetic: boolean;
  vocabulary: string;
  nHead: number;
  layerNormEps: number;
  validationLoss?: number;
  raw?: Record<string, unknown>;
}

export function syntheticGptCard(): GptCard {
  return {
    name: "synthetic GPT stand-in (untrained, seed 0)",
    synthetic: true,
    vocabulary: TINY_SHAKESPEARE_VOCABULARY,
    nHead: TINY_GPT_SHAPE.nHead,
    layerNormEps: 1e-5,
  };
}

export function gptCardFromJson(json: unknown): GptCard {
  if (!json || typeof json !== "object")
    throw new ModelSourceError("the GPT model card is not a JSON object");
  const raw = json as Record<string, unknown>;
  if (raw.synthetic === true) return syntheticGptCard();
  const config = raw.config as Record<string, unknown> | undefined;
  const nHead = config?.n_head;
  if (typeof nHead !== "number" || !Number.isInteger(nHead) || nHead < 1) {
    throw new ModelSourceError("the GPT model card has no config.n_head (the number of attention heads)");
  }
  if (typeof raw.vocabulary !== "string" || raw.vocabulary.length === 0) {
    throw new ModelSourceError("the GPT model card has no `vocabulary` string");
  }
  const eps = typeof config?.layer_norm_eps === "number" ? config.layer_norm_eps : 1e-5;
  const card: GptCard = {
    name: String(raw.name ?? GPT_MODEL_NAME),
    synthetic: false,
    vocabulary: raw.vocabulary,
    nHead,
    layerNormEps: eps,
    raw,
  };
  const results = raw.results as Record<string, unknown> | undefined;
  // validation loss the same way for both models: consecutive windows of ctx_len read from a fresh state
  const val = results?.validation_windowed as Record<string, unknown> | undefined;
  if (val && typeof val.nats_per_char === "number") card.validationLoss = val.nats_per_char;
  return card;
}

export function gptFromCard(card: GptCard, bytes: Uint8Array | null): GptModel {
  if (card.synthetic) {
    return new GptModel(
      gptWeightsFromTensors(syntheticGptTensors(TINY_GPT_SHAPE, 0), { nHead: TINY_GPT_SHAPE.nHead }),
    );
  }
  if (!bytes || bytes.length === 0) throw new ModelSourceError(`the weights of ${card.name} are missing`);
  const { tensors } = readSafetensors(bytes);
  const model = new GptModel(
    gptWeightsFromTensors(tensors, { nHead: card.nHead, layerNormEps: card.layerNormEps }),
  );
  if (model.config.vocabSize !== [...card.vocabulary].length) {
    throw new ModelSourceError(
      `${card.name}: the weights have ${model.config.vocabSize} tokens but the card's vocabulary ${[...card.vocabulary].length}`,
    );
  }
  return model;
}

export function gptLabel(card: GptCard): string {
  return card.synthetic ? "synthetic GPT (untrained)" : `${card.name} (trained)`;
}
