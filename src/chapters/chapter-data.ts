/**
 * Data for chapter 6, in the compact JSON the build-time loaders write (src/data/traces/*) and the pages read,
 * computed by the same functions in both places. DOM-free. (Chapter 2's is src/chapters/attention.ts.)
 *
 * API:
 *   sparsitySummary(view) -> SparsitySummary                chapter 6's numbers from a trace (ffnAct, ffnK)
 *   encodeSparsity / decodeSparsity
 * (Chapter 7's counts are in ./flops.ts, chapter 8's mode comparison in ./modes.ts.)
 */
import { ffnSparsity, histogram, type Histogram, type SparsityLayer } from "../components/sparsity.js";
import { TraceError, tensorOf, type Backend, type TraceView } from "../trace/trace.js";

// ---------------------------------------------------------------------------------------------------------
// Chapter 6: sparsity of the squared-ReLU activations
// ---------------------------------------------------------------------------------------------------------

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
  labels: string[];
  T: number;
  F: number;
  layers: SparsityLayer[];
  /** histogram of k' per layer, K_BINS bins over symmetricRange of that layer's k' */
  histograms: Histogram[];
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
    labels: view.labels,
    T: view.T,
    F: view.F,
    layers: ffnSparsity(acts, view.T, view.F),
    histograms: Array.from({ length: L }, (_, l) => {
      const k = tensorOf(view, l, "ffnK");
      return histogram(k, K_BINS, symmetricRange(k));
    }),
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
    labels: e.labels,
    T: e.T,
    F: e.F,
    layers: e.layers.map((l) => ({ ...l, perToken: Float64Array.from(l.perToken) })),
    histograms: e.histograms,
    source: "precomputed",
    backend: e.backend ?? "reference (JS)",
    synthetic: e.synthetic,
  };
}
