// Data loader: chapter 3's precomputed trace (default prompt, reference model at build time).
import { printTrace } from "../../explainer/build-model.js";
import { CHAPTER_PROMPTS } from "../../explainer/defaults.js";

printTrace({
  ...CHAPTER_PROMPTS.tokenShift,
  fields: ["xr", "xk", "xv", "xOut"],
  x0: true,
});
