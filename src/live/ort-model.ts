/**
 * The onnxruntime-web backend of the explainer (browser): the same LiveModel interface as the reference model,
 * with generation run by the model worker of src/runtime/ (WebGPU when the browser has an adapter, else wasm).
 * Traces still come from the reference model (the figures need every intermediate tensor and the per-token
 * state), so a TraceView keeps saying "reference (JS)"; the try-it box's generation says "webgpu" or "wasm".
 *
 * API:
 *   openOrtModel(reference, {workerUrl, wasmUrl, ep?}) -> OrtHandle (a Handle<LiveModel>, src/live/handle.ts)
 *     reference: the ModelHandle of openModel (its weights are sent to the worker once it is ready)
 *   The execution provider comes from the one policy, chooseEp (src/runtime/ep-policy.ts).
 */
import { RwkvWorkerClient, SMALL_MODEL_INIT_MS, type EpPreference } from "../runtime/client.js";
import { chooseEp } from "../runtime/ep-policy.js";
import { Sampler } from "../rwkv/sampling.js";
import { SerialQueue } from "../util/serial.js";
import { startHandle, type Handle } from "./handle.js";
import {
  countStateNumbers,
  type GeneratedToken,
  type GenerateOptions,
  type LiveModel,
  type ModelHandle,
} from "./live-model.js";

export type OrtHandle = Handle<LiveModel>;

export interface OrtOptions {
  workerUrl: string;
  wasmUrl: string;
  ep?: EpPreference;
}

export function openOrtModel(reference: ModelHandle, opts: OrtOptions): OrtHandle {
  let client: RwkvWorkerClient | undefined;
  return startHandle<LiveModel>(
    async (setFallback) => {
      const ref = await reference.ready;
      const choice = await chooseEp(opts.ep);
      const c = await RwkvWorkerClient.create({
        workerUrl: opts.workerUrl,
        wasmUrl: opts.wasmUrl,
        ep: choice.ep,
        mode: "both",
        parallelLogits: "last",
        // WebGPU: each generated token replays one recorded sequence of GPU dispatches (wasm ignores it)
        graphCapture: true,
        source: { weights: ref.weights },
        initTimeoutMs: SMALL_MODEL_INIT_MS,
      });
      client = c;
      setFallback(c.fallbackReason ?? (c.ep === "wasm" ? choice.reason : undefined));
      const chars = [...ref.card.vocabulary];
      // one generation at a time on the worker's single kept state
      const serial = new SerialQueue();
      const model: LiveModel = {
        get backend() {
          return c.ep;
        },
        card: ref.card,
        weights: ref.weights,
        config: ref.config,
        trace: (prompt) => ref.trace(prompt),
        async *generate(promptTokens: readonly number[], g: GenerateOptions): AsyncGenerator<GeneratedToken> {
          const release = await serial.lock();
          try {
            const sampler = new Sampler(g.seed);
            const V = ref.config.vocabSize;
            await c.reset();
            const first = await c.forward(promptTokens);
            let logits = first.logits.subarray(first.logits.length - V);
            let ms = first.ms;
            const stateNumbers = countStateNumbers(await c.getState());
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
              const out = await c.step(token);
              logits = out.logits;
              ms = out.ms;
            }
          } finally {
            release();
          }
        },
      };
      return model;
    },
    { off: reference.status === "off", dispose: () => client?.dispose() },
  );
}
