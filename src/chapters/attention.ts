/**
 * Chapter 2, attention's cost and linear attention (arXiv 2305.13048 v4, Section 2 and 4.1, Eq. 7-10 and 16):
 * the equations as TeX, the T x T "attention" that RWKV's WKV implies for one channel, the transformer baseline's
 * softmax attention in its JSON form, the numbers the page quotes, and the home page's cost curves. Pure: the
 * live transformer that computes the softmax attention is src/live/gpt-live.ts, the figure
 * src/components/attention-heatmap.ts.
 *
 * The WKV of channel c at position t (Eq. 16; here w is the loaded decay, w = -exp(time_decay) < 0, so the
 * paper's e^{-(t-1-i)w} is our e^{(t-1-i)w}) is a weighted average of the values v_i, i <= t:
 *
 *   wkv_t = sum_i alpha_{t,i} v_i,   alpha_{t,i} = e^{s_{t,i}} / sum_{j<=t} e^{s_{t,j}},
 *   s_{t,i} = (t-1-i) w + k_i   for i < t,        s_{t,t} = u + k_t,
 *
 * exactly the form of softmax attention's row (Eq. 8), with the score q_t . k_i replaced by a per-channel
 * position decay plus the key of the earlier token (AFT's Eq. 9 with w_{t,i} = -(t-i)w, Eq. 10).
 *
 * API:
 *   TEX.softmax, softmaxRow, aft, linear, decay, wkv, shift, wkvAlpha   Eq. 7, 8, 9, linear attention, 10, 16,
 *                                              Eq. 16 written with Eq. 10's bias (shift), Eq. 16 read as attention
 *   eq10Form(k, v, w, u, T, C, channel)        wkv_t of one channel by Eq. 9 with Eq. 10's w_{t,i} and w_{t,t} = u - w
 *   wkvAttentionMatrix(k, w, u, T, C, c) -> alpha (T, T)   one channel's WKV weights (log-sum-exp, stable)
 *   applyRows(A, x, T, C, c) -> y (T)          y_t = sum_i A[t, i] x_i of one channel
 *   attentionChecks(A, T) -> {rowSumError, aboveDiagonal}
 *   channelOfRank(w, rank)                     the channel of the rank-th slowest decay (0 = longest memory)
 *   interface GptAttention; attentionFromRows; attentionOf(att, layer, head) -> (T, T)
 *   encodeGptAttention / decodeGptAttention    JSON form (base64 fp32) of the build-time attention
 *   decodeAttentionTrace(json) -> TraceView & {check}   the page's precomputed trace (keys k) and the build-time
 *                                              check of sum_i alpha v against the model's wkv
 *   attentionView(trace, params, gpt, sel) -> {channel, panels, softmax, dataset}   what the figure shows
 *   wkvChecks(trace, params, view, sel, check) -> the numbers of the checks list under the figure
 *   wkvDiagonalStats(trace, params, layer) -> {diag, prev, uNeg, uMin, uMax}   the current token's weight, on
 *                                              average over the channels and positions
 *   distinctiveHeads(gpt, trace) -> {prev, space} | null   the heads that look most at the previous character / the
 *                                              latest space or line break
 *   windowedLoss(card) -> nats per character on the held-out windows, when the card has it; lossWindow(card) their length
 *   attentionCostData(T, {d, maxPoints}) -> AttentionCostRow[]   the home page's multiply-add counts
 */
import type { ModelParams } from "./params.js";
import { halfLife } from "./decay.js";
import { tx } from "./notation.js";
import { sym } from "./tex.js";
import {
  TraceError,
  base64ToBytes,
  bytesToBase64,
  decodeTrace,
  tensorOf,
  type Backend,
  type TraceView,
} from "../trace/trace.js";

// ---------------------------------------------------------------------------------------------------------
// The equations
// ---------------------------------------------------------------------------------------------------------

const W = tx("w");
const EARLIER = String.raw`e^{-(t-1-i)${W} + ${tx("k", "i")}}`;
const CURRENT = String.raw`e^{${tx("u")} + ${tx("k")}}`;
const ALPHA = tx("alpha");

export const TEX = {
  /** Eq. 7: self-attention without the multi-head split and the 1/sqrt(d_k) scale, as the paper writes it */
  softmax: String.raw`\mathrm{Attn}(Q, K, V) = \mathrm{softmax}\!\left(Q K^\top\right) V \tag{7}`,
  /** Eq. 8: one output position as a weighted average of the values */
  softmaxRow: String.raw`
\mathrm{Attn}(Q, K, V)_t = \frac{\sum_{i=1}^{T} e^{q_t^\top k_i} \odot v_i}{\sum_{i=1}^{T} e^{q_t^\top k_i}}
= \sum_{i=1}^{T} ${sym("softmax", String.raw`\underbrace{\frac{e^{q_t^\top k_i}}{\sum_{j} e^{q_t^\top k_j}}}_{\text{softmax weight}}`)}\, v_i \tag{8}
`,
  /** Eq. 9: the Attention Free Transformer */
  aft: String.raw`
\mathrm{Attn}^+(W, K, V)_t = \frac{\sum_{i=1}^{t} e^{w_{t,i} + k_i} \odot v_i}{\sum_{i=1}^{t} e^{w_{t,i} + k_i}} \tag{9}
`,
  /** linear attention (Katharopoulos et al., 2020) as a recurrence; not numbered in the paper */
  linear: String.raw`
S_t = S_{t-1} + \phi(k_t)\, v_t^\top, \qquad z_t = z_{t-1} + \phi(k_t), \qquad
\mathrm{out}_t = \frac{\phi(q_t)^\top S_t}{\phi(q_t)^\top z_t}
`,
  /** Eq. 10: RWKV's pair bias, a per-channel decay times the distance */
  decay: String.raw`w_{t,i} = -(t - i)\, ${W}, \qquad ${W} \in (\mathbb{R}_{\ge 0})^{d} \tag{10}`,
  /** Eq. 16: the WKV operator for one channel */
  wkv: String.raw`
${tx("wkv")} = \frac{\sum_{i=1}^{t-1} ${EARLIER} \odot ${tx("v", "i")} + ${CURRENT} \odot ${tx("v")}}{\sum_{i=1}^{t-1} ${EARLIER} + ${CURRENT}} \tag{16}
`,
  /** Eq. 16 multiplied above and below by e^{-w}: Eq. 9 with Eq. 10's bias for the earlier tokens */
  shift: String.raw`
${tx("wkv")} = \frac{\sum_{i=1}^{t-1} e^{-(t-i)${W} + ${tx("k", "i")}} \odot ${tx("v", "i")} + e^{(${tx("u")} - ${W}) + ${tx("k")}} \odot ${tx("v")}}{\sum_{i=1}^{t-1} e^{-(t-i)${W} + ${tx("k", "i")}} + e^{(${tx("u")} - ${W}) + ${tx("k")}}}
`,
  /** Eq. 16 read as attention: a softmax over the earlier positions with the score s_{t,i} */
  wkvAlpha: String.raw`
${tx("wkv")} = \sum_{i=1}^{t} ${ALPHA}\, ${tx("v", "i")}, \qquad
${ALPHA} = \frac{e^{s_{t,i}}}{\sum_{j=1}^{t} e^{s_{t,j}}}, \qquad
s_{t,i} = \begin{cases} -(t-1-i)\,${W} + ${tx("k", "i")} & i < t \\ ${tx("u")} + ${tx("k")} & i = t \end{cases}
`,
} as const;

// ---------------------------------------------------------------------------------------------------------
// The attention WKV implies
// ---------------------------------------------------------------------------------------------------------

/** alpha (T, T) row-major for one channel: row t holds the weights of positions 0..t (zero above the diagonal). */
export function wkvAttentionMatrix(
  k: ArrayLike<number>, // (T, C) keys k_t of one layer
  w: ArrayLike<number>, // (C) loaded decay w = -exp(time_decay), < 0
  u: ArrayLike<number>, // (C) bonus u = time_first
  T: number,
  C: number,
  channel: number,
): Float32Array {
  if (!Number.isInteger(T) || T < 1)
    throw new RangeError(`wkvAttentionMatrix: T must be a positive integer, got ${T}`);
  if (!Number.isInteger(channel) || channel < 0 || channel >= C) {
    throw new RangeError(`wkvAttentionMatrix: channel ${channel} is outside 0..${C - 1}`);
  }
  if (k.length !== T * C)
    throw new RangeError(`wkvAttentionMatrix: k has ${k.length} values, expected T*C = ${T * C}`);
  const wc = w[channel];
  const uc = u[channel];
  const out = new Float32Array(T * T);
  const s = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let max = -Infinity;
    for (let i = 0; i <= t; i++) {
      const ki = k[i * C + channel];
      s[i] = i < t ? (t - 1 - i) * wc + ki : uc + ki; // exponent of Eq. 16's term for token i
      if (s[i] > max) max = s[i];
    }
    let z = 0;
    for (let i = 0; i <= t; i++) z += Math.exp(s[i] - max);
    for (let i = 0; i <= t; i++) out[t * T + i] = Math.exp(s[i] - max) / z;
  }
  return out;
}

/** y_t = sum_i A[t, i] x_i for one channel of a (T, C) tensor: the weighted average a row of A describes. */
export function applyRows(
  A: ArrayLike<number>,
  x: ArrayLike<number>,
  T: number,
  C: number,
  channel: number,
): Float64Array {
  const y = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let acc = 0;
    for (let i = 0; i < T; i++) acc += A[t * T + i] * x[i * C + channel];
    y[t] = acc;
  }
  return y;
}

/**
 * One channel's wkv_t computed as Eq. 9 (AFT) with Eq. 10's bias w_{t,i} = -(t-i) w for every earlier token and
 * w_{t,t} = u - w for the current one (float64, the row maximum subtracted): Eq. 16 with its numerator and
 * denominator both multiplied by e^{-w}, so it must give the model's wkv_t. `w` is the loaded decay (-e^{time_decay}
 * = minus the paper's w), so -(t-i) w_paper = (t-i) w and u - w_paper = u + w.
 */
export function eq10Form(
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  w: ArrayLike<number>,
  u: ArrayLike<number>,
  T: number,
  C: number,
  channel: number,
): Float64Array {
  const out = new Float64Array(T);
  const s = new Float64Array(T);
  const wc = w[channel];
  for (let t = 0; t < T; t++) {
    let m = -Infinity;
    for (let i = 0; i <= t; i++) {
      const bias = i < t ? (t - i) * wc : u[channel] + wc; // Eq. 10 for i < t; u - w_paper for i = t
      s[i] = bias + k[i * C + channel];
      m = Math.max(m, s[i]);
    }
    let num = 0;
    let den = 0;
    for (let i = 0; i <= t; i++) {
      const e = Math.exp(s[i] - m);
      num += e * v[i * C + channel];
      den += e;
    }
    out[t] = num / den;
  }
  return out;
}

/** Largest |row sum - 1| and largest weight above the diagonal of a (T, T) attention matrix. */
export function attentionChecks(
  A: ArrayLike<number>,
  T: number,
): { rowSumError: number; aboveDiagonal: number } {
  let rowSumError = 0;
  let aboveDiagonal = 0;
  for (let t = 0; t < T; t++) {
    let sum = 0;
    for (let i = 0; i < T; i++) {
      sum += A[t * T + i];
      if (i > t) aboveDiagonal = Math.max(aboveDiagonal, Math.abs(A[t * T + i]));
    }
    rowSumError = Math.max(rowSumError, Math.abs(sum - 1));
  }
  return { rowSumError, aboveDiagonal };
}

/** The channel of the rank-th slowest decay (largest w, longest memory) of a layer: the page's channel slider. */
export function channelOfRank(w: ArrayLike<number>, rank: number): number {
  const order = Array.from({ length: w.length }, (_, c) => c).sort((a, b) => w[b] - w[a]);
  return order[rank];
}

// ---------------------------------------------------------------------------------------------------------
// The transformer baseline's softmax attention
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

export function attentionMeta(
  tokens: readonly number[],
  { nLayer, nHead }: { nLayer: number; nHead: number },
  meta: { text: string; synthetic: boolean },
): Pick<GptAttention, "text" | "tokens" | "T" | "nLayer" | "nHead" | "synthetic"> {
  return { text: meta.text, tokens: [...tokens], T: tokens.length, nLayer, nHead, synthetic: meta.synthetic };
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
  const data = bytesToBase64(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength));
  return { format: "gpt-attention/1", text, tokens, T, nLayer, nHead, synthetic, data };
}

export function decodeGptAttention(json: unknown): GptAttention {
  const e = json as EncodedGptAttention;
  if (!e || e.format !== "gpt-attention/1")
    throw new TraceError("not a GPT attention file (format gpt-attention/1)");
  const { text, tokens, T, nLayer, nHead, synthetic } = e;
  const bytes = base64ToBytes(e.data);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  if (data.length !== nLayer * nHead * T * T)
    throw new TraceError(`GPT attention: ${data.length} values, expected ${nLayer * nHead * T * T}`);
  return { text, tokens, T, nLayer, nHead, synthetic, source: "precomputed", data };
}

// ---------------------------------------------------------------------------------------------------------
// What the page shows
// ---------------------------------------------------------------------------------------------------------

/** The build-time check of src/data/traces/attention.json.ts: sum_i alpha v against the model's wkv. */
export interface WkvBuildCheck {
  maxAbsDiff: number;
  /** the same for eq10Form (absent in files written before it) */
  eq10?: number;
  layers: number;
  channels: number;
  positions: number;
}

/** The page's precomputed trace (the default prompt's keys) with the build-time check. */
export function decodeAttentionTrace(json: unknown): TraceView & { check: WkvBuildCheck } {
  const e = json as { trace?: unknown; check?: WkvBuildCheck };
  if (!e || typeof e !== "object" || !e.check) throw new TraceError("not chapter 2's precomputed trace");
  return Object.assign(decodeTrace(e.trace), { check: e.check });
}

/** One heatmap of the comparison figure (src/components/attention-heatmap.ts). */
export interface AttentionPanel {
  /** short title, e.g. "RWKV WKV · layer 2 · channel 17" */
  title: string;
  /** second line: what the weights are made of */
  subtitle?: string;
  /** (T, T) row-major, rows are queries t, columns keys i */
  matrix: Float32Array;
  /** CSS colour of the cells */
  color: string;
  /** a short name for the hover readout, e.g. "WKV α" */
  name: string;
  /** hover-link name (data-sym) shared with the equations, e.g. "alpha" */
  sym?: string;
  /** the cell colour as [r, g, b] for the bitmap (CSS variables cannot colour pixels); default the RWKV blue */
  rgb?: [number, number, number];
}

export interface AttentionSelection {
  /** RWKV layer and the rank of its channel by decay (0 = longest memory) */
  layer: number;
  rank: number;
  /** transformer layer and head */
  gLayer: number;
  head: number;
}

export interface AttentionView {
  channel: number;
  /** alpha of the chosen RWKV layer and channel */
  wkv: Float32Array;
  /** the transformer's weights for the chosen layer and head; null when its attention is not for this prompt */
  softmax: Float32Array | null;
  panels: AttentionPanel[];
  /** data attributes of the figure: which backend computed each panel (the browser tests read them) */
  dataset: Record<string, string>;
}

/** What the comparison figure shows: the WKV weights from the trace's keys, beside the transformer's (if shown). */
export function attentionView(
  trace: TraceView,
  params: ModelParams,
  gpt: GptAttention | null,
  { layer, rank, gLayer, head }: AttentionSelection,
): AttentionView {
  const { w, u } = params.layers[layer];
  const C = params.config.nEmbd;
  const channel = channelOfRank(w, rank);
  const wkv = wkvAttentionMatrix(tensorOf(trace, layer, "k"), w, u, trace.T, C, channel);
  const panels: AttentionPanel[] = [
    {
      title: `RWKV WKV · layer ${layer} · channel ${channel}`,
      subtitle: `decay per token e⁻ʷ = ${Math.exp(w[channel]).toPrecision(3)}, bonus u = ${u[channel].toFixed(2)}`,
      matrix: wkv,
      color: "var(--color-rwkv)",
      rgb: [0x3b, 0x6f, 0xd9],
      name: "WKV α",
      sym: "alpha",
    },
  ];
  const dataset: Record<string, string> = { wkvBackend: trace.backend };
  const shown = gpt && gpt.text === trace.text ? gpt : null;
  const softmax = shown ? attentionOf(shown, gLayer, head) : null;
  if (shown && softmax) {
    const where = shown.source === "live" ? `live, ${shown.backend}` : "precomputed";
    panels.push({
      title: `Transformer softmax · layer ${gLayer} · head ${head}`,
      subtitle: `scores q·k / √d${shown.synthetic ? ", synthetic weights" : ""} · ${where}`,
      matrix: softmax,
      color: "var(--color-softmax)",
      rgb: [0xe8, 0x59, 0x0c],
      name: "softmax",
      sym: "softmax",
    });
    dataset.softmaxBackend = shown.source === "live" ? String(shown.backend) : "precomputed";
  }
  return { channel, wkv, softmax, panels, dataset };
}

export interface WkvChecks {
  /** largest |row sum - 1| of the WKV weights, and of the softmax weights when shown */
  rowSum: number;
  softmaxRowSum?: number;
  /** tokens of distance after which an earlier token's weight halves (before its key), as the page prints it */
  halfLife: string;
  /** sum_i alpha v_i against the model's own wkv_t: here when the trace has v and wkv, else the build-time check */
  wkv: { maxAbsDiff: number; scope: string };
  /** Eq. 9 with Eq. 10's bias (and u - w for the current token) against the model's wkv_t, when the trace has them */
  eq10?: number;
}

/** The checks list under the figure: the weights reproduce the model's own output, and every row sums to 1. */
export function wkvChecks(
  trace: TraceView,
  params: ModelParams,
  view: AttentionView,
  layer: number,
  check?: WkvBuildCheck,
): WkvChecks {
  const { T } = trace;
  const C = params.config.nEmbd;
  const { channel } = view;
  const h = halfLife(params.layers[layer].w[channel]);
  const out: WkvChecks = {
    rowSum: attentionChecks(view.wkv, T).rowSumError,
    halfLife: Number.isFinite(h) ? h.toFixed(h < 10 ? 2 : 0) : "∞",
    wkv: { maxAbsDiff: NaN, scope: "" },
  };
  const lt = trace.layers[layer];
  if (lt.v && lt.wkv) {
    const y = applyRows(view.wkv, lt.v, T, C, channel);
    let m = 0;
    for (let t = 0; t < T; t++) m = Math.max(m, Math.abs(y[t] - lt.wkv[t * C + channel]));
    out.wkv = { maxAbsDiff: m, scope: `layer ${layer}, channel ${channel}, all ${T} positions` };
    const { w, u } = params.layers[layer];
    const z = eq10Form(tensorOf(trace, layer, "k"), lt.v, w, u, T, C, channel);
    out.eq10 = 0;
    for (let t = 0; t < T; t++) out.eq10 = Math.max(out.eq10, Math.abs(z[t] - lt.wkv[t * C + channel]));
  } else if (check) {
    out.wkv = {
      maxAbsDiff: check.maxAbsDiff,
      scope: `every layer and channel, all ${check.positions} positions, checked at build time`,
    };
    if (check.eq10 !== undefined) out.eq10 = check.eq10;
  }
  if (view.softmax) out.softmaxRowSum = attentionChecks(view.softmax, T).rowSumError;
  return out;
}

export interface WkvDiagonalStats {
  /** the weight of the current token (e^{u + k_t}), on average over channels and positions t >= 1 */
  diag: number;
  /** the weight of the previous token (e^{k_{t-1}}), on average */
  prev: number;
  /** channels with a negative bonus u, and the range of u */
  uNeg: number;
  uMin: number;
  uMax: number;
}

/**
 * What a layer's WKV does with the current token, over every channel and position: the weight of the diagonal
 * (e^{u + k_t}) against the previous token's (e^{k_{t-1}}), from the running log-sum of Eq. 16's denominator
 * (log B_t = logaddexp(w + log B_{t-1}, k_t), w < 0 as loaded), O(T C), from the trace's keys of one layer and
 * its w and u. Null without a trace or for fewer than 2 tokens.
 */
export function wkvDiagonalStats(
  trace: TraceView | null,
  params: ModelParams,
  layer: number,
): WkvDiagonalStats | null {
  if (!trace || trace.T < 2) return null;
  const { T, C } = trace;
  const k = tensorOf(trace, layer, "k");
  const { w, u } = params.layers[layer];
  let diag = 0;
  let prev = 0;
  let n = 0;
  for (let c = 0; c < C; c++) {
    let logB = k[c]; // log B_0
    for (let t = 1; t < T; t++) {
      const self = u[c] + k[t * C + c];
      const m = Math.max(self, logB);
      const logZ = m + Math.log(Math.exp(self - m) + Math.exp(logB - m));
      diag += Math.exp(self - logZ);
      prev += Math.exp(k[(t - 1) * C + c] - logZ);
      n++;
      const a = w[c] + logB;
      const b = k[t * C + c];
      const mm = Math.max(a, b);
      logB = mm + Math.log(Math.exp(a - mm) + Math.exp(b - mm));
    }
  }
  const us = Array.from(u);
  return {
    diag: diag / n,
    prev: prev / n,
    uNeg: us.filter((x) => x < 0).length,
    uMin: Math.min(...us),
    uMax: Math.max(...us),
  };
}

export interface HeadPick {
  /** the average weight */
  v: number;
  l: number;
  h: number;
}

/**
 * The transformer's most distinctive heads for a prompt: the one that looks most at the previous character, and
 * the one that looks most at the latest space or line break before the query (average weights over the queries
 * t >= 1). Null unless the attention is for the trace's prompt and has at least 3 tokens.
 */
export function distinctiveHeads(
  gpt: GptAttention | null,
  trace: TraceView | null,
): { prev: HeadPick; space: HeadPick } | null {
  if (!gpt || !trace || gpt.text !== trace.text || gpt.T < 3) return null;
  const T = gpt.T;
  const text = [...gpt.text];
  const best = { prev: { v: -1, l: 0, h: 0 }, space: { v: -1, l: 0, h: 0 } };
  for (let l = 0; l < gpt.nLayer; l++)
    for (let h = 0; h < gpt.nHead; h++) {
      const A = attentionOf(gpt, l, h);
      let p = 0;
      let sp = 0;
      let n = 0;
      let ns = 0;
      for (let t = 1; t < T; t++) {
        p += A[t * T + t - 1];
        n++;
        let j = t - 1;
        while (j >= 0 && text[j] !== " " && text[j] !== "\n") j--;
        if (j >= 0) {
          sp += A[t * T + j];
          ns++;
        }
      }
      if (p / n > best.prev.v) best.prev = { v: p / n, l, h };
      if (ns && sp / ns > best.space.v) best.space = { v: sp / ns, l, h };
    }
  return best;
}

/** The validation loss on the held-out windows of ctx_len characters (lossWindow; the same for both models). */
export function windowedLoss(card: {
  synthetic: boolean;
  raw?: Record<string, unknown>;
}): number | undefined {
  if (card.synthetic) return undefined;
  const results = card.raw?.results as Record<string, unknown> | undefined;
  const windowed = results?.validation_windowed as Record<string, unknown> | undefined;
  const loss = windowed?.nats_per_char;
  return typeof loss === "number" ? loss : undefined;
}

/** The length of those windows: the training context ctx_len of the card (256 for this site's models). */
export function lossWindow(card: { raw?: Record<string, unknown> }): number | undefined {
  const ctx = (card.raw?.config as Record<string, unknown> | undefined)?.ctx_len;
  return typeof ctx === "number" ? ctx : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// The cost of mixing tokens (the home page's figure, src/components/attention-cost.ts)
// ---------------------------------------------------------------------------------------------------------
//
// What is counted: multiply-adds in the token-mixing step of one layer with d channels, the part that differs
// between the two models (the projections W_k, W_v, W_r, W_o and the feed-forward are the same work in both and
// are left out, as are exponentials and divisions):
//
//  - softmax attention, generating token t with a KV cache: the scores q_t . k_i for i = 1..t (t d multiply-adds)
//    and the weighted sum sum_i alpha_i v_i (t d): 2 t d. A whole sequence of T tokens (causal, or the prefill of a
//    prompt): sum_{t=1}^{T} 2 t d = T (T + 1) d, the paper's O(T^2 d) (Table 1, v4).
//  - RWKV, one step of the recurrent form of the WKV operator (v4 Eq. 16 and its state a, b), per channel:
//      wkv_t = (a_{t-1} + e^{u+k_t} v_t) / (b_{t-1} + e^{u+k_t})     2 multiply-adds
//      a_t   = e^{-w} a_{t-1} + e^{k_t} v_t                          2
//      b_t   = e^{-w} b_{t-1} + e^{k_t}                              1
//    that is 5 d per token whatever t is, and 5 T d for a sequence: O(T d).

/** Multiply-adds per channel of one RWKV WKV step (see the count above). */
export const RWKV_MULADDS_PER_CHANNEL = 5;

export interface AttentionCostRow {
  /** Sequence length, or the position of the token being generated (1-based). */
  t: number;
  /** Multiply-adds to generate token t with softmax attention and a KV cache: 2 t d. */
  softmaxToken: number;
  /** Multiply-adds for one RWKV step: 5 d, constant. */
  rwkvToken: number;
  /** Multiply-adds for a whole sequence of t tokens with softmax attention: t (t + 1) d. */
  softmaxTotal: number;
  /** Multiply-adds for a whole sequence of t tokens with RWKV: 5 t d. */
  rwkvTotal: number;
}

export interface AttentionCostDataOptions {
  /** Channels (the model width); 768 is RWKV-4-Pile 169M and GPT-2 small. */
  d?: number;
  /** Most rows returned; the curves are sampled evenly, and t = T is always the last row. */
  maxPoints?: number;
}

export const MAX_CONTEXT = 1 << 20;

/** The cost curves for t = 1..T (sampled to at most maxPoints rows, the last one at t = T). */
export function attentionCostData(
  T: number,
  { d = 768, maxPoints = 400 }: AttentionCostDataOptions = {},
): AttentionCostRow[] {
  if (!Number.isInteger(T) || T < 1 || T > MAX_CONTEXT) {
    throw new RangeError(`attentionCostData: T must be an integer in [1, ${MAX_CONTEXT}], got ${T}`);
  }
  if (!Number.isInteger(d) || d < 1)
    throw new RangeError(`attentionCostData: d must be a positive integer, got ${d}`);
  if (!Number.isInteger(maxPoints) || maxPoints < 2) {
    throw new RangeError(`attentionCostData: maxPoints must be an integer >= 2, got ${maxPoints}`);
  }
  const step = Math.max(1, Math.ceil(T / (maxPoints - 1)));
  const rows: AttentionCostRow[] = [];
  for (let t = 1; ; t = Math.min(t + step, T)) {
    rows.push({
      t,
      softmaxToken: 2 * t * d,
      rwkvToken: RWKV_MULADDS_PER_CHANNEL * d,
      softmaxTotal: t * (t + 1) * d,
      rwkvTotal: RWKV_MULADDS_PER_CHANNEL * t * d,
    });
    if (t === T) break;
  }
  return rows;
}
