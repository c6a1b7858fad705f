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
import { paperW, tx, uni } from "./notation.js";

const WKV = tx("wkv");
const U = tx("u");
const K = tx("k");
const V = tx("v");
const W = tx("w");
const P1 = tx("p", "t-1");
const A1 = tx("aprime", "t-1");
const B1 = tx("bprime", "t-1");

export const TEX = {
  /** Appendix D, Eq. 19-22: the numerator and denominator of Eq. 16 carried as a state */
  recurrent: String.raw`
\begin{aligned}
${tx("a", "0")}, ${tx("b", "0")} &= 0 && (19)\\
${WKV} &= \frac{${tx("a", "t-1")} + e^{${U} + ${K}} \odot ${V}}{${tx("b", "t-1")} + e^{${U} + ${K}}} && (20)\\[4pt]
${tx("a")} &= e^{-${W}} \odot ${tx("a", "t-1")} + e^{${K}} \odot ${V} && (21)\\
${tx("b")} &= e^{-${W}} \odot ${tx("b", "t-1")} + e^{${K}} && (22)
\end{aligned}
`,
  /** Appendix D, Eq. 23-28: the state relative to its shared exponent p (a_t = e^{p_t} a'_t, b_t = e^{p_t} b'_t) */
  stable: String.raw`
\begin{aligned}
q &:= \max(${P1},\ ${U} + ${K}) && (23)\\
${WKV} &= \frac{e^{${P1} - q} \odot ${A1} + e^{${U} + ${K} - q} \odot ${V}}{e^{${P1} - q} \odot ${B1} + e^{${U} + ${K} - q}} && (24)\\[4pt]
q' &:= \max(${P1} - ${W},\ ${K}) && (25)\\
${tx("aprime")} &= e^{${P1} - ${W} - q'} \odot ${A1} + e^{${K} - q'} \odot ${V} && (26)\\
${tx("bprime")} &= e^{${P1} - ${W} - q'} \odot ${B1} + e^{${K} - q'} && (27)\\
${tx("p")} &= q' && (28)
\end{aligned}
`,
  /** Eq. 17: the output gate, the receptance's sigmoid, then W_o */
  output: String.raw`${tx("o")} = ${tx("W_o")} \cdot \left(\sigma(${tx("r")}) \odot ${WKV}\right) \tag{17}`,
  /** Eq. 16 for every t at once: a T x T matrix of log-weights, each row's maximum subtracted before exp */
  parallel: String.raw`
\begin{aligned}
s_{t,i} &= \begin{cases} -(t-1-i)\,${W} + ${tx("k", "i")} & i < t \\ ${U} + ${K} & i = t \end{cases} \qquad
m_t = \max_{i \le t} s_{t,i}\\[4pt]
${WKV} &= \frac{\sum_{i \le t} e^{s_{t,i} - m_t}\, ${tx("v", "i")}}{\sum_{i \le t} e^{s_{t,i} - m_t}}
\end{aligned}
`,
  /** the chunked form the ONNX graphs run: the same within a chunk starting at t_0, plus the carried state */
  chunked: String.raw`
\begin{aligned}
m_t &= \max\Big(\max_{t_0 \le i \le t} s_{t,i},\ ${tx("p", "t_0-1")} - (t - t_0)\,${W}\Big)\\[4pt]
${WKV} &= \frac{\sum_{i=t_0}^{t} e^{s_{t,i} - m_t}\, ${tx("v", "i")} + e^{${tx("p", "t_0-1")} - (t-t_0)${W} - m_t}\, ${tx("aprime", "t_0-1")}}{\sum_{i=t_0}^{t} e^{s_{t,i} - m_t} + e^{${tx("p", "t_0-1")} - (t-t_0)${W} - m_t}\, ${tx("bprime", "t_0-1")}}
\end{aligned}
`,
} as const;

/** ln(3.4028235e38): the largest x with e^x finite in fp32. */
export const FP32_EXP_LIMIT = Math.log(3.4028234663852886e38);

/** The largest finite fp16 (binary16) number, 65504, and ln of it: e^x is Infinity in fp16 beyond ≈ 11.09. */
export const FP16_MAX = 65504;
export const FP16_EXP_LIMIT = Math.log(FP16_MAX);

/** The precisions the overflow figure evaluates the two forms in. */
export type Precision = "fp32" | "fp16";
export const PRECISIONS: readonly Precision[] = ["fp32", "fp16"];
export const EXP_LIMIT: Readonly<Record<Precision, number>> = { fp32: FP32_EXP_LIMIT, fp16: FP16_EXP_LIMIT };
export const PRECISION_MAX: Readonly<Record<Precision, string>> = { fp32: "3.4·10³⁸", fp16: "65504" };

/**
 * x rounded to the nearest IEEE 754 binary16 value (ties to even), as a number: +-Infinity past the fp16 range
 * (|x| >= 65520, the midpoint between 65504 and 2^16), subnormals below 2^-14 (spacing 2^-24), NaN stays NaN.
 */
export function roundHalf(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= 65520) return Math.sign(x) * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10); // 10 mantissa bits; subnormals share the spacing of 2^-14
  const q = a / ulp; // exact: ulp is a power of two
  const f = Math.floor(q);
  const d = q - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return Math.sign(x) * r * ulp;
}

/**
 * Eq. 16 evaluated literally in fp16, as a half-precision kernel would: the inputs and every exponential, product
 * and sum rounded to fp16 (src/rwkv/wkv.ts wkvDirect is the same in fp32). e^x overflows once x > ln 65504.
 */
export function wkvDirectHalf(
  w: Float32Array,
  u: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  C: number,
): Float32Array {
  const h = roundHalf;
  const out = new Float32Array(T * C);
  for (let c = 0; c < C; c++) {
    const wc = h(w[c]);
    for (let t = 0; t < T; t++) {
      let num = 0;
      let den = 0;
      for (let i = 0; i < t; i++) {
        const e = h(Math.exp(h(h((t - 1 - i) * wc) + h(k[i * C + c]))));
        num = h(num + h(e * h(v[i * C + c])));
        den = h(den + e);
      }
      const eu = h(Math.exp(h(h(u[c]) + h(k[t * C + c]))));
      num = h(num + h(eu * h(v[t * C + c])));
      den = h(den + eu);
      out[t * C + c] = h(num / den);
    }
  }
  return out;
}

/** Appendix D's stable recurrence (Eq. 23-28) in fp16: the same operations, every one rounded to fp16. */
export function wkvStableHalf(
  w: Float32Array,
  u: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  C: number,
): Float32Array {
  const h = roundHalf;
  const out = new Float32Array(T * C);
  for (let c = 0; c < C; c++) {
    const wc = h(w[c]);
    const uc = h(u[c]);
    let a = 0;
    let b = 0;
    let p = h(P_EMPTY); // -Infinity in fp16: e^{p - q} is still exactly 0
    for (let t = 0; t < T; t++) {
      const kt = h(k[t * C + c]);
      const vt = h(v[t * C + c]);
      const q = Math.max(p, h(uc + kt));
      const e1 = h(Math.exp(h(p - q)));
      const e2 = h(Math.exp(h(h(uc + kt) - q)));
      out[t * C + c] = h(h(h(e1 * a) + h(e2 * vt)) / h(h(e1 * b) + e2));
      const q2 = Math.max(h(p + wc), kt);
      const f1 = h(Math.exp(h(h(p + wc) - q2)));
      const f2 = h(Math.exp(h(kt - q2)));
      a = h(h(f1 * a) + h(f2 * vt));
      b = h(h(f1 * b) + f2);
      p = q2;
    }
  }
  return out;
}

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
  /** the scale at which that exponent reaches EXP_LIMIT[precision] (the predicted onset of overflow) */
  predictedScale: number;
}

function scaled(k: Float32Array, s: number): Float32Array {
  if (s === 1) return k;
  const out = new Float32Array(k.length);
  for (let i = 0; i < k.length; i++) out[i] = k[i] * s;
  return out;
}

export function overflowStats({
  w,
  u,
  k,
  v,
  T,
  C,
  scale,
  precision = "fp32",
}: OverflowInput & { scale: number; precision?: Precision }): OverflowStats {
  if (k.length !== T * C || v.length !== T * C) throw new RangeError("overflowStats: k and v must be (T, C)");
  const ks = scaled(k, scale);
  const half = precision === "fp16";
  const direct = half ? wkvDirectHalf(w, u, ks, v, T, C) : wkvDirect(w, u, ks, v, T, C);
  const stable = half ? wkvStableHalf(w, u, ks, v, T, C) : wkvScan(w, u, ks, v, T, emptyWkvState(C));
  const limit = EXP_LIMIT[precision];
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
    if (kmaxCurrent > 0) predictedScale = Math.min(predictedScale, (limit - u[c]) / kmaxCurrent);
    if (kmaxEarlier > 0) predictedScale = Math.min(predictedScale, limit / kmaxEarlier);
  }
  return { scale, direct, stable, nonFiniteDirect, nonFiniteStable, maxDiff, maxExponent, predictedScale };
}

export function overflowSweep(
  input: OverflowInput & { scales: readonly number[]; precision?: Precision },
): { scale: number; nonFiniteDirect: number; nonFiniteStable: number }[] {
  return input.scales.map((scale) => {
    const s = overflowStats({ ...input, scale });
    return { scale, nonFiniteDirect: s.nonFiniteDirect, nonFiniteStable: s.nonFiniteStable };
  });
}

export async function overflowSweepAsync(
  input: OverflowInput & { scales: readonly number[]; precision?: Precision },
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
      title: `${uni("aprime")} (numerator, relative to exp(${uni("p")}))`,
      sym: "a",
      ...common,
    },
    {
      matrix: m(b),
      name: "wkv-state-b",
      title: `${uni("bprime")} (denominator, relative to exp(${uni("p")}))`,
      sym: "b",
      kind: "sequential",
      ...common,
    },
    {
      matrix: m(p),
      name: "wkv-state-p",
      title: `${uni("p")} (shared exponent: the running maximum)`,
      sym: "p",
      kind: "sequential",
      ...common,
    },
    {
      matrix: m(mean),
      name: "wkv-state-mean",
      title: `${uni("aprime")} / ${uni("bprime")} = ${uni("a")} / ${uni("b")} (the memory's average of v)`,
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
        `state before: ${uni("aprime", "t-1")}, ${uni("bprime", "t-1")}, ${uni("p", "t-1")}`,
        `${f4(prev.a)}, ${f4(prev.b)}, ${f4(prev.p)}`,
        token === 0 ? "the empty state" : `after “${labels[token - 1]}”`,
      ],
      [
        `${uni("k")}, ${uni("v")} (this token)`,
        `${f4(k)}, ${f4(v)}`,
        `from ${uni("W_k")}, ${uni("W_v")} (Eq. 12-13)`,
      ],
      [
        `${uni("w")}, ${uni("u")} (learned)`,
        `${f4(paperW(w))}, ${f4(u)}`,
        `half-life ${halfLife(w).toFixed(2)} tokens`,
      ],
      [`q = max(${uni("p", "t-1")}, ${uni("u")} + ${uni("k")}) (Eq. 23)`, f4(s.q), ""],
      [`${uni("wkv")} (Eq. 24, recomputed here)`, f4(s.wkv), `model: ${f4(model.wkv)}`],
      [
        `${uni("aprime")}, ${uni("bprime")}, ${uni("p")} (Eq. 26-28, recomputed)`,
        `${f4(s.a2)}, ${f4(s.b2)}, ${f4(s.p2)}`,
        `model: ${f4(model.a)}, ${f4(model.b)}, ${f4(model.p)}`,
      ],
      [
        `${uni("a")} = exp(${uni("p")})·${uni("aprime")}, ${uni("b")} = exp(${uni("p")})·${uni("bprime")}`,
        `${f4(Math.exp(s.p2) * s.a2)}, ${f4(Math.exp(s.p2) * s.b2)}`,
        "the sums of Eq. 21-22",
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
  precision: Precision,
  invalidation?: PromiseLike<unknown>,
): Promise<OverflowSweep | null> {
  if (!inputs) return Promise.resolve(null);
  let cancelled = false;
  void invalidation?.then(() => (cancelled = true));
  return overflowSweepAsync({ ...inputs, precision, scales: SWEEP_SCALES }, () => cancelled);
}

export type OverflowSweep = { scale: number; nonFiniteDirect: number; nonFiniteStable: number }[];

/** What src/components/wkv-overflow.ts draws. */
export interface OverflowFigureData {
  labels: string[];
  channel: number;
  /** the channel's wkv_t along the prompt, direct form (Eq. 16) and stable form (Appendix D), in `precision` */
  direct: Float32Array;
  stable: Float32Array;
  scale: number;
  predictedScale: number;
  precision: Precision;
  /** ln of the largest finite number of the precision: 88.72 (fp32), 11.09 (fp16) */
  limit: number;
  /** over all channels and tokens */
  nonFiniteDirect: number;
  nonFiniteStable: number;
  total: number;
  maxDiff: number;
  sweep: OverflowSweep;
  /** the figure's texts: the legend of the direct form, the dashed line's label, the caption */
  directLabel: string;
  limitLabel: string;
  caption: string;
}

/** The overflow figure at key scale `scale` in `precision`: one channel's outputs, the counts over the layer. */
export function overflowView(
  inputs: OverflowInput & { labels: string[] },
  {
    scale,
    channel,
    sweep,
    precision = "fp32",
  }: { scale: number; channel: number; sweep: OverflowSweep; precision?: Precision },
): OverflowFigureData {
  const { T, C } = inputs;
  const st = overflowStats({ ...inputs, scale, precision });
  const column = (x: Float32Array) => Float32Array.from({ length: T }, (_, t) => x[t * C + channel]);
  const limit = EXP_LIMIT[precision];
  const max = PRECISION_MAX[precision];
  return {
    labels: inputs.labels,
    channel,
    direct: column(st.direct),
    stable: column(st.stable),
    scale,
    predictedScale: st.predictedScale,
    precision,
    limit,
    nonFiniteDirect: st.nonFiniteDirect,
    nonFiniteStable: st.nonFiniteStable,
    total: T * C,
    maxDiff: st.maxDiff,
    sweep,
    directLabel: `direct (Eq. 16, ${precision})   × = Inf/NaN`,
    limitLabel: `max exponent = ${limit.toFixed(2)} at s = ${st.predictedScale.toFixed(1)}`,
    caption:
      `Both forms run in ${precision} on this layer's real keys and values, with every key multiplied by s` +
      `${precision === "fp16" ? " (every intermediate rounded to fp16, as a half-precision kernel would)" : ""}. ` +
      `The direct form forms exp(${uni("k", "i")}) and exp(${uni("u")} + ${uni("k")}) and overflows to Infinity ` +
      `once an exponent passes ln(${max}) ≈ ${limit.toFixed(precision === "fp16" ? 2 : 1)} (then ` +
      `Infinity/Infinity = NaN); the stable form subtracts the running maximum ${uni("p")} first and stays finite. ` +
      `Where both are finite they differ by at most ${st.maxDiff.toExponential(1)}.`,
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

// ---------------------------------------------------------------------------------------------------------
// Eq. 17: the receptance gate and W_o
// ---------------------------------------------------------------------------------------------------------

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

export interface OutputGateView {
  /** "layer 1, channel 17, token 3 “d”" */
  title: string;
  /** Eq. 17 at this channel and token with the model's numbers, as TeX (hover-linked) */
  tex: string;
  /** [what, value, note] rows of the readout table */
  rows: [string, string, string][];
  /** largest |W_o (sigma(r_t) ⊙ wkv_t) - o_t| over all channels of this token, when W_o is given (else NaN) */
  maxError: number;
  caption: string;
}

/**
 * Eq. 17 with the model's numbers at one layer, channel and token: the receptance r_t from the trace, its sigmoid,
 * wkv_t, the gated value, and the model's own o_t (its time-mixing output, the trace's `att`); with W_o (the loaded
 * blocks.N.att.output.weight, (C, C) row-major, out x in), o_t is recomputed for every channel and compared.
 */
export function outputGate(
  trace: TraceView,
  { layer, channel, token }: { layer: number; channel: number; token: number },
  Wo: Float32Array | null = null,
): OutputGateView {
  const C = trace.C;
  const row = (name: "r" | "wkv" | "att") =>
    tensorOf(trace, layer, name).subarray(token * C, (token + 1) * C);
  const r = row("r");
  const wkv = row("wkv");
  const att = row("att");
  const gate = Float64Array.from(r, sigmoid);
  const gated = Float64Array.from(gate, (g, j) => g * wkv[j]);
  let open = 0;
  for (const g of gate) if (g > 0.5) open++;
  let maxError = NaN;
  let recomputed = NaN;
  if (Wo) {
    if (Wo.length !== C * C)
      throw new RangeError(`outputGate: W_o has ${Wo.length} values, expected ${C * C}`);
    maxError = 0;
    for (let c = 0; c < C; c++) {
      let o = 0;
      for (let j = 0; j < C; j++) o += Wo[c * C + j] * gated[j];
      if (c === channel) recomputed = o;
      maxError = Math.max(maxError, Math.abs(o - att[c]));
    }
  }
  const c = channel;
  const n = (x: number) => f4(x).replace(/e([+-]\d+)$/, "\\times 10^{$1}");
  return {
    title: `layer ${layer}, channel ${c}, token ${token} “${trace.labels[token]}”`,
    tex: String.raw`\sigma(${tx("r")}) \odot ${tx("wkv")}\ \text{at channel } ${c}:\ \ \sigma(${n(r[c])}) \cdot (${n(wkv[c])}) = ${n(gate[c])} \cdot (${n(wkv[c])}) = ${n(gated[c])}, \qquad ${tx("o")}\ \text{at channel } ${c} = ${n(att[c])}`,
    rows: [
      [`${uni("r")} (receptance, Eq. 11)`, f4(r[c]), "from the model's trace"],
      [`σ(${uni("r")}) (the gate)`, f4(gate[c]), `${open} of ${C} channels are more open than shut (> 0.5)`],
      [`${uni("wkv")} (Eq. 16)`, f4(wkv[c]), "the WKV average of the values"],
      [`σ(${uni("r")}) ⊙ ${uni("wkv")}`, f4(gated[c]), "what reaches Wₒ from this channel"],
      [
        `${uni("o")} = ${uni("W_o")}·(σ(${uni("r")}) ⊙ ${uni("wkv")}) (Eq. 17)`,
        f4(att[c]),
        "the model's own output",
      ],
      [
        `${uni("o")} recomputed here`,
        Wo ? f4(recomputed) : "…",
        Wo
          ? `from the loaded ${uni("W_o")} (blocks.${layer}.att.output.weight); all ${C} channels agree to ${maxError.toExponential(1)}`
          : `waiting for ${uni("W_o")}: the weights are still loading`,
      ],
    ],
    maxError,
    caption:
      `Eq. 17 at one token: the receptance ${uni("r")} enters only here, as a gate between 0 and 1 on each ` +
      `channel of ${uni("wkv")} before the output matrix ${uni("W_o")} mixes the channels. This is where RWKV's ` +
      `query-like term acts: it decides how much of the memory each channel lets through, but it does not choose ` +
      `which earlier tokens are remembered (Eq. 16's weights do not depend on it).`,
  };
}

// ---------------------------------------------------------------------------------------------------------
// All positions at once: the parallel form and the chunked form the graphs run
// ---------------------------------------------------------------------------------------------------------

/** The chunk length of the live and build-time traces (src/live/ort-trace.ts TRACE_CHUNK; a test keeps them equal). */
export const PARALLEL_CHUNK = 32;

export interface ParallelView {
  labels: string[];
  T: number;
  channel: number;
  chunk: number;
  /** (T, T) row-major: e^{s_{t,i} - m_t} for i <= t (the row's largest weight is exactly 1), 0 above */
  E: Float32Array;
  /** m_t, the largest log-weight of row t (what the direct form would exponentiate) */
  m: Float64Array;
  /** the first position of each chunk */
  chunkStarts: number[];
  /** wkv_t of this channel by the full T x T form, by the chunked form, and the model's own */
  parallel: Float64Array;
  chunked: Float64Array;
  model: Float32Array;
  errParallel: number;
  errChunked: number;
  maxExponent: number;
  caption: string;
}

/** The log-weight s_{t,i} of Eq. 16 (0-based t, i <= t) for the loaded decay w (< 0): (t-1-i) w + k_i, or u + k_t. */
const logWeight = (t: number, i: number, w: number, u: number, ki: number): number =>
  i < t ? (t - 1 - i) * w + ki : u + ki;

/**
 * Eq. 16 for every position of one channel at once, two ways: the paper's T x T weighted average with each row's
 * maximum subtracted before exp (so every exponential is at most 1), and the chunked form the ONNX graphs run
 * (src/onnx/rwkv-graph.ts buildParallelGraph): the same inside each chunk of `chunk` tokens, plus the state
 * (a', b', p) carried from the chunk before. Both in float64, beside the model's own wkv_t.
 */
export function parallelView(
  trace: TraceView,
  params: ModelParams,
  { layer, channel, chunk = PARALLEL_CHUNK }: { layer: number; channel: number; chunk?: number },
): ParallelView {
  const { T, C } = trace;
  const w = params.layers[layer].w[channel];
  const u = params.layers[layer].u[channel];
  const k = tensorOf(trace, layer, "k");
  const v = tensorOf(trace, layer, "v");
  const model = Float32Array.from({ length: T }, (_, t) => tensorOf(trace, layer, "wkv")[t * C + channel]);
  const kc = (i: number) => k[i * C + channel];
  const vc = (i: number) => v[i * C + channel];
  // the full T x T form
  const E = new Float32Array(T * T);
  const m = new Float64Array(T);
  const parallel = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let mt = -Infinity;
    for (let i = 0; i <= t; i++) mt = Math.max(mt, logWeight(t, i, w, u, kc(i)));
    let num = 0;
    let den = 0;
    for (let i = 0; i <= t; i++) {
      const e = Math.exp(logWeight(t, i, w, u, kc(i)) - mt);
      E[t * T + i] = e;
      num += e * vc(i);
      den += e;
    }
    m[t] = mt;
    parallel[t] = num / den;
  }
  // the chunked form: within a chunk from t0, the state (a0, b0, p0) enters with exponent p0 + (t - t0) w
  const chunked = new Float64Array(T);
  const chunkStarts: number[] = [];
  let [a0, b0, p0] = [0, 0, -Infinity];
  for (let t0 = 0; t0 < T; t0 += chunk) {
    chunkStarts.push(t0);
    const n = Math.min(chunk, T - t0);
    for (let tau = 0; tau <= n; tau++) {
      // rows t0..t0+n-1 give wkv; the extra row t0+n (no bonus, every i in the chunk is past) the next state
      const t = t0 + tau;
      const sp = p0 + tau * w;
      let mt = sp;
      const last = Math.min(t, t0 + n - 1);
      for (let i = t0; i <= last; i++) mt = Math.max(mt, logWeight(t, i, w, u, kc(i)));
      let num = a0 === 0 && b0 === 0 ? 0 : Math.exp(sp - mt) * a0;
      let den = a0 === 0 && b0 === 0 ? 0 : Math.exp(sp - mt) * b0;
      for (let i = t0; i <= last; i++) {
        const e = Math.exp(logWeight(t, i, w, u, kc(i)) - mt);
        num += e * vc(i);
        den += e;
      }
      if (tau < n) chunked[t] = num / den;
      else [a0, b0, p0] = [num, den, mt];
    }
  }
  let errParallel = 0;
  let errChunked = 0;
  let maxExponent = -Infinity;
  for (let t = 0; t < T; t++) {
    errParallel = Math.max(errParallel, Math.abs(parallel[t] - model[t]));
    errChunked = Math.max(errChunked, Math.abs(chunked[t] - model[t]));
    maxExponent = Math.max(maxExponent, m[t]);
  }
  return {
    labels: trace.labels,
    T,
    channel,
    chunk,
    E,
    m,
    chunkStarts,
    parallel,
    chunked,
    model,
    errParallel,
    errChunked,
    maxExponent,
    caption:
      `Row t holds the weights Eq. 16 gives tokens i ≤ t in channel ${channel} of layer ${layer}, as ` +
      `exp(s − mₜ): each row's largest log-weight mₜ (below) is subtracted first, so the largest weight of every ` +
      `row is exactly 1 and nothing can overflow. The squares on the diagonal are the chunks of ${chunk} tokens ` +
      `the ONNX graphs compute at once; what lies left of a square reaches it through the state ` +
      `(${uni("aprime")}, ${uni("bprime")}, ${uni("p")}) carried from the chunk before. Both forms reproduce the ` +
      `model's ${uni("wkv")}: the full ${T} × ${T} form to ${errParallel.toExponential(1)}, the chunked form to ` +
      `${errChunked.toExponential(1)}.`,
  };
}
