// Data loader: chapter 6's precomputed sparsity numbers (default prompt): zero fractions per layer and token,
// histograms of k' (the full (T, F) activations would be ~0.8 MB; the figure needs only these).
import { loadBuildModel } from "../../explainer/build-model.js";
import { encodeSparsity, sparsitySummary } from "../../explainer/chapter-data.js";
import { CHAPTER_PROMPTS } from "../../explainer/defaults.js";
import { encodePrompt } from "../../explainer/prompt.js";
import { viewOfTrace } from "../../explainer/trace.js";

const { card, model } = loadBuildModel();
const { prompt, maxTokens } = CHAPTER_PROMPTS.channelMixing;
const enc = encodePrompt(prompt, card.vocabulary, { maxTokens });
const res = model.forward(enc.tokens, undefined, { trace: true });
const view = viewOfTrace(res.trace!, enc.tokens, {
  labels: enc.labels,
  text: enc.text,
  backend: "reference (JS)",
  synthetic: card.synthetic,
});
process.stdout.write(JSON.stringify(encodeSparsity({ ...sparsitySummary(view), source: "precomputed" })));
