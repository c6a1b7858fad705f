/**
 * The page-side model: weights -> a LiveModel that traces prompts and generates text, behind a small backend
 * interface so the pages can switch from the reference model (JS, main thread) to the onnxruntime-web runtime
 * (src/runtime/, "webgpu" | "wasm") without changing a figure. DOM-free apart from setTimeout (runs in vitest).
 *
 * API:
 *   interface LiveModel {backend, card, weights, config,
 *                        trace(prompt: EncodedPrompt): Promise<TraceView>,
 *                        generate(tokens, opts): AsyncGenerator<GeneratedToken>}
 *   referenceModel(card, weights) -> LiveModel        the reference model (src/rwkv/model.ts), incremental traces
 *   interface ModelHandle {card, status, ready: Promise<LiveModel>, error?}
 *   openModel(card, loadBytes, {runtime?}) -> ModelHandle   starts loading; pages keep the handle (not a promise)
 *                                                     in a cell so figures do not wait for it; with `runtime` the
 *                                                     traces run on the ONNX graphs (onnxruntime-web worker)
 *   traceStream({prompt, precomputed, handle})        async generator for a page cell: yields the precomputed trace
 *                                                     at once when it matches the prompt, then the live one
 */
import { RwkvModel } from "../rwkv/model.js";
import { Sampler } from "../rwkv/sampling.js";
import type { RwkvConfig, RwkvState, RwkvWeights } from "../rwkv/weights.js";
import type { ModelCard } from "./model-source.js";
import { weightsFromCard } from "./model-source.js";
import { liveDisabledByUrl, startHandle, type Handle, type HandleStatus } from "./handle.js";
import { openOrtTracer, type OrtTracer, type RuntimeUrls } from "./ort-trace.js";
import type { EncodedPrompt } from "../trace/prompt.js";
import {
  TraceCache,
  TraceError,
  referenceTracer,
  type Backend,
  type Tracer,
  type TraceView,
} from "../trace/trace.js";

export interface GenerateOptions {
  /** 0 = greedy */
  temperature: number;
  topP: number;
  seed: number;
  maxTokens: number;
  /** yield to the UI every this many tokens (default 1) */
  yieldEvery?: number;
}

export interface GeneratedToken {
  /** 0-based index of the generated token */
  index: number;
  token: number;
  char: string;
  /** tokens processed so far (prompt + generated): the KV cache a transformer would hold grows with it */
  position: number;
  /** milliseconds this step took */
  ms: number;
  /** numbers in the state object the model carries after this token (counted, not computed from a formula) */
  stateNumbers: number;
}

/** Count the numbers held in a recurrent state (every vector of every layer). */
export function countStateNumbers(state: RwkvState): number {
  let n = 0;
  for (const s of state) n += s.attX.length + s.a.length + s.b.length + s.p.length + s.ffnX.length;
  return n;
}

export interface LiveModel {
  readonly backend: Backend;
  readonly card: ModelCard;
  readonly weights: RwkvWeights;
  readonly config: RwkvConfig;
  trace(prompt: EncodedPrompt): Promise<TraceView>;
  /**
   * The prompt's trace at once, or undefined: a prefix of the last trace, or (when the traces run in the worker)
   * the last trace extended by a character or two on the reference model in the page (TraceCache.quick). `trace`
   * still gives the engine's own trace, which replaces it.
   */
  quickTrace?(prompt: EncodedPrompt): TraceView | undefined;
  generate(promptTokens: readonly number[], opts: GenerateOptions): AsyncGenerator<GeneratedToken>;
}

const nextFrame = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * The reference model (src/rwkv/model.ts, main thread). With `tracer`, the traces come from it instead (the ONNX
 * graphs in the runtime's worker: src/live/ort-trace.ts) and `backend` says which EP ran them; generation
 * stays on the reference model (chapter 1 generates through src/live/ort-model.ts).
 */
export function referenceModel(
  card: ModelCard,
  weights: RwkvWeights,
  traced?: { tracer: Tracer; backend: () => Backend },
): LiveModel {
  const model = new RwkvModel(weights);
  const backend = traced?.backend ?? (() => "reference (JS)" as const);
  const reference = referenceTracer(model);
  const cache = new TraceCache(
    traced?.tracer ?? reference,
    weights,
    { backend, synthetic: card.synthetic },
    // a character typed at the end: the reference model has its column in about 3 ms, in the keystroke's frame
    traced ? { tracer: reference, backend: "reference (JS)", maxTokens: 2 } : undefined,
  );
  const chars = [...card.vocabulary];
  return {
    get backend() {
      return backend();
    },
    card,
    weights,
    config: weights.config,
    async trace(prompt: EncodedPrompt): Promise<TraceView> {
      if (prompt.tokens.length === 0)
        throw new TraceError("the prompt is empty: type at least one character");
      return cache.trace(prompt.tokens, prompt.labels, prompt.text);
    },
    quickTrace: (prompt) => cache.quick(prompt.tokens, prompt.labels, prompt.text),
    async *generate(promptTokens: readonly number[], opts: GenerateOptions): AsyncGenerator<GeneratedToken> {
      if (promptTokens.length === 0) throw new TraceError("the prompt is empty: type at least one character");
      const sampler = new Sampler(opts.seed);
      const t0 = performance.now();
      // prompt ingestion in parallel mode (last logits only), then RNN mode one token at a time
      const first = model.forward(promptTokens, undefined, { lastOnly: true });
      let logits = first.logits;
      let state: RwkvState = first.state;
      let ms = performance.now() - t0;
      for (let i = 0; i < opts.maxTokens; i++) {
        const token = sampler.sample(logits, { temperature: opts.temperature, topP: opts.topP });
        yield {
          index: i,
          token,
          char: chars[token] ?? "?",
          position: promptTokens.length + i + 1,
          ms,
          stateNumbers: countStateNumbers(state),
        };
        if ((i + 1) % (opts.yieldEvery ?? 1) === 0) await nextFrame();
        const s = performance.now();
        const out = model.step(token, state);
        logits = out.logits;
        state = out.state;
        ms = performance.now() - s;
      }
    },
  };
}

export type ModelStatus = HandleStatus;
export { liveDisabledByUrl };

/** The page's model: a Handle (src/live/handle.ts) on a LiveModel, with the card it was opened from. */
export interface ModelHandle extends Handle<LiveModel> {
  card: ModelCard;
}

export interface OpenModelOptions {
  /**
   * Run the figures' traces on onnxruntime-web (WebGPU, else wasm) in the runtime's worker. Without it, or if the
   * worker cannot start, they run on the reference model in the page (the badge says so).
   */
  runtime?: RuntimeUrls;
}

/** Start loading the weights (bytes fetched lazily, only for a trained model) and build the live model. */
export function openModel(
  card: ModelCard,
  loadBytes: () => Promise<ArrayBuffer>,
  opts: OpenModelOptions = {},
): ModelHandle {
  let tracer: OrtTracer | undefined;
  const handle = startHandle<LiveModel>(
    async (setFallback) => {
      await nextFrame(); // let the precomputed figures paint first
      const bytes = card.synthetic ? null : new Uint8Array(await loadBytes());
      const weights = weightsFromCard(card, bytes);
      if (!opts.runtime) return referenceModel(card, weights);
      try {
        const ort = await openOrtTracer(weights, opts.runtime);
        tracer = ort;
        setFallback(() => ort.fallbackReason);
        return referenceModel(card, weights, ort);
      } catch (error) {
        // the figures still work, on the reference model; the badge shows why
        const reason = `onnxruntime-web could not start (${error instanceof Error ? error.message : String(error)}); the figures use the reference model in JavaScript`;
        setFallback(reason);
        console.warn(reason);
        return referenceModel(card, weights);
      }
    },
    { off: liveDisabledByUrl(), dispose: () => tracer?.dispose() },
  );
  return Object.assign(handle, { card });
}

export interface TraceStreamOptions {
  prompt: EncodedPrompt;
  /** the build-time trace of the chapter's default prompt (decodeTrace of its loader's JSON), if any */
  precomputed?: TraceView | null;
  handle: ModelHandle;
}

/**
 * For a page cell: `const view = traceStream({prompt, precomputed, handle})`. Yields the precomputed trace
 * immediately when the prompt is the default one, then the live trace once the model is ready. It never throws
 * for the expected cases (Framework would log a console error): with no trace to show (live model off or failed
 * and the prompt is not the default) it yields null, and `missingTraceMessage` says why.
 */
export async function* traceStream({
  prompt,
  precomputed,
  handle,
}: TraceStreamOptions): AsyncGenerator<TraceView | null> {
  if (prompt.tokens.length === 0) {
    yield null;
    return;
  }
  const matches = !!precomputed && precomputed.text === prompt.text;
  if (matches && handle.status !== "ready") yield precomputed!;
  if (handle.status === "off") {
    if (!matches) yield null;
    return;
  }
  let model: LiveModel;
  try {
    model = await handle.ready;
  } catch {
    if (!matches) yield null;
    return;
  }
  yield await model.trace(prompt);
}

/** The sentence to show in place of the figures when traceStream yielded null (or the prompt is empty). */
export function missingTraceMessage(prompt: EncodedPrompt, handle: ModelHandle): string {
  if (prompt.tokens.length === 0) {
    return "Type a prompt above: the figures need at least one character the model knows.";
  }
  if (handle.status === "off") {
    return "The live model is off (?live=0 in the address): only the chapter's default prompt has a precomputed trace. Remove ?live=0 or restore the default prompt.";
  }
  if (handle.status === "failed") {
    return `The model could not be loaded (${handle.error?.message ?? "unknown error"}), and only the chapter's default prompt has a precomputed trace.`;
  }
  return "The model is still loading…";
}
