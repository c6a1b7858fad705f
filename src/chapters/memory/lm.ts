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
 *   branchLosses(model, trunk, branches) -> Float64Array[]   nextTokenLosses of trunk[0..at) + branch for each
 *                                  branch, the shared trunk read once where the model can resume (prefix reuse)
 *   rwkvStateSize(config)          5 L C: the numbers RWKV-4's state carries (paper Appendix D)
 *   meanStderr(xs) -> Stat {mean, stderr, n}
 */
import type { RwkvModel } from "../../rwkv/model.js";
import type { RwkvConfig, RwkvState } from "../../rwkv/weights.js";
import type { GptModel } from "../../transformer/gpt.js";
import { logSoftmaxRowAt } from "../../rwkv/sampling.js";

export interface SequenceModel {
  /** "RWKV" or "GPT": what the figures call it */
  readonly label: string;
  readonly vocabSize: number;
  /** the longest sequence it reads: the GPT's learned positions stop at blockSize; Infinity for RWKV */
  readonly maxLength: number;
  /** logits (n, V), row i predicting token i + 1, for `tokens` read from a fresh start */
  logits(tokens: readonly number[]): Float32Array | Promise<Float32Array>;
  /**
   * Optional prefix reuse: logits of `tokens` read after `after` (what an earlier call returned; undefined: a
   * fresh start), and what to pass on to read more after them (RWKV: the state; GPT: the KV cache). Models with
   * it read a shared beginning once (branchLosses).
   */
  resume?(after: unknown, tokens: readonly number[]): Promise<{ logits: Float32Array; after: unknown }>;
}

export function rwkvSequenceModel(model: RwkvModel, label = "RWKV"): SequenceModel {
  return {
    label,
    vocabSize: model.config.vocabSize,
    maxLength: Infinity,
    logits: (tokens) => model.forward(tokens).logits,
    resume: (after, tokens) => {
      const r = model.forward(tokens, after as RwkvState | undefined);
      return Promise.resolve({ logits: r.logits, after: r.state });
    },
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
export const logSoftmaxAt = logSoftmaxRowAt;

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

/** A continuation read after the first `at` tokens of a shared trunk. */
export interface Branch {
  at: number;
  tokens: readonly number[];
}

/**
 * For each branch, the per-position losses of trunk[0..at) + branch.tokens, as nextTokenLosses gives them. A
 * model with `resume` reads the trunk once, in segments between the branch points, and each branch from the
 * state (or cache) at its point; without it every branch's sequence is read whole. The trunk past the last
 * branch point is not read.
 */
export async function branchLosses(
  model: SequenceModel,
  trunk: readonly number[],
  branches: readonly Branch[],
): Promise<Float64Array[]> {
  for (const b of branches) {
    if (!Number.isInteger(b.at) || b.at < 1 || b.at > trunk.length)
      throw new ProbeError(`a branch at ${b.at} is outside the trunk's 1..${trunk.length}`);
    if (b.tokens.length === 0) throw new ProbeError("a branch needs at least one token");
  }
  if (!model.resume) {
    const out: Float64Array[] = [];
    for (const b of branches) out.push(await nextTokenLosses(model, [...trunk.slice(0, b.at), ...b.tokens]));
    return out;
  }
  const longest = Math.max(...branches.map((b) => b.at + b.tokens.length));
  if (longest > model.maxLength) {
    throw new ProbeError(`${model.label} reads at most ${model.maxLength} tokens; a branch needs ${longest}`);
  }
  const V = model.vocabSize;
  const points = [...new Set(branches.map((b) => b.at))].sort((a, b) => a - b);
  // trunkLoss[i] = -log P(trunk[i + 1] | trunk[0..i]); lastRow[at] = the logits row after trunk[at - 1]
  const trunkLoss = new Float64Array(Math.max(0, points[points.length - 1] - 1));
  const lastRow = new Map<number, Float32Array>();
  const after = new Map<number, unknown>();
  let state: unknown = undefined;
  let pos = 0;
  for (const p of points) {
    const seg = trunk.slice(pos, p);
    const r = await model.resume(state, seg);
    for (let i = 0; i < seg.length; i++) {
      const u = pos + i;
      if (u + 1 < p) trunkLoss[u] = -logSoftmaxAt(r.logits, i, V, trunk[u + 1]);
    }
    lastRow.set(p, r.logits.slice((seg.length - 1) * V, seg.length * V));
    state = r.after;
    after.set(p, state);
    pos = p;
  }
  // the loss at u = p - 1 inside the trunk, for branches that start later
  for (const p of points) if (p < pos) trunkLoss[p - 1] = -logSoftmaxAt(lastRow.get(p)!, 0, V, trunk[p]);
  const out: Float64Array[] = [];
  for (const b of branches) {
    const losses = new Float64Array(b.at + b.tokens.length - 1);
    losses.set(trunkLoss.subarray(0, b.at - 1));
    losses[b.at - 1] = -logSoftmaxAt(lastRow.get(b.at)!, 0, V, b.tokens[0]);
    if (b.tokens.length > 1) {
      const r = await model.resume(after.get(b.at), b.tokens.slice(0, -1));
      for (let i = 0; i + 1 < b.tokens.length; i++)
        losses[b.at + i] = -logSoftmaxAt(r.logits, i, V, b.tokens[i + 1]);
    }
    out.push(losses);
  }
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
