/**
 * Chapter 4, time decay and the bonus u (arXiv 2305.13048 v4, Eq. 16, Figure 10, Appendix E): what the page
 * shows and says, DOM-free. Conventions of src/rwkv/wkv.ts and src/chapters/decay.ts: the loaded decay is
 * w = -exp(time_decay) < 0 (checkpoint key blocks.N.att.time_decay), one step multiplies memory by e^{w} (the
 * paper's e^{-w} with its w > 0), and the half-life is ln(1/2) / w tokens.
 *
 * API:
 *   TEX.wkv, TEX.halfLife                       Eq. 16 (decay and bonus terms hover-linked) and h = ln 2 / w
 *   decaySeries(layers) -> DecaySeries          per layer, channels sorted largest first: e^{-w} (Fig. 10),
 *                                               half-life, bonus u; and the figure's caption
 *   fmtHalfLife(h) -> "5.61" | "12.3" | "140" | "∞"
 *   initTimeDecay(c, layer, C, L)               the paper's initial time_decay of channel c (Appendix E)
 *   decaySummary(params) -> DecaySummary        the numbers the prose quotes: median half-lives, short and long
 *                                               memories, and how far training moved the decays from their init
 *   autoChannel(w, target = 6)                  the channel whose half-life is closest to `target` tokens
 *   HALF_LIFE_SLIDER, sliderValue(h)            the half-life slider (log10 of tokens) and a half-life's position
 *   halfLifeStarts(hl) -> (learnedH) => h       where the slider starts: the address's hl once, then the learned h
 *   sliderHalfLife(logH, startValue, startH)    the slider's half-life (exactly startH until it moves)
 *   hlParam(h, learnedH)                        the address's hl: "" within 1% of the learned half-life
 *   learnedDecay(params, layer, channel) -> {w, u, h}
 *   readout(learned, h) -> {w, rows, bonus}     the slider's decay for half-life h, and the readout's strings
 *   channelView(trace, {layer, channel, token, learned, w}) -> {kernel, compare, check}
 *       Eq. 16's weights for output `token` and the channel's wkv, with the learned w and with w; `check`: the
 *       learned w's recomputation against the model's own wkv from its trace
 */
import { columnOf, type TraceView } from "../trace/trace.js";
import { halfLife, sortedDecay, wFromHalfLife, wkvChannel, wkvWeights } from "./decay.js";
import type { ModelParams } from "./params.js";
import { entry, tx, uni } from "./notation.js";
import { sym } from "./tex.js";

const decayTerm = sym("w", "e^{-(t-1-i)w}");
const bonusTerm = sym("u", "e^{u}");

export const TEX = {
  /** Eq. 16, the decay e^{-(t-1-i)w} and the bonus e^{u} marked (symbols of notation.ts) */
  wkv: String.raw`${tx("wkv")} = \frac{\sum_{i=1}^{t-1} ${decayTerm}\, e^{${tx("k", "i")}} \odot ${tx("v", "i")} + ${bonusTerm}\, e^{${tx("k")}} \odot ${tx("v")}}{\sum_{i=1}^{t-1} ${decayTerm}\, e^{${tx("k", "i")}} + ${bonusTerm}\, e^{${tx("k")}}} \tag{16}`,
  /** the half-life h of a decay w */
  halfLife: String.raw`${tx("halflife")} = \frac{\ln 2}{${tx("w")}} \qquad\text{since}\qquad e^{-h w} = \tfrac{1}{2}.`,
  /** how far back an earlier token lies, and what Eq. 16 multiplies its e^{k_i} by */
  stepsBack: String.raw`i = t - n \ (n \ge 1):\quad e^{-(t-1-i)${tx("w")}} = e^{-(n-1)${tx("w")}}, \qquad i = t:\quad e^{${tx("u")}}`,
  /** the stored decay, as the paper's w */
  load: entry("w").load!,
} as const;

export interface DecaySeries {
  /** e^{-w} per channel (the paper's w >= 0), largest first, one array per layer (a line of the paper's Figure 10) */
  decay: Float64Array[];
  /** the half-life in tokens per channel, longest first (Infinity for a channel that never decays) */
  halfLife: Float64Array[];
  /** the bonus u per channel, largest first */
  bonus: Float64Array[];
  /** the figure's caption */
  caption: string;
}

const descending = (a: Float64Array): Float64Array => a.sort().reverse();

/** Figure 10 and its companions: every channel of every layer, sorted from the largest value to the smallest. */
export function decaySeries(layers: readonly { w: Float32Array; u: Float32Array }[]): DecaySeries {
  return {
    decay: layers.map((l) => descending(sortedDecay(l.w))),
    halfLife: layers.map((l) => descending(Float64Array.from(l.w, halfLife))),
    bonus: layers.map((l) => descending(Float64Array.from(l.u))),
    caption:
      `Each line is one layer, its channels sorted from the largest value to the smallest, as in the paper's ` +
      `Figure 10 (Appendix I). Layers are numbered from 0, as everywhere on this site and in the paper's ` +
      `Appendix E; the paper's Figure 10 labels its 12 layers 1 to 12. Decay per step e⁻ʷ: ` +
      `the factor by which a channel's memory of an earlier token shrinks at every further step. Half-life ` +
      `${uni("halflife")} = ln 2 / ${uni("w")}: the tokens after which that memory has halved. Bonus ${uni("u")}: ` +
      `the current token weighs exp(${uni("u")} + ${uni("k")}) in Eq. 16, the previous one exp(${uni("k", "t-1")}) ` +
      `(not decayed), so below 0 the current token weighs less than the previous one would with the same key.`,
  };
}

export function fmtHalfLife(h: number): string {
  return !Number.isFinite(h) ? "∞" : h >= 100 ? h.toFixed(0) : h >= 10 ? h.toFixed(1) : h.toFixed(2);
}

/**
 * The paper's initialisation of time_decay (Appendix E, as in RWKV-LM and data/train/models.py): channel c of
 * layer l starts at -5 + 8 (c / (C - 1))^(0.7 + 1.3 l / (L - 1)), so w = -exp(time_decay).
 */
export function initTimeDecay(c: number, layer: number, C: number, L: number): number {
  return -5 + 8 * Math.pow(c / (C - 1), 0.7 + (1.3 * layer) / Math.max(1, L - 1));
}

const median = (sorted: ArrayLike<number>): number => sorted[Math.floor(sorted.length / 2)];

/** The half-life (tokens) above which chapter 4 counts a channel's memory as long. */
export const LONG_MEMORY = 20;

export interface DecaySummary {
  /** per layer: the median half-life, and how many channels halve in under one token / last over LONG_MEMORY */
  layers: { median: number; short: number; long: number; medianInit: number }[];
  /** "layer 0: 1.23, layer 1: 4.56, ..." */
  medians: string;
  /** the short and long counts per layer, "3, 0, 1, 2" */
  short: string;
  long: string;
  /** the median half-lives at initialisation, per layer */
  initMedians: string;
  /** mean and largest |time_decay - its initial value| over all channels */
  movedMean: number;
  movedMax: number;
  /** no layer's median half-life is more than 1% longer than at initialisation */
  shorterThanInit: boolean;
}

export function decaySummary(params: ModelParams): DecaySummary {
  const L = params.layers.length;
  const layers = params.layers.map((l, li) => {
    const C = l.w.length;
    const h = Float64Array.from(l.w, halfLife).sort();
    let moved = 0;
    let movedMax = 0;
    const hInit = new Float64Array(C);
    for (let c = 0; c < C; c++) {
      const init = initTimeDecay(c, li, C, L);
      const d = Math.abs(Math.log(-l.w[c]) - init); // the stored time_decay is log(-w)
      moved += d;
      movedMax = Math.max(movedMax, d);
      hInit[c] = Math.log(2) / Math.exp(init);
    }
    hInit.sort();
    return {
      median: median(h),
      short: h.filter((x) => x < 1).length,
      long: h.filter((x) => x > LONG_MEMORY).length,
      medianInit: median(hInit),
      movedMean: moved / C,
      movedMax,
    };
  });
  return {
    layers: layers.map(({ median, short, long, medianInit }) => ({ median, short, long, medianInit })),
    medians: layers.map((s, l) => `layer ${l}: ${fmtHalfLife(s.median)}`).join(", "),
    short: layers.map((s) => s.short).join(", "),
    long: layers.map((s) => s.long).join(", "),
    initMedians: layers.map((s) => fmtHalfLife(s.medianInit)).join(", "),
    movedMean: layers.reduce((a, s) => a + s.movedMean, 0) / L,
    movedMax: Math.max(...layers.map((s) => s.movedMax)),
    shorterThanInit: layers.every((s) => s.median <= s.medianInit * 1.01),
  };
}

/** The channel whose half-life is closest to `target` tokens on a log scale (an informative middle ground). */
export function autoChannel(w: Float32Array, target = 6): number {
  const distance = (c: number) => Math.abs(Math.log(halfLife(w[c]) / target));
  let best = 0;
  for (let c = 1; c < w.length; c++) if (distance(c) < distance(best)) best = c;
  return best;
}

/** The half-life slider: log10 of the half-life in tokens, from about 0.03 to 1000 tokens. */
export const HALF_LIFE_SLIDER = { min: -1.5, max: 3, step: 0.01 } as const;

/** The slider position of a half-life (clamped to the slider's range). */
export function sliderValue(h: number): number {
  return Math.log10(Math.min(Math.max(h, 0.032), 1000));
}

/**
 * Where the half-life slider starts each time the channel changes: the address's `hl` the first time (a shared
 * link opens the view it was copied from), the learned half-life after that.
 */
export function halfLifeStarts(hl: string | number): (learnedH: number) => number {
  let pending: string | number = hl;
  return (learnedH) => {
    const h = pending !== "" && Number(pending) > 0 ? Number(pending) : learnedH;
    pending = "";
    return h;
  };
}

/** The half-life the slider sets: exactly the start until it moves (the slider rounds to its step). */
export function sliderHalfLife(logH: number, startValue: number, startH: number): number {
  return logH === startValue ? startH : 10 ** logH;
}

/** The address's hl for a half-life: "" (left out) within 1% of the learned one, else 3 significant digits. */
export function hlParam(h: number, learnedH: number): string {
  return Math.abs(h - learnedH) / learnedH < 0.01 ? "" : h.toPrecision(3);
}

export interface LearnedDecay {
  /** the loaded decay (< 0) */
  w: number;
  u: number;
  /** its half-life in tokens */
  h: number;
}

export function learnedDecay(params: ModelParams, layer: number, channel: number): LearnedDecay {
  const { w, u } = params.layers[layer];
  return { w: w[channel], u: u[channel], h: halfLife(w[channel]) };
}

export interface DecayReadoutRow {
  label: string;
  /** the paper's w (> 0), e^{-w} and the half-life, formatted */
  w: string;
  decay: string;
  halfLife: string;
}

/**
 * The slider's decay for half-life h (w = ln(1/2) / h), and the readout under the slider: the learned decay and
 * the slider's, in the paper's sign convention.
 */
export function readout(
  learned: LearnedDecay,
  h: number,
): { w: number; rows: DecayReadoutRow[]; bonus: string } {
  const w = wFromHalfLife(h);
  const row = (label: string, w: number, h: number): DecayReadoutRow => ({
    label,
    w: (-w).toFixed(4),
    decay: Math.exp(w).toFixed(4),
    halfLife: fmtHalfLife(h),
  });
  return {
    w,
    rows: [row("learned", learned.w, learned.h), row("slider", w, h)],
    bonus: learned.u.toFixed(3),
  };
}

export interface KernelData {
  caption: string;
  /** token labels of the prompt */
  labels: string[];
  /** the output position whose weights are shown */
  t: number;
  /** Eq. 16's weights for positions 0..t with the learned w (sum 1) */
  original: Float64Array;
  /** the same with the slider's w */
  modified: Float64Array;
}

export interface WkvCompareData {
  caption: string;
  labels: string[];
  /** the channel's wkv along the prompt with the learned w and with the slider's */
  original: Float32Array;
  modified: Float32Array;
  /** the channel's values v_t */
  v: Float32Array;
  t: number;
}

/** Chapter 4's channel figures for one layer, channel and output token, and the check against the model. */
export function channelView(
  trace: TraceView,
  {
    layer,
    channel,
    token,
    learned,
    w,
  }: { layer: number; channel: number; token: number; learned: LearnedDecay; w: number },
): { kernel: KernelData; compare: WkvCompareData; check: { maxError: number; text: string } } {
  const k = columnOf(trace, layer, "k", channel);
  const v = columnOf(trace, layer, "v", channel);
  const modelWkv = columnOf(trace, layer, "wkv", channel);
  const original = wkvChannel(learned.w, learned.u, k, v);
  const modified = wkvChannel(w, learned.u, k, v);
  let maxError = 0;
  for (let i = 0; i < k.length; i++) maxError = Math.max(maxError, Math.abs(original[i] - modelWkv[i]));
  return {
    kernel: {
      caption:
        `How output token ${token} (“${trace.labels[token]}”) weighs every token so far in this channel, Eq. 16: ` +
        `an earlier token i gets exp(−(t−1−i)·${uni("w")} + ${uni("k", "i")}) and ` +
        `the current token exp(${uni("u")} + ${uni("k")}), normalised to sum to 100% (the ${uni("alpha", "t,i")} of chapter 2).`,
      labels: trace.labels,
      t: token,
      original: wkvWeights({ w: learned.w, u: learned.u, k, t: token }),
      modified: wkvWeights({ w, u: learned.u, k, t: token }),
    },
    compare: {
      caption:
        `This channel's ${uni("wkv")} at every position (a running weighted average of the values ` +
        `${uni("v")}, dots), computed again with the slider's decay. Only this channel of this layer changes; ` +
        `later layers are not rerun.`,
      labels: trace.labels,
      original,
      modified,
      v,
      t: token,
    },
    check: {
      maxError,
      text:
        `Recomputing this channel here in JavaScript with the learned w reproduces the model's own wkv (from its ` +
        `${trace.source} forward pass on ${trace.backend}) ` +
        `${maxError === 0 ? "exactly" : `to within ${maxError.toExponential(1)}`}.`,
    },
  };
}
