/**
 * WebGPU benchmark of the ONNX graphs on onnxruntime-web in Node through Dawn (the `webgpu` npm package), for
 * the NVIDIA machine (recipe: ../shared/gpu-kit/README.md). Bundled with esbuild into one .mjs beside the
 * gpu-kit's unpacked files and run there; it loads ORT from ORT_PATH and Dawn through gpuinit.mjs.
 *
 * Workloads on synthetic-169m (or SHAPE=tiny): generation (one RNN step per token from a GPU-resident state,
 * logits read back each step, as sampling needs) and prompt ingestion of T tokens through the parallel graph
 * (last-position logits + final state), for several chunk sizes. Prints one JSON line (BENCH_JSON ...).
 *
 * env: ORT_PATH (ort.webgpu.min.mjs), GPUINIT (gpuinit.mjs), SHAPE=pile169m|tiny, TOKENS=64,512 CHUNKS=64,128,256
 *      GEN=100 (generation steps), REPEATS=5, EP=webgpu|wasm, THREADS (wasm; > 1 loads NODESHIM, nodeshim.mjs),
 *      RNN_TOKENS=64,512 (RNN-mode ingestion through steps(), "" to skip),
 *      VALIDATION=basic|wgpuOnly|disabled (ORT's WebGPU validation mode), DAWN_OPTS (Dawn toggles, gpuinit.mjs),
 *      GRAPH_CAPTURE=1 (default on WebGPU: generation also runs through ORT graph capture, reported as
 *      generationCaptured beside the plain generation, and each ingestion row is repeated with graphCapture
 *      "both" (full chunks captured); logits compared with the plain runs'; GRAPH_CAPTURE=0 skips all that)
 */
import type * as Ort from "onnxruntime-web";
import { prepareOnnxWeights } from "../onnx/rwkv-graph.js";
import { installDawnWebGpu } from "./dawn.js";
import { OrtRwkv, type OrtState } from "../runtime/rwkv-ort.js";
import { SHAPES, syntheticWeights } from "../rwkv/synthetic.js";
import { argmax } from "../rwkv/sampling.js";

const env = process.env;
const log = (...a: unknown[]) => console.log(...a);
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

async function main(): Promise<void> {
  const EP = (env.EP ?? "webgpu") as "webgpu" | "wasm";
  const result: Record<string, unknown> = { ep: EP, node: process.version };
  if (EP === "webgpu") {
    const sum = await installDawnWebGpu();
    result.adapter = sum.info;
    result.maxStorageBufferBindingSize = sum.limits.maxStorageBufferBindingSize;
    log("adapter", JSON.stringify(sum.info));
  }
  // multi-threaded wasm in Node needs the gpu-kit's nodeshim (ORT fetches its own file: URL, Node refuses it)
  if (EP === "wasm" && Number(env.THREADS ?? 1) > 1) await import(env.NODESHIM ?? "./nodeshim.mjs");
  const ort = (await import(env.ORT_PATH ?? "./nm/ort/ort.webgpu.min.mjs")) as typeof Ort;
  ort.env.wasm.numThreads = Number(env.THREADS ?? 1);
  ort.env.logLevel = "error";
  result.ortVersion = ort.env.versions.web;

  const shape = env.SHAPE === "tiny" ? SHAPES.tiny : SHAPES.pile169m;
  result.shape = shape;
  let t0 = performance.now();
  const ow = prepareOnnxWeights(syntheticWeights(shape, 0));
  result.weightsSeconds = (performance.now() - t0) / 1000;
  const V = shape.vocabSize;
  const tokensOf = (T: number) => Array.from({ length: T }, (_, i) => (i * 7919 + 13) % V);

  // ---- generation: RNN step graph, state on the GPU between steps; without and (WebGPU) with graph capture
  const GEN = Number(env.GEN ?? 100);
  // ORT's WebGPU validation mode (VALIDATION=basic|wgpuOnly|disabled; ORT's default is basic)
  const validation = env.VALIDATION
    ? { validationMode: env.VALIDATION as "basic" | "wgpuOnly" | "disabled" }
    : {};
  result.validationMode = env.VALIDATION ?? "basic (default)";
  result.dawnToggles = env.DAWN_OPTS ?? "";
  const capture = EP === "webgpu" && env.GRAPH_CAPTURE !== "0";
  const RNN_TOKENS = (env.RNN_TOKENS ?? "64,512").split(",").filter(Boolean).map(Number);
  const gen = async (graphCapture: boolean) => {
    t0 = performance.now();
    const rnn = await OrtRwkv.create(ort, ow, { ep: EP, mode: "rnn", graphCapture, ...validation });
    const sessionSeconds = (performance.now() - t0) / 1000;
    let state: OrtState = rnn.initialState();
    const stepMs: number[] = [];
    const tokens: number[] = [];
    const firstLogits: Float32Array[] = [];
    let token = 1;
    const runMs: number[] = [];
    const readMs: number[] = [];
    for (let i = 0; i < GEN + 5; i++) {
      const s = performance.now();
      const r = await rnn.step(token, state);
      if (i >= 5) stepMs.push(performance.now() - s);
      if (i >= 5 && rnn.captureTiming) {
        runMs.push(rnn.captureTiming.runMs);
        readMs.push(rnn.captureTiming.readMs);
      }
      state.dispose();
      state = r.state;
      if (i < 8) firstLogits.push(r.logits);
      token = argmax(r.logits); // greedy
      tokens.push(token);
    }
    const row = {
      graphCapture: rnn.graphCapture,
      ...(rnn.graphCaptureFallback ? { graphCaptureFallback: rnn.graphCaptureFallback } : {}),
      sessionSeconds,
      stateLocation: state.location,
      steps: GEN,
      msPerTokenMedian: q(stepMs, 0.5),
      msPerTokenP95: q(stepMs, 0.95),
      tokensPerSecond: 1000 / q(stepMs, 0.5),
      // with capture: median ms in ORT's session.run (the replay's CPU side) and waiting for the logits
      ...(runMs.length ? { replayRunMsMedian: q(runMs, 0.5), readBackMsMedian: q(readMs, 0.5) } : {}),
      // RNN-mode ingestion: steps() over T tokens, last logits only (captured: queued without read-backs)
      rnnIngestion: [] as Record<string, unknown>[],
    };
    state.dispose();
    for (const T of RNN_TOKENS) {
      const toks = tokensOf(T);
      const times: number[] = [];
      for (let i = 0; i < (graphCapture ? 4 : 2); i++) {
        const s = performance.now();
        const r = await rnn.steps(toks);
        await r.state.read();
        if (i > 0) times.push(performance.now() - s);
        r.state.dispose();
      }
      row.rnnIngestion.push({ T, msMedian: q(times, 0.5), tokensPerSecond: (T / q(times, 0.5)) * 1000 });
    }
    await rnn.dispose();
    return { row, tokens, firstLogits };
  };
  const plain = await gen(false);
  result.stateLocation = plain.row.stateLocation;
  result.generation = plain.row;
  log("generation", JSON.stringify(plain.row));
  if (capture) {
    const cap = await gen(true);
    // same greedy tokens and logits as the plain session (a check of the captured path on this GPU)
    let maxDiff = 0;
    cap.firstLogits.forEach((l, i) =>
      l.forEach((x, j) => (maxDiff = Math.max(maxDiff, Math.abs(x - plain.firstLogits[i][j])))),
    );
    const sameTokens = cap.tokens.every((t, i) => t === plain.tokens[i]);
    result.generationCaptured = {
      ...cap.row,
      vsPlainMaxAbsDiffFirst8: maxDiff,
      sameGreedyTokens: sameTokens,
    };
    log("generation (graph capture)", JSON.stringify(result.generationCaptured));
  }

  // ---- ingestion: parallel graph, last-position logits, several chunk sizes
  const Ts = (env.TOKENS ?? "64,512").split(",").map(Number);
  const chunks = (env.CHUNKS ?? "64,128,256").split(",").map(Number);
  const REPEATS = Number(env.REPEATS ?? 5);
  const ingestion: Record<string, unknown>[] = [];
  const plainLast = new Map<number, Float32Array>(); // T -> last logits of the plain session (first chunk size)
  for (const chunk of chunks) {
    for (const graphCapture of capture ? [false, true] : [false]) {
      t0 = performance.now();
      let par: OrtRwkv;
      try {
        par = await OrtRwkv.create(ort, ow, {
          ep: EP,
          mode: "parallel",
          parallelLogits: "last",
          chunk,
          maxTokens: Math.max(...Ts),
          graphCapture: graphCapture ? "both" : false,
          ...validation,
        });
      } catch (e) {
        ingestion.push({ chunk, graphCapture, error: (e as Error).message });
        continue;
      }
      const sessionSeconds = (performance.now() - t0) / 1000;
      for (const T of Ts) {
        const toks = tokensOf(T);
        const times: number[] = [];
        let firstMs = 0;
        let lastLogits: Float32Array | undefined;
        for (let i = 0; i < REPEATS + 1; i++) {
          const s = performance.now();
          const r = await par.forward(toks);
          await r.state.tensors.p.getData(); // wait for the final state too
          const ms = performance.now() - s;
          r.state.dispose();
          lastLogits = r.logits;
          if (i === 0) firstMs = ms;
          else times.push(ms);
        }
        if (!graphCapture && !plainLast.has(T)) plainLast.set(T, lastLogits!);
        const ref = plainLast.get(T);
        const row = {
          T,
          chunk,
          graphCapture: par.graphCaptureParallel,
          // chunks that ran captured (full chunks only; the rest on the plain parallel session)
          capturedChunks: par.graphCaptureParallel ? Math.floor(T / chunk) : 0,
          ...(graphCapture && par.graphCaptureFallback
            ? { graphCaptureFallback: par.graphCaptureFallback }
            : {}),
          ...(graphCapture && ref
            ? { vsPlainMaxAbsDiff: Math.max(...lastLogits!.map((x, j) => Math.abs(x - ref[j]))) }
            : {}),
          sessionSeconds,
          firstMs,
          msMedian: q(times, 0.5),
          tokensPerSecond: (T / q(times, 0.5)) * 1000,
        };
        ingestion.push(row);
        log("ingestion", JSON.stringify(row));
      }
      await par.dispose();
    }
  }
  result.ingestion = ingestion;
  console.log("BENCH_JSON " + JSON.stringify(result));
}

main().catch((e: unknown) => {
  console.error("BENCH_FAIL", e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
