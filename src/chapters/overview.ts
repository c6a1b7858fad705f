/**
 * Chapter 1, the overview (arXiv 2305.13048 v4, Eq. 16 and its recurrent form, Appendix D): the equations, the
 * numbers of the state meter, and what the prose quotes. Pure: the page and src/ui/try-it.ts render them.
 *
 * An RWKV carries a fixed state from token to token: per layer, the WKV's numerator a, denominator b and running
 * maximum p, and the last token's input to each of the two token-shift mixes: 5 vectors of C, 5·L·C numbers at
 * any length. A transformer of the same size keeps a key and a value per layer for every token: 2·L·T·C.
 *
 * API:
 *   TEX.wkv, TEX.recurrent                     Eq. 16 and the recurrence of a_t, b_t (sym names wkv, w, u, k, v, a, b)
 *   TRY_IT_DEFAULTS                            the try-it box's view state besides the prompt (the address's keys)
 *   stateMeterData({nLayer, nEmbd, T, measuredState?}) -> StateMeterData     5·L·C against 2·L·T·C
 *   kvPassesState({nLayer, nEmbd}) -> T        the first T at which the KV cache holds more numbers than the state
 *   PAPER_169M                                 stateMeterData of the paper's 169M model (12 × 768) at T = 1024
 *   bytesLabel(numbers) -> "180.0 KB"          the size of that many fp32 numbers
 *   trainingNote(card) -> {parameters, seconds, nats, bits} | null   the trained model's card, formatted
 */
import type { ModelCard } from "../live/model-source.js";
import { sym } from "./tex.js";

const w = sym("w", "w");
const u = sym("u", "u");
const kSym = (i: string) => sym("k", `k_${i}`);
const vSym = (i: string) => sym("v", `v_${i}`);
const sum = String.raw`\sum_{i=1}^{t-1} e^{-(t-1-i)${w} + ${kSym("i")}}`;
const bonus = String.raw`e^{${u} + ${kSym("t")}}`;

export const TEX = {
  /** Eq. 16: a decaying weighted average of the earlier values, with the bonus u for the current token */
  wkv: String.raw`${sym("wkv", "wkv_t")} = \frac{${sum} \odot ${vSym("i")} + ${bonus} \odot ${vSym("t")}}{${sum} + ${bonus}} \tag{16}`,
  /** Eq. 16 as a recurrence: numerator a_t and denominator b_t carried from token to token */
  recurrent: String.raw`\begin{aligned}
${sym("wkv", "wkv_t")} &= \frac{${sym("a", "a_{t-1}")} + ${bonus} \odot ${vSym("t")}}{${sym("b", "b_{t-1}")} + ${bonus}} \\[4pt]
${sym("a", "a_t")} &= e^{-${w}} \odot ${sym("a", "a_{t-1}")} + e^{${kSym("t")}} \odot ${vSym("t")} \qquad
${sym("b", "b_t")} = e^{-${w}} \odot ${sym("b", "b_{t-1}")} + e^{${kSym("t")}}
\end{aligned}`,
} as const;

/** The try-it box's settings in the address: sampling temperature, top-p, seed and the characters to generate. */
export const TRY_IT_DEFAULTS = { temperature: 0.8, topP: 0.9, seed: 42, n: 200 };

export interface StateMeterData {
  nLayer: number;
  nEmbd: number;
  /** tokens processed so far (prompt + generated) */
  T: number;
  /** 5·L·C */
  rwkvNumbers: number;
  /** 2·L·T·C */
  kvNumbers: number;
  /** their sizes in fp32, "180.0 KB" (bytesLabel) */
  rwkvSize: string;
  kvSize: string;
  /** the numbers counted in the state object the model really carried (equals rwkvNumbers for RWKV-4) */
  measuredState?: number;
}

export function stateMeterData({
  nLayer,
  nEmbd,
  T,
  measuredState,
}: {
  nLayer: number;
  nEmbd: number;
  T: number;
  measuredState?: number;
}): StateMeterData {
  if (!Number.isInteger(T) || T < 0)
    throw new RangeError(`stateMeterData: T must be a non-negative integer, got ${T}`);
  const rwkvNumbers = 5 * nLayer * nEmbd;
  const kvNumbers = 2 * nLayer * T * nEmbd;
  const d: StateMeterData = {
    nLayer,
    nEmbd,
    T,
    rwkvNumbers,
    kvNumbers,
    rwkvSize: bytesLabel(rwkvNumbers),
    kvSize: bytesLabel(kvNumbers),
  };
  if (measuredState !== undefined) d.measuredState = measuredState;
  return d;
}

/** The first T at which a same-size transformer's KV cache (2·L·T·C) holds more numbers than the state (5·L·C). */
export function kvPassesState({ nLayer, nEmbd }: { nLayer: number; nEmbd: number }): number {
  return Math.floor((5 * nLayer * nEmbd) / (2 * nLayer * nEmbd)) + 1;
}

/** The paper's RWKV-4 169M (12 layers × 768 channels) at a context of 1,024 tokens. */
export const PAPER_169M = stateMeterData({ nLayer: 12, nEmbd: 768, T: 1024 });

/** "20.0 KB" from a count of fp32 numbers. */
export function bytesLabel(numbers: number): string {
  const bytes = numbers * 4;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

export interface TrainingNote {
  /** "1,234,567" */
  parameters: string;
  /** training time in whole seconds */
  seconds: string;
  /** validation loss on the held-out 10% of Tiny Shakespeare, nats and bits per character, 2 decimals */
  nats: string;
  bits: string;
}

/** What the trained model's card says about its size, training time and validation loss (null: nothing to say). */
export function trainingNote(card: ModelCard): TrainingNote | null {
  if (card.synthetic) return null;
  const raw = card.raw as
    | {
        parameters?: unknown;
        training?: { training_time_s?: number };
        results?: { validation_continuous?: { nats_per_char?: number; bits_per_char?: number } };
      }
    | undefined;
  const v = raw?.results?.validation_continuous;
  const seconds = raw?.training?.training_time_s;
  if (!Number.isFinite(v?.nats_per_char) || !Number.isFinite(v?.bits_per_char) || !Number.isFinite(seconds))
    return null;
  return {
    parameters: Number(raw!.parameters).toLocaleString("en"),
    seconds: seconds!.toFixed(0),
    nats: v!.nats_per_char!.toFixed(2),
    bits: v!.bits_per_char!.toFixed(2),
  };
}
