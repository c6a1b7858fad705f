/**
 * The live transformer baseline of chapter 2: its card, its precomputed attention for the default prompt, and a
 * Handle (src/live/handle.ts) on the model that computes the softmax attention of any prompt. Its attention runs
 * on its ONNX graph in onnxruntime-web's worker (the provider from src/runtime/ep-policy.ts), with the attention
 * weights as graph outputs; if the worker cannot start, on the JS transformer (the handle's fallbackReason says
 * why, and the figure's subtitle says which ran). The weights load after the page has painted.
 *
 * API:
 *   openGpt(files, {runtime?}) -> Promise<LiveGpt>     reads the card and the precomputed attention, starts loading
 *   interface LiveGpt {card, precomputed, handle, warning, stream(prompt, vocabulary), problem, note(), dispose()}
 *     stream(prompt, vocabulary)   async generator for a page cell: the precomputed attention at once when the
 *                                  prompt is the default one, then the live one; null when there is none (the
 *                                  reason is then in `problem`)
 *     note()                       why the softmax panel is not shown (failed, off, or still computing)
 */
import type { GptAttention } from "../chapters/attention.js";
import { decodeGptAttention } from "../chapters/attention.js";
import { GptWorkerClient, SMALL_MODEL_INIT_MS, type EpPreference } from "../runtime/client.js";
import { chooseEp } from "../runtime/ep-policy.js";
import type { EncodedPrompt } from "../trace/prompt.js";
import type { GptModel } from "../transformer/gpt.js";
import { GptAttentionCache } from "./gpt-attention.js";
import { OrtGptAttentionCache } from "./gpt-ort-attention.js";
import { gptCardFromJson, gptFromCard, gptLabel, type GptCard } from "./gpt-source.js";
import { liveDisabledByUrl, startHandle, type Handle } from "./handle.js";

/** Framework's FileAttachment, as much of it as this module reads (a test double will do). */
export interface GptFile {
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
  href: string;
}

export interface GptFiles {
  /** data/tiny-gpt.json: the card */
  card: GptFile;
  /** data/tiny-gpt.safetensors, fetched only when the live model starts (and never for the synthetic stand-in) */
  weights: GptFile;
  /** data/traces/attention-gpt.json: the default prompt's attention, computed at build time */
  precomputed: GptFile;
  /** data/ort-worker.js and data/ort-wasm.wasm: with both, the attention runs on onnxruntime-web */
  worker?: GptFile;
  wasm?: GptFile;
}

/** What computes the attention of a prompt: the ONNX graph's cache, or the JS transformer's. */
export interface GptAttentionSource {
  model: GptModel;
  attention(tokens: readonly number[], meta: { text: string; synthetic: boolean }): Promise<GptAttention>;
}

export interface LiveGpt {
  card: GptCard;
  precomputed: GptAttention;
  handle: Handle<GptAttentionSource>;
  /** what the reader must know about the model (a synthetic stand-in), or null */
  warning: string | null;
  /** why the last prompt has no live attention (too long, another vocabulary, a failed run); null when it has */
  problem: Error | null;
  stream(prompt: EncodedPrompt, vocabulary: string): AsyncGenerator<GptAttention | null>;
  note(): string;
  dispose(): Promise<void>;
}

/** The JS transformer, incremental while the reader types. */
function reference(model: GptModel): GptAttentionSource {
  const cache = new GptAttentionCache(model);
  return { model, attention: async (tokens, meta) => cache.attention(tokens, meta) };
}

const nextFrame = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

export async function openGpt(files: GptFiles, { ep }: { ep?: EpPreference } = {}): Promise<LiveGpt> {
  const [cardJson, preJson] = await Promise.all([files.card.json(), files.precomputed.json()]);
  const card = gptCardFromJson(cardJson);
  const precomputed = decodeGptAttention(preJson);
  let client: GptWorkerClient | undefined;
  const handle = startHandle<GptAttentionSource>(
    async (setFallback) => {
      await nextFrame(); // let the precomputed figures paint first
      const bytes = card.synthetic ? null : new Uint8Array(await files.weights.arrayBuffer());
      const model = gptFromCard(card, bytes);
      if (!files.worker || !files.wasm) return reference(model);
      try {
        const choice = await chooseEp(ep);
        client = await GptWorkerClient.create({
          workerUrl: files.worker.href,
          wasmUrl: files.wasm.href,
          ep: choice.ep,
          attention: true,
          source: { weights: model.weights },
          initTimeoutMs: SMALL_MODEL_INIT_MS,
        });
        // typing at the end runs only the new characters through the worker's KV cache
        const ort = new OrtGptAttentionCache(client, model.config);
        return { model, attention: (tokens, meta) => ort.attention(tokens, meta) };
      } catch (e) {
        const reason = `onnxruntime-web could not start the transformer (${e instanceof Error ? e.message : String(e)}); its attention comes from the JS transformer`;
        setFallback(reason);
        console.warn(reason);
        return reference(model);
      }
    },
    { off: liveDisabledByUrl(), dispose: () => client?.dispose().catch(() => undefined) },
  );

  const gpt: LiveGpt = {
    card,
    precomputed,
    handle,
    warning: card.synthetic
      ? `The transformer baseline is a ${gptLabel(card)} stand-in until its trained weights are shipped: its attention pattern is not learned.`
      : null,
    problem: null,
    async *stream(prompt, vocabulary) {
      if (!prompt.tokens.length) return yield null;
      const matches = precomputed.text === prompt.text;
      if (matches && handle.status !== "ready") yield precomputed;
      if (handle.status === "off") return matches ? undefined : yield null;
      let source: GptAttentionSource;
      try {
        source = await handle.ready;
      } catch {
        return matches ? undefined : yield null; // note() says why
      }
      const { vocabSize, blockSize } = source.model.config;
      if (vocabSize !== [...vocabulary].length) {
        gpt.problem = new Error("its vocabulary differs from the RWKV's");
        return yield null;
      }
      if (prompt.tokens.length > blockSize) {
        gpt.problem = new Error(`the prompt is longer than its context of ${blockSize} characters`);
        return yield null;
      }
      gpt.problem = null;
      try {
        yield await source.attention(prompt.tokens, { text: prompt.text, synthetic: card.synthetic });
      } catch (e) {
        gpt.problem = e instanceof Error ? e : new Error(String(e));
        yield null;
      }
    },
    note() {
      const error = gpt.problem ?? handle.error;
      if (error) return `The transformer's attention is not shown: ${error.message}.`;
      if (handle.status === "off")
        return "The live models are off (?live=0): the transformer's attention is precomputed for the default prompt only.";
      return "The transformer's attention for this prompt is still being computed…";
    },
    dispose: () => handle.dispose(),
  };
  return gpt;
}
