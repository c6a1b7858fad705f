/**
 * Chapter 5, the WKV operator and its state (arXiv 2305.13048 v4, Eq. 16 and Appendix D): the recurrent form and
 * its numerically stable version as TeX, one step of the stable recurrence with every intermediate number, the
 * state heatmaps, and the overflow of the direct form when the keys grow. Pure: the page renders what these
 * return (src/components/heatmap.ts, src/components/wkv-overflow.ts).
 *
 * API:
 *   TEX.recurrent, TEX.stable      the recurrence of A_t, B_t and Appendix D's (a, b, p) form (sym names wkv, a,
 *                                  b, p, u, k, v, w)
 *   FP32_EXP_LIMIT                 ln(largest fp32) ≈ 88.72: e^x is Infinity in fp32 beyond it
 *   recurrenceStep({a, b, p, w, u, k, v}) -> {q, wkv, e1, e2, a2, b2, p2, ...}   one channel, one token
 *   f4(x)                          a number as the step table prints it (4 decimals, exponent when large/small)
 *   channelsByDecay(w) -> {order, auto}   channels from the fastest decay to the slowest, and the page's default
 *                                  channel (60% of the way to the slowest)
 *   stateHeatmaps(trace, {layer, token, channel, order}) -> the four heatmaps a_t, b_t, p_t, a_t / b_t
 *   wkvStep(trace, params, {layer, channel, token}) -> WkvStep   the step table: Appendix D recomputed in float64
 *                                  from the model's stored state, beside the model's own values
 *   overflowStats({w, u, k, v, T, C, scale}) -> {direct, stable, nonFiniteDirect, nonFiniteStable, maxDiff,
 *                                                 maxExponent, predictedScale}
 *   overflowSweep({w, u, k, v, T, C, scales}) -> [{scale, nonFiniteDirect, nonFiniteStable}]
 *   overflowSweepAsync(input, isCancelled) -> Promise<... | null>   the same, one scale per macrotask (the
 *                                  direct form is O(T² C): the page stays responsive), null if cancelled
 *   overflowInputs(trace, params, layer), SWEEP_SCALES, overflowSweepFor(inputs, invalidation)   the page's sweep
 *   overflowView(inputs, {scale, channel, sweep}) -> OverflowFigureData   what the overflow figure draws
 *   keyScaleSlider(s), keyScaleParam(scale)   the key scale s between the address (s=300) and the log slider
 */
import { P_EMPTY, emptyWkvState, wkvDirect, wkvScan } from "../rwkv/wkv.js";
import { tensorOf, type TraceView } from "../trace/trace.js";
import { halfLife } from "./decay.js";
import type { ModelParams } from "./params.js";
import { sym } from "./tex.js";

const WKV = sym("wkv", "wkv_t");
const U = sym("u", "u");
const K = sym("k", "k_t");
const V = sym("v", "v_t");
const W = sym("w", "w");
const P1 = sym("p", "p_{t-1}");

export const TEX = {
  /** the numerator and denominator of Eq. 16 carried as a state */
  recurrent: String.raw`
\begin{aligned}
${WKV} &= \frac{${sym("a", "A_{t-1}")} + e^{${U} + ${K}}\, ${V}}{${sym("b", "B_{t-1}")} + e^{${U} + ${K}}}\\[4pt]
${sym("a", "A_t")} &= e^{-${W}}\, ${sym("a", "A_{t-1}")} + e^{${K}}\, ${V} \qquad
${sym("b", "B_t")} = e^{-${W}}\, ${sym("b", "B_{t-1}")} + e^{${K}}
\end{aligned}
`,
  /** Appendix D: the state relative to the running maximum exponent p */
  stable: String.raw`
\begin{aligned}
q &= \max(${P1},\ ${U} + ${K}) &
${WKV} &= \frac{e^{${P1} - q}\, ${sym("a", "a_{t-1}")} + e^{${U} + ${K} - q}\, ${V}}{e^{${P1} - q}\, ${sym("b", "b_{t-1}")} + e^{${U} + ${K} - q}}\\[4pt]
q' &= \max(${P1} - ${W},\ ${K}) &
${sym("a", "a_t")} &= e^{${P1} - ${W} - q'}\, ${sym("a", "a_{t-1}")} + e^{${K} - q'}\, ${V}\\
& & ${sym("b", "b_t")} &= e^{${P1} - ${W} - q'}\, ${sym("b", "b_{t-1}")} + e^{${K} - q'}, \qquad ${sym("p", "p_t")} = q'
\end{aligned}
`,
} as const;

/** ln(3.4028235e38): the largest x with e^x finite in fp32. */
export const FP32_EXP_LIMIT = Math.log(3.4028234663852886e38);

export interface RecurrenceInput {
  /** state before the token (as stored: A = e^p a, B = e^p b) */
  a: number;
  b: number;
  p: number;
  /** w = -exp(time_decay) < 0 */
  w: number;
  u: number;
  k: number;
  v: number;
}

export interface RecurrenceStep {
  /** output: q = max(p, u + k), wkv = (e^{p-q} a + e^{u+k-q} v) / (e^{p-q} b + e^{u+k-q}) */
  q: number;
  e1: number;
  e2: number;
  wkv: number;
  /** update: q' = max(p + w, k), a' = e^{p+w-q'} a + e^{k-q'} v, b' = e^{p+w-q'} b + e^{k-q'}, p' = q' */
  q2: number;
  f1: number;
  f2: number;
  a2: number;
  b2: number;
  p2: number;
}

export function recurrenceStep({ a, b, p, w, u, k, v }: RecurrenceInput): RecurrenceStep {
  const q = Math.max(p, u + k);
  const e1 = Math.exp(p - q);
  const e2 = Math.exp(u + k - q);
  const wkv = (e1 * a + e2 * v) / (e1 * b + e2);
  const q2 = Math.max(p + w, k);
  const f1 = Math.exp(p + w - q2);
  const f2 = Math.exp(k - q2);
  return { q, e1, e2, wkv, q2, f1, f2, a2: f1 * a + f2 * v, b2: f1 * b + f2, p2: q2 };
}

/** The empty state's stored values (before the first token). */
export const EMPTY_STATE = { a: 0, b: 0, p: P_EMPTY };

export interface OverflowInput {
  w: Float32Array;
  u: Float32Array;
  /** (T, C) */
  k: Float32Array;
  v: Float32Array;
  T: number;
  C: number;
}

export interface OverflowStats {
  scale: number;
  /** Eq. 16 evaluated literally in fp32, (T, C) */
  direct: Float32Array;
  /** the stable running-max recurrence (Appendix D), (T, C) */
  stable: Float32Array;
  nonFiniteDirect: number;
  nonFiniteStable: number;
  /** largest |direct - stable| where both are finite */
  maxDiff: number;
  /** the largest exponent Eq. 16 forms: max over t of u + s·k_t and s·k_i */
  maxExponent: number;
  /** the scale at which that exponent reaches FP32_EXP_LIMIT (the predicted onset of overflow) */
  predictedScale: number;
}

function scaled(k: Float32Array, s: number): Float32Array {
  if (s === 1) return k;
  const out = new Float32Array(k.length);
  for (let i = 0; i < k.length; i++) out[i] = k[i] * s;
  return out;
}

export function overflowStats({ w, u, k, v, T, C, scale }: OverflowInput & { scale: number }): OverflowStats {
  if (k.length !== T * C || v.length !== T * C) throw new RangeError("overflowStats: k and v must be (T, C)");
  const ks = scaled(k, scale);
  const direct = wkvDirect(w, u, ks, v, T, C);
  const stable = wkvScan(w, u, ks, v, T, emptyWkvState(C));
  let nonFiniteDirect = 0;
  let nonFiniteStable = 0;
  let maxDiff = 0;
  for (let i = 0; i < T * C; i++) {
    const d = direct[i];
    const s = stable[i];
    if (!Number.isFinite(d)) nonFiniteDirect++;
    if (!Number.isFinite(s)) nonFiniteStable++;
    if (Number.isFinite(d) && Number.isFinite(s)) maxDiff = Math.max(maxDiff, Math.abs(d - s));
  }
  // largest exponent at scale 1 per channel, to predict the onset: u + s k (current token) or s k (earlier ones)
  let maxExponent = -Infinity;
  let predictedScale = Infinity;
  for (let c = 0; c < C; c++) {
    let kmaxEarlier = -Infinity;
    let kmaxCurrent = -Infinity;
    for (let t = 0; t < T; t++) {
      const kk = k[t * C + c];
      kmaxCurrent = Math.max(kmaxCurrent, kk);
      if (t < T - 1) kmaxEarlier = Math.max(kmaxEarlier, kk);
    }
    maxExponent = Math.max(maxExponent, u[c] + scale * kmaxCurrent, scale * kmaxEarlier);
    if (kmaxCurrent > 0) predictedScale = Math.min(predictedScale, (FP32_EXP_LIMIT - u[c]) / kmaxCurrent);
    if (kmaxEarlier > 0) predictedScale = Math.min(predictedScale, FP32_EXP_LIMIT / kmaxEarlier);
  }
  return { scale, direct, stable, nonFiniteDirect, nonFiniteStable, maxDiff, maxExponent, predictedScale };
}

export function overflowSweep(
  input: OverflowInput & { scales: readonly number[] },
): { scale: number; nonFiniteDirect: number; nonFiniteStable: number }[] {
  return input.scales.map((scale) => {
    const s = overflowStats({ ...input, scale });
    return { scale, nonFiniteDirect: s.nonFiniteDirect, nonFiniteStable: s.nonFiniteStable };
  });
}

export async function overflowSweepAsync(
  input: OverflowInput & { scales: readonly number[] },
  isCancelled: () => boolean,
): Promise<{ scale: number; nonFiniteDirect: number; nonFiniteStable: number }[] | null> {
  const out: { scale: number; nonFiniteDirect: number; nonFiniteStable: number }[] = [];
  for (const scale of input.scales) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (isCancelled()) return null;
    const s = overflowStats({ ...input, scale });
    out.push({ scale, nonFiniteDirect: s.nonFiniteDirect, nonFiniteStable: s.nonFiniteStable });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// What chapter 5's page shows
// ---------------------------------------------------------------------------------------------------------

/** A number as the step table prints it: 4 decimals, or 4 significant digits in exponent form when large or tiny. */
export function f4(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(4);
}

/**
 * The channels of a layer from the fastest decay (most negative w: forgets within a token or two) to the slowest,
 * the order of the heatmaps' rows; `auto` is the page's default channel, 60% of the way down.
 */
export function channelsByDecay(w: ArrayLike<number>): { order: number[]; auto: number } {
  const C = w.length;
  const order = Array.from({ length: C }, (_, c) => c).sort((a, b) => w[a] - w[b]);
  return { order, auto: order[Math.floor(C * 0.6)] };
}

/** One heatmap of the state (options of src/components/heatmap.ts with its matrix). */
export interface StateHeatmap {
  matrix: { rows: number; cols: number; data: Float32Array };
  name: string;
  title: string;
  sym: string;
  kind?: "diverging" | "sequential";
  labels: string[];
  revealed: number;
  rowOrder: number[];
  highlightRow: number;
  highlightCol: number;
  rowHeight: number;
}

/**
 * The state after every token of the prompt, one layer: a_t, b_t, p_t (as stored, relative to e^p) and a_t / b_t
 * (= A_t / B_t, the memory's weighted average of the values), channels in `order`, tokens up to `token` revealed.
 */
export function stateHeatmaps(
  trace: TraceView,
  { layer, token, channel, order }: { layer: number; token: number; channel: number; order: number[] },
): StateHeatmap[] {
  const a = tensorOf(trace, layer, "a");
  const b = tensorOf(trace, layer, "b");
  const p = tensorOf(trace, layer, "p");
  const mean = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) mean[i] = a[i] / b[i];
  const { T, C } = trace;
  const common = {
    labels: trace.labels,
    revealed: token + 1,
    rowOrder: order,
    highlightRow: channel,
    highlightCol: token,
    rowHeight: Math.max(1, Math.min(1.4, 360 / C)),
  };
  const m = (data: Float32Array) => ({ rows: T, cols: C, data });
  return [
    {
      matrix: m(a),
      name: "wkv-state-a",
      title: "a_t (numerator, stored relative to e^p)",
      sym: "a",
      ...common,
    },
    {
      matrix: m(b),
      name: "wkv-state-b",
      title: "b_t (denominator, relative to e^p)",
      sym: "b",
      kind: "sequential",
      ...common,
    },
    {
      matrix: m(p),
      name: "wkv-state-p",
      title: "p_t (running maximum exponent)",
      sym: "p",
      kind: "sequential",
      ...common,
    },
    {
      matrix: m(mean),
      name: "wkv-state-mean",
      title: "a_t / b_t (memory's average of v)",
      sym: "wkv",
      ...common,
    },
  ];
}

export interface WkvStep {
  /** "layer 1, channel 17, token 3 “d”" */
  title: string;
  /** [what, value, note] */
  rows: [string, string, string][];
  /** largest |recomputed - model| over wkv_t, a_t, b_t, p_t */
  maxError: number;
}

/** One step of Appendix D's recurrence, evaluated in float64 from the model's stored state, beside the model's. */
export function wkvStep(
  trace: TraceView,
  params: ModelParams,
  { layer, channel, token }: { layer: number; channel: number; token: number },
): WkvStep {
  const C = trace.C;
  const w = params.layers[layer].w[channel];
  const u = params.layers[layer].u[channel];
  const get = (name: "a" | "b" | "p" | "k" | "v" | "wkv", t: number) =>
    tensorOf(trace, layer, name)[t * C + channel];
  const prev =
    token === 0 ? EMPTY_STATE : { a: get("a", token - 1), b: get("b", token - 1), p: get("p", token - 1) };
  const k = get("k", token);
  const v = get("v", token);
  const s = recurrenceStep({ ...prev, w, u, k, v });
  const model = { wkv: get("wkv", token), a: get("a", token), b: get("b", token), p: get("p", token) };
  const labels = trace.labels;
  return {
    title: `layer ${layer}, channel ${channel}, token ${token} “${labels[token]}”`,
    rows: [
      [
        "state before: a, b, p",
        `${f4(prev.a)}, ${f4(prev.b)}, ${f4(prev.p)}`,
        token === 0 ? "the empty state" : `after “${labels[token - 1]}”`,
      ],
      ["k_t, v_t (this token)", `${f4(k)}, ${f4(v)}`, `from W_k, W_v (Eq. 12-13)`],
      ["w, u (learned)", `${f4(-w)}, ${f4(u)}`, `half-life ${halfLife(w).toFixed(2)} tokens`],
      ["q = max(p, u + k)", f4(s.q), ""],
      ["wkv_t (recomputed here)", f4(s.wkv), `model: ${f4(model.wkv)}`],
      [
        "a_t, b_t, p_t (recomputed)",
        `${f4(s.a2)}, ${f4(s.b2)}, ${f4(s.p2)}`,
        `model: ${f4(model.a)}, ${f4(model.b)}, ${f4(model.p)}`,
      ],
      [
        "true A_t = e^p a, B_t = e^p b",
        `${f4(Math.exp(s.p2) * s.a2)}, ${f4(Math.exp(s.p2) * s.b2)}`,
        "the sums of the first form",
      ],
    ],
    maxError: Math.max(
      Math.abs(s.wkv - model.wkv),
      Math.abs(s.a2 - model.a),
      Math.abs(s.b2 - model.b),
      Math.abs(s.p2 - model.p),
    ),
  };
}

/** The overflow figure's inputs: one layer's decay, bonus, keys and values, and the token labels. */
export function overflowInputs(
  trace: TraceView,
  params: ModelParams,
  layer: number,
): OverflowInput & { labels: string[] } {
  const { w, u } = params.layers[layer];
  const { T, C, labels } = trace;
  return { w, u, k: tensorOf(trace, layer, "k"), v: tensorOf(trace, layer, "v"), T, C, labels };
}

/** The key scales of the sweep: 28 steps from 1 to 10^2.7 ≈ 500, evenly on a log axis. */
export const SWEEP_SCALES: readonly number[] = Array.from({ length: 28 }, (_, i) => 10 ** (i * 0.1));

/** The page's sweep: null without inputs, or if `invalidation` (the cell's) settles before it is done. */
export function overflowSweepFor(
  inputs: OverflowInput | null,
  invalidation?: PromiseLike<unknown>,
): Promise<OverflowSweep | null> {
  if (!inputs) return Promise.resolve(null);
  let cancelled = false;
  void invalidation?.then(() => (cancelled = true));
  return overflowSweepAsync({ ...inputs, scales: SWEEP_SCALES }, () => cancelled);
}

export type OverflowSweep = { scale: number; nonFiniteDirect: number; nonFiniteStable: number }[];

/** What src/components/wkv-overflow.ts draws. */
export interface OverflowFigureData {
  labels: string[];
  channel: number;
  /** the channel's wkv_t along the prompt, direct form (Eq. 16 in fp32) and stable form (Appendix D) */
  direct: Float32Array;
  stable: Float32Array;
  scale: number;
  predictedScale: number;
  /** over all channels and tokens */
  nonFiniteDirect: number;
  nonFiniteStable: number;
  total: number;
  maxDiff: number;
  sweep: OverflowSweep;
}

/** The overflow figure at key scale `scale`: one channel's outputs, and the counts over the whole layer. */
export function overflowView(
  inputs: OverflowInput & { labels: string[] },
  { scale, channel, sweep }: { scale: number; channel: number; sweep: OverflowSweep },
): OverflowFigureData {
  const { T, C } = inputs;
  const st = overflowStats({ ...inputs, scale });
  const column = (x: Float32Array) => Float32Array.from({ length: T }, (_, t) => x[t * C + channel]);
  return {
    labels: inputs.labels,
    channel,
    direct: column(st.direct),
    stable: column(st.stable),
    scale,
    predictedScale: st.predictedScale,
    nonFiniteDirect: st.nonFiniteDirect,
    nonFiniteStable: st.nonFiniteStable,
    total: T * C,
    maxDiff: st.maxDiff,
    sweep,
  };
}

/** The key-scale slider's position (log10 s, s clamped to [1, 500]) for the address's `s`. */
export function keyScaleSlider(s: string | number): number {
  return Math.log10(Math.max(1, Math.min(500, Number(s) || 1)));
}

/** The address's `s` for a key scale: "1" at 1 (the default, left out of the address), else 3 digits. */
export function keyScaleParam(scale: number): string {
  return Math.abs(scale - 1) < 1e-9 ? "1" : scale.toPrecision(3);
}
