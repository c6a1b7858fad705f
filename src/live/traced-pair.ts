/**
 * Chapter 9's live models: the causal trace restores one block's output at one position, which only the reference
 * models' hooks can do (the ONNX graphs take token ids and give logits), so the trace runs on the reference RWKV
 * built from the chapter handle's weights (the same weights the other chapters' live model loads) and on the
 * reference GPT beside it. One Handle for both, so the badge and `?live=0` mean what they mean elsewhere.
 *
 * API:
 *   openTracedPair(handle, loadGpt) -> Handle<TracedPair>   off when the chapter's handle is off
 *   readyOrOff(handle) -> Promise<T>     handle.ready, or a rejection saying the live model is off (?live=0), so
 *                                        that a live run reports it instead of waiting for ever
 */
import type { TracedPair } from "../chapters/memory/chapter.js";
import { RwkvModel } from "../rwkv/model.js";
import type { GptModel } from "../transformer/gpt.js";
import { startHandle, type Handle } from "./handle.js";
import type { ModelHandle } from "./live-model.js";

export function openTracedPair(handle: ModelHandle, loadGpt: () => Promise<GptModel>): Handle<TracedPair> {
  return startHandle(
    async () => {
      const [live, gpt] = await Promise.all([handle.ready, loadGpt()]);
      return { rwkv: new RwkvModel(live.weights), gpt };
    },
    { off: handle.status === "off" },
  );
}

export function readyOrOff<T>(handle: Handle<T>): Promise<T> {
  return handle.status === "off"
    ? Promise.reject(new Error("the live model is switched off (?live=0 in the address)"))
    : handle.ready;
}
