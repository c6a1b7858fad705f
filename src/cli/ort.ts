/**
 * `--backend ort` of the CLI: the ONNX graphs (src/onnx) on onnxruntime-web's wasm EP in Node (src/runtime).
 */
import { prepareOnnxWeights, type OnnxWeights } from "../onnx/rwkv-graph.js";
import {
  configureNodeOrt,
  createOrtRwkv,
  emptyOrtState,
  nodeOrtThreads,
  nodeRooflines,
  ortVersion,
  type OrtRwkv,
  type OrtState,
  type Rooflines,
} from "../runtime/node.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import { benchTokens, median, timeGreedySteps } from "./bench-ref.js";

/**
 * The reference model's calling pattern (src/rwkv/model.ts) on ORT, async: for the CLI's logits, generate and eval.
 * Sessions are built on first use (RNN step; parallel with all logits; parallel with last logits only) and share
 * one transposed copy of the weights. States are opaque ORT states: pass them from one call to the next.
 */
export interface OrtModel {
  initialState(): OrtState;
  step(token: number, state?: OrtState): Promise<{ logits: Float32Array; state: OrtState }>;
  forward(
    tokens: ArrayLike<number>,
    state?: OrtState,
    opts?: { lastOnly?: boolean },
  ): Promise<{ logits: Float32Array; state: OrtState }>;
  dispose(): Promise<void>;
}

export function createOrtModel(
  weights: RwkvWeights,
  opts: { maxTokens?: number; threads?: number } = {},
): OrtModel {
  // ORT's wasm starts once per process: the thread count must be set before its first session
  if (opts.threads) configureNodeOrt({ numThreads: opts.threads });
  let ow: OnnxWeights | undefined;
  const prepared = () => (ow ??= prepareOnnxWeights(weights));
  const maxTokens = opts.maxTokens ?? Number.MAX_SAFE_INTEGER;
  const sessions = new Map<string, Promise<OrtRwkv>>();
  const get = (kind: "rnn" | "all" | "last") => {
    let s = sessions.get(kind);
    if (!s) {
      s =
        kind === "rnn"
          ? createOrtRwkv(prepared(), { mode: "rnn" })
          : createOrtRwkv(prepared(), { mode: "parallel", parallelLogits: kind, maxTokens });
      sessions.set(kind, s);
    }
    return s;
  };
  return {
    initialState: () => emptyOrtState(weights.config),
    step: async (token, state) => (await get("rnn")).step(token, state),
    forward: async (tokens, state, o = {}) => (await get(o.lastOnly ? "last" : "all")).forward(tokens, state),
    async dispose() {
      for (const s of sessions.values()) await (await s).dispose();
      sessions.clear();
    },
  };
}

export interface OrtBenchOptions {
  tokens: number;
  repeats?: number;
  /** parallel graph chunk (default: the runtime's, 32 on wasm) */
  chunk?: number;
  /** ORT's wasm threads (default 1); set before the first session of the process */
  threads?: number;
}

function chunkOf(chunk: number, T: number): number {
  return Math.min(chunk, T);
}

async function timeIt(f: () => Promise<void>, repeats: number): Promise<number[]> {
  await f(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await f();
    times.push((performance.now() - t0) / 1000);
  }
  return times;
}

/**
 * Prompt ingestion of T tokens through each graph on ORT wasm (one thread): last-position logits and the
 * final state out. RNN: T runs of the step graph (each also computes its logits, as a decoder would).
 * Parallel: the parallel graph built with last-position logits only, in chunks of `chunk` tokens.
 * Sessions are built one after the other (one in memory at a time). Medians over repeats after a warm-up.
 */
export async function ortBench(
  weights: RwkvWeights,
  opts: OrtBenchOptions,
): Promise<Record<string, unknown>> {
  if (opts.threads) configureNodeOrt({ numThreads: opts.threads });
  const T = opts.tokens;
  const big = weights.config.nEmbd >= 512;
  const repeats = opts.repeats ?? (big ? 3 : 10);
  const tokens = benchTokens(T, weights.config.vocabSize);
  let t0 = performance.now();
  const ow = prepareOnnxWeights(weights);
  const prepareS = (performance.now() - t0) / 1000;

  t0 = performance.now();
  const rnnModel = await createOrtRwkv(ow, { mode: "rnn" });
  const rnnBuildS = (performance.now() - t0) / 1000;
  const rnn = await timeIt(async () => {
    let state = rnnModel.initialState();
    for (const tok of tokens) state = (await rnnModel.step(tok, state)).state;
  }, repeats);
  await rnnModel.dispose();

  t0 = performance.now();
  const parModel = await createOrtRwkv(ow, {
    mode: "parallel",
    parallelLogits: "last",
    maxTokens: T,
    ...(opts.chunk ? { chunk: opts.chunk } : {}),
  });
  const parBuildS = (performance.now() - t0) / 1000;
  const parallel = await timeIt(async () => {
    await parModel.forward(tokens);
  }, repeats);
  await parModel.dispose();

  const rnnS = median(rnn);
  const parS = median(parallel);
  // efficiency against rooflines measured in the same runtime
  const { nLayer: L, nEmbd: C, ffnSize: F, vocabSize: V } = weights.config;
  const matmulParams = L * (5 * C * C + 2 * C * F); // per token: Wk Wv Wr Wo, ffn Wr; ffn Wk Wv
  const roof = await nodeRooflines({
    T: Math.min(T, chunkOf(parModel.chunk, T)),
    C,
    F,
    bandwidthBytes: Math.max(64 * 2 ** 20, 4 * (matmulParams + C * V)),
  });
  const parallelGflops = (2 * matmulParams * T + 2 * C * V) / parS / 1e9; // + one head row
  const rnnGBs = (4 * (matmulParams + C * V) * T) / rnnS / 1e9; // every weight (and the head) read per token
  const threads = nodeOrtThreads();
  return {
    runtime: `onnxruntime-web ${ortVersion} wasm EP, ${threads === 1 ? "1 thread" : `${threads} threads`}, Node ${process.version}`,
    threads,
    repeats,
    chunk: parModel.chunk,
    prepare_seconds: prepareS,
    rnn_session_seconds: rnnBuildS,
    parallel_session_seconds: parBuildS,
    rnn_seconds_median: rnnS,
    parallel_seconds_median: parS,
    rnn_tokens_per_second: T / rnnS,
    parallel_tokens_per_second: T / parS,
    parallel_over_rnn: rnnS / parS,
    roofline_matmul_gflops: roof.matmulGflops,
    roofline_matmul_shape: roof.matmulShape,
    roofline_bandwidth_gbs: roof.bandwidthGBs,
    parallel_matmul_gflops: parallelGflops,
    parallel_efficiency: parallelGflops / roof.matmulGflops,
    rnn_weight_read_gbs: rnnGBs,
    rnn_efficiency: rnnGBs / roof.bandwidthGBs,
  };
}

export interface OrtSuiteResult {
  model: string;
  shape: string;
  runtime: string;
  /** ORT's wasm threads (read back from ORT after its sessions were built) */
  threads: number;
  roofline: Rooflines;
  chunk: number;
  /** per T: both modes' prompt ingestion (last-position logits and the final state out) */
  ingestion: {
    T: number;
    repeats: number;
    rnnTokensPerSecond: number;
    parallelTokensPerSecond: number;
    parallelOverRnn: number;
    /** achieved matmul rate of the parallel graph over the measured matmul roofline */
    parallelEfficiency: number;
  }[];
  /** RNN steps with the logits read each token (as sampling needs), greedy */
  generation: {
    tokens: number;
    msPerTokenMedian: number;
    msPerTokenP95: number;
    /** ms a token would take reading every weight once at the measured bandwidth */
    boundMs: number;
  };
}

/**
 * `npm run bench -- ort`: both workloads on ORT wasm in Node (one thread, as a page without cross-origin isolation
 * runs), with rooflines measured in the same runtime. Ingestion: T tokens through the parallel graph (`forward`,
 * last-position logits) and through RNN mode (`steps`, one step graph run per token); generation: `gen` RNN steps.
 */
export async function ortSuite(
  name: string,
  weights: RwkvWeights,
  opts: { Ts: number[]; gen: number; repeats: (T: number) => number; threads?: number },
): Promise<OrtSuiteResult> {
  if (opts.threads) configureNodeOrt({ numThreads: opts.threads });
  const { nLayer: L, nEmbd: C, ffnSize: F, vocabSize: V } = weights.config;
  const ow = prepareOnnxWeights(weights);
  const maxT = Math.max(...opts.Ts);
  const rnn = await createOrtRwkv(ow, { mode: "rnn" });
  const par = await createOrtRwkv(ow, { mode: "parallel", parallelLogits: "last", maxTokens: maxT });
  const matmulParams = L * (5 * C * C + 2 * C * F);
  // the streaming read as large as one token's weights (at least 64 MiB), so that it meets the same caches
  const roofline = await nodeRooflines({
    T: par.chunk,
    C,
    F,
    bandwidthBytes: Math.max(64 * 2 ** 20, 4 * (matmulParams + C * V)),
  });
  const ingestion: OrtSuiteResult["ingestion"] = [];
  for (const T of opts.Ts) {
    const tokens = benchTokens(T, V);
    const repeats = opts.repeats(T);
    const parS = median(await timeIt(async () => void (await par.forward(tokens)), repeats));
    const rnnS = median(await timeIt(async () => void (await rnn.steps(tokens)), repeats));
    const gflops = (2 * matmulParams * T + 2 * C * V) / parS / 1e9;
    ingestion.push({
      T,
      repeats,
      rnnTokensPerSecond: T / rnnS,
      parallelTokensPerSecond: T / parS,
      parallelOverRnn: rnnS / parS,
      parallelEfficiency: gflops / roofline.matmulGflops,
    });
  }
  let state = rnn.initialState();
  const gen = await timeGreedySteps(
    async (token) => {
      const r = await rnn.step(token, state);
      state = r.state;
      return r.logits;
    },
    opts.gen,
    3,
  );
  await rnn.dispose();
  await par.dispose();
  return {
    model: name,
    shape: `L=${L} D=${C} F=${F} V=${V}`,
    runtime: `onnxruntime-web ${ortVersion} wasm EP, ${nodeOrtThreads() === 1 ? "1 thread" : `${nodeOrtThreads()} threads`}, Node ${process.version}`,
    threads: nodeOrtThreads(),
    roofline,
    chunk: par.chunk,
    ingestion,
    generation: {
      tokens: opts.gen,
      msPerTokenMedian: gen.median,
      msPerTokenP95: gen.p95,
      boundMs: ((4 * (matmulParams + C * V)) / (roofline.bandwidthGBs * 1e9)) * 1000,
    },
  };
}
