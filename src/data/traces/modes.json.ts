// Data loader: chapter 8's precomputed comparison (default prompt): the reference model's RNN mode and parallel
// mode logits, and their times in Node at build time (the page replaces them with a run in the browser).
import { loadBuildModel } from "../../build/build-model.js";
import { encodeModes, referenceModes, runModes } from "../../chapters/modes.js";
import { CHAPTER_PROMPTS } from "../../chapters/defaults.js";
import { encodePrompt } from "../../trace/prompt.js";

const { card, model } = loadBuildModel();
const { prompt, maxTokens } = CHAPTER_PROMPTS.rnnParallel;
const enc = encodePrompt(prompt, card.vocabulary, { maxTokens });
const runs = await runModes(referenceModes(model), enc.tokens, { repeat: 3 });
process.stdout.write(
  JSON.stringify(
    encodeModes({
      text: enc.text,
      labels: enc.labels,
      V: model.config.vocabSize,
      runs: [runs[0], runs[1]],
      where: `precomputed at build time (Node ${process.version})`,
      synthetic: card.synthetic,
    }),
  ),
);
