/**
 * The figures' traces from the ONNX graphs: a Tracer (src/trace/trace.ts) backed by a model worker of
 * src/runtime/ built with introspection outputs (probes), WebGPU when the browser has a hardware adapter, else
 * wasm. The graph's probes become the same Trace object the reference model gives (src/onnx/probe-trace.ts).
 *
 * API:
 *   openOrtTracer(weights, {workerUrl, wasmUrl, ep?}) -> Promise<OrtTracer>
 *   interface OrtTracer {tracer, backend(): "webgpu" | "wasm", fallbackReason, buildSeconds, dispose()}
 */
import { traceFromProbes } from "../onnx/probe-trace.js";
import { RwkvWorkerClient, SMALL_MODEL_INIT_MS, type EpPreference } from "../runtime/client.js";
import { chooseEp } from "../runtime/ep-policy.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import type { Tracer } from "../trace/trace.js";

export interface RuntimeUrls {
  /** the runtime's worker script (FileAttachment("data/ort-worker.js").href) */
  workerUrl: string;
  /** onnxruntime-web's wasm, served by the site (FileAttachment("data/ort-wasm.wasm").href) */
  wasmUrl: string;
  ep?: EpPreference;
}

export interface OrtTracer {
  tracer: Tracer;
  /** the execution provider that runs the graphs now (it becomes "wasm" if the GPU device is lost) */
  backend(): "webgpu" | "wasm";
  /** why WebGPU is not used, when it is not (also after a lost GPU device) */
  readonly fallbackReason: string | undefined;
  /** seconds the worker took to build the graphs and sessions */
  buildSeconds: number;
  dispose(): Promise<void>;
}

/**
 * Tokens per parallel-graph call: the WKV and the state probes hold (T+1, T, C) tensors, so the work grows with
 * T^2 per call; 32-token chunks keep a 128-token prompt at a quarter of one 128-token call's WKV work.
 */
export const TRACE_CHUNK = 32;

export async function openOrtTracer(weights: RwkvWeights, urls: RuntimeUrls): Promise<OrtTracer> {
  const choice = await chooseEp(urls.ep);
  const client = await RwkvWorkerClient.create({
    workerUrl: urls.workerUrl,
    wasmUrl: urls.wasmUrl,
    ep: choice.ep,
    mode: "parallel",
    probes: true,
    parallelLogits: "last",
    chunk: TRACE_CHUNK,
    source: { weights },
    initTimeoutMs: SMALL_MODEL_INIT_MS,
  });
  const tracer: Tracer = async (tokens, state) => {
    let r;
    try {
      r = await client.forward(tokens, state ?? "initial");
    } catch (e) {
      // a lost GPU device: the worker has rebuilt the model on wasm (the badge then says wasm and why); once more
      if ((e as { code?: unknown }).code !== "device-lost") throw e;
      r = await client.forward(tokens, state ?? "initial");
    }
    if (!r.probes) throw new Error("the model worker returned no probes");
    return traceFromProbes(r.probes, weights, tokens.length);
  };
  return {
    tracer,
    backend: () => client.ep,
    get fallbackReason() {
      return client.fallbackReason ?? (client.ep === "wasm" ? choice.reason : undefined);
    },
    buildSeconds: client.init.buildSeconds,
    dispose: () => client.dispose(),
  };
}
