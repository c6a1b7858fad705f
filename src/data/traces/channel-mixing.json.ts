// Data loader: chapter 6's precomputed sparsity numbers (default prompt): zero fractions per layer and token,
// histograms of k' (the full (T, F) activations would be ~0.8 MB; the figure needs only these).
import { precomputedView } from "../../build/build-model.js";
import { encodeSparsity, sparsitySummary } from "../../chapters/channel-mixing.js";
import { CHAPTER_PROMPTS } from "../../chapters/defaults.js";

// the default prompt through the ONNX graphs (ORT wasm), as the page runs it
const view = await precomputedView(CHAPTER_PROMPTS.channelMixing);
process.stdout.write(JSON.stringify(encodeSparsity({ ...sparsitySummary(view), source: "precomputed" })));
