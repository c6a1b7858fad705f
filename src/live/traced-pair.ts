/**
 * Chapter 9's live models. The noise, the cells and the averages of a causal trace are decided on the page
 * (src/chapters/memory/causal-trace.ts, with the reference RWKV built from the chapter handle's weights and the
 * reference GPT beside it); the runs go to the trace-step graphs on onnxruntime-web (src/onnx/*-trace-graph.ts),
 * each model in a worker of its own (on wasm the GPT in two, see sharedRunner), so both traces run at once off the
 * page's thread (WebGPU where the EP policy picks it, else wasm). If the workers cannot start, the runs stay on the reference models in the page and the
 * badge says so and why. One Handle for all, so the badge and `?live=0` mean what they mean elsewhere.
 *
 * API:
 *   openTracedPair(handle, loadGpt, runtime?) -> Handle<TracedPair>   off when the chapter's handle is off
 *   sharedRunner(runners) -> TraceRunner  workers holding the same model as one runner, `rows` split between them
 *   readyOrOff(handle) -> Promise<T>     handle.ready, or a rejection saying the live model is off (?live=0), so
 *                                        that a live run reports it instead of waiting for ever
 */
import type { TraceRunner } from "../chapters/memory/causal-trace.js";
import { REFERENCE_BACKEND, type TracedPair } from "../chapters/memory/chapter.js";
import { TraceWorkerClient, SMALL_MODEL_INIT_MS, type EpPreference } from "../runtime/client.js";
import { chooseEp } from "../runtime/ep-policy.js";
import { RwkvModel } from "../rwkv/model.js";
import type { GptModel } from "../transformer/gpt.js";
import { startHandle, type Handle } from "./handle.js";
import type { ModelHandle } from "./live-model.js";

export interface TraceRuntime {
  /** FileAttachment("data/ort-worker.js").href and FileAttachment("data/ort-wasm.wasm").href */
  workerUrl: string;
  wasmUrl: string;
  /**
   * FileAttachment("data/ort-worker-wasm.js").href and FileAttachment("data/ort-wasm-plain.wasm").href: the worker
   * on onnxruntime-web's wasm-only build (plain SIMD wasm, no asyncify), used instead when the EP is wasm (the
   * asyncify build that the WebGPU bundle needs ran the RWKV trace ~10x slower: docs/benchmarks.md, chapter 9)
   */
  wasmOnly?: { workerUrl: string; wasmUrl: string };
  ep?: EpPreference;
}

/** The badge's words for the engines that run the workers (one entry per worker). */
export function workersBackend(eps: readonly ("webgpu" | "wasm")[]): string {
  const names = [...new Set(eps)].join(" and ");
  const count = ["no", "one", "two", "three", "four"][eps.length] ?? String(eps.length);
  return `onnxruntime-web (${names}) in ${count} workers, both models at once`;
}

/**
 * Several workers holding the same model as one runner: each sends `begin` and `run` to all (the clean and
 * corrupted runs are one batch row each, cheap), and splits each `rows` call between them, positions interleaved so
 * that the parts cost about the same (a restored run from t costs the steps after t). On wasm the GPT, whose trace
 * takes about twice the RWKV's, gets two: when the RWKV's worker is done, both cores serve the GPT
 * (docs/benchmarks.md, chapter 9).
 */
export function sharedRunner(runners: readonly TraceRunner[]): TraceRunner {
  const n = runners.length;
  return {
    rowsPerCall: runners[0].rowsPerCall,
    begin: async (job) => {
      await Promise.all(runners.map((r) => r.begin(job)));
    },
    run: async (noise) => (await Promise.all(runners.map((r) => r.run(noise))))[0],
    rows: async (ts) => {
      const parts = runners.map((_, k) => ts.filter((_, i) => i % n === k));
      const out = await Promise.all(runners.map((r, k) => (parts[k].length ? r.rows(parts[k]) : [])));
      return ts.map((_, i) => out[i % n][Math.floor(i / n)]);
    },
  };
}

export function openTracedPair(
  handle: ModelHandle,
  loadGpt: () => Promise<GptModel>,
  runtime?: TraceRuntime,
): Handle<TracedPair> {
  const clients: TraceWorkerClient[] = [];
  return startHandle(
    async (setFallback) => {
      const [live, gpt] = await Promise.all([handle.ready, loadGpt()]);
      const rwkv = new RwkvModel(live.weights);
      if (!runtime) return { rwkv, gpt, backend: REFERENCE_BACKEND };
      try {
        const { ep } = await chooseEp(runtime.ep);
        const urls = ep === "wasm" && runtime.wasmOnly ? runtime.wasmOnly : runtime;
        const open = (source: Parameters<typeof TraceWorkerClient.create>[0]["source"]) =>
          TraceWorkerClient.create({
            workerUrl: urls.workerUrl,
            wasmUrl: urls.wasmUrl,
            ep,
            source,
            initTimeoutMs: SMALL_MODEL_INIT_MS,
          });
        // on wasm a second GPT worker (sharedRunner); on WebGPU one each. Every start is waited for, so that when
        // one fails the others that did start are released below, not left running beside the fallback
        const started = await Promise.allSettled([
          open({ kind: "rwkv", weights: live.weights }).then((c) => (clients.push(c), c)),
          ...Array.from({ length: ep === "wasm" ? 2 : 1 }, () =>
            open({ kind: "gpt", weights: gpt.weights }).then((c) => (clients.push(c), c)),
          ),
        ]);
        const failed = started.find((s) => s.status === "rejected");
        if (failed) throw failed.reason;
        const [r, ...gs] = started.map((s) => (s as PromiseFulfilledResult<TraceWorkerClient>).value);
        return {
          rwkv,
          gpt,
          runners: { rwkv: r, gpt: gs.length > 1 ? sharedRunner(gs) : gs[0] },
          backend: workersBackend([r.ep, ...gs.map((g) => g.ep)]),
          engine: [r, ...gs].every((c) => c.ep === "webgpu") ? "webgpu" : "wasm",
        };
      } catch (e) {
        await Promise.all(clients.splice(0).map((c) => c.dispose().catch(() => undefined)));
        const why = e instanceof Error ? e.message : String(e);
        setFallback(`the trace workers could not start (${why}): the reference models run in this page`);
        return { rwkv, gpt, backend: `${REFERENCE_BACKEND} (the workers could not start: ${why})` };
      }
    },
    {
      off: handle.status === "off",
      dispose: async () => {
        await Promise.all(clients.splice(0).map((c) => c.dispose().catch(() => undefined)));
      },
    },
  );
}

export function readyOrOff<T>(handle: Handle<T>): Promise<T> {
  return handle.status === "off"
    ? Promise.reject(new Error("the live model is switched off (?live=0 in the address)"))
    : handle.ready;
}
