/**
 * Chapter 9's causal trace on ORT: the runs of one trace (clean, corrupted, restored) through the trace-step graphs
 * (src/onnx/rwkv-trace-graph.ts, src/onnx/gpt-trace-graph.ts), in the model worker (./worker.ts) or in Node.
 * `OrtTrace.rwkv` and `OrtTrace.gpt` make one; the carried state is the RWKV state ([L, B, C] x 5) or the GPT's KV
 * cache ([L, B, P, C] x 2); either way the state after position u is kept for every u. The trace's bookkeeping (which
 * cells, the averages over noise samples) stays in src/chapters/memory/causal-trace.ts, which calls:
 *
 *   begin(job)        the sequence (prompt + target[0..m-2]), prompt length T, subject [s0, s1), target
 *   run(noise)        noise null: the clean run; else a corrupted run with these (s1 - s0, C) noise rows added to the
 *                     subject's raw embeddings, from the clean run's state at s0 (the positions before are the same
 *                     numbers). Keeps every position's block outputs and state. Returns log P[o].
 *   rows(ts)          log P[o] of the L restored runs (l, t), l = 0..L-1, for each t of ts, from the last corrupted
 *                     run: each starts from its state after t - 1 and runs over positions t..N-1, all of them in one
 *                     batch (see `rows`); run (l, t) gets
 *                     block l's output replaced by the clean value at t and by the corrupted run's value after t
 *                     (what the reference model's `enter` hook does: blocks 0..l then do not matter).
 *   For the GPT the state after t - 1 is the KV cache of positions 0..t-1.
 */
import type * as Ort from "onnxruntime-web";
import { GPT_NAMES } from "../onnx/gpt-graph.js";
import { buildGptTraceStepGraph } from "../onnx/gpt-trace-graph.js";
import { LOGITS, STATE_NAMES, TRACE, stateIn, stateOut } from "../onnx/names.js";
import { prepareOnnxWeights, type OnnxWeights } from "../onnx/rwkv-graph.js";
import { buildRwkvTraceStepGraph } from "../onnx/rwkv-trace-graph.js";
import { logSoftmaxRowAt } from "../rwkv/sampling.js";
import { P_EMPTY } from "../rwkv/wkv.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import type { GptWeights } from "../transformer/gpt.js";

type OrtModule = typeof Ort;
/** the carried tensors by input name, each [L, B, ...rest] */
type States = Record<string, Float32Array>;

/** What differs between the two models. */
interface Model {
  L: number;
  C: number;
  V: number;
  /** the raw embedding matrix (V, C) the noise is added to */
  emb: Float32Array;
  /** input name -> output name of the carried tensors */
  carried: [string, string][];
  /**
   * the carried tensors after a step (by input name) from the step's outputs (by output name): the outputs
   * themselves (RWKV), or the cache with this step's keys and values appended (GPT)
   */
  advance(prev: States, out: States, B: number): States;
  /** the empty state for B runs before position 0 */
  empty(B: number): States;
  /** dims of a carried tensor holding `numbers` values for B runs */
  dims(numbers: number, B: number): number[];
  /** feeds besides the embeddings, state and restore (GPT: the position) */
  extra(u: number): Record<string, Ort.Tensor>;
  /** the largest sequence it can run (GPT: its positions) */
  maxLength: number;
}

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

export class OrtTrace {
  private job?: TraceJob;
  private clean?: TraceRun;
  private corrupt?: TraceRun;
  private noise?: Float32Array;

  /** positions whose restored runs `rows` takes at once when the trace asks (see TraceRunner.rowsPerCall) */
  rowsPerCall = 32;

  private constructor(
    private readonly ort: OrtModule,
    private readonly session: Ort.InferenceSession,
    private readonly m: Model,
    readonly ep: "webgpu" | "wasm",
  ) {}

  private static async open(
    ort: OrtModule,
    bytes: Uint8Array,
    ep: "webgpu" | "wasm",
  ): Promise<Ort.InferenceSession> {
    return ort.InferenceSession.create(bytes, { executionProviders: [ep], graphOptimizationLevel: "all" });
  }

  /** The RWKV's trace runs (src/onnx/rwkv-trace-graph.ts). */
  static async rwkv(
    ort: OrtModule,
    weights: RwkvWeights,
    opts: { ep: "webgpu" | "wasm"; ow?: OnnxWeights },
  ): Promise<OrtTrace> {
    const session = await OrtTrace.open(
      ort,
      buildRwkvTraceStepGraph(opts.ow ?? prepareOnnxWeights(weights)),
      opts.ep,
    );
    const { nLayer: L, nEmbd: C, vocabSize: V } = weights.config;
    return new OrtTrace(
      ort,
      session,
      {
        L,
        C,
        V,
        emb: weights.emb,
        carried: STATE_NAMES.map((s) => [stateIn(s), stateOut(s)]),
        empty: (B) => {
          const s: States = {};
          for (const k of STATE_NAMES)
            s[stateIn(k)] = new Float32Array(L * B * C).fill(k === "p" ? P_EMPTY : 0);
          return s;
        },
        advance: (_prev, out) => {
          const next: States = {};
          for (const k of STATE_NAMES) next[stateIn(k)] = out[stateOut(k)];
          return next;
        },
        dims: (_n, B) => [L, B, C],
        extra: () => ({}),
        maxLength: Number.MAX_SAFE_INTEGER,
      },
      opts.ep,
    );
  }

  /** The transformer baseline's trace runs (src/onnx/gpt-trace-graph.ts). */
  static async gpt(ort: OrtModule, weights: GptWeights, opts: { ep: "webgpu" | "wasm" }): Promise<OrtTrace> {
    const session = await OrtTrace.open(ort, buildGptTraceStepGraph(weights), opts.ep);
    const { nLayer: L, nEmbd: C, vocabSize: V, blockSize } = weights.config;
    return new OrtTrace(
      ort,
      session,
      {
        L,
        C,
        V,
        emb: weights.wte,
        carried: [
          [GPT_NAMES.pastK, TRACE.newK],
          [GPT_NAMES.pastV, TRACE.newV],
        ],
        advance: (prev, out, B) => {
          // [L, B, P, C] and this step's [L, B, C] -> [L, B, P + 1, C]
          const next: States = {};
          for (const [i, o] of [
            [GPT_NAMES.pastK, TRACE.newK],
            [GPT_NAMES.pastV, TRACE.newV],
          ]) {
            const P = prev[i].length / (L * B * C);
            const d = new Float32Array(L * B * (P + 1) * C);
            for (let r = 0; r < L * B; r++) {
              d.set(prev[i].subarray(r * P * C, (r + 1) * P * C), r * (P + 1) * C);
              d.set(out[o].subarray(r * C, (r + 1) * C), (r * (P + 1) + P) * C);
            }
            next[i] = d;
          }
          return next;
        },
        empty: () => ({ [GPT_NAMES.pastK]: new Float32Array(0), [GPT_NAMES.pastV]: new Float32Array(0) }),
        dims: (n, B) => [L, B, n / (L * B * C), C],
        extra: (u) => ({ [TRACE.position]: new ort.Tensor("int64", BigInt64Array.from([BigInt(u)]), [1]) }),
        maxLength: blockSize,
      },
      opts.ep,
    );
  }

  begin(job: TraceJob): void {
    const { V, maxLength } = this.m;
    const [s0, s1] = job.subject;
    if (job.seq.length > maxLength)
      throw new TraceJobError(`${job.seq.length} positions; the model has ${maxLength}`);
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
    const { C, emb } = this.m;
    const job = this.need();
    out.set(emb.subarray(job.seq[u] * C, (job.seq[u] + 1) * C), o);
    const [s0, s1] = job.subject;
    if (noise && u >= s0 && u < s1) for (let c = 0; c < C; c++) out[o + c] += noise[(u - s0) * C + c];
  }

  private targetLogProb(u: number, logits: Float32Array, row: number): number {
    const job = this.need();
    const j = u - (job.T - 1);
    return j >= 0 ? logSoftmaxRowAt(logits, row, this.m.V, job.target[j]) : 0;
  }

  private async step(
    u: number,
    B: number,
    xEmb: Float32Array,
    states: States,
    mask: Float32Array,
    restoreX: Float32Array,
  ): Promise<{ logits: Float32Array; states: States; blockX: Float32Array }> {
    const { L, C } = this.m;
    const T = this.ort.Tensor;
    const feeds: Record<string, Ort.Tensor> = {
      [TRACE.xEmb]: new T("float32", xEmb, [B, C]),
      [TRACE.restoreMask]: new T("float32", mask, [L, B]),
      [TRACE.restoreX]: new T("float32", restoreX, [L, B, C]),
      ...this.m.extra(u),
    };
    for (const [i] of this.m.carried)
      feeds[i] = new T("float32", states[i], this.m.dims(states[i].length, B));
    const out = await this.session.run(feeds);
    const byOutput: States = {};
    for (const [, o] of this.m.carried) byOutput[o] = out[o].data as Float32Array;
    const next = this.m.advance(states, byOutput, B);
    return {
      logits: out[LOGITS].data as Float32Array,
      states: next,
      blockX: out[TRACE.blockX].data as Float32Array,
    };
  }

  /** The clean run (noise null) or a corrupted run; returns log P[o]. */
  async run(noise: Float32Array | null): Promise<number> {
    const job = this.need();
    const { L, C } = this.m;
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
    let states = from > 0 ? run.states[from - 1] : this.m.empty(1);
    const mask = new Float32Array(L);
    const restoreX = new Float32Array(L * C);
    for (let u = from; u < N; u++) {
      const x = new Float32Array(C);
      this.embedding(u, noise ?? undefined, x, 0);
      const r = await this.step(u, 1, x, states, mask, restoreX);
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

  /**
   * log P[o] of the restored runs (l, t) for l = 0..L-1 and every t of `ts`, from the last corrupted run: one
   * Float64Array [L] per t, in the order of `ts`. All these runs go through the graph together: at step u every run
   * that has started (t <= u) is at position u, so the batch grows by L runs at each t of `ts` (they join with the
   * corrupted run's state after t - 1) and one session call per position serves them all.
   */
  async rows(ts: readonly number[]): Promise<Float64Array[]> {
    const job = this.need();
    const { clean, corrupt } = this;
    if (!clean || !corrupt) throw new TraceJobError("the clean and a corrupted run come first");
    for (const t of ts) {
      if (!Number.isInteger(t) || t < 0 || t >= job.T)
        throw new TraceJobError(`position ${t} is not in the prompt`);
    }
    if (ts.length === 0) return [];
    const { L, C } = this.m;
    const N = job.seq.length;
    const order = [...new Set(ts)].sort((x, y) => x - y); // run j * L + l restores block l at order[j]
    let B = 0;
    let states: States = {};
    let logp = new Float64Array(0);
    let next = 0; // order[next] is the next position whose runs join
    for (let u = order[0]; u < N; u++) {
      if (next < order.length && order[next] === u) {
        // L runs join, each with the corrupted run's state after u - 1 ([L, 1, ...] -> L copies on the batch axis)
        const src = u === 0 ? this.m.empty(1) : corrupt.states[u - 1];
        const grown: States = {};
        for (const [i] of this.m.carried) {
          const n = src[i].length / L;
          const d = new Float32Array(L * (B + L) * n);
          for (let l = 0; l < L; l++) {
            if (B > 0) d.set(states[i].subarray(l * B * n, (l + 1) * B * n), l * (B + L) * n);
            const rowL = src[i].subarray(l * n, (l + 1) * n);
            for (let b = B; b < B + L; b++) d.set(rowL, (l * (B + L) + b) * n);
          }
          grown[i] = d;
        }
        states = grown;
        const lp = new Float64Array(B + L);
        lp.set(logp);
        logp = lp;
        B += L;
        next++;
      }
      const xEmb = new Float32Array(B * C);
      this.embedding(u, this.noise, xEmb, 0);
      for (let b = 1; b < B; b++) xEmb.copyWithin(b * C, 0, C);
      const mask = new Float32Array(L * B);
      const restoreX = new Float32Array(L * B * C);
      for (let j = 0; j < B / L; j++) {
        const h = (u === order[j] ? clean : corrupt).h[u];
        for (let l = 0; l < L; l++) {
          const b = j * L + l;
          mask[l * B + b] = 1;
          restoreX.set(h.subarray(l * C, (l + 1) * C), (l * B + b) * C);
        }
      }
      const r = await this.step(u, B, xEmb, states, mask, restoreX);
      states = r.states;
      for (let b = 0; b < B; b++) logp[b] += this.targetLogProb(u, r.logits, b);
    }
    return ts.map((t) => {
      const j = order.indexOf(t);
      return logp.slice(j * L, (j + 1) * L);
    });
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
