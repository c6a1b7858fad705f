// Data loader: chapter 2's precomputed RWKV trace (default prompt): k, from which the page draws the WKV weights
// of any layer and channel at once; and, checked here at build time over every layer and channel, the largest
// difference between sum_i alpha_{t,i} v_i and the model's own wkv_t (v and wkv themselves would triple the file).
import { applyRows, eq10Form, wkvAttentionMatrix } from "../../chapters/attention.js";
import { loadBuildModel, precomputedView } from "../../build/build-model.js";
import { CHAPTER_PROMPTS } from "../../chapters/defaults.js";
import { encodeTrace } from "../../trace/trace.js";

const loaded = loadBuildModel();
const { weights } = loaded;
// the default prompt through the ONNX graphs (ORT wasm), as the page runs it
const view = await precomputedView(CHAPTER_PROMPTS.attention, loaded);
const { T, C } = view;
let maxAbsDiff = 0;
let eq10 = 0; // Eq. 16 written as Eq. 9 with Eq. 10's bias (chapter 2), against the model's wkv
view.layers.forEach((lt, l) => {
  const { w, u } = weights.blocks[l].att;
  for (let c = 0; c < C; c++) {
    const y = applyRows(wkvAttentionMatrix(lt.k!, w, u, T, C, c), lt.v!, T, C, c);
    const z = eq10Form(lt.k!, lt.v!, w, u, T, C, c);
    for (let t = 0; t < T; t++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(y[t] - lt.wkv![t * C + c]));
      eq10 = Math.max(eq10, Math.abs(z[t] - lt.wkv![t * C + c]));
    }
  }
});
process.stdout.write(
  JSON.stringify({
    trace: encodeTrace(view, { fields: ["k"] }),
    check: { maxAbsDiff, eq10, layers: view.layers.length, channels: C, positions: T },
  }),
);
