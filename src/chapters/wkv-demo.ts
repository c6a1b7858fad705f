/**
 * Chapter 5's computations, DOM-free: one step of the stable recurrence (arXiv 2305.13048 v4, Appendix D) with
 * every intermediate number, and the overflow of the direct form (Eq. 16) when the keys grow.
 *
 * API:
 *   FP32_EXP_LIMIT                 ln(largest fp32) ≈ 88.72: e^x is Infinity in fp32 beyond it
 *   recurrenceStep({a, b, p, w, u, k, v}) -> {q, wkv, e1, e2, a2, b2, p2, ...}   one channel, one token
 *   overflowStats({w, u, k, v, T, C, scale}) -> {direct, stable, nonFiniteDirect, nonFiniteStable, maxDiff,
 *                                                 maxExponent, predictedScale}
 *   overflowSweep({w, u, k, v, T, C, scales}) -> [{scale, nonFiniteDirect, nonFiniteStable}]
 *   overflowSweepAsync(input, isCancelled) -> Promise<... | null>   the same, one scale per macrotask (the
 *                                  direct form is O(T² C): the page stays responsive), null if cancelled
 */
import { P_EMPTY, emptyWkvState, wkvDirect, wkvScan } from "../rwkv/wkv.js";

/** ln(3.4028235e38): the largest x with e^x finite in fp32. */
export const FP32_EXP_LIMIT = Math.log(3.4028234663852886e38);

export interface RecurrenceInput {
  /** state before the token (as stored: A = e^p a, B = e^p b) */
  a: number;
  b: number;
  p: number;
  /** w = -exp(time_decay) < 0 */
  w: number;
  u: number;
  k: number;
  v: number;
}

export interface RecurrenceStep {
  /** output: q = max(p, u + k), wkv = (e^{p-q} a + e^{u+k-q} v) / (e^{p-q} b + e^{u+k-q}) */
  q: number;
  e1: number;
  e2: number;
  wkv: number;
  /** update: q' = max(p + w, k), a' = e^{p+w-q'} a + e^{k-q'} v, b' = e^{p+w-q'} b + e^{k-q'}, p' = q' */
  q2: number;
  f1: number;
  f2: number;
  a2: number;
  b2: number;
  p2: number;
}

export function recurrenceStep({ a, b, p, w, u, k, v }: RecurrenceInput): RecurrenceStep {
  const q = Math.max(p, u + k);
  const e1 = Math.exp(p - q);
  const e2 = Math.exp(u + k - q);
  const wkv = (e1 * a + e2 * v) / (e1 * b + e2);
  const q2 = Math.max(p + w, k);
  const f1 = Math.exp(p + w - q2);
  const f2 = Math.exp(k - q2);
  return { q, e1, e2, wkv, q2, f1, f2, a2: f1 * a + f2 * v, b2: f1 * b + f2, p2: q2 };
}

/** The empty state's stored values (before the first token). */
export const EMPTY_STATE = { a: 0, b: 0, p: P_EMPTY };

export interface OverflowInput {
  w: Float32Array;
  u: Float32Array;
  /** (T, C) */
  k: Float32Array;
  v: Float32Array;
  T: number;
  C: number;
}

export interface OverflowStats {
  scale: number;
  /** Eq. 16 evaluated literally in fp32, (T, C) */
  direct: Float32Array;
  /** the stable running-max recurrence (Appendix D), (T, C) */
  stable: Float32Array;
  nonFiniteDirect: number;
  nonFiniteStable: number;
  /** largest |direct - stable| where both are finite */
  maxDiff: number;
  /** the largest exponent Eq. 16 forms: max over t of u + s·k_t and s·k_i */
  maxExponent: number;
  /** the scale at which that exponent reaches FP32_EXP_LIMIT (the predicted onset of overflow) */
  predictedScale: number;
}

function scaled(k: Float32Array, s: number): Float32Array {
  if (s === 1) return k;
  const out = new Float32Array(k.length);
  for (let i = 0; i < k.length; i++) out[i] = k[i] * s;
  return out;
}

export function overflowStats({ w, u, k, v, T, C, scale }: OverflowInput & { scale: number }): OverflowStats {
  if (k.length !== T * C || v.length !== T * C) throw new RangeError("overflowStats: k and v must be (T, C)");
  const ks = scaled(k, scale);
  const direct = wkvDirect(w, u, ks, v, T, C);
  const stable = wkvScan(w, u, ks, v, T, emptyWkvState(C));
  let nonFiniteDirect = 0;
  let nonFiniteStable = 0;
  let maxDiff = 0;
  for (let i = 0; i < T * C; i++) {
    const d = direct[i];
    const s = stable[i];
    if (!Number.isFinite(d)) nonFiniteDirect++;
    if (!Number.isFinite(s)) nonFiniteStable++;
    if (Number.isFinite(d) && Number.isFinite(s)) maxDiff = Math.max(maxDiff, Math.abs(d - s));
  }
  // largest exponent at scale 1 per channel, to predict the onset: u + s k (current token) or s k (earlier ones)
  let maxExponent = -Infinity;
  let predictedScale = Infinity;
  for (let c = 0; c < C; c++) {
    let kmaxEarlier = -Infinity;
    let kmaxCurrent = -Infinity;
    for (let t = 0; t < T; t++) {
      const kk = k[t * C + c];
      kmaxCurrent = Math.max(kmaxCurrent, kk);
      if (t < T - 1) kmaxEarlier = Math.max(kmaxEarlier, kk);
    }
    maxExponent = Math.max(maxExponent, u[c] + scale * kmaxCurrent, scale * kmaxEarlier);
    if (kmaxCurrent > 0) predictedScale = Math.min(predictedScale, (FP32_EXP_LIMIT - u[c]) / kmaxCurrent);
    if (kmaxEarlier > 0) predictedScale = Math.min(predictedScale, FP32_EXP_LIMIT / kmaxEarlier);
  }
  return { scale, direct, stable, nonFiniteDirect, nonFiniteStable, maxDiff, maxExponent, predictedScale };
}

export function overflowSweep(
  input: OverflowInput & { scales: readonly number[] },
): { scale: number; nonFiniteDirect: number; nonFiniteStable: number }[] {
  return input.scales.map((scale) => {
    const s = overflowStats({ ...input, scale });
    return { scale, nonFiniteDirect: s.nonFiniteDirect, nonFiniteStable: s.nonFiniteStable };
  });
}

export async function overflowSweepAsync(
  input: OverflowInput & { scales: readonly number[] },
  isCancelled: () => boolean,
): Promise<{ scale: number; nonFiniteDirect: number; nonFiniteStable: number }[] | null> {
  const out: { scale: number; nonFiniteDirect: number; nonFiniteStable: number }[] = [];
  for (const scale of input.scales) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (isCancelled()) return null;
    const s = overflowStats({ ...input, scale });
    out.push({ scale, nonFiniteDirect: s.nonFiniteDirect, nonFiniteStable: s.nonFiniteStable });
  }
  return out;
}
