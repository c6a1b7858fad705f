// Data loader: chapter 2's precomputed RWKV trace (default prompt): k, from which the page draws the WKV weights
// of any layer and channel at once; and, checked here at build time over every layer and channel, the largest
// difference between sum_i alpha_{t,i} v_i and the model's own wkv_t (v and wkv themselves would triple the file).
import { applyRows, wkvAttentionMatrix } from "../../components/attention-heatmap.js";
import { loadBuildModel } from "../../explainer/build-model.js";
import { CHAPTER_PROMPTS } from "../../explainer/defaults.js";
import { encodePrompt } from "../../explainer/prompt.js";
import { encodeTrace, viewOfTrace } from "../../explainer/trace.js";

const { card, weights, model } = loadBuildModel();
const { prompt, maxTokens } = CHAPTER_PROMPTS.attention;
const enc = encodePrompt(prompt, card.vocabulary, { maxTokens });
const { trace } = model.forward(enc.tokens, undefined, { trace: true });
const view = viewOfTrace(trace!, enc.tokens, {
  labels: enc.labels,
  text: enc.text,
  backend: "reference (JS)",
  synthetic: card.synthetic,
});
const { T, C } = trace!;
let maxAbsDiff = 0;
trace!.layers.forEach((lt, l) => {
  const { w, u } = weights.blocks[l].att;
  for (let c = 0; c < C; c++) {
    const y = applyRows(wkvAttentionMatrix(lt.k, w, u, T, C, c), lt.v, T, C, c);
    for (let t = 0; t < T; t++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(y[t] - lt.wkv[t * C + c]));
  }
});
process.stdout.write(
  JSON.stringify({
    trace: encodeTrace(view, { fields: ["k"] }),
    check: { maxAbsDiff, layers: trace!.layers.length, channels: C, positions: T },
  }),
);
