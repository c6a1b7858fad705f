/**
 * Recall against distance: a copy probe anyone can check (chapter 9, the paper's Sect. 9 "Limitations": recall
 * of "minutiae information over very long contexts"). A random string of n characters, d characters of
 * held-out filler text, then the same string again:
 *
 *   [ s_0 ... s_{n-1} ] [ filler, d characters ] [ s_0 ... s_{n-1} ]
 *
 * The loss per character on the second copy, against the first: the first copy is unpredictable (about
 * ln |alphabet| nats a character for a model that knows nothing), so any drop on the second copy is recall.
 * The first character of each copy is left out of the means (nothing in the text announces where a copy
 * starts). Strings and filler offsets are seeded: the string depends on (seed, n, trial) only and the filler on
 * (seed, trial) only, so changing d changes nothing but the distance.
 *
 * API:
 *   copyProbeSequence(opts, n, d, trial) -> {text, tokens, first, second}   the sequence one trial reads
 *   copyProbe(model, opts) -> Promise<CopyProbeResult>                       the (n, d) grid for one model
 */
import { mulberry32 } from "../../rwkv/random.js";
import { ProbeError, type SequenceModel, type Stat, branchLosses, meanStderr } from "./lm.js";
import { randomString, subSeed } from "./random.js";
import { Pacer, type RunOptions } from "./run.js";

export interface CopyProbeOptions extends RunOptions {
  /** the model's characters; token id i is vocabulary[i] */
  vocabulary: string;
  /** held-out text the filler is cut from (the corpus's validation split on the page) */
  filler: string;
  /** string lengths n (each >= 2) */
  lengths: readonly number[];
  /** filler characters d between the copies (each >= 0) */
  distances: readonly number[];
  /** random strings per (n, d) cell (default 8) */
  trials?: number;
  /** default 1 */
  seed?: number;
  /** characters the strings are drawn from (default: the vocabulary without the newline) */
  alphabet?: string;
}

export interface CopyProbeCell {
  n: number;
  d: number;
  /** characters read: 2n + d */
  length: number;
  /** mean loss per character (nats) on characters 1..n-1 of each copy; null where the model cannot read it */
  first: Stat | null;
  second: Stat | null;
  /** paired per trial: first - second (nats per character); > 0 means the second copy was recalled */
  gain: Stat | null;
  /** mean loss of character j of the second copy over trials (j = 0..n-1), null where not measured */
  secondByChar: number[] | null;
}

export interface CopyProbeResult {
  model: string;
  maxLength: number;
  alphabetSize: number;
  /** ln |alphabet|: the loss per character of a uniform guess over the alphabet */
  uniformLoss: number;
  trials: number;
  seed: number;
  cells: CopyProbeCell[];
}

export function copyAlphabet(opts: Pick<CopyProbeOptions, "vocabulary" | "alphabet">): string {
  return opts.alphabet ?? [...opts.vocabulary].filter((c) => c !== "\n").join("");
}

/** The filler offset of one trial: the same for every n and d. */
function fillerOffset(opts: CopyProbeOptions, trial: number, longest: number): number {
  const room = opts.filler.length - longest;
  if (room < 0)
    throw new ProbeError(`the filler text has ${opts.filler.length} characters; ${longest} are needed`);
  return Math.floor(mulberry32(subSeed(opts.seed ?? 1, 0xf11, trial))() * (room + 1));
}

export interface CopySequence {
  text: string;
  tokens: number[];
  /** [start, end) of the first and second copy in the sequence */
  first: [number, number];
  second: [number, number];
}

/** The sequence one trial of cell (n, d) reads. */
export function copyProbeSequence(opts: CopyProbeOptions, n: number, d: number, trial: number): CopySequence {
  if (!Number.isInteger(n) || n < 2) throw new ProbeError(`string length n = ${n} must be an integer >= 2`);
  if (!Number.isInteger(d) || d < 0) throw new ProbeError(`distance d = ${d} must be an integer >= 0`);
  const alphabet = copyAlphabet(opts);
  const index = new Map([...opts.vocabulary].map((c, i) => [c, i]));
  for (const c of alphabet)
    if (!index.has(c))
      throw new ProbeError(`alphabet character ${JSON.stringify(c)} is not in the vocabulary`);
  const s = randomString(subSeed(opts.seed ?? 1, n, trial), n, alphabet);
  const off = fillerOffset(opts, trial, Math.max(...opts.distances, d));
  const filler = opts.filler.slice(off, off + d);
  const text = s + filler + s;
  const tokens = [...text].map((c) => {
    const id = index.get(c);
    if (id === undefined)
      throw new ProbeError(`filler character ${JSON.stringify(c)} is not in the vocabulary`);
    return id;
  });
  return { text, tokens, first: [0, n], second: [n + d, 2 * n + d] };
}

/** Mean loss on characters 1.. of a copy at [a, b): losses[i] predicts token i + 1. */
function copyLoss(losses: Float64Array, [a, b]: [number, number]): number {
  let sum = 0;
  for (let i = a + 1; i < b; i++) sum += losses[i - 1];
  return sum / (b - a - 1);
}

/**
 * The (n, d) grid for one model: cells in the order of `lengths` x `distances`. For each n and trial the
 * sequences of every d share their beginning (the string, then the filler): it is read once, the second copy
 * branching off it at each d (branchLosses: the state or cache is reused where the model can resume).
 */
export async function copyProbe(model: SequenceModel, opts: CopyProbeOptions): Promise<CopyProbeResult> {
  const trials = opts.trials ?? 8;
  if (!Number.isInteger(trials) || trials < 1) throw new ProbeError(`trials = ${trials} must be >= 1`);
  const alphabet = copyAlphabet(opts);
  const pacer = new Pacer(opts.lengths.length * trials, opts);
  let done = 0;
  const cells: CopyProbeCell[] = [];
  for (const n of opts.lengths) {
    const fits = opts.distances.filter((d) => 2 * n + d <= model.maxLength);
    const first = fits.map(() => [] as number[]);
    const second = fits.map(() => [] as number[]);
    const byChar = fits.map(() => new Float64Array(n));
    for (let trial = 0; trial < trials && fits.length > 0; trial++) {
      const seqs = fits.map((d) => copyProbeSequence(opts, n, d, trial));
      // the longest sequence's string + filler is the trunk; each d's second copy branches off at n + d
      const trunk = seqs.reduce((a, b) => (b.tokens.length > a.tokens.length ? b : a)).tokens;
      const all = await branchLosses(
        model,
        trunk,
        seqs.map((q) => ({ at: q.second[0], tokens: q.tokens.slice(q.second[0]) })),
      );
      seqs.forEach((seq, i) => {
        const losses = all[i];
        first[i].push(copyLoss(losses, seq.first));
        second[i].push(copyLoss(losses, seq.second));
        for (let j = 1; j < n; j++) byChar[i][j] += losses[seq.second[0] + j - 1] / trials;
      });
      await pacer.tick(++done, `${model.label}: copy probe, n = ${n}`);
    }
    if (fits.length === 0) {
      done += trials;
      await pacer.tick(done, `${model.label}: copy probe`);
    }
    for (const d of opts.distances) {
      const i = fits.indexOf(d);
      const length = 2 * n + d;
      if (i < 0) {
        cells.push({ n, d, length, first: null, second: null, gain: null, secondByChar: null });
        continue;
      }
      byChar[i][0] = NaN; // not predicted from anything
      cells.push({
        n,
        d,
        length,
        first: meanStderr(first[i]),
        second: meanStderr(second[i]),
        gain: meanStderr(first[i].map((f, k) => f - second[i][k])),
        secondByChar: [...byChar[i]],
      });
    }
  }
  return {
    model: model.label,
    maxLength: model.maxLength,
    alphabetSize: [...alphabet].length,
    uniformLoss: Math.log([...alphabet].length),
    trials,
    seed: opts.seed ?? 1,
    cells,
  };
}
