/**
 * Prompt order, the character-level analogue (chapter 9). The paper (Sect. 9 and Appendix L) finds RWKV more
 * sensitive than a transformer to where information sits in the prompt: re-ordering RTE prompts for
 * RWKV-4-Raven-14B raised F1 from 44.2% to 74.8%. A 3M-parameter Shakespeare model answers no questions, but it
 * can be asked to recall a name. Every trial draws a made-up speaker name N (so only the text can supply it), a
 * held-out speech S, and reads the same pieces in two orders:
 *
 *   far:     "N:\n<line>\n\n" + S + "\n\n" + N[0]      the name stands before the long speech
 *   near:    S + "\n\n" + "N:\n<line>\n\n" + N[0]      the name stands just before the question
 *   absent:  S + "\n\n" + "M:\n<line>\n\n" + N[0]      another name M: what the model guesses without N
 *
 * The "question" is the first letter of N at the start of a speech header; the score is the loss per character
 * on the rest of the name. Same characters in `far` and `near`, only the order differs; the order effect is the
 * paired difference far - near. The names are built from consonant-vowel syllables in capitals, like the
 * corpus's speaker headers, and seeded.
 *
 * API:
 *   promptOrderTrial(opts, speechLength, trial) -> {name, other, far, near, absent, target}
 *   promptOrder(model, opts) -> Promise<PromptOrderResult>
 */
import { mulberry32 } from "../../rwkv/random.js";
import { ProbeError, type SequenceModel, type Stat, branchLosses, meanStderr } from "./lm.js";
import { subSeed } from "./random.js";
import { Pacer, type RunOptions } from "./run.js";

const CONSONANTS = "BCDFGKLMNPRSTVZ";
const VOWELS = "AEIOU";

export interface PromptOrderOptions extends RunOptions {
  /** the model's characters; token id i is vocabulary[i] */
  vocabulary: string;
  /** held-out text the speeches are cut from */
  speeches: string;
  /** speech lengths in characters */
  speechLengths: readonly number[];
  /** trials per speech length (default 16) */
  trials?: number;
  /** default 1 */
  seed?: number;
  /** the named speaker's short line (default "I come, my lord.") */
  line?: string;
  /** syllables per made-up name (default 3: six letters) */
  syllables?: number;
  /**
   * draw the names from this list instead of making them up (e.g. the corpus's speakers: the model knows them,
   * and the text only has to say which one)
   */
  names?: readonly string[];
}

export interface PromptOrderTrial {
  name: string;
  other: string;
  far: string;
  near: string;
  absent: string;
  /** the characters scored: the name without its first letter, at the end of each prompt */
  target: string;
  /** the pieces: the speech (its first speechLength characters of the trial's held-out cut), "N:\n<line>\n\n" */
  speech: string;
  nameBlock: string;
  otherBlock: string;
}

export interface PromptOrderPoint {
  speechLength: number;
  /** characters between the name and the question in the `far` order */
  farDistance: number;
  far: Stat | null;
  near: Stat | null;
  absent: Stat | null;
  /** paired far - near (nats per character): > 0 means the name near the question is recalled better */
  orderEffect: Stat | null;
}

export interface PromptOrderResult {
  model: string;
  trials: number;
  seed: number;
  points: PromptOrderPoint[];
}

function makeName(rand: () => number, syllables: number, avoidFirst?: string): string {
  for (;;) {
    let s = "";
    for (let i = 0; i < syllables; i++) {
      s += CONSONANTS[Math.floor(rand() * CONSONANTS.length)] + VOWELS[Math.floor(rand() * VOWELS.length)];
    }
    if (s[0] !== avoidFirst) return s;
  }
}

export function promptOrderTrial(
  opts: PromptOrderOptions,
  speechLength: number,
  trial: number,
): PromptOrderTrial {
  if (!Number.isInteger(speechLength) || speechLength < 1) {
    throw new ProbeError(`speech length ${speechLength} must be an integer >= 1`);
  }
  const seed = opts.seed ?? 1;
  const syllables = opts.syllables ?? 3;
  // the names depend on the trial only, the speech on (trial, length): longer speeches, same names
  const rand = mulberry32(subSeed(seed, 0x0ade, trial));
  let name: string;
  let other: string;
  if (opts.names) {
    const firsts = new Set(opts.names.map((n) => n[0]));
    if (opts.names.length < 2 || firsts.size < 2) {
      throw new ProbeError("the name list needs names with at least two different first letters");
    }
    const pick = () => opts.names![Math.floor(rand() * opts.names!.length)];
    name = pick();
    do other = pick();
    while (other[0] === name[0]);
  } else {
    name = makeName(rand, syllables);
    other = makeName(rand, syllables, name[0]);
  }
  // one speech per trial, cut to each length: the longer speeches begin with the shorter ones (prefix reuse)
  const longest = Math.max(speechLength, ...opts.speechLengths);
  const room = opts.speeches.length - longest;
  if (room < 0)
    throw new ProbeError(`the speech text has ${opts.speeches.length} characters; ${longest} needed`);
  const off = Math.floor(mulberry32(subSeed(seed, 0x5eec, trial))() * (room + 1));
  const cut = opts.speeches.slice(off, off + speechLength);
  const speech = cut + "\n\n";
  const line = opts.line ?? "I come, my lord.";
  const block = (who: string) => `${who}:\n${line}\n\n`;
  return {
    name,
    other,
    far: block(name) + speech + name[0],
    near: speech + block(name) + name[0],
    absent: speech + block(other) + name[0],
    target: name.slice(1),
    speech: cut,
    nameBlock: block(name),
    otherBlock: block(other),
  };
}

function encode(vocabulary: string, text: string): number[] {
  return [...text].map((c) => {
    const id = vocabulary.indexOf(c);
    if (id < 0) throw new ProbeError(`character ${JSON.stringify(c)} is not in the vocabulary`);
    return id;
  });
}

export async function promptOrder(
  model: SequenceModel,
  opts: PromptOrderOptions,
): Promise<PromptOrderResult> {
  const trials = opts.trials ?? 16;
  if (!Number.isInteger(trials) || trials < 1) throw new ProbeError(`trials = ${trials} must be >= 1`);
  const pacer = new Pacer(trials, opts);
  const enc = (t: string) => encode(opts.vocabulary, t);
  const lengths = [...opts.speechLengths];
  const fits = lengths.filter((Ls) => {
    const p = promptOrderTrial(opts, Ls, 0);
    return [...p.far].length + [...p.target].length <= model.maxLength;
  });
  const scores = fits.map(() => ({ far: [] as number[], near: [] as number[], absent: [] as number[] }));
  for (let trial = 0; trial < trials && fits.length > 0; trial++) {
    // every length's speech begins the longest one: one trunk per order, the question branching off it
    const ps = fits.map((Ls) => promptOrderTrial(opts, Ls, trial));
    const long = ps.reduce((a, b) => (b.speech.length > a.speech.length ? b : a));
    const n = [...long.target].length;
    const tail = (l: Float64Array) => {
      let sum = 0;
      for (let i = l.length - n; i < l.length; i++) sum += l[i];
      return sum / n;
    };
    const question = long.name[0] + long.target;
    const speechTrunk = enc(long.speech);
    const at = ps.map((p) => [...p.speech].length);
    const nearAbsent = await branchLosses(model, speechTrunk, [
      ...at.map((a) => ({ at: a, tokens: enc("\n\n" + long.nameBlock + question) })),
      ...at.map((a) => ({ at: a, tokens: enc("\n\n" + long.otherBlock + question) })),
    ]);
    const blockLength = [...long.nameBlock].length;
    const far = await branchLosses(
      model,
      enc(long.nameBlock + long.speech),
      at.map((a) => ({ at: blockLength + a, tokens: enc("\n\n" + question) })),
    );
    fits.forEach((_, i) => {
      scores[i].far.push(tail(far[i]));
      scores[i].near.push(tail(nearAbsent[i]));
      scores[i].absent.push(tail(nearAbsent[fits.length + i]));
    });
    await pacer.tick(trial + 1, `${model.label}: prompt order, trial ${trial + 1} of ${trials}`);
  }
  if (fits.length === 0) await pacer.tick(trials, `${model.label}: prompt order`);
  const points: PromptOrderPoint[] = lengths.map((Ls) => {
    const p = promptOrderTrial(opts, Ls, 0);
    const farDistance = [...p.far].length - [...p.name].length - 1;
    const i = fits.indexOf(Ls);
    if (i < 0)
      return { speechLength: Ls, farDistance, far: null, near: null, absent: null, orderEffect: null };
    const sc = scores[i];
    return {
      speechLength: Ls,
      farDistance,
      far: meanStderr(sc.far),
      near: meanStderr(sc.near),
      absent: meanStderr(sc.absent),
      orderEffect: meanStderr(sc.far.map((f, k) => f - sc.near[k])),
    };
  });
  return { model: model.label, trials, seed: opts.seed ?? 1, points };
}
