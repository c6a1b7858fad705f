/**
 * The full-size page's wiring (browser): the controls, the load state machine with the browser's workers,
 * fetch, Cache API and EP policy, and the measurements of whichever model is loaded. src/full-size.md is glue
 * around this object:
 *
 *   const fs = openFullSize({worker: FileAttachment("data/ort-worker.js"), wasm: ...}, invalidation);
 *   const request = view(fs.form);  fs.load(request);
 *   const status = fs.statuses();    the machine's snapshots (the status box)
 *   const model = fs.models();       the loaded model, only when it changes
 *   const bench = fs.measure(model, view(fs.sizes), prompt, invalidation);   the measurements, as they go
 *
 * Workers: one RWKV model worker per load and, when the timings first need it, one transformer worker
 * (RwkvWorkerClient / GptWorkerClient, src/runtime/client.ts). A load that a newer request supersedes, and a
 * model that another replaces, end their workers at once (calls still waiting on them fail).
 */
import { GptWorkerClient, RwkvWorkerClient } from "../runtime/client.js";
import { chooseEp } from "../runtime/ep-policy.js";
import { cacheSummary, clearCaches, type CacheStorageLike } from "./download.js";
import { loaderForm, promptBox, sizesControl } from "./form.js";
import {
  MODELS,
  MODEL_CACHE,
  MODEL_CACHE_PREFIX,
  formatBytes,
  hubChoice,
  loadErrorMessage,
  weightsParam,
} from "./full-size.js";
import { loadModel, type LoadRequest, type LoadedModel, type LoaderDeps } from "./loader.js";
import { measure, sizesToRun, type Sizes } from "./measure.js";
import { LoadMachine, type ModelSlot } from "./state.js";
import type { BenchView } from "./views.js";

/**
 * The browser's own dialog, which a page cannot restyle or cover: the host in plain words, download or not.
 */
function confirmHubHost(host: string): boolean {
  return window.confirm(
    `This page's address (?hub=) sends the model download to ${host}, not to the Hugging Face Hub ` +
      `(huggingface.co) or this site.\n\nDownload the model files from ${host}?`,
  );
}

export const DEFAULT_MODEL = "synthetic-small";
export const DEFAULT_PROMPT =
  "The quick brown fox jumps over the lazy dog. In a hole in the ground there lived a hobbit.";

function stopped(): Error {
  const e = new Error("the load was stopped before the model was ready");
  e.name = "AbortError";
  return e;
}

/**
 * A worker for `create`, ended when `signal` aborts: the client is disposed, every call still waiting on the
 * worker fails (so no page cell waits for ever), the worker is terminated, and a start still under way rejects.
 */
async function startWorker<C extends { dispose(): Promise<void> }>(
  url: string,
  signal: AbortSignal,
  create: (worker: Worker) => Promise<C>,
): Promise<C> {
  if (signal.aborted) throw stopped();
  const worker = new Worker(url, { type: "module" });
  const started = create(worker);
  const aborted = new Promise<never>((_, reject) =>
    signal.addEventListener(
      "abort",
      () => {
        worker.onerror?.call(worker, new ErrorEvent("error", { message: "the model was put away" }));
        worker.terminate();
        void started.then((c) => c.dispose()).catch(() => undefined);
        reject(stopped());
      },
      { once: true },
    ),
  );
  return Promise.race([started, aborted]);
}

export function openFullSize(
  files: { worker: { href: string }; wasm: { href: string } },
  invalidation?: Promise<unknown>,
) {
  const workerUrl = new URL(files.worker.href, location.href).href;
  const wasmUrl = new URL(files.wasm.href, location.href).href;
  const search = location.search;
  const storage = typeof caches !== "undefined" ? (caches as unknown as CacheStorageLike) : undefined;
  // ?weights=fp16: half-size matrices where the adapter has shader-f16 (else fp32, and the page says why);
  // ?weights=models/x.pth: a checkpoint copied next to the site, loaded first (through the cache: kept for the talk)
  const { precision: weights, site, refused } = weightsParam(search, location.href);

  const hub = hubChoice(search, location.origin);
  // hosts the reader has confirmed on this page (asked once each)
  const confirmedHosts = new Set<string>();
  const form = loaderForm({
    ...(hub.trusted ? {} : { hubHost: hub.host }),
    models: MODELS,
    initial: DEFAULT_MODEL,
    ...(site ? { start: site } : refused ? { start: { url: "", refused } } : {}),
    stop: () => machine.stop(),
    clear: async () => {
      if (storage) await clearCaches(storage, MODEL_CACHE_PREFIX);
    },
    cache: {
      read: async () => {
        if (!storage) return { text: "This browser has no Cache API here: downloads are not kept." };
        try {
          const { files: n, bytes } = await cacheSummary(storage, MODEL_CACHE);
          return {
            text: n ? `Cached: ${n} file${n > 1 ? "s" : ""}, ${formatBytes(bytes)}.` : "Nothing cached.",
            files: n,
          };
        } catch (e) {
          return { text: `The cache cannot be read: ${(e as Error).message}` };
        }
      },
    },
  });
  const sizes = sizesControl();

  const deps: LoaderDeps = {
    hubBase: hub.base,
    hubTrusted: hub.trusted,
    confirmHub: async (host) => {
      if (!confirmedHosts.has(host) && confirmHubHost(host)) confirmedHosts.add(host);
      return confirmedHosts.has(host);
    },
    fetch: (u, init) => fetch(u, init),
    openCache: async () => (storage ? await caches.open(MODEL_CACHE).catch(() => undefined) : undefined),
    chooseEp: () => chooseEp(),
    createRwkv: (source, ep, signal) =>
      startWorker(workerUrl, signal, (worker) =>
        RwkvWorkerClient.create({
          worker,
          wasmUrl,
          ep,
          mode: "both",
          parallelLogits: "all",
          maxTokens: 1024,
          // WebGPU: RNN steps replay a captured command sequence (about 6x faster per token on an H200)
          graphCapture: true,
          weights,
          source,
        }),
      ),
    createGpt: (source, ep, signal) =>
      startWorker(workerUrl, signal, (worker) => GptWorkerClient.create({ worker, wasmUrl, ep, source })),
    cacheChanged: () => void form.showCache(),
  };
  const machine = new LoadMachine<LoadRequest, LoadedModel>(
    async (req, ctx) => {
      try {
        return await loadModel(req, deps, ctx);
      } catch (e) {
        if (!ctx.signal.aborted) console.warn("full-size: load failed:", e);
        throw e;
      }
    },
    { message: loadErrorMessage },
  );
  void invalidation?.then(() => machine.dispose());

  return {
    form,
    sizes,
    promptBox: promptBox(DEFAULT_PROMPT),
    /** start loading what the form asks for (the model loaded so far stays until this one is ready) */
    load(request: LoadRequest): void {
      machine.request(request);
    },
    statuses: () => machine.changes(),
    models: () => machine.models(),
    /**
     * The measurements of the loaded model for a page cell; the sizes that run are shown in the T and N
     * selects. Calls pause while another model loads.
     */
    async *measure(
      slot: ModelSlot<LoadedModel>,
      s: Sizes,
      prompt: string,
      cellInvalidation?: Promise<unknown>,
    ): AsyncGenerator<BenchView> {
      const model = slot.current?.model;
      if (!model) {
        yield { empty: slot.waiting ? "Waiting for the model…" : "No model loaded." };
        return;
      }
      let cancelled = false;
      void cellInvalidation?.then(() => (cancelled = true));
      const { T, N } = sizesToRun(s, model.rwkv.config.nEmbd);
      sizes.show(T, N);
      yield* measure(model, s, prompt, {
        cancelled: () => cancelled,
        pause: async () => {
          await new Promise((r) => setTimeout(r, 0));
          await machine.idle();
        },
      });
    },
  };
}
