/**
 * Chapter 1, the overview (arXiv 2305.13048 v4, Eq. 16 and its recurrent form, Appendix D): the equations, the
 * numbers of the state meter, and what the prose quotes. Pure: the page and src/ui/try-it.ts render them.
 *
 * An RWKV carries a fixed state from token to token: per layer, the WKV's numerator a, denominator b and running
 * maximum p, and the last token's input to each of the two token-shift mixes: 5 vectors of C, 5·L·C numbers at
 * any length. A transformer of the same size keeps a key and a value per layer for every token: 2·L·T·C.
 *
 * API:
 *   TEX.wkv, TEX.recurrent                     Eq. 16 and its recurrence, Eq. 20-22 (symbols from notation.ts)
 *   TRY_IT_DEFAULTS                            the try-it box's view state besides the prompt (the address's keys)
 *   stateMeterData({nLayer, nEmbd, T, measuredState?}) -> StateMeterData     5·L·C against 2·L·T·C
 *   kvPassesState({nLayer, nEmbd}) -> T        the first T at which the KV cache holds more numbers than the state
 *   PAPER_169M                                 stateMeterData of the paper's 169M model (12 × 768) at T = 1024
 *   bytesLabel(numbers) -> "184 kB"            the size of that many fp32 numbers (SI: siBytes)
 *   siBytes(bytes) -> "184 kB"                 the site's one unit system, SI multiples of 1000
 *   MEMORY_LENGTHS, memoryShapes(config), memoryRows(shapes, lengths) -> MemoryRow[]
 *                                              state against KV cache at T = 1024 and 8192, for this model and 169M
 *   trainingNote(card) -> {parameters, seconds, nats, bits} | null   the trained model's card, formatted
 */
import type { ModelCard } from "../live/model-source.js";
import { tx } from "./notation.js";

const w = tx("w");
const sum = String.raw`\sum_{i=1}^{t-1} e^{-(t-1-i)${w} + ${tx("k", "i")}}`;
const bonus = String.raw`e^{${tx("u")} + ${tx("k")}}`;

export const TEX = {
  /** Eq. 16: a decaying weighted average of the earlier values, with the bonus u for the current token */
  wkv: String.raw`${tx("wkv")} = \frac{${sum} \odot ${tx("v", "i")} + ${bonus} \odot ${tx("v")}}{${sum} + ${bonus}} \tag{16}`,
  /** Eq. 20-22 (Appendix D): numerator a_t and denominator b_t carried from token to token */
  recurrent: String.raw`\begin{aligned}
${tx("wkv")} &= \frac{${tx("a", "t-1")} + ${bonus} \odot ${tx("v")}}{${tx("b", "t-1")} + ${bonus}} && (20)\\[4pt]
${tx("a")} &= e^{-${w}} \odot ${tx("a", "t-1")} + e^{${tx("k")}} \odot ${tx("v")} && (21)\\
${tx("b")} &= e^{-${w}} \odot ${tx("b", "t-1")} + e^{${tx("k")}} && (22)
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
  /** their sizes in fp32, "184 kB" (bytesLabel) */
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

/**
 * The size of that many fp32 numbers, in the site's one unit system: SI multiples of 1000 (B, kB, MB, GB), as
 * download sizes are quoted (src/full-size/full-size.ts formatBytes writes the same), 3 significant digits.
 */
export function bytesLabel(numbers: number): string {
  return siBytes(numbers * 4);
}

/** "184 kB", "1.50 kB", "75.5 MB": bytes in SI multiples of 1000 (the full-size page's formatBytes). */
export function siBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "?";
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** The context lengths chapter 1's memory figure compares (the paper trains at 1024 and extends to 8192, Sect. 5.2). */
export const MEMORY_LENGTHS = [1024, 8192] as const;

export interface MemoryRow {
  /** "this page's model (4 × 256)" or "RWKV-4 169M (12 × 768)" */
  model: string;
  nLayer: number;
  nEmbd: number;
  T: number;
  /** the RWKV state (5 L C) and a same-size transformer's KV cache (2 L T C), in fp32 bytes */
  stateBytes: number;
  kvBytes: number;
  stateLabel: string;
  kvLabel: string;
  /** kvBytes / stateBytes */
  ratio: number;
}

/**
 * Memory a model carries while generating, at each context length of `lengths`: the RWKV state against the KV
 * cache of a transformer with the same layers and width, for each shape (fp32, 4 bytes a number).
 */
export function memoryRows(
  shapes: readonly { model: string; nLayer: number; nEmbd: number }[],
  lengths: readonly number[] = MEMORY_LENGTHS,
): MemoryRow[] {
  return shapes.flatMap(({ model, nLayer, nEmbd }) =>
    lengths.map((T) => {
      const d = stateMeterData({ nLayer, nEmbd, T });
      return {
        model,
        nLayer,
        nEmbd,
        T,
        stateBytes: 4 * d.rwkvNumbers,
        kvBytes: 4 * d.kvNumbers,
        stateLabel: d.rwkvSize,
        kvLabel: d.kvSize,
        ratio: d.kvNumbers / d.rwkvNumbers,
      };
    }),
  );
}

/** The shapes chapter 1 compares: this page's model (from its card) and the paper's 169M (Table 2). */
export function memoryShapes(config: { nLayer: number; nEmbd: number }) {
  return [
    {
      model: `this page's model (${config.nLayer} × ${config.nEmbd})`,
      nLayer: config.nLayer,
      nEmbd: config.nEmbd,
    },
    {
      model: `RWKV-4 169M (${PAPER_169M.nLayer} × ${PAPER_169M.nEmbd})`,
      nLayer: PAPER_169M.nLayer,
      nEmbd: PAPER_169M.nEmbd,
    },
  ];
}

export interface TrainingNote {
  /** "1,234,567" */
  parameters: string;
  /** training time in whole seconds */
  seconds: string;
  /** validation loss on the held-out split of Tiny Shakespeare, nats and bits per character, 2 decimals */
  nats: string;
  bits: string;
  /** the shares of the corpus in the training and the validation split, "90%" and "10%" (from the card's split) */
  trainShare: string;
  validationShare: string;
}

/** What the trained model's card says about its size, training time and validation loss (null: nothing to say). */
export function trainingNote(card: ModelCard): TrainingNote | null {
  if (card.synthetic) return null;
  const raw = card.raw as
    | {
        parameters?: unknown;
        training?: { training_time_s?: number };
        results?: { validation_continuous?: { nats_per_char?: number; bits_per_char?: number } };
        corpus?: { chars?: number };
        split?: { train_chars?: [number, number] };
      }
    | undefined;
  const v = raw?.results?.validation_continuous;
  const seconds = raw?.training?.training_time_s;
  const chars = raw?.corpus?.chars;
  const train = raw?.split?.train_chars;
  if (!Number.isFinite(v?.nats_per_char) || !Number.isFinite(v?.bits_per_char) || !Number.isFinite(seconds))
    return null;
  if (!Number.isFinite(chars) || !Array.isArray(train) || !(chars! > 0)) return null;
  const share = (train[1] - train[0]) / chars!;
  return {
    parameters: Number(raw!.parameters).toLocaleString("en"),
    seconds: seconds!.toFixed(0),
    nats: v!.nats_per_char!.toFixed(2),
    bits: v!.bits_per_char!.toFixed(2),
    trainShare: `${Math.round(100 * share)}%`,
    validationShare: `${Math.round(100 * (1 - share))}%`,
  };
}
