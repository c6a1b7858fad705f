/**
 * Chapter 8's live runs: the same prompt through RWKV's two modes, on the reference model in the page and on the
 * two ONNX graphs (RNN step graph, parallel graph) in onnxruntime-web's worker. The worker is a Handle
 * (src/live/handle.ts) whose execution provider comes from the one policy, chooseEp (src/runtime/ep-policy.ts):
 * a software WebGPU adapter means wasm, and the handle's fallbackReason says so. One comparison at a time runs on
 * the worker's single state (src/util/serial.ts). The maths of the comparison is src/chapters/modes.ts.
 *
 * For page cells, `reference(prompt)` and `graphs(prompt)` are async generators. When the prompt changes, each
 * yields the previous prompt's result at once, marked `stale`, and replaces it when the new run ends, so a figure
 * never shows the old prompt's positions as if they were the new one's.
 *
 * API:
 *   openModes({handle, precomputed}, {workerUrl, wasmUrl, maxTokens?, ...}) -> ModesRunner
 *   interface ModesRunner {onnx, reference(prompt), graphs(prompt), graphsNotice(view, prompt), dispose()}
 *   runtimeModes(runtime, V) -> LogitsMode[]      RNN mode = reset + step per token; parallel = reset + forward
 */
import {
  referenceModes,
  runModes,
  type LogitsMode,
  type ModesData,
  type ModesResult,
} from "../chapters/modes.js";
import { RwkvWorkerClient, SMALL_MODEL_INIT_MS } from "../runtime/client.js";
import { chooseEp } from "../runtime/ep-policy.js";
import { RwkvModel } from "../rwkv/model.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import type { EncodedPrompt } from "../trace/prompt.js";
import { SerialQueue } from "../util/serial.js";
import { startHandle, type Handle } from "./handle.js";
import { missingTraceMessage, type ModelHandle } from "./live-model.js";
import type { ModelCard } from "./model-source.js";

/**
 * What the two ONNX graphs run on: RwkvWorkerClient (src/runtime/client.ts) built with mode "both" and
 * parallelLogits "all", so `forward` returns (T, V) logits; it keeps its own state.
 */
export interface GraphsRuntime {
  /** the execution provider that runs now ("webgpu" | "wasm"; "wasm" after a lost GPU device) */
  readonly ep: "webgpu" | "wasm";
  /** why the worker itself fell back to wasm (a failed session, a lost device) */
  readonly fallbackReason: string | undefined;
  readonly config: { vocabSize: number };
  reset(): Promise<void>;
  step(token: number): Promise<{ logits: Float32Array }>;
  forward(tokens: ArrayLike<number>): Promise<{ logits: Float32Array }>;
  dispose(): Promise<void>;
}

/** The RNN step graph and the parallel graph as two LogitsModes over a runtime that keeps its own state. */
export function runtimeModes(
  rt: Pick<GraphsRuntime, "ep" | "reset" | "step" | "forward">,
  V: number,
): LogitsMode[] {
  return [
    {
      name: "rnn",
      label: "RNN mode: step graph × T",
      get backend() {
        return `onnxruntime-web (${rt.ep})`;
      },
      async run(tokens) {
        await rt.reset();
        const out = new Float32Array(tokens.length * V);
        for (let t = 0; t < tokens.length; t++) out.set((await rt.step(tokens[t])).logits, t * V);
        return out;
      },
    },
    {
      name: "parallel",
      label: "Parallel mode: parallel graph over all T tokens",
      get backend() {
        return `onnxruntime-web (${rt.ep})`;
      },
      async run(tokens) {
        await rt.reset();
        const { logits } = await rt.forward(tokens);
        if (logits.length !== tokens.length * V) {
          throw new RangeError(
            `the parallel graph returned ${logits.length / V} rows of logits for ${tokens.length} tokens (build it with parallelLogits "all")`,
          );
        }
        return logits;
      },
    },
  ];
}

/** What the ONNX section shows: a comparison, "starting", or why it cannot run. */
export type GraphsView = ModesResult | { pending: true } | { error: string };

export interface ModesRunner {
  /** the worker with the two ONNX graphs (for the section's badge: status, fallbackReason, card) */
  onnx: Handle<GraphsRuntime> & { card: ModelCard };
  /** the reference model's two modes for a prompt: null when there is nothing to show (see the chapter kit) */
  reference(prompt: EncodedPrompt): AsyncGenerator<ModesResult | null>;
  /** the two ONNX graphs for a prompt: null when the prompt is empty or the live models are off */
  graphs(prompt: EncodedPrompt): AsyncGenerator<GraphsView | null>;
  /** the notice to show in place of the ONNX figure (for anything but a comparison) */
  graphsNotice(view: GraphsView | null, prompt: EncodedPrompt): [string, "info" | "warn"];
  dispose(): Promise<void>;
}

export interface ModesOptions {
  /** the runtime's worker script and onnxruntime-web's wasm (FileAttachment hrefs) */
  workerUrl: string;
  wasmUrl: string;
  /** the longest prompt the graphs are built for */
  maxTokens?: number;
  /** how long the worker waits for the reference model's first timed runs before it starts (default 5000 ms) */
  startDelayMs?: number;
  /** while the reader types, only the last prompt is timed on the reference model (default 300 ms) */
  debounceMs?: number;
  /** start the graphs' runtime (default: the model worker, its EP from chooseEp); `reason`: why wasm */
  startRuntime?: (weights: RwkvWeights) => Promise<{ runtime: GraphsRuntime; reason?: string }>;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** keep the page responsive between runs */
const pause = () => sleep(0);
const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function openModes(
  { handle, precomputed }: { handle: ModelHandle; precomputed: ModesData | null },
  opts: ModesOptions,
): ModesRunner {
  const { startDelayMs = 5000, debounceMs = 300 } = opts;
  const startRuntime =
    opts.startRuntime ??
    (async (weights: RwkvWeights) => {
      const choice = await chooseEp();
      const runtime = await RwkvWorkerClient.create({
        workerUrl: opts.workerUrl,
        wasmUrl: opts.wasmUrl,
        ep: choice.ep,
        mode: "both",
        parallelLogits: "all",
        ...(opts.maxTokens ? { maxTokens: opts.maxTokens } : {}),
        source: { weights },
        initTimeoutMs: SMALL_MODEL_INIT_MS,
      });
      return { runtime, reason: choice.reason };
    });
  const { card } = handle;
  // the reference model's first timed runs (with the JIT warm-up) are done
  let referenceWarm = false;
  let warmed!: () => void;
  const warmedUp = new Promise<void>((resolve) => (warmed = resolve));
  const onnx = Object.assign(
    startHandle<GraphsRuntime>(
      async (setFallback) => {
        const live = await handle.ready;
        // start after the reference model's first timed runs, so the worker's start-up does not disturb them
        await Promise.race([warmedUp, sleep(startDelayMs)]);
        const { runtime, reason } = await startRuntime(live.weights);
        setFallback(() => runtime.fallbackReason ?? (runtime.ep === "wasm" ? reason : undefined));
        return runtime;
      },
      { off: handle.status === "off", dispose: (rt) => rt.dispose() },
    ),
    { card },
  );
  let model: RwkvModel | undefined;
  let referenceSeq = 0;
  let lastReference: ModesResult | undefined;
  let graphsSeq = 0;
  let graphsWarm = false;
  let lastGraphs: ModesResult | undefined;
  const serial = new SerialQueue();

  const result = (
    prompt: EncodedPrompt,
    V: number,
    runs: Awaited<ReturnType<typeof runModes>>,
    backend: ModesResult["backend"],
  ): ModesResult => ({
    text: prompt.text,
    labels: prompt.labels,
    V,
    runs: [runs[0], runs[1]],
    where: "in this browser",
    synthetic: card.synthetic,
    source: "live",
    backend,
  });
  /** the last result again: as it is for the same prompt, marked stale for another */
  const previous = (last: ModesResult, prompt: EncodedPrompt): ModesResult =>
    last.text === prompt.text ? last : { ...last, stale: true };

  return {
    onnx,
    async *reference(prompt) {
      if (!prompt.tokens.length) {
        yield null;
        return;
      }
      const matches = precomputed?.text === prompt.text;
      // the precomputed comparison until the first live run is done (the timed runs take seconds)
      if (matches && !referenceWarm) {
        lastReference = { ...precomputed!, source: "precomputed", backend: "reference (JS)" };
        yield lastReference;
      } else if (lastReference) yield previous(lastReference, prompt);
      if (handle.status === "off") {
        if (!matches) yield null;
        return;
      }
      let live;
      try {
        live = await handle.ready;
      } catch {
        if (!matches) yield null; // the badge says why
        return;
      }
      // while the reader types, only the last prompt is timed (each run takes a good fraction of a second)
      const mine = ++referenceSeq;
      await sleep(referenceWarm ? debounceMs : 0);
      if (mine !== referenceSeq) return;
      model ??= new RwkvModel(live.weights);
      // the JIT warm-up only matters the first time; after that one timed run per mode keeps typing fluid
      const runs = await runModes(referenceModes(model), prompt.tokens, {
        repeat: referenceWarm ? 1 : 3,
        warmup: !referenceWarm,
        pause,
      });
      referenceWarm = true;
      warmed();
      lastReference = result(prompt, model.config.vocabSize, runs, "reference (JS)");
      yield lastReference;
    },
    async *graphs(prompt) {
      if (!prompt.tokens.length || onnx.status === "off") {
        yield null;
        return;
      }
      const mine = ++graphsSeq;
      if (lastGraphs) yield previous(lastGraphs, prompt);
      else if (onnx.status !== "ready") yield { pending: true };
      let rt: GraphsRuntime;
      try {
        rt = await onnx.ready;
      } catch (e) {
        yield { error: messageOf(e) };
        return;
      }
      // one comparison at a time on the worker's single state; a newer prompt makes an older one skip
      const release = await serial.lock();
      try {
        if (mine !== graphsSeq) return;
        const V = rt.config.vocabSize;
        const runs = await runModes(runtimeModes(rt, V), prompt.tokens, {
          repeat: graphsWarm ? 1 : 3,
          warmup: !graphsWarm,
          pause,
        });
        graphsWarm = true;
        lastGraphs = { ...result(prompt, V, runs, rt.ep), fallbackReason: onnx.fallbackReason };
        yield lastGraphs;
      } catch (e) {
        yield { error: messageOf(e) };
      } finally {
        release();
      }
    },
    graphsNotice(view, prompt) {
      if (view && "pending" in view)
        return ["Starting onnxruntime-web (building both graphs, compiling its WebAssembly)…", "info"];
      if (view && "error" in view) return [`The ONNX runtime could not run here: ${view.error}`, "warn"];
      if (handle.status === "off") return ["The live models are off (?live=0).", "info"];
      return [missingTraceMessage(prompt, handle), "info"];
    },
    dispose: () => onnx.dispose(),
  };
}
