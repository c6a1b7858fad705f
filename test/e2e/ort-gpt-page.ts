/**
 * Browser side of test/e2e/ort-gpt.test.ts: the transformer baseline's graph on onnxruntime-web's WebGPU EP
 * directly (no worker), prompt with an empty KV cache then decoding steps.
 */
import * as ort from "onnxruntime-web/webgpu";
import { OrtGpt } from "../../src/runtime/gpt-ort.js";
import { gptWeightsFromTensors } from "../../src/transformer/gpt.js";
import { syntheticGptTensors, type SyntheticGptShape } from "../../src/transformer/synthetic.js";

async function gptRun(shape: SyntheticGptShape, seed: number, prompt: number[], more: number[]) {
  ort.env.wasm.wasmPaths = { wasm: new URL("./ort-wasm-simd-threaded.asyncify.wasm", location.href).href };
  ort.env.wasm.numThreads = 1;
  const w = gptWeightsFromTensors(syntheticGptTensors(shape, seed), { nHead: shape.nHead });
  ort.env.logLevel = "verbose";
  const m = await OrtGpt.create(ort, w, { ep: "webgpu", attention: true, logSeverityLevel: 0 });
  const first = await m.forward(prompt);
  const steps: number[][] = [];
  let cache = first.cache;
  for (const t of more) {
    const r = await m.step(t, cache);
    steps.push(Array.from(r.logits));
    cache = r.cache;
  }
  await m.dispose();
  return {
    ep: m.ep,
    promptLogits: Array.from(first.logits),
    attention0: Array.from(first.attention![0]),
    steps,
  };
}

(window as unknown as { gptRun: typeof gptRun }).gptRun = gptRun;
