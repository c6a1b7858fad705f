/**
 * Prompt-ingestion benchmark of the reference model: T tokens through RNN mode (T steps) and
 * through parallel mode (one forward), each producing the last position's logits and the final
 * state. Medians over repeats; one warm-up run of each first.
 */
import type { RwkvModel } from "../rwkv/model.js";
import { mulberry32 } from "../rwkv/random.js";
import { argmax } from "../rwkv/sampling.js";

export interface BenchOptions {
  tokens: number;
  repeats?: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

export function benchTokens(T: number, V: number, seed = 1): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: T }, () => Math.floor(r() * V));
}

function timeIt(f: () => void, repeats: number): number[] {
  f(); // warm-up (JIT)
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    f();
    times.push((performance.now() - t0) / 1000);
  }
  return times;
}

export function benchRef(model: RwkvModel, opts: BenchOptions) {
  const T = opts.tokens;
  const tokens = benchTokens(T, model.config.vocabSize);
  const big = model.config.nEmbd >= 512;
  const repeats = opts.repeats ?? (big ? 3 : 10);
  const rnn = timeIt(() => {
    let state = model.initialState();
    for (const tok of tokens) state = model.step(tok, state).state;
  }, repeats);
  const parallel = timeIt(() => {
    model.forward(tokens, undefined, { lastOnly: true });
  }, repeats);
  const rnnS = median(rnn);
  const parS = median(parallel);
  return {
    repeats,
    rnn_seconds_median: rnnS,
    parallel_seconds_median: parS,
    rnn_tokens_per_second: T / rnnS,
    parallel_tokens_per_second: T / parS,
    parallel_over_rnn: rnnS / parS,
  };
}

/**
 * Greedy generation timing for any backend: `n` steps from the empty state after `warmup` untimed ones, ms per
 * token (median, p95). `step(token)` runs one RNN step from the state it keeps and returns the logits.
 */
export async function timeGreedySteps(
  step: (token: number) => ArrayLike<number> | Promise<ArrayLike<number>>,
  n: number,
  warmup = 2,
): Promise<{ median: number; p95: number }> {
  let token = 1;
  const ms: number[] = [];
  for (let i = 0; i < n + warmup; i++) {
    const t0 = performance.now();
    token = argmax(await step(token));
    if (i >= warmup) ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { median: median(ms), p95: ms[Math.min(ms.length - 1, Math.floor(0.95 * ms.length))] };
}

/** Generation on the reference model (timeGreedySteps). */
export function benchGeneration(model: RwkvModel, n: number): Promise<{ median: number; p95: number }> {
  let state = model.initialState();
  return timeGreedySteps((token) => {
    const r = model.step(token, state);
    state = r.state;
    return r.logits;
  }, n);
}
