/**
 * Page side of the model worker: one object per model, every call a promise, calls answered in order
 * (the worker serialises them). No onnxruntime import here: the page stays light and never blocks.
 *
 *   const model = await RwkvWorkerClient.create({ workerUrl, wasmUrl, source: { weights } });
 *   model.ep;               // "webgpu" | "wasm": what really runs
 *   model.fallbackReason;   // why not WebGPU (show it on the page)
 *   model.init.threads;     // ORT's wasm threads in the worker (./threads.ts decides, here, from the page's URL)
 *   wasmThreadsInUse();     // the same for the page's badge: the last model worker's threads and why
 *   const { logits } = await model.forward(promptIds);   // ingests the prompt, keeps the state
 *   const next = await model.step(tokenId);             // one RNN step from the kept state
 *   const { tokens } = await model.generate({ n: 32, temperature: 0.8, topP: 0.9, seed: 1 });
 *                           // sample + step n times; with engine "fused" on WebGPU sampled on the GPU, no read-back
 *   model.engine;           // "fused" | "ort": what runs the RNN step (`engine` option or ?engine= in the address)
 *   model.engineFallback;   // why "fused" was asked for but ORT runs it
 */
import type { RwkvConfig, RwkvState } from "../rwkv/weights.js";
import { fromSerialized, OrtRwkvError } from "./errors.js";
import { chooseThreads, threadsFromUrl } from "./threads.js";
import { engineFromUrl } from "./ep-policy.js";
import type {
  Engine,
  EpPreference,
  GenerateRequestOptions,
  GenerateResult,
  GptInitResult,
  GptInitSource,
  GptStepResult,
  InitResult,
  ModelSource,
  Request,
  Response,
  RunResult,
  TraceInitResult,
  TraceInitSource,
  WorkerEvent,
  WorkerInitOptions,
} from "./protocol.js";
import type { TraceJob } from "./trace-ort.js";

export type {
  Engine,
  EpPreference,
  GenerateRequestOptions,
  GenerateResult,
  GptInitResult,
  GptInitSource,
  GptStepResult,
  InitResult,
  LoadedSummary,
  ModelSource,
  RunResult,
  TokenizerSummary,
  TraceInitResult,
  TraceInitSource,
  WorkerEvent,
} from "./protocol.js";
export type { TraceJob } from "./trace-ort.js";

/** What the page's model workers report about ORT's wasm threads (one policy per page, so one answer). */
let pageThreads: { threads: number; reason: string } | undefined;
export function wasmThreadsInUse(): { threads: number; reason: string } | undefined {
  return pageThreads;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export interface ClientOptions extends Omit<WorkerInitOptions, "ep"> {
  /** URL of the bundled worker script (./worker.ts bundled with onnxruntime-web/webgpu), or a Worker */
  workerUrl?: string | URL;
  worker?: Worker;
  source: ModelSource;
  ep?: EpPreference;
  /** called for unsolicited events (fallback, lost device) */
  onEvent?: (e: WorkerEvent) => void;
  /**
   * Give up on a worker whose init has not answered within this many milliseconds (the worker is stopped and
   * `create` rejects with an OrtRwkvError "timeout"): a page then falls back instead of saying "loading" forever.
   * Default: no limit (a full-size checkpoint may take minutes on a slow machine).
   */
  initTimeoutMs?: number;
}

/**
 * The start limit for the project's small models (the chapters' models and their traces): they start in 1 to 4 s
 * on a laptop once onnxruntime-web's wasm (27 MB, fetched by the worker) is here, and that download takes about
 * 110 s at 2 Mbit/s. A worker silent for longer than this is taken as stuck, and the page falls back (to the
 * reference model in JavaScript, saying why) instead of showing "loading" for ever.
 */
export const SMALL_MODEL_INIT_MS = 150_000;

/** How long `dispose` waits for the worker to release its sessions before stopping it anyway. */
export const DISPOSE_GRACE_MS = 2_000;

export class RwkvWorkerClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private info!: InitResult;
  private closed = false;
  private disposing: Promise<void> | undefined;
  /** the EP that runs now (may change to "wasm" after a lost device) */
  ep: "webgpu" | "wasm" = "wasm";
  fallbackReason: string | undefined;
  /** the engine of the RNN step (changes to "ort" after a lost device) */
  engine: Engine = "ort";
  engineFallback: string | undefined;

  protected constructor(
    private readonly worker: Worker,
    private readonly onEvent?: (e: WorkerEvent) => void,
  ) {
    worker.onmessage = (e: MessageEvent<Response | WorkerEvent>) => this.receive(e.data);
    worker.onerror = (e: ErrorEvent) => this.failAll(new Error(`model worker crashed: ${e.message}`));
  }

  static async create(opts: ClientOptions): Promise<RwkvWorkerClient> {
    const worker = opts.worker ?? new Worker(opts.workerUrl!, { type: "module" });
    const c = new RwkvWorkerClient(worker, opts.onEvent);
    const { workerUrl: _w, worker: _k, source, onEvent: _e, initTimeoutMs, ...options } = opts;
    // the worker resolves relative URLs against its own script's URL: make the wasm URL absolute here
    options.wasmUrl = absoluteUrl(options.wasmUrl);
    // the thread policy sees the page's address (?threads=) and isolation; the worker applies it
    // `?engine=` in the address wins (like `?ep=`), for every model of the page
    options.engine = engineFromUrl() ?? options.engine ?? "ort";
    // `?threads=` is in the page's address, which the worker cannot see: pass it on (else the worker decides)
    if (options.numThreads || threadsFromUrl()) {
      const t = chooseThreads({ requested: options.numThreads });
      options.numThreads = t.threads;
      options.threadsReason = t.reason;
    }
    // checkpoint bytes move to the worker (transferred, not copied): the caller must not use them afterwards
    // (the reader's JSON files too: each buffer once, a buffer listed twice cannot be transferred)
    const transfer: Transferable[] =
      "checkpoint" in source
        ? [
            ...new Set(
              [source.checkpoint, source.hfConfigJson, source.tokenizerJson].flatMap((b) =>
                b ? [b.buffer as ArrayBuffer] : [],
              ),
            ),
          ]
        : [];
    try {
      c.info = (await c.within(
        initTimeoutMs,
        "start",
        c.call({ type: "init", source, options: options as WorkerInitOptions }, transfer),
      )) as InitResult;
    } catch (e) {
      // a bad checkpoint or a failed build: nothing stays half-loaded
      await c.dispose().catch(() => undefined);
      throw e;
    }
    c.ep = c.info.ep;
    c.fallbackReason = c.info.fallbackReason;
    pageThreads = { threads: c.info.threads, reason: c.info.threadsReason };
    c.engine = c.info.engine;
    c.engineFallback = c.info.engineFallback;
    // a visible fallback, never a silent one (a warning: the page keeps working on ORT)
    if (c.engineFallback) console.warn(`fused WGSL step not used: ${c.engineFallback}`);
    return c;
  }

  get init(): InitResult {
    return this.info;
  }
  get config(): RwkvConfig {
    return this.info.config;
  }

  private receive(m: Response | WorkerEvent): void {
    if ("type" in m) {
      this.ep = m.ep;
      if (m.kind === "device-lost") {
        this.fallbackReason = m.message;
        if (this.engine === "fused") {
          this.engine = "ort";
          this.engineFallback = m.message;
        }
      }
      this.onEvent?.(m);
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(fromSerialized(m.error));
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Stops the worker at once: every pending call rejects with `e` (a later one with "this model was disposed"). */
  private kill(e: Error): void {
    if (this.closed && this.pending.size === 0) return;
    this.closed = true;
    this.worker.terminate();
    this.failAll(e);
  }

  /**
   * @internal `answer`, or (after `ms`, when given) the worker stopped and an OrtRwkvError "timeout" naming what
   * did not answer: a hung worker (a stalled wasm fetch, a driver that never returns) must not hang the page.
   */
  async within<T>(ms: number | undefined, what: string, answer: Promise<T>): Promise<T> {
    if (!ms || !Number.isFinite(ms) || ms <= 0) return answer;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const e = new OrtRwkvError(
          "timeout",
          `the model worker did not ${what} within ${Math.round(ms / 1000)} s, so it was stopped`,
        );
        this.kill(e);
        reject(e);
      }, ms);
    });
    try {
      return await Promise.race([answer, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** @internal the GPT client shares this plumbing */
  call(body: RequestBody, transfer: Transferable[] = []): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error("this model was disposed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...body, id } as Request, transfer);
    });
  }

  /** One RNN step from the kept state (which advances). Logits (V). */
  async step(token: number): Promise<RunResult> {
    const r = (await this.call({ type: "step", token })) as RunResult;
    this.ep = r.ep;
    return r;
  }

  /**
   * RNN mode over several tokens from the kept state (which advances): logits (V) of the last token only. With
   * graph capture on WebGPU the steps are queued without waiting for each one's logits.
   */
  async steps(tokens: ArrayLike<number>): Promise<RunResult> {
    const r = (await this.call({ type: "steps", tokens: Array.from(tokens) })) as RunResult;
    this.ep = r.ep;
    return r;
  }

  /**
   * Ingest tokens with the parallel graph from the kept state (which advances), or from `from` (a state, or
   * "initial"; the kept state then becomes the state after these tokens). Logits (T, V) or (1, V); probes when
   * the model was built with them.
   */
  async forward(tokens: ArrayLike<number>, from?: RwkvState | "initial"): Promise<RunResult> {
    const r = (await this.call({
      type: "forward",
      tokens: Array.from(tokens),
      ...(from ? { from } : {}),
    })) as RunResult;
    this.ep = r.ep;
    return r;
  }

  /**
   * Sample a token from the current logits and run its step, n times, from the kept state (a prompt must have run
   * through step, steps or forward). With the fused engine the tokens are sampled on the GPU and no logits are
   * read back; on ORT the worker samples them (src/rwkv/sampling.ts) from each step's logits.
   */
  async generate(opts: GenerateRequestOptions): Promise<GenerateResult> {
    const r = (await this.call({ type: "generate", ...opts })) as GenerateResult;
    this.ep = r.ep;
    return r;
  }

  /** Back to the empty state. */
  async reset(): Promise<void> {
    await this.call({ type: "reset" });
  }

  /** Read the kept state back (from the GPU when it lives there). */
  async getState(): Promise<RwkvState> {
    return (await this.call({ type: "getState" })) as RwkvState;
  }

  async setState(state: RwkvState): Promise<void> {
    await this.call({ type: "setState", state });
  }

  /** Token ids of `text` from the tokenizer.json the worker read at init (InitResult.tokenizer). */
  async tokenize(text: string): Promise<number[]> {
    return (await this.call({ type: "tokenize", text })) as number[];
  }

  /** The text of each token id from the worker's tokenizer; null for an id outside its vocabulary. */
  async tokenTexts(ids: readonly number[]): Promise<(string | null)[]> {
    return (await this.call({ type: "tokenTexts", ids: [...ids] })) as (string | null)[];
  }

  /**
   * Destroy the GPU device on purpose: the next call fails with a "device-lost" error, the worker rebuilds the
   * model on wasm (state reset) and later calls run there. Resolves to false when no GPU device was in use.
   */
  async simulateDeviceLoss(): Promise<boolean> {
    return (await this.call({ type: "simulateDeviceLoss" })) as boolean;
  }

  /** Releases the worker's sessions (waiting at most DISPOSE_GRACE_MS for a busy or hung worker), then stops it. */
  dispose(): Promise<void> {
    // one release however many callers: a second dispose waits for the first
    this.disposing ??= (async () => {
      if (this.closed) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        await Promise.race([
          this.call({ type: "dispose" }).catch(() => undefined),
          new Promise((done) => (timer = setTimeout(done, DISPOSE_GRACE_MS))),
        ]);
      } finally {
        clearTimeout(timer);
        this.kill(new Error("this model was disposed"));
      }
    })();
    return this.disposing;
  }
}

/** How the GPT and trace clients start their worker (the model worker's script, another init message). */
interface SideWorkerOptions {
  workerUrl?: string | URL;
  worker?: Worker;
  wasmUrl: string;
  ep?: EpPreference;
  /** as ClientOptions.initTimeoutMs */
  initTimeoutMs?: number;
}

/** `url` made absolute against the page (a worker resolves relative URLs against its own script's URL). */
function absoluteUrl(url: string | URL): string {
  return typeof location !== "undefined" ? new URL(url, location.href).href : String(url);
}

/**
 * Starts a worker on RwkvWorkerClient's plumbing with the init message `type` (its source, the absolute wasm URL,
 * the EP, the page's `?threads=`, and `extra` options), within the start limit. On a failure the worker is released
 * and the error thrown.
 */
async function startSideWorker<R>(
  opts: SideWorkerOptions,
  type: "gptInit" | "traceInit",
  source: GptInitSource | TraceInitSource,
  extra: Record<string, unknown> = {},
): Promise<{ client: RwkvWorkerClient; info: R }> {
  const worker = opts.worker ?? new Worker(opts.workerUrl!, { type: "module" });
  const client = new (RwkvWorkerClient as unknown as new (w: Worker) => RwkvWorkerClient)(worker);
  const threads = threadsFromUrl() ? chooseThreads() : undefined;
  try {
    const info = (await client.within(
      opts.initTimeoutMs,
      "start",
      client.call({
        type,
        source,
        options: {
          wasmUrl: absoluteUrl(opts.wasmUrl),
          ep: opts.ep ?? "auto",
          ...extra,
          ...(threads ? { numThreads: threads.threads, threadsReason: threads.reason } : {}),
        },
      } as RequestBody),
    )) as R;
    return { client, info };
  } catch (e) {
    await client.dispose().catch(() => undefined);
    throw e;
  }
}

/**
 * The transformer baseline (a synthetic GPT shape) in its own model worker (the same script): prompt and decoding
 * with a KV cache that the worker keeps, for timing against RWKV's RNN mode.
 *
 *   const gpt = await GptWorkerClient.create({ workerUrl, wasmUrl, source: { nLayer: 12, nEmbd: 768, ... } });
 *   await gpt.forward([token]);   // {cacheLength, ms}: one decoding step, the cache grows by one
 */
export class GptWorkerClient {
  info!: GptInitResult;
  private constructor(private readonly client: RwkvWorkerClient) {}

  static async create(
    opts: SideWorkerOptions & {
      source: GptInitSource;
      /** build the graph with its attention-weight outputs: `forward` then returns them */
      attention?: boolean;
    },
  ): Promise<GptWorkerClient> {
    const { client, info } = await startSideWorker<GptInitResult>(opts, "gptInit", opts.source, {
      attention: !!opts.attention,
    });
    const g = new GptWorkerClient(client);
    g.info = info;
    return g;
  }

  get ep(): "webgpu" | "wasm" {
    return this.info.ep;
  }

  forward(tokens: ArrayLike<number>): Promise<GptStepResult> {
    return this.client.call({ type: "gptForward", tokens: Array.from(tokens) }) as Promise<GptStepResult>;
  }

  async reset(): Promise<void> {
    await this.client.call({ type: "gptReset" });
  }

  dispose(): Promise<void> {
    return this.client.dispose();
  }
}

/**
 * Chapter 9's causal trace of one model in its own worker (the same script, ./trace-ort.ts there): the runs of a
 * trace off the page's thread. It has the methods of chapters/memory's TraceRunner, so the trace takes it as is.
 *
 *   const rwkv = await TraceWorkerClient.create({ workerUrl, wasmUrl, source: { kind: "rwkv", weights } });
 *   await causalTrace({ kind: "rwkv", model }, opts, rwkv);   // rwkv.ep: what ran it
 */
export class TraceWorkerClient {
  info!: TraceInitResult;
  private constructor(private readonly client: RwkvWorkerClient) {}

  static async create(opts: SideWorkerOptions & { source: TraceInitSource }): Promise<TraceWorkerClient> {
    const { client, info } = await startSideWorker<TraceInitResult>(opts, "traceInit", opts.source);
    pageThreads = { threads: info.threads, reason: info.threadsReason };
    const c = new TraceWorkerClient(client);
    c.info = info;
    return c;
  }

  get ep(): "webgpu" | "wasm" {
    return this.info.ep;
  }

  get rowsPerCall(): number {
    return this.info.rowsPerCall;
  }

  async begin(job: TraceJob): Promise<void> {
    await this.client.call({ type: "traceBegin", job });
  }

  run(noise: Float32Array | null): Promise<number> {
    return this.client.call({ type: "traceRun", noise }) as Promise<number>;
  }

  rows(ts: readonly number[]): Promise<Float64Array[]> {
    return this.client.call({ type: "traceRows", ts: [...ts] }) as Promise<Float64Array[]>;
  }

  dispose(): Promise<void> {
    return this.client.dispose();
  }
}
