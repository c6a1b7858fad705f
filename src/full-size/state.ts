/**
 * The full-size page's state machine: which model is loaded, which load is in flight, and which failed. Every
 * load goes through startHandle (src/live/handle.ts), and the rule the page keeps is:
 *
 *   the model that is loaded stays loaded (its figures, its worker) until another one is READY;
 *   a load that fails, or is stopped, leaves it in place and says what failed;
 *   a newer request supersedes a load in flight: that load is aborted and whatever it made is disposed.
 *
 *   idle ──request──▶ loading ──ready──▶ idle (current = the new model; the one before is disposed)
 *                        │ └──request──▶ loading (the newer one; the older is aborted and disposed)
 *                        └──fails / stopped──▶ idle (current unchanged; `failed` says why)
 *
 * DOM-free, no runtime: the load itself is a function given to the constructor (src/full-size/loader.ts in the
 * page, fakes in tests). The page reads the machine through two async generators: `changes()` (every change,
 * for the status box; download progress is coalesced) and `models()` (only when the loaded model changes, so the
 * measurements do not rerun while another model downloads).
 *
 * API:
 *   new LoadMachine(load, {message?, minIntervalMs?})
 *     load(req, {signal, progress, name, setFallback}) -> Promise<M>    M has dispose()
 *   request(req)            start loading req (req.seq numbers the requests)
 *   stop()                  abort the load in flight (it fails as the load function reports an abort)
 *   snapshot() -> Snapshot  {seq, phase, current?, pending?, failed?}
 *   changes(), models()     async generators for page cells (see above)
 *   idle() -> Promise       settles when no load is in flight (the measurements pause meanwhile)
 *   dispose()               abort everything, dispose the loaded model
 */
import { startHandle, type Handle } from "../live/handle.js";

/** What a load in flight reports: a download's progress, or the step it is at. */
export type LoadProgress<F = unknown> =
  | {
      phase: "download";
      file: F;
      loaded: number;
      total?: number;
      bytesPerSecond: number;
      etaSeconds?: number;
    }
  | { phase: "starting" | "reading" | "building"; message: string };

export interface LoadContext {
  /** aborted when a newer request supersedes this load, when the reader stops it, or on dispose */
  signal: AbortSignal;
  progress(p: LoadProgress): void;
  /** the model's name, as soon as the load knows it (for messages about the load) */
  name(name: string): void;
  /** why it does not run where it was meant to (the handle's fallbackReason) */
  setFallback(reason: string | (() => string | undefined) | undefined): void;
}

export interface Current<M> {
  seq: number;
  name?: string;
  model: M;
  /** the handle's: why the model runs elsewhere than meant (wasm instead of WebGPU) */
  fallbackReason?: string;
  loadMs?: number;
}

export interface Pending {
  seq: number;
  name?: string;
  progress: LoadProgress;
}

export interface Failed {
  seq: number;
  name?: string;
  message: string;
}

export type Phase = LoadProgress["phase"] | "ready" | "error" | "idle";

export interface Snapshot<M> {
  /** the latest request's seq (-1 before any) */
  seq: number;
  /** of the latest request: its progress while it loads, then "ready" or "error" */
  phase: Phase;
  current?: Current<M>;
  pending?: Pending;
  /** the latest request, when it failed (cleared by the next request) */
  failed?: Failed;
}

/** What `models()` yields: the loaded model, or why there is none. */
export interface ModelSlot<M> {
  current?: Current<M>;
  /** no model loaded: true while the first one loads, false when it failed */
  waiting: boolean;
}

interface Entry<M> {
  seq: number;
  name?: string;
  progress: LoadProgress;
  controller: AbortController;
  handle: Handle<M>;
}

export class LoadMachine<R extends { seq: number }, M extends { dispose(): void | Promise<void> }> {
  private current?: Entry<M> & { model: M };
  private pending?: Entry<M>;
  private failed?: Failed;
  private latest = -1;
  private version = 0;
  private wakers: (() => void)[] = [];
  private readonly message: (e: unknown) => string;
  private readonly minIntervalMs: number;

  constructor(
    private readonly load: (req: R, ctx: LoadContext) => Promise<M>,
    opts: { message?: (e: unknown) => string; minIntervalMs?: number } = {},
  ) {
    this.message = opts.message ?? ((e) => (e instanceof Error ? e.message : String(e)));
    this.minIntervalMs = opts.minIntervalMs ?? 100;
  }

  request(req: R): void {
    this.abortPending();
    this.failed = undefined;
    this.latest = req.seq;
    const controller = new AbortController();
    const entry = {
      seq: req.seq,
      progress: { phase: "starting", message: "Starting…" },
      controller,
    } as Entry<M>;
    entry.handle = startHandle(
      (setFallback) =>
        this.load(req, {
          signal: controller.signal,
          progress: (p) => {
            if (this.pending !== entry) return;
            entry.progress = p;
            this.changed();
          },
          name: (n) => {
            entry.name = n;
          },
          setFallback,
        }),
      { dispose: (m) => m.dispose() },
    );
    this.pending = entry;
    entry.handle.ready.then(
      (model) => this.settle(entry, model),
      (error: unknown) => this.fail(entry, error),
    );
    this.changed();
  }

  stop(): void {
    this.pending?.controller.abort();
  }

  snapshot(): Snapshot<M> {
    const p = this.pending;
    const phase: Phase = p
      ? p.progress.phase
      : this.failed?.seq === this.latest
        ? "error"
        : this.current?.seq === this.latest
          ? "ready"
          : "idle";
    return {
      seq: this.latest,
      phase,
      ...(this.current ? { current: this.currentView(this.current) } : {}),
      ...(p ? { pending: { seq: p.seq, name: p.name, progress: p.progress } } : {}),
      ...(this.failed ? { failed: this.failed } : {}),
    };
  }

  /** Settles when no load is in flight. */
  async idle(): Promise<void> {
    while (this.pending) await this.next(this.version);
  }

  /** The snapshot now, then after each change; changes closer than minIntervalMs are coalesced. */
  async *changes(): AsyncGenerator<Snapshot<M>> {
    let seen = this.version;
    yield this.snapshot();
    for (;;) {
      const t0 = Date.now();
      await this.next(seen);
      const wait = this.minIntervalMs - (Date.now() - t0);
      // a load that ended is shown at once; progress waits out the interval
      if (wait > 0 && this.pending) await new Promise((r) => setTimeout(r, wait));
      seen = this.version;
      yield this.snapshot();
    }
  }

  /** The loaded model now, then each time another one is loaded (or the reason for none changes). */
  async *models(): AsyncGenerator<ModelSlot<M>> {
    const key = () => (this.current ? `model ${this.current.seq}` : `none ${!!this.pending}`);
    let last = key();
    yield this.slot();
    for (;;) {
      await this.next(this.version);
      if (key() === last) continue;
      last = key();
      yield this.slot();
    }
  }

  dispose(): void {
    this.abortPending();
    const c = this.current;
    this.current = undefined;
    void c?.handle.dispose();
    this.changed();
  }

  private slot(): ModelSlot<M> {
    return this.current
      ? { current: this.currentView(this.current), waiting: false }
      : { waiting: !!this.pending };
  }

  private currentView(e: Entry<M> & { model: M }): Current<M> {
    const { handle } = e;
    return {
      seq: e.seq,
      ...(e.name !== undefined ? { name: e.name } : {}),
      model: e.model,
      ...(handle.fallbackReason !== undefined ? { fallbackReason: handle.fallbackReason } : {}),
      ...(handle.loadMs !== undefined ? { loadMs: handle.loadMs } : {}),
    };
  }

  private abortPending(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    p.controller.abort();
    // whatever the superseded load still makes is released when it finishes (startHandle's dispose)
    void p.handle.dispose();
  }

  private settle(entry: Entry<M>, model: M): void {
    if (this.pending !== entry) return; // superseded: its handle was disposed, which disposes the model
    this.pending = undefined;
    const before = this.current;
    this.current = { ...entry, model };
    this.changed();
    void before?.handle.dispose();
  }

  private fail(entry: Entry<M>, error: unknown): void {
    if (this.pending !== entry) return;
    this.pending = undefined;
    this.failed = {
      seq: entry.seq,
      ...(entry.name !== undefined ? { name: entry.name } : {}),
      message: this.message(error),
    };
    this.changed();
  }

  private changed(): void {
    this.version++;
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  /** Resolves after the version moves past `seen`. */
  private next(seen: number): Promise<void> {
    if (this.version !== seen) return Promise.resolve();
    return new Promise((resolve) => this.wakers.push(resolve));
  }
}
