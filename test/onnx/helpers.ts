import type { RwkvState, RwkvWeights } from "../../src/rwkv/weights.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

export const STATE_KEYS = ["attX", "a", "b", "p", "ffnX"] as const;

/** The small shape of the brief: L = 2, C = 16, V = 23 (F = 4C). */
export const SMALL = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 23, layerNormEps: 1e-5 };

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates as NaN
  }
  return m;
}

export function stateDiff(x: RwkvState, y: RwkvState): number {
  if (x.length !== y.length) throw new Error(`layers ${x.length} != ${y.length}`);
  let m = 0;
  for (let l = 0; l < x.length; l++)
    for (const k of STATE_KEYS) m = Math.max(m, maxAbsDiff(x[l][k], y[l][k]));
  return m;
}

export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

/**
 * Weights that stress the WKV numerics: keys scaled up (|k| in the hundreds, where e^k overflows fp32),
 * and decays from almost none (w = -1e-7) to instant (w = -1e6) plus one channel with w = -inf.
 */
export function stressWeights(seed = 7): RwkvWeights {
  const w = syntheticWeights(SMALL, seed);
  const C = SMALL.nEmbd;
  const blocks = w.blocks.map((b) => {
    const decay = Float32Array.from({ length: C }, (_, c) => -(10 ** (-7 + (13 * c) / (C - 1))));
    decay[C - 1] = -Infinity;
    return {
      ...b,
      att: {
        ...b.att,
        w: decay,
        u: Float32Array.from(b.att.u, (u, c) => u + (c % 2 ? 50 : -50)),
        Wk: Float32Array.from(b.att.Wk, (x) => x * 400),
      },
    };
  });
  return { ...w, blocks };
}

/** A seeded uniform [0, 1) generator (a 32-bit linear congruential one): the same numbers on every run. */
export function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}
