/**
 * Seeded randomness for chapter 9's probes: Gaussian noise for causal tracing and random strings for the copy
 * probe. Deterministic across Node and browsers (mulberry32 underneath), so a precomputed figure and a live
 * rerun with the same seed draw the same numbers.
 *
 * API:
 *   subSeed(seed, ...parts)          a 32-bit seed for one draw of a grid (same parts -> same seed)
 *   gaussians(seed, n)               n standard normal draws (Box-Muller), Float64Array
 *   embeddingStd(matrix)             the empirical standard deviation of every entry of an embedding matrix
 *   randomString(seed, n, alphabet)  n characters drawn uniformly from `alphabet`
 */
import { mulberry32 } from "../../rwkv/random.js";

/** Mix integers into one 32-bit seed (FNV-1a over the parts, then a murmur-style finaliser). */
export function subSeed(seed: number, ...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of [seed, ...parts]) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  }
  h ^= h >>> 16;
  return h >>> 0;
}

/** n draws of N(0, 1) by the Box-Muller transform over mulberry32(seed). */
export function gaussians(seed: number, n: number): Float64Array {
  const rand = mulberry32(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i += 2) {
    // 1 - rand() lies in (0, 1], so the logarithm is finite
    const r = Math.sqrt(-2 * Math.log(1 - rand()));
    const theta = 2 * Math.PI * rand();
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
  return out;
}

/**
 * The empirical standard deviation (population form, about the mean) of every entry of an embedding matrix:
 * Meng et al. (2022, Sect. 2.1, footnote 4) corrupt with noise of 3 times "the empirical standard deviation of
 * embeddings". Two passes in float64.
 */
export function embeddingStd(matrix: ArrayLike<number>): number {
  const n = matrix.length;
  if (n === 0) throw new RangeError("embeddingStd of an empty matrix");
  let mean = 0;
  for (let i = 0; i < n; i++) mean += matrix[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = matrix[i] - mean;
    ss += d * d;
  }
  return Math.sqrt(ss / n);
}

/** n characters drawn uniformly, independently, from the code points of `alphabet`. */
export function randomString(seed: number, n: number, alphabet: string): string {
  const chars = [...alphabet];
  if (chars.length === 0) throw new RangeError("randomString needs a non-empty alphabet");
  const rand = mulberry32(seed);
  let s = "";
  for (let i = 0; i < n; i++) s += chars[Math.floor(rand() * chars.length)];
  return s;
}
