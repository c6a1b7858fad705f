/**
 * The two tiny models seen the same way by the recall probes: a sequence in, next-character logits out, read
 * from a fresh start (RWKV: the empty state; GPT: an empty context). The probes only ever ask for logits, so an
 * ONNX-backed model can stand in for the reference one through the same interface.
 *
 * API:
 *   interface SequenceModel {label, vocabSize, maxLength, logits(tokens)}
 *   rwkvSequenceModel(model)       RWKV, parallel mode (equal to RNN mode, chapter 8); no length limit
 *   gptSequenceModel(model)        the GPT; maxLength = its learned positions (blockSize)
 *   logSoftmaxAt(logits, row, V, id)   log P(id) from row `row` of a (n, V) logits matrix, in float64
 *   nextTokenLosses(model, tokens) -> Float64Array(n - 1): loss_i = -log P(tokens[i + 1] | tokens[0..i])
 *   rwkvStateSize(config)          5 L C: the numbers RWKV-4's state carries (paper Appendix D)
 *   meanStderr(xs) -> Stat {mean, stderr, n}
 */
import type { RwkvModel } from "../../rwkv/model.js";
import type { RwkvConfig } from "../../rwkv/weights.js";
import type { GptModel } from "../../transformer/gpt.js";

export interface SequenceModel {
  /** "RWKV" or "GPT": what the figures call it */
  readonly label: string;
  readonly vocabSize: number;
  /** the longest sequence it reads: the GPT's learned positions stop at blockSize; Infinity for RWKV */
  readonly maxLength: number;
  /** logits (n, V), row i predicting token i + 1, for `tokens` read from a fresh start */
  logits(tokens: readonly number[]): Float32Array | Promise<Float32Array>;
}

export function rwkvSequenceModel(model: RwkvModel, label = "RWKV"): SequenceModel {
  return {
    label,
    vocabSize: model.config.vocabSize,
    maxLength: Infinity,
    logits: (tokens) => model.forward(tokens).logits,
  };
}

export function gptSequenceModel(model: GptModel, label = "GPT"): SequenceModel {
  return {
    label,
    vocabSize: model.config.vocabSize,
    maxLength: model.config.blockSize,
    logits: (tokens) => model.forward(tokens).logits,
  };
}

/** log softmax(row)[id] for row `row` of a (n, V) matrix, accumulated in float64 (max-shifted). */
export function logSoftmaxAt(logits: ArrayLike<number>, row: number, V: number, id: number): number {
  const o = row * V;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
  return logits[o + id] - max - Math.log(sum);
}

export class ProbeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProbeError";
  }
}

/** Per-position cross-entropy (nats): entry i is -log P(tokens[i + 1] | tokens[0..i]). */
export async function nextTokenLosses(
  model: SequenceModel,
  tokens: readonly number[],
): Promise<Float64Array> {
  if (tokens.length < 2) throw new ProbeError("a loss needs at least two tokens");
  if (tokens.length > model.maxLength) {
    throw new ProbeError(
      `${model.label} reads at most ${model.maxLength} tokens; this sequence has ${tokens.length}`,
    );
  }
  const logits = await model.logits(tokens);
  const V = model.vocabSize;
  const out = new Float64Array(tokens.length - 1);
  for (let i = 0; i + 1 < tokens.length; i++) out[i] = -logSoftmaxAt(logits, i, V, tokens[i + 1]);
  return out;
}

/** The numbers in RWKV-4's recurrent state: 5 vectors of C per layer (Appendix D of the paper). */
export function rwkvStateSize(config: Pick<RwkvConfig, "nLayer" | "nEmbd">): number {
  return 5 * config.nLayer * config.nEmbd;
}

/** A sample's mean, the standard error of that mean, and its size. */
export interface Stat {
  mean: number;
  stderr: number;
  n: number;
}

/** Mean and standard error of the mean of a sample (stderr 0 for one value). */
export function meanStderr(xs: ArrayLike<number>): Stat {
  const n = xs.length;
  if (n === 0) return { mean: NaN, stderr: NaN, n: 0 };
  let mean = 0;
  for (let i = 0; i < n; i++) mean += xs[i];
  mean /= n;
  if (n === 1) return { mean, stderr: 0, n };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i] - mean) ** 2;
  return { mean, stderr: Math.sqrt(ss / (n - 1) / n), n };
}
