/**
 * Choosing the next token from logits: greedy, temperature, top-p (nucleus), with a seeded PRNG.
 * Logits must be finite: a NaN or an infinity means the model computation went wrong (an overflow, a corrupt
 * weight), and a token "sampled" from it would be noise presented as text. `Sampler.sample` and `logSoftmaxAt`
 * throw NonFiniteLogitsError instead, naming the first bad index.
 */
import { mulberry32 } from "./random.js";

export class NonFiniteLogitsError extends Error {
  /** index of the first non-finite logit */
  readonly index: number;
  constructor(index: number, value: number) {
    super(
      `logit ${index} is ${value}: the model produced non-finite logits (an overflow or a corrupt weight); ` +
        "refusing to sample or score from them",
    );
    this.name = "NonFiniteLogitsError";
    this.index = index;
  }
}

/** Throws NonFiniteLogitsError unless every logit is a finite number. */
export function assertFiniteLogits(logits: ArrayLike<number>): void {
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (!(x - x === 0)) throw new NonFiniteLogitsError(i, x); // false for NaN and +-Infinity
  }
}

export interface SamplingOptions {
  /** 0 means greedy (argmax); default 1 */
  temperature?: number;
  /** keep the smallest set of tokens whose probability reaches topP (default 1 = all) */
  topP?: number;
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** softmax(logits / temperature) in float64 */
export function softmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const n = logits.length;
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, logits[i]);
  const p = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp((logits[i] - m) / temperature);
    s += p[i];
  }
  for (let i = 0; i < n; i++) p[i] /= s;
  return p;
}

/** log softmax of one row, for losses (nats); throws NonFiniteLogitsError on a NaN or infinite logit */
export function logSoftmaxAt(logits: ArrayLike<number>, index: number): number {
  assertFiniteLogits(logits);
  if (!Number.isInteger(index) || index < 0 || index >= logits.length) {
    throw new RangeError(`target index ${index} is outside the ${logits.length} logits`);
  }
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) m = Math.max(m, logits[i]);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i] - m);
  return logits[index] - m - Math.log(s);
}

/**
 * log softmax(row)[id] for row `row` of a (n, V) logits matrix, max-shifted and summed in float64. No finiteness
 * check (the traces and probes that call it compare many rows; logSoftmaxAt checks one).
 */
export function logSoftmaxRowAt(logits: ArrayLike<number>, row: number, V: number, id: number): number {
  const o = row * V;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
  return logits[o + id] - max - Math.log(sum);
}

export class Sampler {
  private readonly rand: () => number;
  constructor(seed = 0) {
    this.rand = mulberry32(seed);
  }

  /** The next token id; throws NonFiniteLogitsError if any logit is NaN or infinite (never a silent pick). */
  sample(logits: ArrayLike<number>, opts: SamplingOptions = {}): number {
    const temperature = opts.temperature ?? 1;
    const topP = opts.topP ?? 1;
    if (!(temperature >= 0)) throw new RangeError(`temperature must be >= 0, got ${temperature}`);
    if (!(topP > 0 && topP <= 1)) throw new RangeError(`top-p must be in (0, 1], got ${topP}`);
    if (logits.length === 0) throw new RangeError("no logits to sample from");
    assertFiniteLogits(logits);
    if (temperature === 0) return argmax(logits);
    const p = softmax(logits, temperature);
    const order = Array.from(p.keys()).sort((i, j) => p[j] - p[i]);
    let keep = order.length;
    if (topP < 1) {
      let cum = 0;
      for (let n = 0; n < order.length; n++) {
        cum += p[order[n]];
        if (cum >= topP) {
          keep = n + 1;
          break;
        }
      }
    }
    let total = 0;
    for (let n = 0; n < keep; n++) total += p[order[n]];
    let x = this.rand() * total;
    for (let n = 0; n < keep; n++) {
      x -= p[order[n]];
      if (x < 0) return order[n];
    }
    return order[keep - 1];
  }
}
