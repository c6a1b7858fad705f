/**
 * Timings of chapter 9's computations on the reference models (plain JS), for docs/benchmarks.md:
 *
 *   npx tsx test/chapters/memory/bench.ts [--probes [--corpus tinyshakespeare.txt]]
 *
 * Causal traces of a 64-character prompt (the subject near the end, as in the chapter's default, and at the
 * very start, the worst case: every position needs restored runs), one noise sample, both tiny models; with
 * --probes also the recall probes at the sizes the chapter precomputes (needs ../shared/data/tinyshakespeare.txt
 * for held-out text). With --ort the traces run through the ONNX trace-step graph on onnxruntime-web's wasm EP
 * (src/runtime/rwkv-trace.ts, one thread) as the chapter's worker runs them. Prints one line per measurement.
 */
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { causalTrace, type TracedModel } from "../../../src/chapters/memory/causal-trace.js";
import { copyProbe } from "../../../src/chapters/memory/copy-probe.js";
import { contextUse } from "../../../src/chapters/memory/context-use.js";
import { gptSequenceModel, rwkvSequenceModel } from "../../../src/chapters/memory/lm.js";
import { promptOrder } from "../../../src/chapters/memory/prompt-order.js";
import { encode, tinyModels } from "./helpers.js";
import * as ort from "onnxruntime-web";
import { configureNodeOrt } from "../../../src/runtime/node.js";
import { OrtTrace } from "../../../src/runtime/trace-ort.js";

const { rwkv, gpt, vocabulary } = tinyModels();
const PROMPT = "BIANCA:\nPardon, dear father.\n\nBAPTISTA:\nWhy, how hast thou offend";
const prompt = PROMPT.slice(PROMPT.length - 64);
const models: TracedModel[] = [
  { kind: "rwkv", model: rwkv },
  { kind: "gpt", model: gpt },
];
const useOrt = process.argv.includes("--ort");
if (useOrt) configureNodeOrt();
const ortRunners = useOrt
  ? {
      rwkv: await OrtTrace.rwkv(ort, rwkv.weights, { ep: "wasm" }),
      gpt: await OrtTrace.gpt(ort, gpt.weights, { ep: "wasm" }),
    }
  : undefined;
console.log(`${os.cpus().length} CPUs (${os.cpus()[0]?.model}), Node ${process.version}`);

async function time<T>(label: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  console.log(`${label}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  return r;
}

for (const [where, subject] of [
  ["subject 'hast' (positions 48-51)", [prompt.indexOf("hast"), prompt.indexOf("hast") + 4]],
  ["subject = the first 8 characters (worst case)", [0, 8]],
] as const) {
  for (const traced of models) {
    const onOrt = ortRunners?.[traced.kind];
    const label = `causal trace, ${traced.kind}${onOrt ? " (ORT wasm)" : ""}, T = ${prompt.length}, ${where}`;
    const r = await time(label, () =>
      causalTrace(
        traced,
        { tokens: encode(vocabulary, prompt), subject: [...subject], target: encode(vocabulary, "ed") },
        onOrt,
      ),
    );
    console.log(
      `  P = ${r.pClean.toFixed(4)}, P* = ${r.pCorrupt.toFixed(4)}, nu = ${r.noiseScale.toFixed(4)}`,
    );
  }
}

if (process.argv.includes("--probes")) {
  const arg = process.argv.indexOf("--corpus");
  const corpus =
    arg > 0
      ? process.argv[arg + 1]
      : path.resolve(import.meta.dirname, "../../../../shared/data/tinyshakespeare.txt");
  if (!existsSync(corpus)) throw new Error(`--probes needs ${corpus}`);
  const text = readFileSync(corpus, "utf-8");
  const heldOut = text.slice(Math.floor(0.9 * text.length));
  for (const model of [rwkvSequenceModel(rwkv), gptSequenceModel(gpt)]) {
    await time(
      `copy probe, ${model.label}, n in {4, 8, 16, 32} x d in {0, 32, 128, 192, 512}, 8 trials`,
      () =>
        copyProbe(model, {
          vocabulary,
          filler: heldOut,
          lengths: [4, 8, 16, 32],
          distances: [0, 32, 128, 192, 512],
        }),
    );
    await time(`context use, ${model.label}, d up to 1023 in 5 bins, 16 windows`, () =>
      contextUse(model, {
        tokens: encode(vocabulary, heldOut),
        edges: [1, 4, 16, 64, 256, 1024],
        windows: 16,
      }),
    );
    await time(`prompt order, ${model.label}, speeches of 32, 96, 192, 16 trials`, () =>
      promptOrder(model, { vocabulary, speeches: heldOut, speechLengths: [32, 96, 192] }),
    );
  }
}
