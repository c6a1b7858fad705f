/**
 * Which weights the explainer runs, and how a model card and checkpoint bytes become RwkvWeights. DOM-free:
 * the build-time loaders (Node) and the pages (browser) both use it, so precomputed and live numbers come from
 * the same weights.
 *
 * API:
 *   MODEL_NAME                   "tiny-rwkv": data/models/tiny-rwkv.{safetensors,json}, served by the loaders
 *                                src/data/tiny-rwkv.safetensors.ts and src/data/tiny-rwkv.json.ts
 *   interface ModelCard          the fields of the model card the explainer reads (the card has more)
 *   syntheticCard()              the card served while the trained model is absent (synthetic: true)
 *   weightsFromCard(card, bytes) RwkvWeights: the checkpoint bytes when the card is a trained model, else the
 *                                deterministic synthetic stand-in (syntheticWeights(SHAPES.tiny, 0))
 *   modelLabel(card)             "tiny-rwkv (trained, 4×256)" / "synthetic weights (untrained)"
 *
 * The trained model is used as soon as data/models/tiny-rwkv.{safetensors,json} exist (the loaders read them);
 * until then every page shows the synthetic stand-in with a visible "synthetic weights" label.
 */
import { loadRwkvCheckpoint } from "../rwkv/checkpoint/index.js";
import { SHAPES, syntheticWeights } from "../rwkv/synthetic.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import { TINY_SHAKESPEARE_VOCABULARY } from "../trace/prompt.js";

export const MODEL_NAME = "tiny-rwkv";

export interface ModelCard {
  name: string;
  /** true for the untrained stand-in: every figure then says "synthetic weights" */
  synthetic: boolean;
  /** the characters of the vocabulary, in token-id order */
  vocabulary: string;
  /** validation loss in nats per character, when the card has one */
  validationLoss?: number;
  /** the card as written by the training script (config, losses, corpus, ...) */
  raw?: Record<string, unknown>;
}

export function syntheticCard(): ModelCard {
  return {
    name: "synthetic stand-in (untrained, seed 0)",
    synthetic: true,
    vocabulary: TINY_SHAKESPEARE_VOCABULARY,
  };
}

export class ModelSourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelSourceError";
  }
}

/** Normalise a model card JSON written by the training script into a ModelCard. */
export function cardFromJson(json: unknown): ModelCard {
  if (!json || typeof json !== "object") throw new ModelSourceError("the model card is not a JSON object");
  const raw = json as Record<string, unknown>;
  if (raw.synthetic === true) return { ...syntheticCard(), ...(raw as Partial<ModelCard>), synthetic: true };
  const vocabulary = Array.isArray(raw.vocabulary) ? raw.vocabulary.join("") : raw.vocabulary;
  if (typeof vocabulary !== "string" || vocabulary.length === 0) {
    throw new ModelSourceError("the model card has no `vocabulary` string");
  }
  const card: ModelCard = { name: String(raw.name ?? MODEL_NAME), synthetic: false, vocabulary, raw };
  const loss = findNumber(raw, ["validation_loss", "val_loss", "validationLoss"]);
  if (loss !== undefined) card.validationLoss = loss;
  return card;
}

function findNumber(obj: Record<string, unknown>, keys: string[]): number | undefined {
  for (const [k, v] of Object.entries(obj)) {
    if (keys.includes(k) && typeof v === "number") return v;
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const inner = findNumber(v as Record<string, unknown>, keys);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** The checkpoint reader of src/rwkv/checkpoint (safetensors or .pth, validated). */
function readCheckpoint(bytes: Uint8Array): RwkvWeights {
  return loadRwkvCheckpoint(bytes).weights;
}

export function weightsFromCard(card: ModelCard, bytes: Uint8Array | null): RwkvWeights {
  if (card.synthetic) return syntheticWeights(SHAPES.tiny, 0);
  if (!bytes || bytes.length === 0) throw new ModelSourceError(`the weights of ${card.name} are missing`);
  const weights = readCheckpoint(bytes);
  const n = [...card.vocabulary].length;
  if (n !== weights.config.vocabSize) {
    throw new ModelSourceError(
      `the model card lists ${n} characters but the weights have a vocabulary of ${weights.config.vocabSize}`,
    );
  }
  return weights;
}

export function modelLabel(card: ModelCard): string {
  return card.synthetic ? "synthetic weights (untrained)" : `${card.name} (trained)`;
}
