/**
 * Chapter 3, token shift (arXiv 2305.13048 v4, Section 4.1.1, Eq. 11-15): every input of a block is a per-channel
 * interpolation between the token's LayerNorm output and the previous token's,
 *   x'_t = mu ⊙ x_t + (1 - mu) ⊙ x_{t-1},
 * with a learned mu for each input of time mixing (mu_r, mu_k, mu_v; checkpoint keys
 * blocks.N.att.time_mix_r/k/v) and of channel mixing (mu'_r, mu'_k; blocks.N.ffn.time_mix_r/k). Per channel this is
 * a causal convolution over time of width 2 with kernel [1 - mu, mu]. Pure: the page renders what these return.
 *
 * API:
 *   TEX.timeMix, TEX.channelMix                    Eq. 11-13 and 14-15, hover-linked (sym names r, k, v, mu_*, xcur, xprev)
 *   muSeries(params) -> MuSeries[]                 the five mixes of every layer, with sorted profiles
 *   muProfile(mu) -> {sorted, below, above}        sorted values, and how many lie outside [0, 1]
 *   muSummary(series) -> {outside, total}          mixes outside [0, 1] over all series, layers and channels
 *   blendRows({current, previous, mu, mixed}, n)   n channels spread evenly over the mu order, with the formula
 *   shareBelowHalf(series) -> fraction of a series' mixes below 1/2 (leaning on the previous token)
 *   tokenShiftView(trace, params, {layer, token, mix, channels}) -> {rows, labels}   chapter 3's blend figure
 */
import type { TraceView } from "../trace/trace.js";
import { layerNormInput, type ModelParams } from "./params.js";
import { sym } from "./tex.js";
import { rowOf } from "../trace/trace.js";

const mixTerm = (mu: string, muTex: string) =>
  `${sym(mu, muTex)} \\odot ${sym("xcur", "x_t")} + (1 - ${sym(mu, muTex)}) \\odot ${sym("xprev", "x_{t-1}")}`;

export const TEX = {
  /** Eq. 11-13: the inputs of time mixing */
  timeMix: String.raw`\begin{aligned}
${sym("r", "r_t")} &= W_r \cdot \big(${mixTerm("mu_r", "\\mu_r")}\big) && (11)\\
${sym("k", "k_t")} &= W_k \cdot \big(${mixTerm("mu_k", "\\mu_k")}\big) && (12)\\
${sym("v", "v_t")} &= W_v \cdot \big(${mixTerm("mu_v", "\\mu_v")}\big) && (13)
\end{aligned}`,
  /** Eq. 14-15: the inputs of channel mixing */
  channelMix: String.raw`\begin{aligned}
${sym("rr", "r'_t")} &= W'_r \cdot \big(${mixTerm("mu_rr", "\\mu'_r")}\big) && (14)\\
${sym("kk", "k'_t")} &= W'_k \cdot \big(${mixTerm("mu_kk", "\\mu'_k")}\big) && (15)
\end{aligned}`,
} as const;

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
    make("mu_r", "μ_r (receptance, Eq. 11)", (l) => l.muR),
    make("mu_k", "μ_k (key, Eq. 12)", (l) => l.muK),
    make("mu_v", "μ_v (value, Eq. 13)", (l) => l.muV),
    make("mu_rr", "μ'_r (channel mix, Eq. 14)", (l) => l.ffnMuR),
    make("mu_kk", "μ'_k (channel mix, Eq. 15)", (l) => l.ffnMuK),
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

export type TimeMixInput = "r" | "k" | "v";
export const TIME_MIX_INPUTS: readonly TimeMixInput[] = ["r", "k", "v"];
export const TIME_MIX_LABELS: Record<TimeMixInput, string> = {
  r: "receptance r (μ_r)",
  k: "key k (μ_k)",
  v: "value v (μ_v)",
};

/** What chapter 3's blend figure shows for one layer, token and input: the rows and their labels. */
export function tokenShiftView(
  trace: TraceView,
  params: ModelParams,
  {
    layer,
    token,
    mix,
    channels = 48,
  }: { layer: number; token: number; mix: TimeMixInput; channels?: number },
) {
  const { current, previous } = layerNormInput(trace, params, layer, token);
  const mu = params.layers[layer][({ r: "muR", k: "muK", v: "muV" } as const)[mix]];
  const mixed = rowOf(trace, layer, ({ r: "xr", k: "xk", v: "xv" } as const)[mix], token);
  return {
    rows: blendRows({ current, previous, mu, mixed }, channels),
    labels: {
      muLabel: `μ_${mix}`,
      mixedLabel: `x${mix}`,
      mixedSym: mix,
      token: trace.labels[token],
      previousToken: token > 0 ? trace.labels[token - 1] : "(none: zeros)",
    },
  };
}
