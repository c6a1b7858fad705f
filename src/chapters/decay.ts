/**
 * The maths of chapter 4 (time decay and the bonus u), DOM-free. Conventions of src/rwkv/wkv.ts: the loaded
 * decay is w = -exp(time_decay) < 0, so one step multiplies a channel's memory by e^{w} (the paper writes
 * e^{-w} with w > 0; arXiv v4 Eq. 16 and Fig. 10 plot e^{-w} of its convention, which is our e^{w}).
 *
 * API:
 *   halfLife(w)                 tokens after which a contribution has decayed to half: ln(1/2) / w
 *   wFromHalfLife(h)            the inverse: w = ln(1/2) / h
 *   sortedDecay(w)              e^{w} per channel, sorted ascending (a line of the paper's Figure 10)
 *   wkvWeights({w, u, k, t})    the normalised weights of Eq. 16 for output position t (0-based):
 *                               alpha_i ∝ e^{(t-1-i) w + k_i} for i < t, alpha_t ∝ e^{u + k_t}; they sum to 1
 *                               and wkv_t = Σ alpha_i v_i
 *   wkvChannel(w, u, k, v)      one channel's wkv over a sequence (the stable scan of src/rwkv/wkv.ts), (T)
 */
import { emptyWkvState, wkvScan } from "../rwkv/wkv.js";

export function halfLife(w: number): number {
  if (!(w < 0)) return Infinity; // no decay (or growth): never halves
  return Math.log(0.5) / w;
}

export function wFromHalfLife(h: number): number {
  if (!(h > 0)) throw new RangeError(`half-life must be positive, got ${h}`);
  return Math.log(0.5) / h;
}

export function sortedDecay(w: Float32Array): Float64Array {
  return Float64Array.from(w, (x) => Math.exp(x)).sort();
}

export function wkvWeights({
  w,
  u,
  k,
  t,
}: {
  w: number;
  u: number;
  k: ArrayLike<number>;
  t: number;
}): Float64Array {
  if (!Number.isInteger(t) || t < 0 || t >= k.length) throw new RangeError(`position ${t} is out of range`);
  const logits = new Float64Array(t + 1);
  let m = -Infinity;
  for (let i = 0; i < t; i++) {
    logits[i] = (t - 1 - i) * w + k[i];
    m = Math.max(m, logits[i]);
  }
  logits[t] = u + k[t];
  m = Math.max(m, logits[t]);
  let z = 0;
  for (let i = 0; i <= t; i++) {
    logits[i] = Math.exp(logits[i] - m);
    z += logits[i];
  }
  for (let i = 0; i <= t; i++) logits[i] /= z;
  return logits;
}

export function wkvChannel(w: number, u: number, k: Float32Array, v: Float32Array): Float32Array {
  if (k.length !== v.length) throw new RangeError("wkvChannel: k and v must have the same length");
  return wkvScan(Float32Array.of(w), Float32Array.of(u), k, v, k.length, emptyWkvState(1));
}
