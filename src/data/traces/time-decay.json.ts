// Data loader: chapter 4's precomputed trace (default prompt, the ONNX graphs on ORT wasm at build time).
import { printTrace } from "../../build/build-model.js";
import { CHAPTER_PROMPTS } from "../../chapters/defaults.js";

await printTrace({ ...CHAPTER_PROMPTS.timeDecay, fields: ["k", "v", "wkv"] });
