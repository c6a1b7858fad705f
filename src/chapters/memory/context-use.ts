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
  /**
   * cheaper long contexts: the bins from edge `from` on are read in `windows` windows of edges[last] - 1
   * characters, the bins below it in the `windows` above, only from - 1 characters long (a long bin averages
   * many d per window, a short one a single d: it needs the windows, not the length)
   */
  long?: { from: number; windows: number };
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
  /** windows per bin (below `long.from` when there is one) */
  windows: number;
  long?: { from: number; windows: number };
  seed: number;
  points: ContextUsePoint[];
}

/**
 * Start offsets of the windows: each window needs D + 1 characters (D read, the one after scored). The same
 * offsets for every model with the same (tokens, D, windows, seed).
 */
export function contextWindows(opts: ContextUseOptions, D: number, count?: number): number[] {
  const n = count ?? opts.windows ?? 32;
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
  const D = edges[edges.length - 1] - 1;
  const bins = edges.slice(0, -1).map((d, i) => ({ d, dEnd: edges[i + 1] }));
  const split = opts.long?.from ?? edges[edges.length - 1];
  if (opts.long && !edges.slice(1, -1).includes(split))
    throw new ProbeError(`long.from = ${split} must be an inner bin edge`);
  // two sets of windows, the same for every model: short ones (split - 1 characters) for the bins below the
  // split, long ones (D characters) for the bins from it on
  const sets = [
    { D: split - 1, starts: contextWindows(opts, split - 1), bins: bins.filter((b) => b.dEnd <= split) },
    ...(opts.long
      ? [{ D, starts: contextWindows(opts, D, opts.long.windows), bins: bins.filter((b) => b.d >= split) }]
      : []),
  ];
  // per bin, per window: the mean loss over the bin's d
  const perWindow = new Map(bins.map((b) => [b.d, [] as number[]]));
  const readable = new Set<number>();
  const pacer = new Pacer(
    sets.reduce((n, s) => n + s.starts.length, 0),
    opts,
  );
  const V = model.vocabSize;
  let done = 0;
  for (const set of sets) {
    const read = Math.min(set.D, model.maxLength);
    const inside = set.bins.filter(({ dEnd }) => dEnd - 1 <= read);
    for (const b of inside) readable.add(b.d);
    for (let w = 0; w < set.starts.length; w++) {
      const off = set.starts[w];
      if (inside.length > 0) {
        const logits = await model.logits(opts.tokens.slice(off, off + read));
        for (const { d, dEnd } of inside) {
          let sum = 0;
          // row d - 1 has seen tokens off .. off + d - 1 and predicts token off + d
          for (let c = d; c < dEnd; c++) sum -= logSoftmaxAt(logits, c - 1, V, opts.tokens[off + c]);
          perWindow.get(d)!.push(sum / (dEnd - d));
        }
      }
      await pacer.tick(++done, `${model.label}: context use, window ${done}`);
    }
  }
  return {
    model: model.label,
    maxLength: model.maxLength,
    windows: sets[0].starts.length,
    ...(opts.long ? { long: { ...opts.long } } : {}),
    seed: opts.seed ?? 1,
    points: bins.map(({ d, dEnd }) => ({
      d,
      dEnd,
      loss: readable.has(d) ? meanStderr(perWindow.get(d)!) : null,
    })),
  };
}
