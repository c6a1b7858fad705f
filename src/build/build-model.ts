/**
 * Node only (build-time data loaders): read data/models/tiny-rwkv.{json,safetensors} if present, else the
 * synthetic stand-in, and run a chapter's default prompt through the ONNX graphs on onnxruntime-web's wasm EP
 * (the graphs the pages run) to precompute its trace. The only explainer module that imports src/runtime/node.ts.
 *
 * API:
 *   readModelFiles() -> {card, bytes}            bytes is null for the synthetic stand-in
 *   loadBuildModel() -> {card, weights, model}   model: the reference model (for the tests and a few loaders)
 *   graphTrace(weights, tokens) -> Promise<Trace>
 *   precomputedView({prompt, maxTokens?}, loaded?) -> Promise<TraceView>   loaded: loadBuildModel()'s
 *   precomputeTrace(spec) -> Promise<EncodedTrace>   spec: {prompt, fields, layers?, x0?, maxTokens?}
 *   printTrace(spec)                             what a loader file does: JSON of precomputeTrace on stdout
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RwkvModel, type Trace } from "../rwkv/model.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import {
  MODEL_NAME,
  cardFromJson,
  syntheticCard,
  weightsFromCard,
  type ModelCard,
} from "../live/model-source.js";
import { encodePrompt } from "../trace/prompt.js";
import {
  encodeTrace,
  viewOfTrace,
  type EncodedTrace,
  type TraceField,
  type TraceView,
} from "../trace/trace.js";

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

/**
 * The trace of `tokens` from the ONNX parallel graph with probes on onnxruntime-web's wasm EP in Node: the graphs
 * the pages run, so a precomputed figure comes from the same computation as a live one (build time only; the
 * reference model checks them in the tests).
 */
export async function graphTrace(weights: RwkvWeights, tokens: readonly number[]): Promise<Trace> {
  const { createOrtRwkv } = await import("../runtime/node.js");
  const { traceFromProbes } = await import("../onnx/probe-trace.js");
  const m = await createOrtRwkv(weights, {
    mode: "parallel",
    probes: true,
    parallelLogits: "last",
    chunk: 32,
    maxTokens: Math.max(1024, tokens.length),
  });
  try {
    const r = await m.forward(tokens);
    return traceFromProbes(r.probes!, weights, tokens.length);
  } finally {
    await m.dispose();
  }
}

/** A chapter's default prompt run through the graphs (graphTrace), as the page's trace view. */
export async function precomputedView(
  spec: { prompt: string; maxTokens?: number },
  { card, weights }: { card: ModelCard; weights: RwkvWeights } = loadBuildModel(),
): Promise<TraceView> {
  const enc = encodePrompt(spec.prompt, card.vocabulary, { maxTokens: spec.maxTokens ?? 256 });
  if (enc.tokens.length === 0)
    throw new Error(`precomputeTrace: prompt ${JSON.stringify(spec.prompt)} is empty`);
  return viewOfTrace(await graphTrace(weights, enc.tokens), enc.tokens, {
    labels: enc.labels,
    text: enc.text,
    backend: "wasm",
    synthetic: card.synthetic,
  });
}

export async function precomputeTrace(spec: PrecomputeSpec): Promise<EncodedTrace> {
  const view = await precomputedView(spec);
  return encodeTrace(view, { fields: spec.fields, layers: spec.layers, x0: spec.x0 });
}

export async function printTrace(spec: PrecomputeSpec): Promise<void> {
  process.stdout.write(JSON.stringify(await precomputeTrace(spec)));
}
