/**
 * The onnxruntime-web backend of the explainer (browser): the same LiveModel interface as the reference model,
 * with generation run by the model worker of src/runtime/ (WebGPU when the browser has an adapter, else wasm).
 * Traces still come from the reference model (the figures need every intermediate tensor and the per-token
 * state), so a TraceView keeps saying "reference (JS)"; the try-it box's generation says "webgpu" or "wasm".
 *
 * API:
 *   openOrtModel(reference, {workerUrl, wasmUrl, ep?}) -> OrtHandle {status, ready: Promise<LiveModel>, error?,
 *                                                                   fallbackReason?}
 *     reference: the ModelHandle of openModel (its weights are sent to the worker once it is ready)
 *   chooseEp(requested?) -> Promise<{ep, reason?}>   "wasm" when the only WebGPU adapter is a software fallback
 *                                                   (SwiftShader: ~0.5 s a token for this model, wasm ~5 ms);
 *                                                   `?ep=webgpu|wasm` in the page URL overrides
 */
import { RwkvWorkerClient, type EpPreference } from "../runtime/client.js";
import { Sampler } from "../rwkv/sampling.js";
import {
  countStateNumbers,
  type GeneratedToken,
  type GenerateOptions,
  type LiveModel,
  type ModelHandle,
} from "./live-model.js";

export interface OrtHandle {
  status: "loading" | "ready" | "failed" | "off";
  ready: Promise<LiveModel>;
  error?: Error;
  /** why WebGPU was not used, when the worker fell back to wasm */
  fallbackReason?: string;
  loadMs?: number;
}

export interface OrtOptions {
  workerUrl: string;
  wasmUrl: string;
  ep?: EpPreference;
}

interface GpuLike {
  requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean } | null>;
}

export async function chooseEp(requested?: EpPreference): Promise<{ ep: EpPreference; reason?: string }> {
  const fromUrl = new URLSearchParams(globalThis.location?.search ?? "").get("ep");
  if (fromUrl === "webgpu" || fromUrl === "wasm" || fromUrl === "auto")
    return { ep: fromUrl, reason: "?ep= in the address" };
  if (requested) return { ep: requested };
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return { ep: "wasm", reason: "this browser has no WebGPU" };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { ep: "wasm", reason: "no WebGPU adapter" };
    const fallback = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
    return fallback
      ? { ep: "wasm", reason: "the only WebGPU adapter is a software fallback (slower than wasm)" }
      : { ep: "auto" };
  } catch {
    return { ep: "wasm", reason: "requesting a WebGPU adapter failed" };
  }
}

export function openOrtModel(reference: ModelHandle, opts: OrtOptions): OrtHandle {
  const t0 = performance.now();
  const handle: OrtHandle = { status: "loading", ready: Promise.resolve(undefined as never) };
  if (reference.status === "off") {
    handle.status = "off";
    handle.ready = new Promise<never>(() => {});
    return handle;
  }
  handle.ready = (async () => {
    try {
      const ref = await reference.ready;
      const choice = await chooseEp(opts.ep);
      const client = await RwkvWorkerClient.create({
        workerUrl: opts.workerUrl,
        wasmUrl: opts.wasmUrl,
        ep: choice.ep,
        mode: "both",
        parallelLogits: "last",
        // WebGPU: each generated token replays one recorded sequence of GPU dispatches (wasm ignores it)
        graphCapture: true,
        source: { weights: ref.weights },
      });
      handle.fallbackReason = client.fallbackReason ?? (client.ep === "wasm" ? choice.reason : undefined);
      const chars = [...ref.card.vocabulary];
      let busy: Promise<unknown> = Promise.resolve();
      const model: LiveModel = {
        get backend() {
          return client.ep;
        },
        card: ref.card,
        weights: ref.weights,
        config: ref.config,
        trace: (prompt) => ref.trace(prompt),
        async *generate(promptTokens: readonly number[], g: GenerateOptions): AsyncGenerator<GeneratedToken> {
          // one generation at a time on the worker's single kept state
          const previous = busy;
          let done!: () => void;
          busy = new Promise<void>((resolve) => (done = resolve));
          await previous;
          try {
            const sampler = new Sampler(g.seed);
            const V = ref.config.vocabSize;
            await client.reset();
            const first = await client.forward(promptTokens);
            let logits = first.logits.subarray(first.logits.length - V);
            let ms = first.ms;
            const stateNumbers = countStateNumbers(await client.getState());
            for (let i = 0; i < g.maxTokens; i++) {
              const token = sampler.sample(logits, { temperature: g.temperature, topP: g.topP });
              yield {
                index: i,
                token,
                char: chars[token] ?? "?",
                position: promptTokens.length + i + 1,
                ms,
                stateNumbers,
              };
              const out = await client.step(token);
              logits = out.logits;
              ms = out.ms;
            }
          } finally {
            done();
          }
        },
      };
      handle.status = "ready";
      handle.loadMs = performance.now() - t0;
      return model;
    } catch (error) {
      handle.status = "failed";
      handle.error = error instanceof Error ? error : new Error(String(error));
      throw handle.error;
    }
  })();
  handle.ready.catch(() => {});
  return handle;
}
