/**
 * The one lifecycle of everything a page loads (a model, a worker, a session): status, a pending promise that
 * figures never wait on, the error, the load time, the reason for a fallback, and dispose. Every page and every
 * live model goes through `startHandle`, so "loading / ready / failed / off" and the badge mean the same thing
 * everywhere, a rejection is never unhandled (it is reported through `status` and `error`), and a fallback is
 * never silent.
 *
 * API:
 *   startHandle(load, {off?, dispose?}) -> Handle<T>
 *     load(setFallback) -> Promise<T>   setFallback(reason) records why the handle runs somewhere else than meant
 *   interface Handle<T> {status, ready, error?, loadMs?, fallbackReason?, dispose()}
 *   liveDisabledByUrl()                `?live=0`: the figures stay on their precomputed traces
 */
export type HandleStatus = "loading" | "ready" | "failed" | "off";

export interface Handle<T> {
  status: HandleStatus;
  /** resolves with the loaded value; never settles when `off`; its rejection is already handled */
  ready: Promise<T>;
  error?: Error;
  /** milliseconds from start to ready */
  loadMs?: number;
  /** why it does not run where it was meant to (wasm instead of WebGPU, JS instead of onnxruntime-web) */
  readonly fallbackReason?: string;
  /** release what was loaded (a worker, sessions); safe to call at any time, more than once */
  dispose(): Promise<void>;
}

export interface StartOptions<T> {
  /** start switched off: `ready` never settles, status "off" */
  off?: boolean;
  dispose?: (value: T) => void | Promise<void>;
}

/** `?live=0` in the page URL keeps the live model off: the figures stay on the precomputed traces (for
 * presenting on a slow machine, and for the tests of the fallback). */
export function liveDisabledByUrl(): boolean {
  return new URLSearchParams(globalThis.location?.search ?? "").get("live") === "0";
}

export function startHandle<T>(
  load: (setFallback: (reason: string | (() => string | undefined) | undefined) => void) => Promise<T>,
  { off = false, dispose }: StartOptions<T> = {},
): Handle<T> {
  const t0 = performance.now();
  let fallback: string | (() => string | undefined) | undefined;
  let disposed = false;
  const handle: Handle<T> = {
    status: off ? "off" : "loading",
    ready: new Promise<never>(() => {}),
    get fallbackReason() {
      return typeof fallback === "function" ? fallback() : fallback;
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      // still loading: the load releases its value itself when it finishes (below); failed or off: nothing
      if (handle.status !== "ready") return;
      await dispose?.(await handle.ready);
    },
  };
  if (off) return handle;
  handle.ready = (async () => {
    try {
      const value = await load((reason) => (fallback = reason));
      handle.status = "ready";
      handle.loadMs = performance.now() - t0;
      if (disposed) await dispose?.(value);
      return value;
    } catch (error) {
      handle.status = "failed";
      handle.error = error instanceof Error ? error : new Error(String(error));
      throw handle.error;
    }
  })();
  handle.ready.catch(() => {}); // reported through handle.status / the badge, not as an unhandled rejection
  return handle;
}
