/**
 * Data for chapters 6, 7 and 8, in the compact JSON the build-time loaders write (src/data/traces/*) and the
 * pages read, computed by the same functions in both places. DOM-free. (Chapter 2's is src/chapters/attention.ts.)
 *
 * API:
 *   sparsitySummary(view) -> SparsitySummary                chapter 6's numbers from a trace (ffnAct, ffnK)
 *   encodeSparsity / decodeSparsity
 *   modelCounts(weights) -> ModelCounts                     chapter 7: parameters and FLOPs counted on tensors
 *   encodeModes / decodeModes                               chapter 8: both modes' logits and times
 */
import { matmulFlops, rwkvMatrices, type RwkvShape } from "../components/flops-calculator.js";
import type { ModeRun } from "../components/mode-diff.js";
import { ffnSparsity, histogram, type Histogram, type SparsityLayer } from "../components/sparsity.js";
import { countParameters } from "../rwkv/synthetic.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import {
  TraceError,
  base64ToBytes,
  bytesToBase64,
  tensorOf,
  type Backend,
  type TraceView,
} from "../trace/trace.js";

function f32ToBase64(a: Float32Array): string {
  return bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function base64ToF32(text: string, expected: number, what: string): Float32Array {
  const bytes = base64ToBytes(text);
  const out = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  if (out.length !== expected) throw new TraceError(`${what}: ${out.length} values, expected ${expected}`);
  return out;
}

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

// ---------------------------------------------------------------------------------------------------------
// Chapter 7: counts from the loaded tensors
// ---------------------------------------------------------------------------------------------------------

export interface ModelCounts {
  shape: Required<RwkvShape>;
  /** every value of every tensor */
  actualParams: number;
  /** 2 per weight of every matrix multiplied per token */
  actualFlops: number;
}

export function modelCounts(weights: RwkvWeights): ModelCounts {
  const { nLayer, nEmbd, vocabSize, ffnSize } = weights.config;
  return {
    shape: { L: nLayer, D: nEmbd, V: vocabSize, F: ffnSize },
    actualParams: countParameters(weights),
    actualFlops: matmulFlops(rwkvMatrices(weights)),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 8: both modes
// ---------------------------------------------------------------------------------------------------------

export interface ModesData {
  text: string;
  labels: string[];
  V: number;
  runs: [ModeRun, ModeRun];
  /** "precomputed at build time (Node)" or where the live run happened */
  where: string;
  synthetic: boolean;
}

export function encodeModes(m: ModesData): unknown {
  return {
    format: "rwkv-modes/1",
    ...m,
    runs: m.runs.map((r) => ({ ...r, logits: f32ToBase64(r.logits) })),
  };
}

export function decodeModes(json: unknown): ModesData {
  const e = json as Omit<ModesData, "runs"> & {
    format: string;
    runs: (Omit<ModeRun, "logits"> & { logits: string })[];
  };
  if (!e || e.format !== "rwkv-modes/1" || e.runs?.length !== 2)
    throw new TraceError("not a modes file (format rwkv-modes/1)");
  const n = e.labels.length * e.V;
  const runs = e.runs.map((r) => ({ ...r, logits: base64ToF32(r.logits, n, `${r.name} logits`) })) as [
    ModeRun,
    ModeRun,
  ];
  return { text: e.text, labels: e.labels, V: e.V, runs, where: e.where, synthetic: e.synthetic };
}
