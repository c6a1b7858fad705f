/**
 * How much context each model uses (chapter 9): the loss per character on held-out text when the model sees
 * only the last d characters, for a set of d.
 *
 * One window of D characters read from a fresh start predicts its character d (0-based) from exactly the d
 * characters before it, so a single run gives every d <= D at once; windows start at seeded random offsets of
 * the held-out text, the same windows for every model (paired). The GPT's learned positions stop at
 * blockSize = 256: it has no number for d > 256 (the figure says so), while RWKV reads on.
 *
 * API:
 *   contextUse(model, opts) -> Promise<ContextUseResult>
 *   contextWindows(opts, D) -> number[]      the windows' start offsets (seeded)
 */
import { mulberry32 } from "../../rwkv/random.js";
import { ProbeError, type SequenceModel, type Stat, logSoftmaxAt, meanStderr } from "./lm.js";
import { subSeed } from "./random.js";
import { Pacer, type RunOptions } from "./run.js";

export interface ContextUseOptions extends RunOptions {
  /** held-out text as token ids (the corpus's validation split) */
  tokens: readonly number[];
  /** context lengths d (each >= 1) */
  contexts: readonly number[];
  /** windows averaged per d (default 32) */
  windows?: number;
  /** default 1 */
  seed?: number;
}

export interface ContextUsePoint {
  d: number;
  /** mean loss per character (nats) with exactly d characters of context; null past the model's maxLength */
  loss: Stat | null;
}

export interface ContextUseResult {
  model: string;
  maxLength: number;
  windows: number;
  seed: number;
  points: ContextUsePoint[];
}

/**
 * Start offsets of the windows: each window needs D + 1 characters (D read, the one after scored). The same
 * offsets for every model with the same (tokens, D, windows, seed).
 */
export function contextWindows(opts: ContextUseOptions, D: number): number[] {
  const n = opts.windows ?? 32;
  if (!Number.isInteger(n) || n < 1) throw new ProbeError(`windows = ${n} must be >= 1`);
  const room = opts.tokens.length - (D + 1);
  if (room < 0)
    throw new ProbeError(`the held-out text has ${opts.tokens.length} tokens; ${D + 1} are needed`);
  const rand = mulberry32(subSeed(opts.seed ?? 1, 0xc0, D));
  return Array.from({ length: n }, () => Math.floor(rand() * (room + 1)));
}

export async function contextUse(model: SequenceModel, opts: ContextUseOptions): Promise<ContextUseResult> {
  for (const d of opts.contexts) {
    if (!Number.isInteger(d) || d < 1)
      throw new ProbeError(`context length d = ${d} must be an integer >= 1`);
  }
  // the windows are cut for the longest d asked, so every model reads the same text
  const D = Math.max(...opts.contexts);
  const starts = contextWindows(opts, D);
  const read = Math.min(D, model.maxLength);
  const losses = opts.contexts.map(() => [] as number[]);
  const pacer = new Pacer(starts.length, opts);
  const V = model.vocabSize;
  for (let w = 0; w < starts.length; w++) {
    const off = starts[w];
    const logits = await model.logits(opts.tokens.slice(off, off + read));
    opts.contexts.forEach((d, i) => {
      // row d - 1 has seen tokens off .. off + d - 1 and predicts token off + d
      if (d <= read) losses[i].push(-logSoftmaxAt(logits, d - 1, V, opts.tokens[off + d]));
    });
    await pacer.tick(w + 1, `${model.label}: context use, window ${w + 1} of ${starts.length}`);
  }
  return {
    model: model.label,
    maxLength: model.maxLength,
    windows: starts.length,
    seed: opts.seed ?? 1,
    points: opts.contexts.map((d, i) => ({ d, loss: d <= read ? meanStderr(losses[i]) : null })),
  };
}
