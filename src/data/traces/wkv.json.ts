// Data loader: chapter 5's precomputed trace (default prompt, reference model at build time).
import { printTrace } from "../../explainer/build-model.js";
import { CHAPTER_PROMPTS } from "../../explainer/defaults.js";

printTrace({ ...CHAPTER_PROMPTS.wkv, fields: ["k", "v", "wkv", "a", "b", "p"] });
