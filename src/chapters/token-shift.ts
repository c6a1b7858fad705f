/**
 * Chapter 3, token shift (arXiv 2305.13048 v4, Section 4.1.1, Eq. 11-15): every input of a block is a per-channel
 * interpolation between the token's LayerNorm output and the previous token's,
 *   x'_t = mu ⊙ x_t + (1 - mu) ⊙ x_{t-1},
 * with a learned mu for each input of time mixing (mu_r, mu_k, mu_v; checkpoint keys
 * blocks.N.att.time_mix_r/k/v) and of channel mixing (mu'_r, mu'_k; blocks.N.ffn.time_mix_r/k). Per channel this is
 * a causal convolution over time of width 2 with kernel [1 - mu, mu]. Pure: the page renders what these return.
 *
 * API:
 *   TEX.timeMix, TEX.channelMix, TEX.conv          Eq. 11-13 and 14-15 (symbols of notation.ts), and token shift as a
 *                                                  width-2 causal convolution; MU_CAPTION the mu figure's caption
 *   muSeries(params) -> MuSeries[]                 the five mixes of every layer, with sorted profiles
 *   muProfile(mu) -> {sorted, below, above}        sorted values, and how many lie outside [0, 1]
 *   muSummary(series) -> {outside, total}          mixes outside [0, 1] over all series, layers and channels
 *   blendRows({current, previous, mu, mixed}, n)   n channels spread evenly over the mu order, with the formula
 *   shareBelowHalf(series) -> fraction of a series' mixes below 1/2 (leaning on the previous token)
 *   tokenShiftView(trace, params, {layer, token, mix, channels}) -> {rows, labels}   chapter 3's blend figure
 *   tokenShiftConv(trace, params, {layer, mix}) -> ConvView   the same inputs as a convolution over time, checked
 */
import type { TraceView } from "../trace/trace.js";
import { layerNormInput, type ModelParams } from "./params.js";
import { plain, tx, uni } from "./notation.js";
import { rowOf, tensorOf } from "../trace/trace.js";

const mixTerm = (mu: string) => `${tx(mu)} \\odot ${tx("xcur")} + (1 - ${tx(mu)}) \\odot ${tx("xprev")}`;

export const TEX = {
  /** Eq. 11-13: the inputs of time mixing */
  timeMix: String.raw`\begin{aligned}
${tx("r")} &= ${tx("W_r")} \cdot \big(${mixTerm("mu_r")}\big) && (11)\\
${tx("k")} &= ${tx("W_k")} \cdot \big(${mixTerm("mu_k")}\big) && (12)\\
${tx("v")} &= ${tx("W_v")} \cdot \big(${mixTerm("mu_v")}\big) && (13)
\end{aligned}`,
  /** Eq. 14-15: the inputs of channel mixing */
  channelMix: String.raw`\begin{aligned}
${tx("rp")} &= ${tx("Wp_r")} \cdot \big(${mixTerm("mu_rp")}\big) && (14)\\
${tx("kp")} &= ${tx("Wp_k")} \cdot \big(${mixTerm("mu_kp")}\big) && (15)
\end{aligned}`,
  /** token shift as a causal convolution of width 2 over time, one kernel per channel */
  conv: String.raw`${tx("mu_k")} \odot ${tx("xcur")} + (1 - ${tx("mu_k")}) \odot ${tx("xprev")} = \sum_{j=0}^{1} K_j \odot ${plain("xcur", "t-j")}, \qquad K_0 = ${tx("mu_k")},\ \ K_1 = 1 - ${tx("mu_k")},\ \ ${plain("xcur", "0")} = 0`,
} as const;

/** The mu profiles' caption. */
export const MU_CAPTION =
  `Each line is one layer's learned mix for every channel, sorted from smallest to largest. Inside the grey band ` +
  `(0 ≤ μ ≤ 1) the input is a blend of the current and the previous token: μ = 1 takes only ${uni("xcur")}, ` +
  `μ = 0 only ${uni("xprev")}. Red dots mark channels outside [0, 1], where the mix extrapolates instead of ` +
  `interpolating.`;

export interface MuProfile {
  /** the values sorted ascending */
  sorted: Float32Array;
  /** channels with mu < 0 (the mix extrapolates away from x_t) */
  below: number;
  /** channels with mu > 1 (extrapolates away from x_{t-1}) */
  above: number;
}

export function muProfile(mu: Float32Array): MuProfile {
  const sorted = Float32Array.from(mu).sort();
  let below = 0;
  let above = 0;
  for (const m of mu) {
    if (m < 0) below++;
    else if (m > 1) above++;
  }
  return { sorted, below, above };
}

export interface MuSeries {
  /** e.g. "mu_r" (used for data-sym hover linking) */
  sym: string;
  /** panel title, e.g. "μ_r (receptance, Eq. 11)" */
  label: string;
  /** one vector per layer, (C) each */
  layers: Float32Array[];
  /** muProfile of each layer's vector */
  profiles: MuProfile[];
}

/** The five mixes of every layer, in the order of Eq. 11-15. */
export function muSeries(params: ModelParams): MuSeries[] {
  const make = (s: string, label: string, pick: (l: ModelParams["layers"][number]) => Float32Array) => {
    const layers = params.layers.map(pick);
    return { sym: s, label, layers, profiles: layers.map(muProfile) };
  };
  return [
    make("mu_r", `${uni("mu_r")} (receptance, Eq. 11)`, (l) => l.muR),
    make("mu_k", `${uni("mu_k")} (key, Eq. 12)`, (l) => l.muK),
    make("mu_v", `${uni("mu_v")} (value, Eq. 13)`, (l) => l.muV),
    make("mu_rp", `${uni("mu_rp")} (channel mix, Eq. 14)`, (l) => l.ffnMuR),
    make("mu_kp", `${uni("mu_kp")} (channel mix, Eq. 15)`, (l) => l.ffnMuK),
  ];
}

/** How many mix values lie outside [0, 1] (extrapolation rather than interpolation), of how many. */
export function muSummary(series: readonly MuSeries[]): { outside: number; total: number } {
  let outside = 0;
  let total = 0;
  for (const s of series)
    for (const p of s.profiles) {
      outside += p.below + p.above;
      total += p.sorted.length;
    }
  return { outside, total };
}

/** The fraction of a series' mix values below one half: channels that lean more on x_{t-1} than on x_t. */
export function shareBelowHalf(series: MuSeries): number {
  let lo = 0;
  let n = 0;
  for (const mu of series.layers)
    for (const m of mu) {
      n++;
      if (m < 0.5) lo++;
    }
  return n ? lo / n : 0;
}

export interface BlendRow {
  channel: number;
  mu: number;
  /** x_t (the ln1 output of the current token) */
  current: number;
  /** x_{t-1} */
  previous: number;
  /** the model's mixed input (xr, xk or xv from its trace) */
  mixed: number;
  /** mu * x_t + (1 - mu) * x_{t-1}, recomputed here */
  formula: number;
}

export function blendRows(
  {
    current,
    previous,
    mu,
    mixed,
  }: { current: Float32Array; previous: Float32Array; mu: Float32Array; mixed: Float32Array },
  n: number,
): BlendRow[] {
  const C = mu.length;
  if (current.length !== C || previous.length !== C || mixed.length !== C) {
    throw new RangeError("blendRows: current, previous, mu and mixed must have the same length");
  }
  const order = Array.from(mu.keys()).sort((a, b) => mu[a] - mu[b]);
  const count = Math.max(1, Math.min(n, C));
  const picked = new Set<number>();
  for (let i = 0; i < count; i++) picked.add(order[Math.round((i * (C - 1)) / Math.max(1, count - 1))]);
  return [...picked]
    .sort((a, b) => mu[a] - mu[b] || a - b)
    .map((c) => ({
      channel: c,
      mu: mu[c],
      current: current[c],
      previous: previous[c],
      mixed: mixed[c],
      formula: mu[c] * current[c] + (1 - mu[c]) * previous[c],
    }));
}

/** How many channels the blend figure shows (spread evenly over the order of their mu). */
export const BLEND_CHANNELS = 48;

export type TimeMixInput = "r" | "k" | "v";
export const TIME_MIX_INPUTS: readonly TimeMixInput[] = ["r", "k", "v"];
export const TIME_MIX_LABELS: Record<TimeMixInput, string> = {
  r: `receptance r (${uni("mu_r")})`,
  k: `key k (${uni("mu_k")})`,
  v: `value v (${uni("mu_v")})`,
};

/** What chapter 3's blend figure shows for one layer, token and input: the rows and their labels. */
export function tokenShiftView(
  trace: TraceView,
  params: ModelParams,
  {
    layer,
    token,
    mix,
    channels = BLEND_CHANNELS,
  }: { layer: number; token: number; mix: TimeMixInput; channels?: number },
) {
  const { current, previous } = layerNormInput(trace, params, layer, token);
  const mu = params.layers[layer][({ r: "muR", k: "muK", v: "muV" } as const)[mix]];
  const mixed = rowOf(trace, layer, ({ r: "xr", k: "xk", v: "xv" } as const)[mix], token);
  const muLabel = uni(`mu_${mix}`);
  const [cur, prev] = [uni("xcur"), uni("xprev")];
  const rows = blendRows({ current, previous, mu, mixed }, channels);
  return {
    rows,
    labels: {
      muLabel,
      mixedLabel: `x${mix}`,
      mixedSym: mix,
      token: trace.labels[token],
      previousToken: token > 0 ? trace.labels[token - 1] : "(none: zeros)",
      current: cur,
      previous: prev,
      caption:
        `${rows.length} channels of the chosen layer, ordered by their learned ${muLabel}. Each grey segment runs ` +
        `from the previous token's input ${prev} (hollow) to the current token's ${cur} (filled); the diamond is ` +
        `what the model feeds to ${uni(`W_${mix}`)}. Where ${muLabel} is near 1 the diamond sits on ${cur}, near 0 ` +
        `on ${prev}.`,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Token shift as a convolution over time
// ---------------------------------------------------------------------------------------------------------

export interface ConvChannel {
  channel: number;
  mu: number;
  /** the kernel [K_0, K_1] = [mu, 1 - mu]: the weights of x_t and x_{t-1} */
  kernel: [number, number];
  /** the channel's input x_t along the prompt (the ln1 output), (T) */
  x: Float32Array;
  /** the model's mixed input along the prompt (its trace's xr, xk or xv), (T) */
  mixed: Float32Array;
  /** sum_j K_j x_{t-j} recomputed here (x_0 = 0 before the first token), (T) */
  conv: Float64Array;
}

export interface ConvView {
  labels: string[];
  channels: ConvChannel[];
  /** largest |conv - model| over every channel of the layer and every position */
  maxError: number;
  C: number;
  T: number;
  caption: string;
}

/**
 * Token shift read as what it is, a causal convolution over time of width 2 with its own kernel [mu, 1 - mu] per
 * channel (a depthwise Conv1d with one zero of left padding; arXiv v1, Sect. 4.6 likens it to WaveNet's causal
 * convolution): the whole layer's inputs recomputed that way against the model's mixed inputs, and three channels
 * (the smallest, the median and the largest mu of the layer) shown along the prompt.
 */
export function tokenShiftConv(
  trace: TraceView,
  params: ModelParams,
  { layer, mix }: { layer: number; mix: TimeMixInput },
): ConvView {
  const { T, C } = trace;
  const mu = params.layers[layer][({ r: "muR", k: "muK", v: "muV" } as const)[mix]];
  const mixedAll = tensorOf(trace, layer, ({ r: "xr", k: "xk", v: "xv" } as const)[mix]);
  const x = new Float32Array(T * C);
  for (let t = 0; t < T; t++) x.set(layerNormInput(trace, params, layer, t).current, t * C);
  let maxError = 0;
  const conv = new Float64Array(T * C);
  for (let t = 0; t < T; t++)
    for (let c = 0; c < C; c++) {
      const prev = t > 0 ? x[(t - 1) * C + c] : 0; // the zero padding before the first token
      conv[t * C + c] = mu[c] * x[t * C + c] + (1 - mu[c]) * prev;
      maxError = Math.max(maxError, Math.abs(conv[t * C + c] - mixedAll[t * C + c]));
    }
  const order = Array.from(mu.keys()).sort((a, b) => mu[a] - mu[b]);
  const picked = [...new Set([order[0], order[Math.floor((C - 1) / 2)], order[C - 1]])];
  const column = <A extends Float32Array | Float64Array>(a: A, c: number, make: (n: number) => A): A => {
    const out = make(T);
    for (let t = 0; t < T; t++) out[t] = a[t * C + c];
    return out;
  };
  const muName = uni(`mu_${mix}`);
  return {
    labels: trace.labels,
    T,
    C,
    maxError,
    channels: picked.map((c) => ({
      channel: c,
      mu: mu[c],
      kernel: [mu[c], 1 - mu[c]],
      x: column(x, c, (n) => new Float32Array(n)),
      mixed: column(mixedAll, c, (n) => new Float32Array(n)),
      conv: column(conv, c, (n) => new Float64Array(n)),
    })),
    caption:
      `Three channels of layer ${layer} (the smallest, the median and the largest ${muName}): left, the kernel ` +
      `K₀ = ${muName} on ${uni("xcur")} and K₁ = 1 − ${muName} on ${uni("xprev")}; right, the channel's input ` +
      `${uni("xcur")} along the prompt (grey) and what the kernel slid along it gives (colour), which is the model's ` +
      `x${mix}. Over all ${C} channels and ${T} positions of the layer, the convolution reproduces the model's x${mix} ` +
      `to ${maxError.toExponential(1)}.`,
  };
}
