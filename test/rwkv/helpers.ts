/** Shared by the reference-model tests. */
import { expect } from "vitest";
import type { RwkvModel } from "../../src/rwkv/model.js";
import type { RwkvState } from "../../src/rwkv/weights.js";

/** max |a_i - b_i| over equal-length arrays; a NaN anywhere counts as an infinite difference */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** Runs RNN mode token by token from the empty state and stacks the logits (T, V). */
export function rnnLogits(model: RwkvModel, tokens: number[]): { logits: Float32Array; state: RwkvState } {
  const V = model.config.vocabSize;
  const out = new Float32Array(tokens.length * V);
  let state = model.initialState();
  tokens.forEach((tok, t) => {
    const r = model.step(tok, state);
    out.set(r.logits, t * V);
    state = r.state;
  });
  return { logits: out, state };
}
