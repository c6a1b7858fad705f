// Data loader: chapter 4's precomputed trace (default prompt, the ONNX graphs on ORT wasm at build time).
import { printTrace } from "../../explainer/build-model.js";
import { CHAPTER_PROMPTS } from "../../explainer/defaults.js";

await printTrace({ ...CHAPTER_PROMPTS.timeDecay, fields: ["k", "v", "wkv"] });
