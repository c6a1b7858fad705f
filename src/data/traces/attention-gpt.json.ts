// Data loader: chapter 2's precomputed softmax attention of the transformer baseline (default prompt, every
// layer and head).
import { encodeGptAttention, gptAttention } from "../../explainer/chapter-data.js";
import { CHAPTER_PROMPTS } from "../../explainer/defaults.js";
import { loadBuildGpt } from "../../explainer/gpt-build.js";
import { encodePrompt } from "../../explainer/prompt.js";

const { card, model } = loadBuildGpt();
const { prompt, maxTokens } = CHAPTER_PROMPTS.attention;
const enc = encodePrompt(prompt, card.vocabulary, { maxTokens });
const att = gptAttention(model, enc.tokens, {
  text: enc.text,
  synthetic: card.synthetic,
  source: "precomputed",
});
process.stdout.write(JSON.stringify(encodeGptAttention(att)));
