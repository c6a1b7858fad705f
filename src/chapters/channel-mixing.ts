/**
 * Chapter 6, channel mixing (arXiv 2305.13048 v4, Section 4.1, Eq. 14-15 and 18):
 *
 *   r'_t = W'_r (mu'_r x_t + (1 - mu'_r) x_{t-1})       (Eq. 14; blocks.N.ffn.receptance.weight, time_mix_r)
 *   k'_t = W'_k (mu'_k x_t + (1 - mu'_k) x_{t-1})       (Eq. 15; blocks.N.ffn.key.weight, time_mix_k)
 *   o'_t = sigma(r'_t) * (W'_v max(k'_t, 0)^2)         (Eq. 18; blocks.N.ffn.value.weight)
 *
 * A hidden unit j contributes nothing at token t when k'_{t,j} <= 0: its activation max(k', 0)^2 is exactly 0,
 * and the column j of W'_v is never read. This module counts those zeros per layer and per token from a trace
 * (the trace's ffnAct and ffnK), in the compact JSON the build-time loader writes (src/data/traces/
 * channel-mixing.json.ts) and the page reads. Pure.
 *
 * API:
 *   TEX.channelMix, TEX.output, TEX.activations   Eq. 14-15 and Eq. 18 (symbols of notation.ts), and the three
 *                                              activations compared on the model's own k'
 *   ACTIVATIONS, activationStats(k, T, F)      ReLU², ReLU, GELU on a layer's k': exact zeros, top-10% share
 *   activationShapes(summary, layer) -> ActivationShapes   chapter 6's squared-ReLU figure
 *   ffnSparsity(acts, T, F) -> SparsityLayer[]  zeros of max(k', 0)^2 per layer and token
 *   histogram(values, bins, range?) -> Histogram
 *   K_BINS, symmetricRange(values)             the k' histograms' bins: [-m, m], m = max |k'| rounded up to 0.5
 *   sparsitySummary(view) -> SparsitySummary   chapter 6's numbers from a trace
 *   encodeSparsity / decodeSparsity            its JSON form (format ffn-sparsity/1)
 *   sparsityTotals(summary, synthetic) -> {overall, lowest, highest, verdict}   what the prose says about it
 */
import { TraceError, tensorOf, tokenLabel, type Backend, type TraceView } from "../trace/trace.js";
import { tx, uni } from "./notation.js";

const mixTerm = (mu: string) =>
  String.raw`${tx(mu)} \odot ${tx("xcur")} + (1 - ${tx(mu)}) \odot ${tx("xprev")}`;

export const TEX = {
  /** Eq. 14-15: channel mixing's token-shifted inputs */
  channelMix: String.raw`\begin{aligned}
${tx("rp")} &= ${tx("Wp_r")} \cdot \left(${mixTerm("mu_rp")}\right) && (14) \\
${tx("kp")} &= ${tx("Wp_k")} \cdot \left(${mixTerm("mu_kp")}\right) && (15)
\end{aligned}`,
  /** Eq. 18: the gated output, with the squared ReLU marked (act) */
  output: String.raw`${tx("op")} = \sigma(${tx("rp")}) \odot \left(${tx("Wp_v")} \cdot ${tx("act")}\right) \tag{18}`,
  /** the three activations the squared-ReLU figure compares, on the same k' */
  activations: String.raw`\mathrm{ReLU}^2(x) = \max(x, 0)^2, \qquad \mathrm{ReLU}(x) = \max(x, 0), \qquad \mathrm{GELU}(x) = x\,\Phi(x)`,
} as const;

export interface SparsityLayer {
  layer: number;
  /** activations exactly 0, over all T x F of the layer */
  zeros: number;
  total: number;
  /** zeros / total */
  fraction: number;
  /** fraction of the F activations that are 0, per token (T) */
  perToken: Float64Array;
}

/** Zero counts of max(k', 0)^2 per layer and token. `acts`: one (T, F) array per layer (the trace's ffnAct). */
export function ffnSparsity(acts: ArrayLike<number>[], T: number, F: number): SparsityLayer[] {
  if (!Number.isInteger(T) || T < 1 || !Number.isInteger(F) || F < 1) {
    throw new RangeError(`ffnSparsity: T and F must be positive integers, got T = ${T}, F = ${F}`);
  }
  return acts.map((a, layer) => {
    if (a.length !== T * F)
      throw new RangeError(`ffnSparsity: layer ${layer} has ${a.length} values, expected ${T * F}`);
    const perToken = new Float64Array(T);
    let zeros = 0;
    for (let t = 0; t < T; t++) {
      let z = 0;
      for (let j = 0; j < F; j++) if (a[t * F + j] === 0) z++;
      perToken[t] = z / F;
      zeros += z;
    }
    return { layer, zeros, total: T * F, fraction: zeros / (T * F), perToken };
  });
}

export interface Histogram {
  /** bin edges, bins + 1 values */
  edges: number[];
  counts: number[];
  /** values <= 0 (cut to zero by the ReLU) */
  nonPositive: number;
  total: number;
}

/** Histogram of k' values over [lo, hi] (values outside are clamped into the end bins). */
export function histogram(values: ArrayLike<number>, bins = 60, range?: [number, number]): Histogram {
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`histogram: bins must be a positive integer, got ${bins}`);
  let lo = range?.[0] ?? Infinity;
  let hi = range?.[1] ?? -Infinity;
  if (!range) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  const edges = Array.from({ length: bins + 1 }, (_, b) => lo + ((hi - lo) * b) / bins);
  const counts = new Array<number>(bins).fill(0);
  let nonPositive = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v <= 0) nonPositive++;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)));
    counts[b]++;
  }
  return { edges, counts, nonPositive, total: values.length };
}

/** Bins of the k' histograms: an even count over a range symmetric about 0, so that 0 is a bin edge. */
export const K_BINS = 64;

/** [-m, m] with m the largest |k'| rounded up to a multiple of 0.5 (at least 0.5). */
export function symmetricRange(values: ArrayLike<number>): [number, number] {
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > m) m = a;
  }
  m = Math.max(0.5, Math.ceil(m * 2) / 2);
  return [-m, m];
}

export interface SparsitySummary {
  text: string;
  /** the tokens' display labels (whitespace shown as ␣ ↵ ⇥) */
  labels: string[];
  T: number;
  F: number;
  layers: SparsityLayer[];
  /** histogram of k' per layer, K_BINS bins over symmetricRange of that layer's k' */
  histograms: Histogram[];
  /** ReLU², ReLU and GELU applied to each layer's k' (absent in files written before it) */
  shapes?: ActivationStats[][];
  source: "precomputed" | "live";
  /** what ran the model: "webgpu" | "wasm" (the ONNX graphs) or "reference (JS)" */
  backend: Backend;
  synthetic: boolean;
}

export function sparsitySummary(view: TraceView): SparsitySummary {
  const L = view.layers.length;
  const acts = Array.from({ length: L }, (_, l) => tensorOf(view, l, "ffnAct"));
  return {
    text: view.text,
    labels: view.labels.map(tokenLabel),
    T: view.T,
    F: view.F,
    layers: ffnSparsity(acts, view.T, view.F),
    histograms: Array.from({ length: L }, (_, l) => {
      const k = tensorOf(view, l, "ffnK");
      return histogram(k, K_BINS, symmetricRange(k));
    }),
    shapes: Array.from({ length: L }, (_, l) => activationStats(tensorOf(view, l, "ffnK"), view.T, view.F)),
    source: view.source,
    backend: view.backend,
    synthetic: view.synthetic,
  };
}

export function encodeSparsity(s: SparsitySummary): unknown {
  return {
    format: "ffn-sparsity/1",
    ...s,
    source: undefined,
    layers: s.layers.map((l) => ({ ...l, perToken: Array.from(l.perToken) })),
  };
}

export function decodeSparsity(json: unknown): SparsitySummary {
  const e = json as SparsitySummary & { format: string; layers: (SparsityLayer & { perToken: number[] })[] };
  if (!e || e.format !== "ffn-sparsity/1")
    throw new TraceError("not a sparsity summary (format ffn-sparsity/1)");
  return {
    text: e.text,
    labels: e.labels.map(tokenLabel),
    T: e.T,
    F: e.F,
    layers: e.layers.map((l) => ({ ...l, perToken: Float64Array.from(l.perToken) })),
    histograms: e.histograms,
    ...(e.shapes ? { shapes: e.shapes } : {}),
    source: "precomputed",
    backend: e.backend ?? "reference (JS)",
    synthetic: e.synthetic,
  };
}

export interface SparsityTotals {
  /** zeros over all layers, tokens and units */
  overall: number;
  /** the sparsest and the densest layer's fraction */
  lowest: number;
  highest: number;
  /** how it compares with the half that random weights would give ("" for synthetic weights or about half) */
  verdict: string;
}

export function sparsityTotals(s: Pick<SparsitySummary, "layers">, synthetic: boolean): SparsityTotals {
  let zeros = 0;
  let total = 0;
  for (const l of s.layers) {
    zeros += l.zeros;
    total += l.total;
  }
  const overall = zeros / total;
  const fractions = s.layers.map((l) => l.zeros / l.total);
  return {
    overall,
    lowest: Math.min(...fractions),
    highest: Math.max(...fractions),
    verdict: synthetic
      ? ""
      : overall > 0.55
        ? ": training made the units much sparser than the half that random weights would give"
        : overall < 0.45
          ? ": fewer zeros than the half that random weights would give"
          : "",
  };
}

// ---------------------------------------------------------------------------------------------------------
// Why a squared ReLU: the three activations on the model's own k'
// ---------------------------------------------------------------------------------------------------------

export type ActivationName = "ReLU²" | "ReLU" | "GELU";

/** GELU in its tanh form (Hendrycks and Gimpel, 2016), as GPT-2 uses it. */
export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export const ACTIVATIONS: readonly { name: ActivationName; f: (x: number) => number }[] = [
  { name: "ReLU²", f: (x) => (x > 0 ? x * x : 0) },
  { name: "ReLU", f: (x) => (x > 0 ? x : 0) },
  { name: "GELU", f: gelu },
];

/** The share of a token's units whose activation the concentration measure adds up: the largest tenth. */
export const TOP_FRACTION = 0.1;

export interface ActivationStats {
  name: ActivationName;
  /** outputs exactly 0, over all T x F */
  zeros: number;
  /** the share of each token's total |activation| carried by its largest TOP_FRACTION of units, token average */
  top10: number;
}

/** Each activation applied to one layer's k' (T, F): how many outputs are exactly zero, how concentrated the rest. */
export function activationStats(k: ArrayLike<number>, T: number, F: number): ActivationStats[] {
  if (k.length !== T * F) throw new RangeError(`activationStats: ${k.length} values, expected ${T * F}`);
  const top = Math.max(1, Math.ceil(F * TOP_FRACTION));
  const row = new Float64Array(F);
  return ACTIVATIONS.map(({ name, f }) => {
    let zeros = 0;
    let share = 0;
    for (let t = 0; t < T; t++) {
      let total = 0;
      for (let j = 0; j < F; j++) {
        const y = f(k[t * F + j]);
        if (y === 0) zeros++;
        row[j] = Math.abs(y);
        total += row[j];
      }
      row.sort();
      let big = 0;
      for (let j = F - top; j < F; j++) big += row[j];
      share += total > 0 ? big / total : 0;
    }
    return { name, zeros: zeros / (T * F), top10: share / T };
  });
}

export interface ActivationShapes {
  layer: number;
  /** the layer's k' range (symmetric, as the histogram's) and the three curves over it */
  range: [number, number];
  curves: { name: ActivationName; x: Float64Array; y: Float64Array }[];
  /** the histogram of this layer's k' */
  histogram: Histogram;
  stats: ActivationStats[];
  caption: string;
}

/** What the squared-ReLU figure draws for one layer, from a sparsity summary (live or precomputed). */
export function activationShapes(summary: SparsitySummary, layer: number): ActivationShapes | null {
  const stats = summary.shapes?.[layer];
  const h = summary.histograms[layer];
  if (!stats || !h) return null;
  const range: [number, number] = [h.edges[0], h.edges[h.edges.length - 1]];
  const n = 121;
  const x = Float64Array.from({ length: n }, (_, i) => range[0] + ((range[1] - range[0]) * i) / (n - 1));
  const curves = ACTIVATIONS.map(({ name, f }) => ({ name, x, y: Float64Array.from(x, f) }));
  const [sq, relu, g] = stats;
  const p = (v: number) => `${(100 * v).toFixed(0)}%`;
  return {
    layer,
    range,
    curves,
    histogram: h,
    stats,
    caption:
      `The three activations applied to the same ${summary.T} × ${summary.F} pre-activations ${uni("kp")} of ` +
      `layer ${layer} (the histogram behind the curves). ReLU² and ReLU zero the same ${p(sq.zeros)} of them ` +
      `exactly; GELU zeroes ${p(g.zeros)}. Where they differ is the shape: squaring makes the largest ${p(TOP_FRACTION)} of a ` +
      `token's units carry ${p(sq.top10)} of its activation, against ${p(relu.top10)} with ReLU and ${p(g.top10)} ` +
      `with GELU. The model was trained with ReLU² (Eq. 18); the other two columns only show what the same ` +
      `${uni("kp")} would give.`,
  };
}
