/**
 * Causal tracing (Meng et al. 2022, "Locating and Editing Factual Associations in GPT", Sect. 2.1), as the
 * RWKV paper applies it in Appendix I (its Figure 11, the information-propagation panel, arXiv v4), for the
 * tiny RWKV and the tiny GPT on the same prompt.
 *
 *   clean run        P[o]: the probability of the target continuation o after the prompt
 *   corrupted run    P*[o]: the same, with Gaussian noise eps ~ N(0, nu^2) added to the token embeddings of the
 *                    subject span (RWKV: emb[token] before ln0; GPT: wte[token] before the positions are added,
 *                    where Meng et al.'s code adds it); nu = 3 x the empirical standard deviation of the model's
 *                    own embedding matrix (Meng et al., Sect. 2.1, footnote 4)
 *   restored run     P*,clean h(l,t)[o]: the corrupted run with the output of block l at position t replaced
 *                    by its clean value, everything else left to run on
 *
 * What "restoring h(l, t)" means for each model:
 *   GPT   the residual stream after block l at position t: block l+1 at t reads it, and so do the attention
 *         keys and values of block l+1 for every later query.
 *   RWKV  the block output at (l, t), in RNN mode. Block l's own state after t (its token-shift inputs and WKV
 *         numerator/denominator) is computed from the block's corrupted input and stays corrupted; blocks l+1..
 *         read the clean vector at t and fold it into their states, which carry it to every later token. So a
 *         bright cell at (l, t) says: the information block l wrote at t reaches the answer through the
 *         recurrent states of the blocks above.
 *
 * Cost. Restoring (l, t) changes nothing before t and nothing in blocks 0..l (their inputs and states are the
 * corrupted run's), so a restored run starts from the corrupted run's state after t - 1 (RWKV) or its KV cache
 * of the positions before t (GPT) and runs blocks l+1..L-1 over positions t..end only. For t before the subject
 * the restored value equals the corrupted one bit for bit (causality), so those cells are P*[o] without a run.
 *
 * API:
 *   type TracedModel = {kind: "rwkv", model} | {kind: "gpt", model}
 *   causalTrace(traced, opts, runner?) -> Promise<CausalTraceResult>   progress, AbortSignal, yields between rows;
 *                                                               `runner` (TraceRunner) runs the model's runs
 *                                                               elsewhere (the ONNX trace-step graphs in a worker,
 *                                                               src/runtime/trace-ort.ts); default: the reference
 *                                                               model here
 *   restoredProbability(traced, prepared, cells, opts)         any set of restored cells, recomputed from
 *                                                               scratch (RWKV: RNN or parallel mode): the
 *                                                               independent path the tests check against
 *   prepareTrace(traced, opts)                                  the noise and sequence a trace uses
 *   restoredShare(result) / indirectEffect(result) / strongestCells(result, k)
 *   defaultNoiseScale(traced)                                   3 x std of the embedding matrix
 */
import type { BlockHooks, RwkvModel } from "../../rwkv/model.js";
import type { RwkvState } from "../../rwkv/weights.js";
import type { GptModel, KvCache } from "../../transformer/gpt.js";
import { logSoftmaxAt } from "./lm.js";
import { embeddingStd, gaussians, subSeed } from "./random.js";
import { Pacer, type RunOptions, yieldToEventLoop } from "./run.js";

export type TracedModel = { kind: "rwkv"; model: RwkvModel } | { kind: "gpt"; model: GptModel };

/** Meng et al. (2022), Sect. 2.1, footnote 4: nu = 3 x the empirical standard deviation of embeddings. */
export const NOISE_MULTIPLE = 3;

export interface CausalTraceOptions extends RunOptions {
  /** the prompt's token ids (T >= 1) */
  tokens: readonly number[];
  /** the subject: positions [start, end) of the prompt whose embeddings are corrupted */
  subject: readonly [number, number];
  /** the target continuation o (m >= 1 tokens): P[o] = prod_j P(o_j | prompt, o_<j) */
  target: readonly number[];
  /** the noise's standard deviation nu; default NOISE_MULTIPLE x embeddingStd of the model's embeddings */
  noiseScale?: number;
  /** independent noise draws whose probabilities are averaged (Meng et al. use 10); default 1 */
  samples?: number;
  /** seed of the noise (sample s uses subSeed(seed, s)); default 1 */
  seed?: number;
  /**
   * called after every row with the trace so far: each cell is the mean over the samples that reached it, NaN
   * where none has yet (a figure can fill in as it runs)
   */
  onPartial?: (partial: CausalTraceResult) => void;
}

export interface CausalTraceResult {
  model: "rwkv" | "gpt";
  nLayer: number;
  /** prompt length */
  T: number;
  tokens: number[];
  subject: [number, number];
  target: number[];
  /** the standard deviation of the model's embedding matrix, and the noise's nu */
  embeddingStd: number;
  noiseScale: number;
  samples: number;
  seed: number;
  /** P[o], clean run */
  pClean: number;
  /** P*[o], corrupted run, mean over the samples */
  pCorrupt: number;
  /** P*,clean h(l,t)[o], (L, T) row-major (row l = block l), mean over the samples */
  pRestored: Float64Array;
}

export class CausalTraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CausalTraceError";
  }
}

/** A restored position: the output of block `layer` at prompt position `t`. */
export interface Cell {
  layer: number;
  t: number;
}

/** What a trace runs: the sequence (prompt + o without its last token) and each sample's noise. */
export interface PreparedTrace {
  /** prompt then target[0..m-2]: the target is scored teacher-forced at positions T-1..T+m-2 */
  seq: number[];
  T: number;
  subject: [number, number];
  target: number[];
  embeddingStd: number;
  noiseScale: number;
  /** per sample: (end - start, C) noise rows, already scaled by nu */
  noise: Float32Array[];
}

function embeddingsOf(traced: TracedModel): Float32Array {
  return traced.kind === "rwkv" ? traced.model.weights.emb : traced.model.weights.wte;
}

function dims(traced: TracedModel): { L: number; C: number; V: number } {
  const c = traced.model.config;
  return { L: c.nLayer, C: c.nEmbd, V: c.vocabSize };
}

export function defaultNoiseScale(traced: TracedModel): number {
  return NOISE_MULTIPLE * embeddingStd(embeddingsOf(traced));
}

export function prepareTrace(traced: TracedModel, opts: CausalTraceOptions): PreparedTrace {
  const { C, V } = dims(traced);
  const tokens = [...opts.tokens];
  const target = [...opts.target];
  const T = tokens.length;
  if (T === 0) throw new CausalTraceError("the prompt is empty");
  if (target.length === 0) throw new CausalTraceError("the target continuation is empty");
  for (const id of [...tokens, ...target]) {
    if (!Number.isInteger(id) || id < 0 || id >= V)
      throw new CausalTraceError(`token id ${id} is out of range`);
  }
  const [s0, s1] = opts.subject;
  if (!Number.isInteger(s0) || !Number.isInteger(s1) || s0 < 0 || s1 > T || s0 >= s1) {
    throw new CausalTraceError(
      `the subject [${s0}, ${s1}) is not a non-empty span of the ${T} prompt positions`,
    );
  }
  const seq = [...tokens, ...target.slice(0, -1)];
  if (traced.kind === "gpt" && seq.length > traced.model.config.blockSize) {
    throw new CausalTraceError(
      `prompt and target need ${seq.length} positions; the GPT has ${traced.model.config.blockSize}`,
    );
  }
  const std = embeddingStd(embeddingsOf(traced));
  const nu = opts.noiseScale ?? NOISE_MULTIPLE * std;
  if (!(nu >= 0) || !Number.isFinite(nu))
    throw new CausalTraceError(`noise scale ${nu} must be finite and >= 0`);
  const samples = opts.samples ?? 1;
  if (!Number.isInteger(samples) || samples < 1)
    throw new CausalTraceError(`samples = ${samples} must be >= 1`);
  const seed = opts.seed ?? 1;
  const noise = Array.from({ length: samples }, (_, s) => {
    const g = gaussians(subSeed(seed, s), (s1 - s0) * C);
    const rows = new Float32Array(g.length);
    for (let i = 0; i < g.length; i++) rows[i] = nu * g[i];
    return rows;
  });
  return { seq, T, subject: [s0, s1], target, embeddingStd: std, noiseScale: nu, noise };
}

/** log P[o] from the logits of one position (u is its index in seq). 0 when u is not a target position. */
function targetLogProb(p: PreparedTrace, u: number, logits: Float32Array, row: number, V: number): number {
  const j = u - (p.T - 1);
  return j >= 0 ? logSoftmaxAt(logits, row, V, p.target[j]) : 0;
}

/** One full run, recording every block output: h[l] is (N, C). */
interface FullRun {
  h: Float32Array[];
  logp: number;
  /** RWKV: the state after each position */
  states?: RwkvState[];
  /** GPT: the KV cache after the last position */
  cache?: KvCache;
}

/** Add the noise rows to the subject positions among this call's embedding rows (first row = position u0). */
function addNoise(
  e: Float32Array,
  u0: number,
  n: number,
  C: number,
  p: PreparedTrace,
  noise: Float32Array,
): void {
  const [s0, s1] = p.subject;
  for (let u = Math.max(u0, s0); u < Math.min(u0 + n, s1); u++) {
    const src = (u - s0) * C;
    const dst = (u - u0) * C;
    for (let c = 0; c < C; c++) e[dst + c] += noise[src + c];
  }
}

/**
 * One run over the whole sequence. With `noise`, the positions before the subject are the clean run's (`clean`,
 * the same numbers: the noise starts at the subject), so the run starts from its state or cache there.
 */
function* fullRunSteps(
  traced: TracedModel,
  p: PreparedTrace,
  noise: Float32Array | null,
  clean?: FullRun,
): Generator<void, FullRun> {
  const { L, C, V } = dims(traced);
  const N = p.seq.length;
  const from = noise && clean ? p.subject[0] : 0;
  const h = Array.from({ length: L }, (_, l) => {
    const rows = new Float32Array(N * C);
    if (from > 0) rows.set(clean!.h[l].subarray(0, from * C));
    return rows;
  });
  let logp = 0;
  // the target's positions (T - 1 on) are never before the subject: nothing to add for u < from
  if (traced.kind === "rwkv") {
    const states: RwkvState[] = from > 0 ? clean!.states!.slice(0, from) : [];
    let state: RwkvState | undefined = from > 0 ? states[from - 1] : undefined;
    for (let u = from; u < N; u++) {
      const hooks: BlockHooks = {
        blockOutput: (l, x) => h[l].set(x, u * C),
        ...(noise ? { embedding: (e: Float32Array) => addNoise(e, u, 1, C, p, noise) } : {}),
      };
      const r = traced.model.step(p.seq[u], state, hooks);
      state = r.state;
      states.push(state);
      logp += targetLogProb(p, u, r.logits, 0, V);
      yield;
    }
    return { h, logp, states };
  }
  const cache = traced.model.newCache();
  if (from > 0) {
    for (let l = 0; l < L; l++) {
      cache.k[l].set(clean!.cache!.k[l].subarray(0, from * C));
      cache.v[l].set(clean!.cache!.v[l].subarray(0, from * C));
    }
    cache.length = from;
  }
  for (let u = from; u < N; u++) {
    const hooks: BlockHooks = {
      blockOutput: (l, x) => h[l].set(x, u * C),
      ...(noise ? { embedding: (e: Float32Array) => addNoise(e, u, 1, C, p, noise) } : {}),
    };
    const logits = traced.model.step(p.seq[u], cache, hooks);
    logp += targetLogProb(p, u, logits, 0, V);
    yield;
  }
  return { h, logp, cache };
}

/** fullRunSteps to the end, giving the event loop a turn when the pacer's slice has passed. */
async function fullRun(
  traced: TracedModel,
  p: PreparedTrace,
  noise: Float32Array | null,
  clean: FullRun | undefined,
  pacer: Pacer,
): Promise<FullRun> {
  const steps = fullRunSteps(traced, p, noise, clean);
  for (let r = steps.next(); ; r = steps.next()) {
    if (r.done) return r.value;
    await pacer.breathe();
  }
}

function fullRunSync(traced: TracedModel, p: PreparedTrace, noise: Float32Array | null): FullRun {
  const steps = fullRunSteps(traced, p, noise);
  for (let r = steps.next(); ; r = steps.next()) if (r.done) return r.value;
}

/** The restored run for one cell, from the corrupted run's prefix: blocks l+1.. over positions t..N-1. */
class CellRunner {
  private readonly work?: KvCache;
  constructor(
    private readonly traced: TracedModel,
    private readonly p: PreparedTrace,
    private readonly clean: FullRun,
    private readonly corrupt: FullRun,
  ) {
    if (traced.kind === "gpt") this.work = traced.model.newCache();
  }

  async logp(l: number, t: number, pacer?: Pacer): Promise<number> {
    const { traced, p, clean, corrupt } = this;
    const { L, C, V } = dims(traced);
    const N = p.seq.length;
    const input = (u: number) => (u === t ? clean.h[l] : corrupt.h[l]).subarray(u * C, (u + 1) * C);
    let logp = 0;
    if (traced.kind === "rwkv") {
      // blocks 0..l never run again, so the state they keep is irrelevant; blocks l+1.. start from S*_{t-1}
      let state = t > 0 ? corrupt.states![t - 1] : undefined;
      for (let u = t; u < N; u++) {
        const r = traced.model.step(p.seq[u], state, { enter: { layer: l + 1, x: input(u) } });
        state = r.state;
        logp += targetLogProb(p, u, r.logits, 0, V);
        await pacer?.breathe();
      }
      return logp;
    }
    // GPT: the corrupted run's keys and values of blocks l+1.. at positions < t, then positions t..N-1
    const work = this.work!;
    const src = corrupt.cache!;
    for (let b = l + 1; b < L; b++) {
      work.k[b].set(src.k[b].subarray(0, t * C));
      work.v[b].set(src.v[b].subarray(0, t * C));
    }
    work.length = t;
    for (let u = t; u < N; u++) {
      const logits = traced.model.step(p.seq[u], work, { enter: { layer: l + 1, x: input(u) } });
      logp += targetLogProb(p, u, logits, 0, V);
      await pacer?.breathe();
    }
    return logp;
  }
}

/**
 * The runs of one trace, wherever they run: the reference model here (`referenceRunner`), or the ONNX trace-step
 * graph in a model worker (src/runtime/rwkv-trace.ts, through src/runtime/client.ts). `run(null)` is the clean
 * run and comes first; `run(noise)` a corrupted run (it becomes the one `rows` restores into); `rows(ts)` gives
 * log P*,clean h(l,t)[o] for every block l = 0..L-1 and each t of ts (one array per t); `rowsPerCall` says how
 * many positions the trace hands it at once (default 1: the heatmap fills in row by row).
 */
export interface TraceRunner {
  begin(job: { seq: number[]; T: number; subject: [number, number]; target: number[] }): Promise<void> | void;
  run(noise: Float32Array | null): Promise<number>;
  rows(ts: readonly number[]): Promise<Float64Array[]>;
  readonly rowsPerCall?: number;
}

/** The runner on the reference model (plain JS, this thread), yielding to the event loop through `pacer`. */
function referenceRunner(traced: TracedModel, p: PreparedTrace, pacer: Pacer): TraceRunner {
  let clean: FullRun | undefined;
  let runner: CellRunner | undefined;
  return {
    begin: () => Promise.resolve(),
    run: async (noise) => {
      const r = await fullRun(traced, p, noise, clean, pacer);
      if (!noise) clean = r;
      else runner = new CellRunner(traced, p, clean!, r);
      return r.logp;
    },
    rows: async (ts) => {
      const { L } = dims(traced);
      const all: Float64Array[] = [];
      for (const t of ts) {
        const out = new Float64Array(L);
        for (let l = 0; l < L; l++) out[l] = await runner!.logp(l, t, pacer);
        all.push(out);
      }
      return all;
    },
  };
}

/**
 * The causal trace: P*,clean h(l,t)[o] for every block l and prompt position t, averaged over noise samples.
 * Rows of work go from the last position to the first (the cheap cells first); the event loop gets a turn
 * after every row and whenever a slice of `sliceMs` has passed. `runner` (default: the reference model in this
 * thread) runs the model; the noise, the cells and the averages are decided here either way.
 */
export async function causalTrace(
  traced: TracedModel,
  opts: CausalTraceOptions,
  runner?: TraceRunner,
): Promise<CausalTraceResult> {
  const p = prepareTrace(traced, opts);
  const { L } = dims(traced);
  const { T } = p;
  const S = p.noise.length;
  const pacer = new Pacer(S * L * T, opts);
  const name = traced.kind === "rwkv" ? "RWKV" : "GPT";
  const r = runner ?? referenceRunner(traced, p, pacer);
  await r.begin({ seq: p.seq, T, subject: p.subject, target: p.target });
  const cleanLogp = await r.run(null);
  const sum = new Float64Array(L * T);
  let corruptSum = 0;
  let done = 0;
  const result = (pRestored: Float64Array, pCorrupt: number): CausalTraceResult => ({
    model: traced.kind,
    nLayer: L,
    T,
    tokens: [...opts.tokens],
    subject: [...p.subject],
    target: [...p.target],
    embeddingStd: p.embeddingStd,
    noiseScale: p.noiseScale,
    samples: S,
    seed: opts.seed ?? 1,
    pClean: Math.exp(cleanLogp),
    pCorrupt,
    pRestored,
  });
  // the running mean: rows t >= `from` of sample s are done, so they have s + 1 terms, the others s
  const partial = (s: number, from: number): CausalTraceResult => {
    const means = new Float64Array(L * T);
    for (let l = 0; l < L; l++) {
      for (let t = 0; t < T; t++) {
        const n = t >= from ? s + 1 : s;
        means[l * T + t] = n > 0 ? sum[l * T + t] / n : NaN;
      }
    }
    return result(means, corruptSum / (s + 1));
  };
  for (let s = 0; s < S; s++) {
    const phase = `${name}: noise sample ${s + 1} of ${S}`;
    const pStar = Math.exp(await r.run(p.noise[s]));
    corruptSum += pStar;
    const per = Math.max(1, r.rowsPerCall ?? 1);
    for (let hi = T; hi > 0; hi -= per) {
      const ts: number[] = [];
      for (let t = hi - 1; t >= Math.max(0, hi - per); t--) if (t >= p.subject[0]) ts.push(t);
      const rows = await r.rows(ts);
      ts.forEach((t, i) => {
        for (let l = 0; l < L; l++) sum[l * T + t] += Math.exp(rows[i][l]);
      });
      for (let t = hi - 1; t >= Math.max(0, hi - per); t--) {
        for (let l = 0; l < L; l++) {
          // before the subject, restoring changes nothing: the clean and corrupted values are the same numbers
          if (t < p.subject[0]) sum[l * T + t] += pStar;
          await pacer.tick(++done, phase);
        }
      }
      opts.onPartial?.(partial(s, Math.max(0, hi - per)));
      await yieldToEventLoop();
    }
  }
  const pRestored = new Float64Array(L * T);
  for (let i = 0; i < L * T; i++) pRestored[i] = sum[i] / S;
  return result(pRestored, corruptSum / S);
}

export interface RecomputeOptions {
  /** which noise sample (default 0); null: no noise at all (the clean run) */
  sample?: number | null;
  /** RWKV only: "rnn" (step by step, default) or "parallel" (forward over the whole sequence) */
  mode?: "rnn" | "parallel";
}

/**
 * P[o] of a run recomputed from scratch, every block at every position, with the noise of `sample` on the
 * subject and the clean block outputs restored at `cells`: the straightforward path, independent of the prefix
 * reuse and block skipping of `causalTrace` (the tests compare the two).
 */
export function restoredProbability(
  traced: TracedModel,
  p: PreparedTrace,
  cells: readonly Cell[],
  opts: RecomputeOptions = {},
): number {
  const { C, V } = dims(traced);
  const N = p.seq.length;
  const sample = opts.sample === undefined ? 0 : opts.sample;
  const noise = sample === null ? null : p.noise[sample];
  if (sample !== null && !noise) throw new CausalTraceError(`no noise sample ${sample}`);
  const clean = cells.length > 0 ? fullRunSync(traced, p, null) : null;
  const byLayer = new Map<number, number[]>();
  for (const { layer, t } of cells) byLayer.set(layer, [...(byLayer.get(layer) ?? []), t]);
  // hooks over rows [u0, u0 + n): add the noise, then overwrite the restored cells' rows with clean values
  const hooks = (u0: number, n: number): BlockHooks => ({
    ...(noise ? { embedding: (e: Float32Array) => addNoise(e, u0, n, C, p, noise) } : {}),
    blockOutput: (l, x) => {
      for (const t of byLayer.get(l) ?? []) {
        if (t >= u0 && t < u0 + n) x.set(clean!.h[l].subarray(t * C, (t + 1) * C), (t - u0) * C);
      }
    },
  });
  let logp = 0;
  if (traced.kind === "rwkv" && opts.mode === "parallel") {
    const { logits } = traced.model.forward(p.seq, undefined, { hooks: hooks(0, N) });
    for (let u = p.T - 1; u < N; u++) logp += targetLogProb(p, u, logits, u, V);
  } else if (traced.kind === "rwkv") {
    let state: RwkvState | undefined;
    for (let u = 0; u < N; u++) {
      const r = traced.model.step(p.seq[u], state, hooks(u, 1));
      state = r.state;
      logp += targetLogProb(p, u, r.logits, 0, V);
    }
  } else {
    const { logits } = traced.model.forward(p.seq, { hooks: hooks(0, N) });
    for (let u = p.T - 1; u < N; u++) logp += targetLogProb(p, u, logits, u, V);
  }
  return Math.exp(logp);
}

/** P*,clean h(l,t)[o] / P[o]: the share of the clean probability that restoring (l, t) brings back. */
export function restoredShare(r: CausalTraceResult): Float64Array {
  return r.pRestored.map((v) => v / r.pClean);
}

/** Meng et al.'s indirect effect IE = P*,clean h(l,t)[o] - P*[o], per cell. */
export function indirectEffect(r: CausalTraceResult): Float64Array {
  return r.pRestored.map((v) => v - r.pCorrupt);
}

/** The k cells with the largest restored probability, strongest first (ties: earlier layer, earlier position). */
export function strongestCells(r: CausalTraceResult, k: number): (Cell & { p: number; share: number })[] {
  const cells: (Cell & { p: number; share: number })[] = [];
  for (let l = 0; l < r.nLayer; l++) {
    for (let t = 0; t < r.T; t++) {
      const v = r.pRestored[l * r.T + t];
      cells.push({ layer: l, t, p: v, share: v / r.pClean });
    }
  }
  cells.sort((a, b) => b.p - a.p || a.layer - b.layer || a.t - b.t);
  return cells.slice(0, Math.max(0, k));
}
