/**
 * How much context each model uses (chapter 9): the loss per character on held-out text when the model sees
 * only the last d characters.
 *
 * One window of D characters read from a fresh start predicts its character d (0-based) from exactly the d
 * characters before it, so a single run gives every d <= D at once; windows start at seeded random offsets of
 * the held-out text, the same windows for every model (paired). One character's loss is noisy, so the points
 * are bins of d: bin i holds every d in [edges[i], edges[i+1]) (with edges 1, 2, 4, ..., the first bins are
 * single values of d); the windows are edges[last] - 1 characters long. The GPT's learned positions stop at
 * blockSize = 256: a bin it cannot read whole has no number for it (the figure says so), while RWKV reads on.
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
  /** bin edges of d, increasing integers >= 1: bin i is [edges[i], edges[i+1]) */
  edges: readonly number[];
  /** windows averaged per d (default 32) */
  windows?: number;
  /** default 1 */
  seed?: number;
}

export interface ContextUsePoint {
  /** the bin [d, dEnd): contexts of d .. dEnd - 1 characters */
  d: number;
  dEnd: number;
  /**
   * mean loss per character (nats) over the bin's predictions (every window, every d in the bin); the standard
   * error is over windows (each window's mean over the bin); null where the model cannot read the whole bin
   */
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
  const { edges } = opts;
  if (edges.length < 2) throw new ProbeError("context use needs at least two bin edges");
  edges.forEach((e, i) => {
    if (!Number.isInteger(e) || e < 1 || (i > 0 && e <= edges[i - 1])) {
      throw new ProbeError(`bin edges must be increasing integers >= 1 (got ${edges.join(", ")})`);
    }
  });
  // every model reads the same windows, cut for the longest d asked (edges[last] - 1)
  const D = edges[edges.length - 1] - 1;
  const starts = contextWindows(opts, D);
  const read = Math.min(D, model.maxLength);
  const bins = edges.slice(0, -1).map((d, i) => ({ d, dEnd: edges[i + 1] }));
  // per bin, per window: the mean loss over the bin's d
  const perWindow = bins.map(() => [] as number[]);
  const pacer = new Pacer(starts.length, opts);
  const V = model.vocabSize;
  for (let w = 0; w < starts.length; w++) {
    const off = starts[w];
    const logits = await model.logits(opts.tokens.slice(off, off + read));
    bins.forEach(({ d, dEnd }, i) => {
      if (dEnd - 1 > read) return;
      let sum = 0;
      // row d - 1 has seen tokens off .. off + d - 1 and predicts token off + d
      for (let c = d; c < dEnd; c++) sum -= logSoftmaxAt(logits, c - 1, V, opts.tokens[off + c]);
      perWindow[i].push(sum / (dEnd - d));
    });
    await pacer.tick(w + 1, `${model.label}: context use, window ${w + 1} of ${starts.length}`);
  }
  return {
    model: model.label,
    maxLength: model.maxLength,
    windows: starts.length,
    seed: opts.seed ?? 1,
    points: bins.map(({ d, dEnd }, i) => ({
      d,
      dEnd,
      loss: dEnd - 1 <= read ? meanStderr(perWindow[i]) : null,
    })),
  };
}
