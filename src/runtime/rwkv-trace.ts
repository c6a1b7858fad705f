/**
 * Chapter 9's causal trace on ORT: the runs of one trace (clean, corrupted, restored) through the trace-step graph
 * (src/onnx/rwkv-trace-graph.ts), in the model worker (./worker.ts) or in Node. The trace's bookkeeping (which
 * cells, the averages over noise samples) stays in src/chapters/memory/causal-trace.ts, which calls:
 *
 *   begin(job)        the sequence (prompt + target[0..m-2]), prompt length T, subject [s0, s1), target
 *   run(noise)        noise null: the clean run; else a corrupted run with these (s1 - s0, C) noise rows added to the
 *                     subject's raw embeddings, from the clean run's state at s0 (the positions before are the same
 *                     numbers). Keeps every position's block outputs and state. Returns log P[o].
 *   row(t)            log P[o] of the L restored runs (l, t), l = 0..L-1, from the last corrupted run: all L start
 *                     from its state after t - 1 and run as one batch (B = L) over positions t..N-1; run l gets
 *                     block l's output replaced by the clean value at t and by the corrupted run's value after t
 *                     (what the reference model's `enter` hook does: blocks 0..l then do not matter).
 */
import type * as Ort from "onnxruntime-web";
import { LOGITS, STATE_NAMES, TRACE, stateIn, stateOut, type StateName } from "../onnx/names.js";
import { prepareOnnxWeights, type OnnxWeights } from "../onnx/rwkv-graph.js";
import { buildRwkvTraceStepGraph } from "../onnx/rwkv-trace-graph.js";
import { P_EMPTY } from "../rwkv/wkv.js";
import type { RwkvWeights } from "../rwkv/weights.js";

type OrtModule = typeof Ort;
type States = Record<StateName, Float32Array>;

export interface TraceJob {
  seq: number[];
  T: number;
  subject: [number, number];
  target: number[];
}

interface TraceRun {
  /** per position: block outputs [L, C] and the state after it ([L, C] each) */
  h: Float32Array[];
  states: States[];
  logp: number;
}

export class TraceJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TraceJobError";
  }
}

function logSoftmaxAt(logits: Float32Array, row: number, V: number, id: number): number {
  const o = row * V;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (logits[o + v] > max) max = logits[o + v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(logits[o + v] - max);
  return logits[o + id] - max - Math.log(sum);
}

export class OrtRwkvTrace {
  private job?: TraceJob;
  private clean?: TraceRun;
  private corrupt?: TraceRun;
  private noise?: Float32Array;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    private readonly weights: RwkvWeights,
    readonly ep: "webgpu" | "wasm",
  ) {}

  static async create(
    ort: OrtModule,
    weights: RwkvWeights,
    opts: { ep: "webgpu" | "wasm"; ow?: OnnxWeights },
  ): Promise<OrtRwkvTrace> {
    const bytes = buildRwkvTraceStepGraph(opts.ow ?? prepareOnnxWeights(weights));
    const session = await ort.InferenceSession.create(bytes, {
      executionProviders: [opts.ep],
      graphOptimizationLevel: "all",
    });
    return new OrtRwkvTrace(ort, session, weights, opts.ep);
  }

  begin(job: TraceJob): void {
    const { vocabSize: V } = this.weights.config;
    const [s0, s1] = job.subject;
    if (job.T < 1 || job.seq.length < job.T || job.seq.length !== job.T + job.target.length - 1)
      throw new TraceJobError("the sequence must be the prompt then the target without its last token");
    if (!(s0 >= 0 && s1 <= job.T && s0 < s1)) throw new TraceJobError(`bad subject [${s0}, ${s1})`);
    for (const id of [...job.seq, ...job.target])
      if (!Number.isInteger(id) || id < 0 || id >= V)
        throw new TraceJobError(`token id ${id} is out of range`);
    this.job = { seq: [...job.seq], T: job.T, subject: [s0, s1], target: [...job.target] };
    this.clean = undefined;
    this.corrupt = undefined;
  }

  private need(): TraceJob {
    if (!this.job) throw new TraceJobError("no trace begun");
    return this.job;
  }

  /** emb[seq[u]] (+ the noise where u is in the subject), written at `out[o..o+C)` */
  private embedding(u: number, noise: Float32Array | undefined, out: Float32Array, o: number): void {
    const C = this.weights.config.nEmbd;
    const job = this.need();
    out.set(this.weights.emb.subarray(job.seq[u] * C, (job.seq[u] + 1) * C), o);
    const [s0, s1] = job.subject;
    if (noise && u >= s0 && u < s1) for (let c = 0; c < C; c++) out[o + c] += noise[(u - s0) * C + c];
  }

  private targetLogProb(u: number, logits: Float32Array, row: number): number {
    const job = this.need();
    const j = u - (job.T - 1);
    return j >= 0 ? logSoftmaxAt(logits, row, this.weights.config.vocabSize, job.target[j]) : 0;
  }

  private async step(
    B: number,
    xEmb: Float32Array,
    states: States,
    mask: Float32Array,
    restoreX: Float32Array,
  ): Promise<{ logits: Float32Array; states: States; blockX: Float32Array }> {
    const { nLayer: L, nEmbd: C } = this.weights.config;
    const T = this.ort.Tensor;
    const feeds: Record<string, Ort.Tensor> = {
      [TRACE.xEmb]: new T("float32", xEmb, [B, C]),
      [TRACE.restoreMask]: new T("float32", mask, [L, B]),
      [TRACE.restoreX]: new T("float32", restoreX, [L, B, C]),
    };
    for (const s of STATE_NAMES) feeds[stateIn(s)] = new T("float32", states[s], [L, B, C]);
    const out = await this.session.run(feeds);
    const next = {} as States;
    for (const s of STATE_NAMES) next[s] = out[stateOut(s)].data as Float32Array;
    return {
      logits: out[LOGITS].data as Float32Array,
      states: next,
      blockX: out[TRACE.blockX].data as Float32Array,
    };
  }

  private emptyStates(B: number): States {
    const { nLayer: L, nEmbd: C } = this.weights.config;
    const s = {} as States;
    for (const k of STATE_NAMES) s[k] = new Float32Array(L * B * C).fill(k === "p" ? P_EMPTY : 0);
    return s;
  }

  /** The clean run (noise null) or a corrupted run; returns log P[o]. */
  async run(noise: Float32Array | null): Promise<number> {
    const job = this.need();
    const { nLayer: L, nEmbd: C } = this.weights.config;
    const N = job.seq.length;
    const [s0, s1] = job.subject;
    if (noise && noise.length !== (s1 - s0) * C)
      throw new TraceJobError(`noise: ${(s1 - s0) * C} values expected, got ${noise.length}`);
    if (noise && !this.clean) throw new TraceJobError("the clean run comes first");
    const from = noise ? s0 : 0;
    const run: TraceRun = { h: [], states: [], logp: 0 };
    if (noise) {
      run.h = this.clean!.h.slice(0, from);
      run.states = this.clean!.states.slice(0, from);
    }
    let states = from > 0 ? run.states[from - 1] : this.emptyStates(1);
    const mask = new Float32Array(L);
    const restoreX = new Float32Array(L * C);
    for (let u = from; u < N; u++) {
      const x = new Float32Array(C);
      this.embedding(u, noise ?? undefined, x, 0);
      const r = await this.step(1, x, states, mask, restoreX);
      states = r.states;
      run.h.push(r.blockX);
      run.states.push(states);
      run.logp += this.targetLogProb(u, r.logits, 0);
    }
    if (noise) {
      this.corrupt = run;
      this.noise = noise;
    } else this.clean = run;
    return run.logp;
  }

  /** log P[o] of the restored runs (l, t) for l = 0..L-1, from the last corrupted run. */
  async row(t: number): Promise<Float64Array> {
    const job = this.need();
    const { clean, corrupt } = this;
    if (!clean || !corrupt) throw new TraceJobError("the clean and a corrupted run come first");
    if (!Number.isInteger(t) || t < 0 || t >= job.T)
      throw new TraceJobError(`position ${t} is not in the prompt`);
    const { nLayer: L, nEmbd: C } = this.weights.config;
    const B = L;
    const N = job.seq.length;
    let states: States;
    if (t === 0) states = this.emptyStates(B);
    else {
      states = {} as States;
      const src = corrupt.states[t - 1];
      for (const s of STATE_NAMES) {
        const d = new Float32Array(L * B * C);
        for (let l = 0; l < L; l++) {
          const rowL = src[s].subarray(l * C, (l + 1) * C);
          for (let b = 0; b < B; b++) d.set(rowL, (l * B + b) * C);
        }
        states[s] = d;
      }
    }
    const mask = new Float32Array(L * B);
    for (let l = 0; l < L; l++) mask[l * B + l] = 1; // run b restores block b
    const logp = new Float64Array(B);
    const xEmb = new Float32Array(B * C);
    const restoreX = new Float32Array(L * B * C);
    for (let u = t; u < N; u++) {
      this.embedding(u, this.noise, xEmb, 0);
      for (let b = 1; b < B; b++) xEmb.copyWithin(b * C, 0, C);
      const h = (u === t ? clean : corrupt).h[u];
      for (let l = 0; l < L; l++) restoreX.set(h.subarray(l * C, (l + 1) * C), (l * B + l) * C);
      const r = await this.step(B, xEmb, states, mask, restoreX);
      states = r.states;
      for (let b = 0; b < B; b++) logp[b] += this.targetLogProb(u, r.logits, b);
    }
    return logp;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
