/**
 * Node only (build-time data loaders): read data/models/tiny-rwkv.{json,safetensors} if present, else the
 * synthetic stand-in, and run the reference model on a chapter's default prompt to precompute its trace.
 *
 * API:
 *   readModelFiles() -> {card, bytes}            bytes is null for the synthetic stand-in
 *   loadBuildModel() -> {card, weights, model}
 *   precomputeTrace(spec) -> EncodedTrace        spec: {prompt, fields, layers?, x0?, maxTokens?}
 *   printTrace(spec)                             what a loader file does: JSON of precomputeTrace on stdout
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RwkvModel } from "../rwkv/model.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import { MODEL_NAME, cardFromJson, syntheticCard, weightsFromCard, type ModelCard } from "./model-source.js";
import { encodePrompt } from "./prompt.js";
import { encodeTrace, viewOfTrace, type EncodedTrace, type TraceField } from "./trace.js";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const modelsDir = path.join(repoRoot, "data", "models");

export function readModelFiles(
  name = MODEL_NAME,
  dir = modelsDir,
): { card: ModelCard; bytes: Uint8Array | null } {
  const cardFile = path.join(dir, `${name}.json`);
  const weightsFile = path.join(dir, `${name}.safetensors`);
  if (!existsSync(cardFile) || !existsSync(weightsFile)) return { card: syntheticCard(), bytes: null };
  const card = cardFromJson(JSON.parse(readFileSync(cardFile, "utf-8")));
  return { card, bytes: new Uint8Array(readFileSync(weightsFile)) };
}

export function loadBuildModel(): { card: ModelCard; weights: RwkvWeights; model: RwkvModel } {
  const { card, bytes } = readModelFiles();
  const weights = weightsFromCard(card, bytes);
  return { card, weights, model: new RwkvModel(weights) };
}

export interface PrecomputeSpec {
  prompt: string;
  /** the per-layer tensors the chapter's figures read */
  fields: readonly TraceField[];
  /** layers to keep (default all) */
  layers?: readonly number[];
  /** keep the embedding x0 (default false) */
  x0?: boolean;
  maxTokens?: number;
}

export function precomputeTrace(spec: PrecomputeSpec): EncodedTrace {
  const { card, model } = loadBuildModel();
  const enc = encodePrompt(spec.prompt, card.vocabulary, { maxTokens: spec.maxTokens ?? 256 });
  if (enc.tokens.length === 0)
    throw new Error(`precomputeTrace: prompt ${JSON.stringify(spec.prompt)} is empty`);
  const res = model.forward(enc.tokens, undefined, { trace: true });
  const view = viewOfTrace(res.trace!, enc.tokens, {
    labels: enc.labels,
    text: enc.text,
    backend: "reference (JS)",
    synthetic: card.synthetic,
  });
  return encodeTrace(view, { fields: spec.fields, layers: spec.layers, x0: spec.x0 });
}

export function printTrace(spec: PrecomputeSpec): void {
  process.stdout.write(JSON.stringify(precomputeTrace(spec)));
}
