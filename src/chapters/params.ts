/**
 * The model's small per-channel parameters (token-shift mixes, decays, bonuses, LayerNorm gains), as a compact
 * JSON written at build time by src/data/tiny-rwkv-params.json.ts, so figures of parameters (chapters 3, 4) and
 * LayerNorm recomputations appear before the weights have loaded. DOM-free.
 *
 * API:
 *   interface LayerParams {muR, muK, muV, ffnMuK, ffnMuR, w, u, ln1, ln2}   each (C); w = -exp(time_decay)
 *   interface ModelParams {config, synthetic, layers, vocabulary}
 *   paramsOfWeights(weights, card) -> ModelParams
 *   encodeParams(params) -> JSON-able / decodeParams(json) -> ModelParams    (plain number arrays, exact fp32)
 *   layerNormInput(view, params, layer, t) -> {current, previous}           x_t and x_{t-1} (C): the ln1 outputs
 *                      that token shift mixes (Eq. 11-13); previous is zeros at t = 0 (the empty state)
 */
import { layerNormRow } from "../rwkv/ops.js";
import type { LayerNormWeights, RwkvConfig, RwkvWeights } from "../rwkv/weights.js";
import type { ModelCard } from "../live/model-source.js";
import { TraceError, tensorOf, type TraceView } from "../trace/trace.js";

export interface LayerParams {
  muR: Float32Array;
  muK: Float32Array;
  muV: Float32Array;
  ffnMuK: Float32Array;
  ffnMuR: Float32Array;
  /** w = -exp(time_decay) < 0: one step multiplies the memory by e^{w} */
  w: Float32Array;
  /** u = time_first, the bonus of the current token */
  u: Float32Array;
  ln1: LayerNormWeights;
  ln2: LayerNormWeights;
}

export interface ModelParams {
  config: RwkvConfig;
  synthetic: boolean;
  vocabulary: string;
  layers: LayerParams[];
}

export function paramsOfWeights(
  weights: RwkvWeights,
  card: Pick<ModelCard, "synthetic" | "vocabulary">,
): ModelParams {
  return {
    config: weights.config,
    synthetic: card.synthetic,
    vocabulary: card.vocabulary,
    layers: weights.blocks.map((b) => ({
      muR: b.att.muR,
      muK: b.att.muK,
      muV: b.att.muV,
      ffnMuK: b.ffn.muK,
      ffnMuR: b.ffn.muR,
      w: b.att.w,
      u: b.att.u,
      ln1: b.ln1,
      ln2: b.ln2,
    })),
  };
}

const VECTORS = ["muR", "muK", "muV", "ffnMuK", "ffnMuR", "w", "u"] as const;

export function encodeParams(p: ModelParams): unknown {
  const arr = (a: Float32Array): number[] => Array.from(a);
  return {
    format: "rwkv-explainer-params/1",
    config: p.config,
    synthetic: p.synthetic,
    vocabulary: p.vocabulary,
    layers: p.layers.map((l) => ({
      ...Object.fromEntries(VECTORS.map((k) => [k, arr(l[k])])),
      ln1: { weight: arr(l.ln1.weight), bias: arr(l.ln1.bias) },
      ln2: { weight: arr(l.ln2.weight), bias: arr(l.ln2.bias) },
    })),
  };
}

export function decodeParams(json: unknown): ModelParams {
  const j = json as {
    format?: string;
    config: RwkvConfig;
    synthetic: boolean;
    vocabulary: string;
    layers: Record<string, unknown>[];
  };
  if (!j || j.format !== "rwkv-explainer-params/1") throw new TraceError("not an explainer params file");
  const C = j.config.nEmbd;
  const vec = (x: unknown, what: string): Float32Array => {
    if (!Array.isArray(x) || x.length !== C) throw new TraceError(`params: ${what} should have ${C} values`);
    return Float32Array.from(x as number[]);
  };
  const ln = (x: unknown, what: string): LayerNormWeights => {
    const o = x as { weight: unknown; bias: unknown };
    return { weight: vec(o?.weight, `${what}.weight`), bias: vec(o?.bias, `${what}.bias`) };
  };
  return {
    config: j.config,
    synthetic: j.synthetic,
    vocabulary: j.vocabulary,
    layers: j.layers.map((l, i) => {
      const out = Object.fromEntries(VECTORS.map((k) => [k, vec(l[k], `layer ${i} ${k}`)])) as Record<
        (typeof VECTORS)[number],
        Float32Array
      >;
      return { ...out, ln1: ln(l.ln1, `layer ${i} ln1`), ln2: ln(l.ln2, `layer ${i} ln2`) };
    }),
  };
}

/**
 * x_t and x_{t-1} of time mixing in layer `layer`: the ln1 outputs of the layer's input (x0 for layer 0, the
 * previous block's xOut otherwise) at positions t and t-1. Token shift mixes exactly these (Eq. 11-13).
 */
export function layerNormInput(
  view: TraceView,
  params: ModelParams,
  layer: number,
  t: number,
): { current: Float32Array; previous: Float32Array } {
  const { C } = view;
  if (!Number.isInteger(t) || t < 0 || t >= view.T) throw new TraceError(`token ${t} is out of range`);
  const input = layer === 0 ? view.x0 : tensorOf(view, layer - 1, "xOut");
  if (!input) throw new TraceError("this trace has no x0 (the embedding): it cannot show layer 0's input");
  const eps = params.config.layerNormEps;
  const current = new Float32Array(C);
  const previous = new Float32Array(C);
  layerNormRow(input, t * C, C, params.layers[layer].ln1, eps, current, 0);
  if (t > 0) layerNormRow(input, (t - 1) * C, C, params.layers[layer].ln1, eps, previous, 0);
  return { current, previous };
}
