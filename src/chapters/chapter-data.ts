/**
 * Data for chapters 2 and 6, in the compact JSON the build-time loaders write (src/data/traces/*) and the
 * pages read, computed by the same functions in both places. DOM-free.
 *
 * API:
 *   gptAttention(model, tokens, meta) -> GptAttention        every layer's and head's (T, T) softmax weights
 *   new GptAttentionCache(model).attention(tokens, meta)     the same, incremental while the reader types
 *   encodeGptAttention / decodeGptAttention                 JSON form (base64 fp32)
 *   attentionOf(att, layer, head) -> Float32Array (T, T)
 *   sparsitySummary(view) -> SparsitySummary                chapter 6's numbers from a trace (ffnAct, ffnK)
 *   encodeSparsity / decodeSparsity
 * (Chapter 7's counts are in ./flops.ts, chapter 8's mode comparison in ./modes.ts.)
 */
import { ffnSparsity, histogram, type Histogram, type SparsityLayer } from "../components/sparsity.js";
import type { GptModel, KvCache } from "../transformer/gpt.js";
import {
  TraceError,
  base64ToBytes,
  bytesToBase64,
  tensorOf,
  type Backend,
  type TraceView,
} from "../trace/trace.js";
import { commonPrefixLength } from "../util/prefix.js";

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
// Chapter 2: the transformer baseline's attention
// ---------------------------------------------------------------------------------------------------------

export interface GptAttention {
  text: string;
  tokens: number[];
  T: number;
  nLayer: number;
  nHead: number;
  synthetic: boolean;
  /** "precomputed" (build time) or "live" (this browser) */
  source: "precomputed" | "live";
  /** what ran the transformer: "webgpu" | "wasm" (its ONNX graph) or "reference (JS)"; absent when precomputed */
  backend?: Backend;
  /** (nLayer, nHead, T, T) row-major */
  data: Float32Array;
}

export function gptAttention(
  model: GptModel,
  tokens: readonly number[],
  meta: { text: string; synthetic: boolean; source?: "precomputed" | "live" },
): GptAttention {
  const T = tokens.length;
  const { nLayer, nHead } = model.config;
  const { attention } = model.forward(tokens, { attention: true });
  const data = new Float32Array(nLayer * nHead * T * T);
  attention!.forEach((layer, l) => layer.forEach((A, h) => data.set(A, (l * nHead + h) * T * T)));
  return { ...attentionMeta(tokens, model.config, meta), source: meta.source ?? "live", data };
}

function attentionMeta(
  tokens: readonly number[],
  { nLayer, nHead }: { nLayer: number; nHead: number },
  meta: { text: string; synthetic: boolean },
): Pick<GptAttention, "text" | "tokens" | "T" | "nLayer" | "nHead" | "synthetic"> {
  return { text: meta.text, tokens: [...tokens], T: tokens.length, nLayer, nHead, synthetic: meta.synthetic };
}

/**
 * Incremental `gptAttention` for a page where the reader types: the positions shared with the previous prompt
 * keep their rows (attention is causal: row t depends on tokens 0..t only), the KV cache is cut back to them, and
 * only the new tokens run, one KV-cache step each. Equal to gptAttention (tests check it).
 */
export class GptAttentionCache {
  private tokens: number[] = [];
  /** rows[t][layer][head]: (t + 1) weights */
  private rows: Float32Array[][][] = [];
  private readonly cache: KvCache;
  /** tokens actually run, over the cache's life (tests read it) */
  tokensRun = 0;

  constructor(private readonly model: GptModel) {
    this.cache = model.newCache();
  }

  attention(tokens: readonly number[], meta: { text: string; synthetic: boolean }): GptAttention {
    const T = tokens.length;
    const p = commonPrefixLength(tokens, this.tokens);
    this.cache.length = p;
    this.rows.length = p;
    for (let t = p; t < T; t++) {
      this.rows.push(this.model.stepWithAttention(tokens[t], this.cache).attention);
      this.tokensRun++;
    }
    this.tokens = [...tokens];
    return attentionFromRows(this.rows, tokens, this.model.config, { ...meta, backend: "reference (JS)" });
  }
}

/**
 * A live GptAttention from per-token rows: rows[t][layer][head] holds query t's (t + 1) softmax weights over keys
 * 0..t (causal), however they were computed (the JS model step by step, or the ONNX graph's attention outputs).
 */
export function attentionFromRows(
  rows: readonly (readonly (readonly Float32Array[])[])[],
  tokens: readonly number[],
  shape: { nLayer: number; nHead: number },
  meta: { text: string; synthetic: boolean; backend: Backend },
): GptAttention {
  const T = tokens.length;
  const { nLayer, nHead } = shape;
  const data = new Float32Array(nLayer * nHead * T * T);
  for (let t = 0; t < T; t++) {
    for (let l = 0; l < nLayer; l++) {
      for (let h = 0; h < nHead; h++) data.set(rows[t][l][h], (l * nHead + h) * T * T + t * T);
    }
  }
  return { ...attentionMeta(tokens, shape, meta), source: "live", backend: meta.backend, data };
}

export function attentionOf(att: GptAttention, layer: number, head: number): Float32Array {
  if (!Number.isInteger(layer) || layer < 0 || layer >= att.nLayer) {
    throw new TraceError(`layer ${layer} is out of range: the transformer has layers 0..${att.nLayer - 1}`);
  }
  if (!Number.isInteger(head) || head < 0 || head >= att.nHead) {
    throw new TraceError(`head ${head} is out of range: the transformer has heads 0..${att.nHead - 1}`);
  }
  const n = att.T * att.T;
  return att.data.subarray((layer * att.nHead + head) * n, (layer * att.nHead + head + 1) * n);
}

export interface EncodedGptAttention {
  format: "gpt-attention/1";
  text: string;
  tokens: number[];
  T: number;
  nLayer: number;
  nHead: number;
  synthetic: boolean;
  data: string;
}

export function encodeGptAttention(a: GptAttention): EncodedGptAttention {
  const { text, tokens, T, nLayer, nHead, synthetic } = a;
  return { format: "gpt-attention/1", text, tokens, T, nLayer, nHead, synthetic, data: f32ToBase64(a.data) };
}

export function decodeGptAttention(json: unknown): GptAttention {
  const e = json as EncodedGptAttention;
  if (!e || e.format !== "gpt-attention/1")
    throw new TraceError("not a GPT attention file (format gpt-attention/1)");
  const { text, tokens, T, nLayer, nHead, synthetic } = e;
  const data = base64ToF32(e.data, nLayer * nHead * T * T, "GPT attention");
  return { text, tokens, T, nLayer, nHead, synthetic, source: "precomputed", data };
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
