// Data loader: chapter 5's precomputed trace (default prompt, the ONNX graphs on ORT wasm at build time); r and
// att for Eq. 17's readout.
import { printTrace } from "../../build/build-model.js";
import { CHAPTER_PROMPTS } from "../../chapters/defaults.js";

await printTrace({ ...CHAPTER_PROMPTS.wkv, fields: ["k", "v", "wkv", "a", "b", "p", "r", "att"] });
