// Data loader: chapter 2's precomputed softmax attention of the transformer baseline (default prompt, every
// layer and head), from the transformer's ONNX graph with attention outputs on ORT wasm, as the page runs it.
import { encodeGptAttention } from "../../chapters/attention.js";
import { CHAPTER_PROMPTS } from "../../chapters/defaults.js";
import { loadBuildGpt } from "../../build/gpt-build.js";
import { OrtGptAttentionCache } from "../../live/gpt-ort-attention.js";
import { encodePrompt } from "../../trace/prompt.js";
import { createOrtGpt, type GptCache } from "../../runtime/node.js";

const { card, model } = loadBuildGpt();
const { prompt, maxTokens } = CHAPTER_PROMPTS.attention;
const enc = encodePrompt(prompt, card.vocabulary, { maxTokens });
const gpt = await createOrtGpt(model.weights, { attention: true });
let cache: GptCache = gpt.newCache();
const att = await new OrtGptAttentionCache(
  {
    ep: gpt.ep,
    reset: async () => void (cache = gpt.newCache()),
    forward: async (tokens) => {
      const r = await gpt.forward(tokens, cache);
      cache = r.cache;
      return r;
    },
  },
  model.config,
).attention(enc.tokens, { text: enc.text, synthetic: card.synthetic });
await gpt.dispose();
process.stdout.write(JSON.stringify(encodeGptAttention({ ...att, source: "precomputed" })));
