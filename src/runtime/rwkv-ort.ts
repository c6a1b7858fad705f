/**
 * RWKV-4 on onnxruntime-web: sessions for the RNN-step and the parallel graph (src/onnx/rwkv-graph.ts), with
 * the state carried between calls as ORT tensors (on the GPU with the WebGPU EP, read back only on request).
 *
 * This file takes the `ort` module as a parameter (type-only import here): the Node entry (./node.ts)
 * passes `onnxruntime-web` (wasm EP) and the browser worker (./worker.ts) passes `onnxruntime-web/webgpu`.
 * Calls are serialised: ORT sessions must not run concurrently.
 */
import type * as Ort from "onnxruntime-web";
import { LOGITS, STATE_NAMES, TOKEN, TOKENS, stateIn, stateOut, type StateName } from "../onnx/names.js";
import {
  buildParallelGraph,
  buildRnnStepGraph,
  prepareOnnxWeights,
  type OnnxWeights,
} from "../onnx/rwkv-graph.js";
import type { RwkvConfig, RwkvState, RwkvWeights } from "../rwkv/weights.js";
import { CapturedStep, type CaptureShape, type GpuDeviceLike, type LiveTag } from "./capture.js";
import {
  DeviceLostError,
  OrtRwkvError,
  PromptTooLongError,
  SessionBuildError,
  TokenOutOfRangeError,
  messageOf,
} from "./errors.js";
import { SerialQueue } from "../util/serial.js";

/** Graph outputs that are state, not probes. */
const STATE_OUTPUTS: ReadonlySet<string> = new Set(STATE_NAMES.map(stateOut));
export type OrtModule = typeof Ort;
export type ExecutionProvider = "wasm" | "webgpu";
export type GraphMode = "rnn" | "parallel" | "both";

export interface OrtRwkvOptions {
  /** which graphs to build (default "both") */
  mode?: GraphMode;
  /** execution provider (default "wasm"); there is no silent fallback here: see createWithFallback */
  ep?: ExecutionProvider;
  /**
   * WebGPU: the GPUDevice the sessions must run on (passed to ORT in the EP options, the only place ORT 1.30
   * takes a custom device: setting ort.env.webgpu.device is overwritten by the device ORT creates itself).
   * Without it ORT requests its own device.
   */
  device?: unknown;
  /**
   * WebGPU: ORT's validation mode (its EP option): "basic" (ORT's default: its own checks plus WebGPU's),
   * "wgpuOnly" (WebGPU's only), "disabled" (in a browser the same as "wgpuOnly"), "full" (debugging)
   */
  validationMode?: "basic" | "wgpuOnly" | "disabled" | "full";
  /** longest token sequence `forward` accepts (default 1024, the Pile models' context) */
  maxTokens?: number;
  /**
   * the parallel graph runs at most this many tokens per call; longer prompts go in chunks with the state
   * carried (default 32 on wasm, where it measured fastest for the 169M shape, and 64 on WebGPU)
   */
  chunk?: number;
  /** parallel graph: logits of every position ("all", default) or of the last one only ("last") */
  parallelLogits?: "all" | "last";
  /**
   * how the graphs store their matrices: "fp32" (default) or "fp16" (half the bytes; on WebGPU it needs the
   * adapter's shader-f16, which the worker checks before asking for it)
   */
  weights?: "fp32" | "fp16";
  /** build the graphs with introspection outputs (names.ts PROBES) */
  probes?: boolean;
  /** ORT log severity (0 verbose .. 4 fatal); default 3 */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** ORT profiling (the report is written where the platform puts it) */
  enableProfiling?: boolean;
  /** prebuilt graph bytes (e.g. served by a data loader) instead of building them from weights */
  graphs?: { rnn?: Uint8Array; parallel?: Uint8Array };
  /**
   * WebGPU only: run the RNN step through ORT graph capture (./capture.ts: fixed GPU buffers, the recorded
   * dispatches replayed on every step). Where it cannot be used (wasm EP, probes, no GPUDevice, a session that
   * does not build) the plain session is used and `graphCaptureFallback` says why. Default false.
   * "both": also the parallel graph, for full chunks of exactly `chunk` tokens (shorter prompts and the last
   * partial chunk run on a plain parallel session, which is built as well: twice the parallel graph's weights
   * on the GPU). Not for 1-layer models (their state outputs would be Identity copies, which capture skips).
   */
  graphCapture?: boolean | "both";
}

/** The recurrent state as ORT tensors, each [L, C]; `location` says where they live. */
export class OrtState {
  constructor(
    readonly tensors: Record<StateName, Ort.Tensor>,
    private readonly config: RwkvConfig,
    /** set for the state of a graph-captured step: a live view of the captured input buffers */
    readonly live?: LiveTag,
  ) {}

  get location(): string {
    return this.tensors.attX.location;
  }

  /** Read back to the CPU as the named per-layer state of src/rwkv (downloads from the GPU if needed). */
  async read(): Promise<RwkvState> {
    this.live?.owner.checkLive(this.live);
    const { nLayer: L, nEmbd: C } = this.config;
    const data = {} as Record<StateName, Float32Array>;
    for (const s of STATE_NAMES) data[s] = (await this.tensors[s].getData()) as Float32Array;
    return Array.from({ length: L }, (_, l) => ({
      attX: data.attX.slice(l * C, (l + 1) * C),
      a: data.a.slice(l * C, (l + 1) * C),
      b: data.b.slice(l * C, (l + 1) * C),
      p: data.p.slice(l * C, (l + 1) * C),
      ffnX: data.ffnX.slice(l * C, (l + 1) * C),
    }));
  }

  /** Release GPU buffers (a no-op for CPU tensors). Do not use the state afterwards. */
  dispose(): void {
    if (this.live) return; // the captured step owns these buffers
    for (const s of STATE_NAMES) if (this.tensors[s].location === "gpu-buffer") this.tensors[s].dispose();
  }
}

export interface StepResult {
  /** (V) */
  logits: Float32Array;
  state: OrtState;
  /** introspection outputs by name (only with probes) */
  probes?: Record<string, Float32Array>;
}

export interface ForwardResult {
  /** (T, V) row-major, or (1, V) with parallelLogits "last" */
  logits: Float32Array;
  state: OrtState;
  probes?: Record<string, Float32Array>;
}

const P_EMPTY = -1e38;

function defaultChunk(ep: ExecutionProvider): number {
  return ep === "webgpu" ? 64 : 32;
}

export class OrtRwkv {
  readonly config: RwkvConfig;
  readonly maxTokens: number;
  readonly chunk: number;
  readonly parallelLogits: "all" | "last";
  /** the matrices' storage the graphs were built with (prebuilt graphs: "fp32" unless told) */
  readonly weights: "fp32" | "fp16";
  private readonly queue = new SerialQueue();
  private disposed = false;
  private lost: string | undefined;

  private constructor(
    private readonly ort: OrtModule,
    readonly ep: ExecutionProvider,
    config: RwkvConfig,
    private readonly rnn: Ort.InferenceSession | undefined,
    private readonly parallel: Ort.InferenceSession | undefined,
    opts: OrtRwkvOptions,
    private readonly captured: CapturedStep | undefined,
    private readonly capturedPar: CapturedStep | undefined,
    /** why graph capture was asked for but is not used (undefined when used or not asked for) */
    readonly graphCaptureFallback: string | undefined,
  ) {
    this.config = config;
    this.maxTokens = opts.maxTokens ?? 1024;
    this.chunk = opts.chunk ?? defaultChunk(ep);
    this.parallelLogits = opts.parallelLogits ?? "all";
    this.weights = opts.weights ?? "fp32";
  }

  /**
   * Build the graphs (or take `opts.graphs`) and their sessions on `opts.ep`. Throws SessionBuildError
   * when ORT cannot build a session on that EP.
   */
  static async create(
    ort: OrtModule,
    weights: RwkvWeights | OnnxWeights | { config: RwkvConfig },
    opts: OrtRwkvOptions = {},
  ): Promise<OrtRwkv> {
    const config = "source" in weights ? weights.source.config : weights.config;
    const mode = opts.mode ?? "both";
    const ep = opts.ep ?? "wasm";
    const chunk = opts.chunk ?? defaultChunk(ep);
    if (!Number.isInteger(chunk) || chunk < 1)
      throw new OrtRwkvError("unsupported", `chunk must be >= 1, got ${chunk}`);
    let prepared: OnnxWeights | undefined = "source" in weights ? weights : undefined;
    const prep = (): OnnxWeights => {
      if (prepared) return prepared;
      if (!("emb" in weights))
        throw new OrtRwkvError("unsupported", "no weights and no prebuilt graph for this mode");
      return (prepared = prepareOnnxWeights(weights));
    };
    const gopts = { probes: !!opts.probes, weights: opts.weights ?? "fp32" };
    const webgpuOption = {
      name: "webgpu" as const,
      ...(opts.device ? { device: opts.device } : {}),
      ...(opts.validationMode ? { validationMode: opts.validationMode } : {}),
    };
    const epOption: Ort.InferenceSession.ExecutionProviderConfig =
      ep === "webgpu" && (opts.device || opts.validationMode) ? webgpuOption : ep;
    const sessionOpts: Ort.InferenceSession.SessionOptions = {
      executionProviders: [epOption],
      graphOptimizationLevel: "all",
      logSeverityLevel: opts.logSeverityLevel ?? 3,
      enableProfiling: !!opts.enableProfiling,
    };
    if (ep === "webgpu") {
      // keep the recurrent state on the GPU between calls; logits and probes come back to the CPU
      const loc: Record<string, Ort.Tensor.DataLocation> = {};
      for (const s of STATE_NAMES) loc[stateOut(s)] = "gpu-buffer";
      sessionOpts.preferredOutputLocation = loc;
    }
    const build = async (bytes: Uint8Array): Promise<Ort.InferenceSession> => {
      try {
        return await ort.InferenceSession.create(bytes, sessionOpts);
      } catch (e) {
        throw new SessionBuildError(ep, e);
      }
    };
    let rnn: Ort.InferenceSession | undefined;
    let par: Ort.InferenceSession | undefined;
    let captured: CapturedStep | undefined;
    let capturedPar: CapturedStep | undefined;
    const fallbacks: string[] = [];
    const captureReason = !opts.graphCapture
      ? undefined
      : ep !== "webgpu"
        ? `graph capture needs the WebGPU EP (this model runs on ${ep})`
        : opts.probes
          ? "graph capture is not used with probes"
          : undefined;
    if (captureReason) fallbacks.push(captureReason);
    const V = config.vocabSize;
    // a session with graph capture and its fixed buffers, or the reason why not
    const tryCapture = async (bytes: Uint8Array, shape: CaptureShape, what: string) => {
      let session: Ort.InferenceSession | undefined;
      try {
        session = await ort.InferenceSession.create(bytes, {
          ...sessionOpts,
          // as an object: onnxruntime-web passes enableGraphCapture to the WebGPU EP only for an EP object
          executionProviders: [webgpuOption],
          enableGraphCapture: true,
          preferredOutputLocation: "gpu-buffer",
        });
        // the device given, else the one ORT made (it sets env.webgpu.device to it once a session exists)
        const device = (opts.device ?? (await (ort.env.webgpu as unknown as { device?: unknown }).device)) as
          GpuDeviceLike | undefined;
        if (!device || typeof device.createBuffer !== "function") {
          throw new Error("ORT exposes no GPUDevice (ort.env.webgpu.device)");
        }
        return await CapturedStep.create(ort, session, device, config, sessionOpts, shape);
      } catch (e) {
        await session?.release();
        fallbacks.push(`graph capture of the ${what} unavailable: ${messageOf(e)}`);
        return undefined;
      }
    };
    try {
      if (mode !== "parallel") {
        const bytes = opts.graphs?.rnn ?? buildRnnStepGraph(prep(), gopts);
        if (opts.graphCapture && !captureReason) {
          captured = await tryCapture(bytes, { ids: TOKEN, n: 1, logitRows: 1, logitDims: [V] }, "RNN step");
          rnn = captured?.session;
        }
        rnn ??= await build(bytes);
      }
      if (mode !== "rnn") {
        const last = opts.parallelLogits === "last";
        const bytes =
          opts.graphs?.parallel ?? buildParallelGraph(prep(), { ...gopts, logits: last ? "last" : "all" });
        if (opts.graphCapture === "both" && !captureReason && config.nLayer > 1) {
          const rows = last ? 1 : chunk;
          capturedPar = await tryCapture(
            bytes,
            { ids: TOKENS, n: chunk, logitRows: rows, logitDims: [rows, V] },
            "parallel graph",
          );
        }
        // the plain session too: prompts shorter than a chunk and the last partial chunk
        par = await build(bytes);
      }
    } catch (e) {
      await captured?.dispose();
      await capturedPar?.dispose();
      await capturedPar?.session.release();
      await rnn?.release();
      throw e;
    }
    const captureFallback = fallbacks.length ? fallbacks.join("; ") : undefined;
    return new OrtRwkv(ort, ep, config, rnn, par, opts, captured, capturedPar, captureFallback);
  }

  /** Mark the instance unusable because its GPU device is gone (the worker then rebuilds on wasm). */
  markDeviceLost(reason: string): void {
    this.lost = reason;
  }

  /** whether `step` runs through ORT graph capture (see OrtRwkvOptions.graphCapture) */
  get graphCapture(): boolean {
    return !!this.captured;
  }
  /** the captured step's last timing split (see CapturedStep.lastTiming); undefined without capture */
  get captureTiming(): { runMs: number; readMs: number } | undefined {
    return this.captured?.lastTiming;
  }

  /** whether `forward` runs its full chunks through ORT graph capture (graphCapture: "both") */
  get graphCaptureParallel(): boolean {
    return !!this.capturedPar;
  }

  get hasRnn(): boolean {
    return !!this.rnn;
  }
  get hasParallel(): boolean {
    return !!this.parallel;
  }

  /** The empty state: attX = ffnX = a = b = 0, p = -1e38. */
  initialState(): OrtState {
    const { nLayer: L, nEmbd: C } = this.config;
    const t = {} as Record<StateName, Ort.Tensor>;
    for (const s of STATE_NAMES) {
      const d = new Float32Array(L * C);
      if (s === "p") d.fill(P_EMPTY);
      t[s] = new this.ort.Tensor("float32", d, [L, C]);
    }
    return new OrtState(t, this.config);
  }

  /** Wrap a CPU state (src/rwkv layout) as ORT tensors. */
  fromRwkvState(state: RwkvState): OrtState {
    const { nLayer: L, nEmbd: C } = this.config;
    if (state.length !== L || state.some((s) => STATE_NAMES.some((n) => s[n].length !== C))) {
      throw new OrtRwkvError(
        "bad-state",
        `state does not fit this model (expected ${L} layers of ${C} channels)`,
      );
    }
    const t = {} as Record<StateName, Ort.Tensor>;
    for (const s of STATE_NAMES) {
      const d = new Float32Array(L * C);
      for (let l = 0; l < L; l++) d.set(state[l][s], l * C);
      t[s] = new this.ort.Tensor("float32", d, [L, C]);
    }
    return new OrtState(t, this.config);
  }

  private checkTokens(tokens: ArrayLike<number>): BigInt64Array {
    const V = this.config.vocabSize;
    const out = new BigInt64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= V) throw new TokenOutOfRangeError(t, V);
      out[i] = BigInt(t);
    }
    return out;
  }

  private checkUsable(): void {
    if (this.disposed) throw new OrtRwkvError("disposed", "this model was disposed");
    if (this.lost !== undefined) throw new DeviceLostError(this.lost);
  }

  private serial<R>(fn: () => Promise<R>): Promise<R> {
    return this.queue.run(fn);
  }

  private stateFeeds(state: OrtState | RwkvState | undefined): Record<string, Ort.Tensor> {
    const s =
      state === undefined
        ? this.initialState()
        : state instanceof OrtState
          ? state
          : this.fromRwkvState(state);
    if (s.live) s.live.owner.checkLive(s.live);
    const feeds: Record<string, Ort.Tensor> = {};
    for (const n of STATE_NAMES) feeds[stateIn(n)] = s.tensors[n];
    return feeds;
  }

  private async run(
    session: Ort.InferenceSession,
    feeds: Record<string, Ort.Tensor>,
  ): Promise<{ logits: Float32Array; state: OrtState; probes?: Record<string, Float32Array> }> {
    const out = await this.guard(`onnxruntime run on ${this.ep}`, () => session.run(feeds));
    const t = {} as Record<StateName, Ort.Tensor>;
    for (const s of STATE_NAMES) t[s] = out[stateOut(s)];
    const logits = (await out[LOGITS].getData()) as Float32Array;
    let probes: Record<string, Float32Array> | undefined;
    for (const name of session.outputNames) {
      if (name === LOGITS || STATE_OUTPUTS.has(name)) continue;
      probes ??= {};
      probes[name] = (await out[name].getData()) as Float32Array;
    }
    return { logits, state: new OrtState(t, this.config), ...(probes ? { probes } : {}) };
  }

  /**
   * A session run or a captured graph's replay; a failure becomes DeviceLostError when the device was lost (its
   * `lost` promise may settle just after the run fails), else an "unsupported" error naming `what`.
   */
  private async guard<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      if (this.ep === "webgpu" && this.lost === undefined) await new Promise((r) => setTimeout(r, 50));
      if (this.lost !== undefined) throw new DeviceLostError(this.lost);
      throw new OrtRwkvError("unsupported", `${what} failed: ${messageOf(e)}`, { cause: e });
    }
  }

  /**
   * RNN mode: one token and the state before it -> logits (V) and the state after it.
   * The input state is not modified (a new OrtState is returned; dispose old GPU states yourself).
   */
  step(token: number, state?: OrtState | RwkvState): Promise<StepResult> {
    return this.steps([token], state);
  }

  /**
   * RNN mode over a sequence: one step per token from `state`, the last token's logits (V) and the state after
   * it (prompt ingestion the RNN way). With graph capture the steps are queued on the GPU and only the last
   * one's logits are read back; without it each step is a plain run.
   */
  steps(tokens: ArrayLike<number>, state?: OrtState | RwkvState): Promise<StepResult> {
    return this.serial(async () => {
      this.checkUsable();
      if (!this.rnn) throw new OrtRwkvError("unsupported", "this model was built without the RNN-step graph");
      if (tokens.length === 0) throw new OrtRwkvError("empty-prompt", "steps needs at least one token");
      const ids = this.checkTokens(tokens);
      const cap = this.captured;
      if (cap) {
        cap.load(
          state === undefined ? "initial" : state instanceof OrtState ? state : this.fromRwkvState(state),
        );
        const logits = await this.guard("graph-captured step", async () => {
          for (let t = 0; t < ids.length - 1; t++) await cap.step(ids.subarray(t, t + 1), false);
          return cap.step(ids.subarray(ids.length - 1));
        });
        return {
          logits,
          state: new OrtState(cap.stateTensors(), this.config, { owner: cap, version: cap.version }),
        };
      }
      let last: StepResult | undefined;
      let current: OrtState | RwkvState | undefined = state;
      for (let t = 0; t < ids.length; t++) {
        const feeds = this.stateFeeds(current);
        feeds[TOKEN] = new this.ort.Tensor("int64", ids.subarray(t, t + 1), [1]);
        const r = await this.run(this.rnn, feeds);
        if (last) last.state.dispose();
        last = r;
        current = r.state;
      }
      return last!;
    });
  }

  /**
   * Parallel mode: T tokens and the state before them -> logits (T, V) (or (1, V), see parallelLogits) and
   * the state after the last token. Prompts longer than `chunk` run as consecutive chunks with the state
   * carried (exact: the graph's state inputs are the recurrence's state). Probes are concatenated over chunks.
   */
  forward(tokens: ArrayLike<number>, state?: OrtState | RwkvState): Promise<ForwardResult> {
    return this.serial(async () => {
      this.checkUsable();
      if (!this.parallel)
        throw new OrtRwkvError("unsupported", "this model was built without the parallel graph");
      const T = tokens.length;
      if (T === 0) throw new OrtRwkvError("empty-prompt", "forward needs at least one token");
      if (T > this.maxTokens) throw new PromptTooLongError(T, this.maxTokens);
      const ids = this.checkTokens(tokens);
      const V = this.config.vocabSize;
      const logitParts: Float32Array[] = [];
      const probeParts: Record<string, Float32Array[]> = {};
      let last: Awaited<ReturnType<OrtRwkv["run"]>> | undefined;
      let cur: OrtState | RwkvState | undefined = state;
      const cp = this.capturedPar;
      for (let t0 = 0; t0 < T; t0 += this.chunk) {
        const part = ids.subarray(t0, Math.min(T, t0 + this.chunk));
        const prev = last;
        if (cp && part.length === this.chunk) {
          cp.load(cur === undefined ? "initial" : cur instanceof OrtState ? cur : this.fromRwkvState(cur));
          const logits = await this.guard("graph-captured forward", () => cp.step(part));
          last = {
            logits,
            state: new OrtState(cp.stateTensors(), this.config, { owner: cp, version: cp.version }),
          };
        } else {
          const feeds = this.stateFeeds(cur);
          feeds[TOKENS] = new this.ort.Tensor("int64", part, [part.length]);
          last = await this.run(this.parallel, feeds);
        }
        if (prev && prev.state.location === "gpu-buffer") prev.state.dispose(); // intermediate chunk states
        if (this.parallelLogits === "all") logitParts.push(last.logits);
        for (const [k, v] of Object.entries(last.probes ?? {})) (probeParts[k] ??= []).push(v);
        cur = last.state;
      }
      const res = last!;
      const logits = this.parallelLogits === "all" ? concat(logitParts, T * V) : res.logits;
      const probes = Object.keys(probeParts).length
        ? Object.fromEntries(Object.entries(probeParts).map(([k, parts]) => [k, concat(parts)]))
        : undefined;
      return { logits, state: res.state, ...(probes ? { probes } : {}) };
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    await this.serial(async () => {
      this.disposed = true;
      await this.captured?.dispose();
      await this.capturedPar?.dispose();
      await this.capturedPar?.session.release();
      await this.rnn?.release();
      await this.parallel?.release();
    });
  }
}

function concat(parts: Float32Array[], total?: number): Float32Array {
  if (parts.length === 1) return parts[0];
  const out = new Float32Array(total ?? parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
