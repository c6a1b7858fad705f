/**
 * The full-size page's measurements, on any runtime with the model worker's calling pattern (structural types:
 * the page passes RwkvWorkerClient / GptWorkerClient from src/runtime/client.ts; tests may pass fakes).
 * Times are the worker's own (`ms` of each call: the onnxruntime run and the read-back of its outputs), so the
 * page's message passing is not counted.
 *
 *   equivalence(rwkv, tokens, V)                 RNN mode (T steps) against parallel mode (one forward): per
 *                                                position max |Δ logit|, top-5 next tokens of each at the end
 *   prefill(rwkv, Ts, tokens, {pause, onPoint})  time to take in T tokens both ways, for each T
 *   generation(rwkv, gpt, N, tokens, {...})      per-token time at positions 1..N, RWKV RNN step against the
 *                                                transformer's KV-cache step (RWKV's N steps, then the transformer's)
 */
import { cumulative, median, topK } from "./full-size.js";

export interface RwkvRuntime {
  readonly ep: string;
  reset(): Promise<void>;
  step(token: number): Promise<{ logits: Float32Array; ms: number }>;
  /** RNN mode over several tokens, the last one's logits only (prompt ingestion the RNN way) */
  steps?(tokens: ArrayLike<number>): Promise<{ logits: Float32Array; ms: number }>;
  forward(tokens: ArrayLike<number>): Promise<{ logits: Float32Array; ms: number }>;
}

export interface GptRuntime {
  readonly ep: string;
  reset(): Promise<void>;
  forward(tokens: ArrayLike<number>): Promise<{ ms: number; cacheLength: number; kvNumbers?: number }>;
}

export interface Equivalence {
  T: number;
  V: number;
  /** max_v |rnn[t, v] - parallel[t, v]| per position t */
  diffs: number[];
  worst: number;
  /** largest |logit| (scale for the difference) */
  scale: number;
  /** top-5 next tokens after the last position: [id, logit][] */
  topRnn: [number, number][];
  topParallel: [number, number][];
  rnnMs: number;
  parallelMs: number;
}

export async function equivalence(
  rt: RwkvRuntime,
  tokens: readonly number[],
  V: number,
): Promise<Equivalence> {
  const T = tokens.length;
  if (T === 0) throw new RangeError("equivalence: no tokens");
  await rt.reset();
  const rnn = new Float32Array(T * V);
  let rnnMs = 0;
  for (let t = 0; t < T; t++) {
    const r = await rt.step(tokens[t]);
    if (r.logits.length !== V)
      throw new RangeError(`the step graph returned ${r.logits.length} logits, not V = ${V}`);
    rnn.set(r.logits, t * V);
    rnnMs += r.ms;
  }
  await rt.reset();
  const par = await rt.forward(tokens);
  if (par.logits.length !== T * V) {
    throw new RangeError(`the parallel graph returned ${par.logits.length / V} rows for ${T} tokens`);
  }
  const diffs: number[] = [];
  let scale = 0;
  for (let t = 0; t < T; t++) {
    let m = 0;
    for (let v = 0; v < V; v++) {
      const a = rnn[t * V + v];
      const b = par.logits[t * V + v];
      const d = Math.abs(a - b);
      if (d > m || Number.isNaN(d)) m = d;
      scale = Math.max(scale, Math.abs(b));
    }
    diffs.push(m);
  }
  return {
    T,
    V,
    diffs,
    worst: diffs.reduce((a, b) => (Number.isNaN(b) ? NaN : Math.max(a, b)), 0),
    scale,
    topRnn: topK(rnn, V, 5, T - 1),
    topParallel: topK(par.logits, V, 5, T - 1),
    rnnMs,
    parallelMs: par.ms,
  };
}

export interface PrefillPoint {
  T: number;
  parallelMs: number;
  /** undefined where RNN mode was skipped (longer than `maxRnnT`) */
  rnnMs?: number;
}

export interface SweepOptions {
  /** awaited between calls so the page stays responsive */
  pause?: () => Promise<void>;
  /** called after each T with the points so far */
  onPoint?: (points: PrefillPoint[]) => void;
  /** stop early (the reader picked another model) */
  cancelled?: () => boolean;
}

/** Time to take in T tokens with the parallel graph (one call, chunked inside) and with T RNN steps. */
export async function prefill(
  rt: RwkvRuntime,
  Ts: readonly number[],
  tokens: readonly number[],
  {
    pause,
    onPoint,
    cancelled,
    maxRnnT = Infinity,
    repeat = 1,
    repeatUpTo = Infinity,
  }: SweepOptions & { maxRnnT?: number; repeat?: number; repeatUpTo?: number } = {},
): Promise<PrefillPoint[]> {
  const points: PrefillPoint[] = [];
  // warm-up: first runs compile shaders / allocate buffers
  await rt.reset();
  await rt.forward(tokens.slice(0, Math.min(4, tokens.length)));
  await rt.reset();
  await rt.step(tokens[0]);
  for (const T of Ts) {
    if (cancelled?.()) break;
    if (T > tokens.length) throw new RangeError(`prefill: T = ${T} but only ${tokens.length} tokens`);
    // the median of `repeat` runs of each mode (a shared machine's noise), for T <= repeatUpTo
    const parTimes: number[] = [];
    const rnnTimes: number[] = [];
    for (let r = 0; r < (T <= repeatUpTo ? repeat : 1); r++) {
      await rt.reset();
      parTimes.push((await rt.forward(tokens.slice(0, T))).ms);
      await pause?.();
      if (T <= maxRnnT) {
        await rt.reset();
        let ms = 0;
        // blocks of 16 tokens (RNN-mode ingestion: no logits but the block's last), a pause between blocks
        for (let t = 0; t < T; t += 16) {
          const block = tokens.slice(t, Math.min(T, t + 16));
          if (rt.steps) ms += (await rt.steps(block)).ms;
          else for (const tok of block) ms += (await rt.step(tok)).ms;
          await pause?.();
          if (cancelled?.()) return points;
        }
        rnnTimes.push(ms);
      }
    }
    const point: PrefillPoint = { T, parallelMs: median(parTimes) };
    if (rnnTimes.length) point.rnnMs = median(rnnTimes);
    points.push(point);
    onPoint?.(points);
    await pause?.();
  }
  return points;
}

export interface GenerationResult {
  /** positions 1..N (the token's index in the text, 1-based) */
  positions: number[];
  rwkvMs: number[];
  gptMs: number[];
  rwkvCumulative: number[];
  gptCumulative: number[];
  /** KV-cache numbers the transformer's worker held after the last step (measured from its tensors) */
  kvNumbers?: number;
}

/**
 * Generation as the paper's inference-cost figure measures it: one token at a time from an empty state/cache,
 * per-token time against position. The token fed at each position is given (sampling is not what is timed).
 * The two models run one after the other, RWKV's N steps first, then the transformer's N: alternating them on one
 * runtime slowed RWKV's step by what the transformer's step left behind (its KV cache moved to and from the GPU
 * every step; docs/benchmarks.md, "Found (issue 15b)"), which grows with the position and is not RWKV's cost.
 */
export async function generation(
  rwkv: RwkvRuntime,
  gpt: GptRuntime | undefined,
  N: number,
  tokens: readonly number[],
  {
    pause,
    cancelled,
    progress,
  }: Omit<SweepOptions, "onPoint"> & { progress?: (r: GenerationResult) => void } = {},
): Promise<GenerationResult> {
  const out: GenerationResult = {
    positions: [],
    rwkvMs: [],
    gptMs: [],
    rwkvCumulative: [],
    gptCumulative: [],
  };
  const report = async (i: number) => {
    if (i % 8 === 7 || i === N - 1) {
      out.rwkvCumulative = cumulative(out.rwkvMs);
      out.gptCumulative = cumulative(out.gptMs);
      // a consistent snapshot (the arrays keep growing)
      progress?.({
        ...out,
        positions: out.positions.slice(),
        rwkvMs: out.rwkvMs.slice(),
        gptMs: out.gptMs.slice(),
      });
      await pause?.();
    }
  };
  await rwkv.reset();
  await rwkv.step(tokens[0]); // warm-up
  await rwkv.reset();
  for (let i = 0; i < N; i++) {
    if (cancelled?.()) break;
    out.positions.push(i + 1);
    out.rwkvMs.push((await rwkv.step(tokens[i % tokens.length])).ms);
    await report(i);
  }
  // a cancelled run stops here: the transformer's worker may be gone with the model the reader left
  if (gpt && !cancelled?.()) {
    await gpt.reset();
    await gpt.forward([tokens[0]]);
    await gpt.reset();
    for (let i = 0; i < out.positions.length; i++) {
      if (cancelled?.()) break;
      const g = await gpt.forward([tokens[i % tokens.length]]);
      out.gptMs.push(g.ms);
      if (g.kvNumbers !== undefined) out.kvNumbers = g.kvNumbers;
      await report(i);
    }
  }
  out.rwkvCumulative = cumulative(out.rwkvMs);
  out.gptCumulative = cumulative(out.gptMs);
  return out;
}

/** Deterministic token ids for timing (timing does not depend on which tokens): a 32-bit LCG in [0, V). */
export function timingTokens(n: number, V: number, seed = 1): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s % V);
  }
  return out;
}
