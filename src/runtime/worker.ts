/**
 * The model worker (browser): owns onnxruntime-web (its WebGPU build), one RWKV model and its current
 * recurrent state. Requests are handled one at a time in arrival order (serialised). The state stays where
 * the EP put it (GPU buffers with WebGPU) and is read back only on "getState".
 *
 * Provider choice: feature detection (navigator.gpu, an adapter whose limits fit the model's largest
 * tensor, a session that builds), else wasm; the reason for a fallback is reported, never silent.
 * A lost GPU device makes the failing call throw DeviceLostError, posts a "device-lost" event, and the
 * worker rebuilds the sessions on wasm (state reset) so the page keeps working.
 *
 * Engine "fused" (WorkerInitOptions.engine): on WebGPU the RNN step (`step`, `steps`, `generate`, which samples on
 * the GPU) runs on the hand-written WGSL kernels of ./fused/ instead of ORT's step graph; ORT keeps the parallel
 * graph and the probes. The state lives in whichever engine ran last and moves (read back, written) when the
 * other one runs next. On wasm, or when the kernels cannot be built, ORT runs the step: InitResult.engineFallback.
 * ORT's wasm threads: ./threads.ts (the page's decision, else the policy applied here with the model's size).
 */
import * as ort from "onnxruntime-web/webgpu";
import { prepareOnnxWeights, type OnnxWeights } from "../onnx/rwkv-graph.js";
import { loadRwkvCheckpoint } from "../rwkv/checkpoint/index.js";
import { countParameters, syntheticWeights } from "../rwkv/synthetic.js";
import type { RwkvConfig, RwkvWeights } from "../rwkv/weights.js";
import { countGptParameters, gptWeightsFromTensors, type GptWeights } from "../transformer/gpt.js";
import { syntheticGptTensors } from "../transformer/synthetic.js";
import { OrtGpt, type GptCache } from "./gpt-ort.js";
import { OrtTrace } from "./trace-ort.js";
import { DeviceLostError, OrtRwkvError, SessionBuildError, messageOf, serializeError } from "./errors.js";
import type {
  AdapterSummary,
  EpPreference,
  GenerateRequestOptions,
  GenerateResult,
  GptInitResult,
  GptInitSource,
  GptStepResult,
  InitResult,
  LoadedSummary,
  ModelSource,
  Request,
  Response,
  RunResult,
  TokenizerSummary,
  TraceInitResult,
  TraceInitSource,
  WorkerEvent,
  WorkerInitOptions,
} from "./protocol.js";
import { OrtRwkv, type OrtState } from "./rwkv-ort.js";
import { softwareAdapterReason } from "./ep-policy.js";
import {
  chooseThreads,
  NOT_ISOLATED_REASON,
  stepMatrixNumbers,
  threadsLabel,
  type ThreadChoice,
} from "./threads.js";
import { SerialQueue } from "../util/serial.js";
import {
  CONFIG_JSON_LIMITS,
  JsonLimitError,
  TOKENIZER_JSON_LIMITS,
  parseJsonLimited,
} from "../util/json-limits.js";
import { NeoXTokenizer } from "../rwkv/tokenizer.js";
import { FusedError, FusedRwkv } from "./fused/fused-rwkv.js";
import type { GDevice } from "./fused/webgpu.js";
import { Sampler } from "../rwkv/sampling.js";
import { TokenOutOfRangeError } from "./errors.js";

/* Minimal WebGPU typings (TypeScript's DOM lib has none). */
interface GpuLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  [k: string]: number;
}
interface GpuAdapter {
  limits: GpuLimits;
  features: Set<string>;
  info?: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
  requestDevice(d: {
    requiredLimits: Record<string, number>;
    requiredFeatures: string[];
  }): Promise<GpuDevice>;
}
interface GpuDevice {
  lost: Promise<{ reason: string; message: string }>;
  destroy(): void;
}
interface GpuNavigator {
  gpu?: { requestAdapter(o?: { powerPreference?: string }): Promise<GpuAdapter | null> };
}

const scope = self as unknown as {
  postMessage(m: unknown, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
  navigator: GpuNavigator;
  crossOriginIsolated?: boolean;
  name?: string;
};

let model: OrtRwkv | undefined;
let state: OrtState | undefined;
let source:
  { ow?: OnnxWeights; config: RwkvConfig; graphs?: { rnn?: Uint8Array; parallel?: Uint8Array } } | undefined;
let initOptions: WorkerInitOptions | undefined;
let device: GpuDevice | undefined;
/** the reader's tokenizer.json, read here so that a large one never blocks the page */
let tokenizer: NeoXTokenizer | undefined;

/** A reader's config.json, within the limits (a failure fails the load: the config shapes the model). */
function readHfConfig(bytes: Uint8Array): object {
  const v = parseJsonLimited(bytes, CONFIG_JSON_LIMITS, "config.json");
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new JsonLimitError("bad-json", "config.json is not a JSON object");
  return v;
}

/** A reader's tokenizer.json, within the limits; a failure is reported, and the model loads without it. */
function readTokenizer(bytes: Uint8Array): TokenizerSummary {
  try {
    tokenizer = new NeoXTokenizer(parseJsonLimited(bytes, TOKENIZER_JSON_LIMITS, "tokenizer.json") as object);
    return { vocabSize: tokenizer.vocabSize };
  } catch (e) {
    tokenizer = undefined;
    return { error: messageOf(e) };
  }
}

function needTokenizer(): NeoXTokenizer {
  if (!tokenizer) throw new OrtRwkvError("unsupported", "no tokenizer.json was read with this model");
  return tokenizer;
}

/** set by the device's `lost` promise: fused calls that fail after it are a lost device */
let deviceLostReason: string | undefined;

/* The fused WGSL step (engine "fused") and where the current state lives. */
let fused: FusedRwkv | undefined;
let engineFallback: string | undefined;
/** which engine holds the current state: "ort" (`state`), "fused" (its GPU buffers) or "both" (equal) */
let owner: "ort" | "fused" | "both" = "both";
/** the logits of the last position (a copy; generate on ORT samples from them, the fused sampler is given them) */
let lastLogits: Float32Array | undefined;
/** the CPU sampler of generate on ORT (seeded by generate's seed) */
let cpuSampler: Sampler | undefined;

/**
 * ORT's wasm threads (./threads.ts): the page's decision when it sent one, else the policy applied here (it knows
 * the model's size); 1 when this worker is not cross-origin isolated. Must run before ORT's first session (its
 * wasm starts once per worker, so the first model's choice holds for the worker's life).
 */
function configureThreads(options: WorkerInitOptions, stepNumbers: number): ThreadChoice {
  const isolated = !!scope.crossOriginIsolated && typeof SharedArrayBuffer !== "undefined";
  const choice: ThreadChoice = !isolated
    ? { threads: 1, reason: NOT_ISOLATED_REASON }
    : options.numThreads
      ? {
          threads: options.numThreads,
          reason: options.threadsReason ?? `${threadsLabel(options.numThreads)}: the page's choice`,
        }
      : chooseThreads({ stepNumbers });
  ort.env.wasm.numThreads = choice.threads;
  return choice;
}
let threadChoice: ThreadChoice | undefined;
/** The threads ORT really runs with: it lowers env.wasm.numThreads to 1 when its wasm cannot start threads. */
function threadsInUse(): { threads: number; threadsReason: string } {
  const threads = ort.env.wasm.numThreads ?? 1;
  const reason = threadChoice?.reason ?? NOT_ISOLATED_REASON;
  return {
    threads,
    threadsReason:
      threads === threadChoice?.threads
        ? reason
        : `${threadsLabel(threads)}: onnxruntime-web could not start more`,
  };
}

function post(m: Response | WorkerEvent, transfer: Transferable[] = []): void {
  scope.postMessage(m, transfer);
}

/** The adapter limits ORT needs for this model: its largest weight must fit one storage binding. */
function largestTensorBytes(c: RwkvConfig): number {
  return 4 * Math.max(c.vocabSize * c.nEmbd, c.ffnSize * c.nEmbd);
}

async function pickWebGpu(
  config: RwkvConfig,
  want: EpPreference,
): Promise<{ adapter?: AdapterSummary; reason?: string }> {
  const gpu = scope.navigator.gpu;
  if (!gpu) return { reason: "this browser has no WebGPU (navigator.gpu is missing)" };
  let adapter: GpuAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  } catch (e) {
    return { reason: `requestAdapter failed: ${messageOf(e)}` };
  }
  if (!adapter) return { reason: "no WebGPU adapter is available" };
  const info = adapter.info ?? { vendor: "", architecture: "", description: "" };
  const summary: AdapterSummary = {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    isFallbackAdapter: !!(info.isFallbackAdapter ?? adapter.isFallbackAdapter),
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    shaderF16: adapter.features.has("shader-f16"),
  };
  // the one policy (src/runtime/ep-policy.ts): under "auto" a software adapter means wasm
  const software = softwareAdapterReason(summary);
  if (software && want !== "webgpu") return { adapter: summary, reason: software };
  const need = largestTensorBytes(config);
  if (need > summary.maxStorageBufferBindingSize || need > summary.maxBufferSize) {
    return {
      adapter: summary,
      reason:
        `the model's largest tensor (${(need / 2 ** 20).toFixed(0)} MiB) exceeds this adapter's buffer limits ` +
        `(binding ${(summary.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB)`,
    };
  }
  // our own device with the adapter's full buffer limits (the defaults, 128 MiB bindings, are too small
  // for the 169M model's head), so that we also own its `lost` promise
  const requiredLimits: Record<string, number> = {};
  for (const k of [
    "maxBufferSize",
    "maxStorageBufferBindingSize",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
    "maxComputeWorkgroupSizeY",
    "maxComputeWorkgroupSizeZ",
    "maxComputeWorkgroupsPerDimension",
    "maxStorageBuffersPerShaderStage",
  ]) {
    if (typeof adapter.limits[k] === "number") requiredLimits[k] = adapter.limits[k];
  }
  const requiredFeatures = ["shader-f16", "subgroups", "timestamp-query"].filter((f) =>
    adapter.features.has(f),
  );
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    return { adapter: summary, reason: `requestDevice failed: ${messageOf(e)}` };
  }
  // the sessions get this device through their EP options (build() below): ORT 1.30 does not take it from
  // ort.env.webgpu.device, and without the option it creates a device of its own (whose loss nobody would see)
  // and overwrites ort.env.webgpu.device with that one, which init() checks afterwards
  (ort.env.webgpu as unknown as { device: GpuDevice }).device = device;
  const mine = device;
  deviceLostReason = undefined;
  void mine.lost.then((info) => {
    if (device !== mine) return;
    deviceLostReason = info.message || info.reason || "the GPU device was lost";
    model?.markDeviceLost(deviceLostReason);
  });
  return { adapter: summary };
}

/** The adapter of the last init (its shader-f16 decides whether fp16 weights can run on WebGPU). */
let initAdapter: AdapterSummary | undefined;
/** fp16 weights on WebGPU need the adapter's shader-f16 (InitResult.weightsNote when it is missing). */
const NO_SHADER_F16 = "fp16 weights need the adapter's shader-f16, which this one lacks: fp32 weights";

/** The weight storage to build for `ep`: fp16 only where asked and runnable. */
function weightsFor(ep: "webgpu" | "wasm"): "fp32" | "fp16" {
  if ((initOptions?.weights ?? "fp32") !== "fp16") return "fp32";
  return ep === "webgpu" && !initAdapter?.shaderF16 ? "fp32" : "fp16";
}

async function build(ep: "webgpu" | "wasm"): Promise<OrtRwkv> {
  const o = initOptions!;
  const s = source!;
  return OrtRwkv.create(ort, s.ow ?? { config: s.config }, {
    ep,
    weights: weightsFor(ep),
    mode: o.mode,
    maxTokens: o.maxTokens,
    chunk: o.chunk,
    probes: o.probes,
    parallelLogits: o.parallelLogits,
    logSeverityLevel: o.logSeverityLevel,
    graphCapture: ep === "webgpu" ? (o.graphCapture ?? false) : false,
    ...(ep === "webgpu" && device ? { device } : {}),
    ...(s.graphs ? { graphs: s.graphs } : {}),
  });
}

async function init(src: ModelSource, options: WorkerInitOptions): Promise<InitResult> {
  if (model) throw new OrtRwkvError("unsupported", "this worker already holds a model; dispose it first");
  const t0 = performance.now();
  initOptions = options;
  ort.env.wasm.wasmPaths = { wasm: options.wasmUrl };
  // ORT writes its log through console.error: keep the page's console for real errors unless asked
  ort.env.logLevel = options.logSeverityLevel === 0 ? "verbose" : "error";
  let loaded: LoadedSummary | undefined;
  let tokenizerSummary: TokenizerSummary | undefined;
  let rwkvWeights: RwkvWeights | undefined; // for the fused step (its own layouts)
  if ("checkpoint" in src || "synthetic" in src) {
    // read and validate the file here, off the page's thread; a bad file throws CheckpointError before
    // anything is built (nothing half-loaded)
    const r0 = performance.now();
    let weights: RwkvWeights;
    let meta: Pick<LoadedSummary, "format" | "naming" | "dtype" | "parameterCount">;
    if ("checkpoint" in src) {
      const hfConfig = src.hfConfigJson ? readHfConfig(src.hfConfigJson) : src.hfConfig;
      if (src.tokenizerJson) tokenizerSummary = readTokenizer(src.tokenizerJson);
      const ck = loadRwkvCheckpoint(src.checkpoint, hfConfig ? { hfConfig } : {});
      weights = ck.weights;
      meta = { format: ck.format, naming: ck.naming, dtype: ck.dtype, parameterCount: ck.parameterCount };
    } else {
      weights = syntheticWeights(src.synthetic, src.seed ?? 0);
      meta = {
        format: "synthetic",
        naming: "synthetic",
        dtype: "F32",
        parameterCount: countParameters(weights),
      };
    }
    loaded = {
      ...meta,
      w: weights.blocks.map((b) => b.att.w.slice()),
      u: weights.blocks.map((b) => b.att.u.slice()),
      readMs: performance.now() - r0,
    };
    source = { ow: prepareOnnxWeights(weights), config: weights.config };
    rwkvWeights = weights;
  } else if ("weights" in src) {
    // prebuild the (in, out) matrices once for both graphs
    source = { ow: prepareOnnxWeights(src.weights), config: src.weights.config };
    rwkvWeights = src.weights;
  } else {
    source = { config: src.config, graphs: src.graphs };
  }
  const config = source.config;
  threadChoice ??= configureThreads(options, stepMatrixNumbers(config));
  const want = options.ep ?? "auto";
  let fallbackReason: string | undefined;
  let adapter: AdapterSummary | undefined;
  initAdapter = undefined;
  if (want !== "wasm") {
    const pick = await pickWebGpu(config, want);
    adapter = pick.adapter;
    initAdapter = adapter;
    if (pick.reason) fallbackReason = pick.reason;
    else {
      try {
        model = await build("webgpu");
      } catch (e) {
        if (!(e instanceof SessionBuildError)) throw e;
        fallbackReason = e.message;
      }
    }
    if (fallbackReason && want === "webgpu") throw new SessionBuildError("webgpu", fallbackReason);
  }
  if (!model) model = await build("wasm");
  if (fallbackReason) post({ type: "event", kind: "fallback", message: fallbackReason, ep: "wasm" });
  state = model.initialState();
  owner = "both";
  lastLogits = undefined;
  engineFallback = undefined;
  if (options.engine === "fused") {
    if (model.ep !== "webgpu" || !device)
      engineFallback = `the fused step needs WebGPU (${fallbackReason ?? "wasm was asked for"})`;
    else if (!rwkvWeights)
      engineFallback = "the fused step needs the weights (this model came as ONNX graphs)";
    else {
      try {
        fused = await FusedRwkv.create(device as unknown as GDevice, rwkvWeights);
      } catch (e) {
        if (!(e instanceof FusedError)) throw e;
        engineFallback = e.message;
      }
    }
  }
  return {
    engine: fused ? "fused" : "ort",
    ...(engineFallback ? { engineFallback } : {}),
    ep: model.ep,
    ...(fallbackReason ? { fallbackReason } : {}),
    ...(adapter ? { adapter } : {}),
    config,
    buildSeconds: (performance.now() - t0) / 1000,
    ortVersion: ort.env.versions.web ?? "unknown",
    stateLocation: model.ep === "webgpu" ? "gpu-buffer" : "cpu",
    weights: model.weights,
    ...(options.weights === "fp16" && model.weights !== "fp16" ? { weightsNote: NO_SHADER_F16 } : {}),
    ...(model.ep === "webgpu"
      ? {
          sessionsOnWorkerDevice:
            (await (ort.env.webgpu as unknown as { device: unknown }).device) === device,
        }
      : {}),
    ...(loaded ? { loaded } : {}),
    ...(options.graphCapture ? { graphCapture: model.graphCapture } : {}),
    ...(options.graphCapture === "both" ? { graphCaptureParallel: model.graphCaptureParallel } : {}),
    ...(model.graphCaptureFallback ? { graphCaptureFallback: model.graphCaptureFallback } : {}),
    ...(tokenizerSummary ? { tokenizer: tokenizerSummary } : {}),
    ...threadsInUse(),
  };
}

/* The transformer baseline (a GPT of a synthetic shape), for timing against RWKV: a worker holds either. */
let gpt: OrtGpt | undefined;
let gptCache: GptCache | undefined;

async function gptInit(
  src: GptInitSource,
  options: WorkerInitOptions & { attention?: boolean },
): Promise<GptInitResult> {
  if (gpt || model)
    throw new OrtRwkvError("unsupported", "this worker already holds a model; dispose it first");
  const t0 = performance.now();
  ort.env.wasm.wasmPaths = { wasm: options.wasmUrl };
  ort.env.logLevel = options.logSeverityLevel === 0 ? "verbose" : "error";
  let weights: GptWeights;
  let parameterCount = 0;
  if ("weights" in src) {
    weights = src.weights;
    parameterCount = countGptParameters(weights);
  } else {
    const tensors = syntheticGptTensors({ ...src, bias: true }, src.seed ?? 0);
    for (const t of tensors.values()) parameterCount += t.data.length;
    weights = gptWeightsFromTensors(tensors, { nHead: src.nHead });
  }
  threadChoice ??= configureThreads(options, stepMatrixNumbers(weights.config));
  const attention = !!options.attention;
  const want = options.ep ?? "auto";
  let fallbackReason: string | undefined;
  let adapter: AdapterSummary | undefined;
  if (want !== "wasm") {
    const pick = await pickWebGpu(weights.config as unknown as RwkvConfig, want);
    adapter = pick.adapter;
    if (pick.reason) fallbackReason = pick.reason;
    else {
      try {
        gpt = await OrtGpt.create(ort, weights, { ep: "webgpu", attention, ...(device ? { device } : {}) });
      } catch (e) {
        if (!(e instanceof SessionBuildError)) throw e;
        fallbackReason = e.message;
      }
    }
    if (fallbackReason && want === "webgpu") throw new SessionBuildError("webgpu", fallbackReason);
  }
  if (!gpt) gpt = await OrtGpt.create(ort, weights, { ep: "wasm", attention });
  gptCache = gpt.newCache();
  return {
    ep: gpt.ep,
    ...(fallbackReason ? { fallbackReason } : {}),
    ...(adapter ? { adapter } : {}),
    buildSeconds: (performance.now() - t0) / 1000,
    parameterCount,
    ...threadsInUse(),
  };
}

/* Chapter 9's causal trace (./trace-ort.ts): a worker holds one model's trace graph. */
let tracer: OrtTrace | undefined;

async function traceInit(src: TraceInitSource, options: WorkerInitOptions): Promise<TraceInitResult> {
  if (tracer || gpt || model)
    throw new OrtRwkvError("unsupported", "this worker already holds a model; dispose it first");
  const t0 = performance.now();
  ort.env.wasm.wasmPaths = { wasm: options.wasmUrl };
  ort.env.logLevel = options.logSeverityLevel === 0 ? "verbose" : "error";
  const config = src.weights.config;
  threadChoice ??= configureThreads(options, stepMatrixNumbers(config));
  const make = (ep: "webgpu" | "wasm") =>
    src.kind === "rwkv" ? OrtTrace.rwkv(ort, src.weights, { ep }) : OrtTrace.gpt(ort, src.weights, { ep });
  const want = options.ep ?? "auto";
  let fallbackReason: string | undefined;
  if (want !== "wasm") {
    const pick = await pickWebGpu(config as unknown as RwkvConfig, want);
    if (pick.reason) fallbackReason = pick.reason;
    else {
      try {
        tracer = await make("webgpu");
      } catch (e) {
        fallbackReason = messageOf(e);
      }
    }
    if (fallbackReason && want === "webgpu") throw new SessionBuildError("webgpu", fallbackReason);
  }
  tracer ??= await make("wasm");
  return {
    ep: tracer.ep,
    ...(fallbackReason ? { fallbackReason } : {}),
    buildSeconds: (performance.now() - t0) / 1000,
    rowsPerCall: tracer.rowsPerCall,
    ...threadsInUse(),
  };
}

function needTracer(): OrtTrace {
  if (!tracer) throw new OrtRwkvError("unsupported", "no trace graph here (send traceInit first)");
  return tracer;
}

function needGpt(): OrtGpt {
  if (!gpt) throw new OrtRwkvError("unsupported", "the transformer is not loaded (send gptInit first)");
  return gpt;
}

/** After a lost device: rebuild on wasm, reset the state, tell the page. */
async function recoverOnWasm(reason: string): Promise<void> {
  const old = model;
  model = undefined;
  state = undefined;
  device = undefined;
  if (fused) {
    fused.dispose();
    fused = undefined;
    engineFallback = `${reason}: the fused step needs WebGPU`;
  }
  owner = "both";
  lastLogits = undefined;
  try {
    await old?.dispose();
  } catch {
    // the device is gone; releasing its sessions may fail
  }
  model = await build("wasm");
  state = model.initialState();
  post({
    type: "event",
    kind: "device-lost",
    message: `${reason}; now running on wasm (state reset)`,
    ep: "wasm",
  });
}

function need(): OrtRwkv {
  if (!model) throw new OrtRwkvError("unsupported", "the model is not loaded (send init first)");
  return model;
}

/** The fused engine with the current state (and logits) in it. */
async function fusedNow(): Promise<FusedRwkv> {
  const f = fused!;
  if (owner === "ort") {
    f.setState(await state!.read());
    if (lastLogits) f.setLogits(lastLogits);
    owner = "both";
  }
  return f;
}

/** ORT's `state` with the current state in it. */
async function ortNow(): Promise<OrtRwkv> {
  const m = need();
  if (owner === "fused") {
    const next = m.fromRwkvState(await fused!.getState());
    state?.dispose();
    state = next;
    owner = "both";
  }
  return m;
}

/** A fused call failed: after a lost device that is DeviceLostError (and the model moves to wasm). */
async function fusedFailure(e: unknown): Promise<never> {
  if (deviceLostReason || e instanceof DeviceLostError) {
    const reason = deviceLostReason ?? messageOf(e);
    await recoverOnWasm(reason);
    throw new DeviceLostError(reason);
  }
  throw e;
}

function checkTokens(tokens: number[]): void {
  const V = need().config.vocabSize;
  for (const t of tokens) if (!Number.isInteger(t) || t < 0 || t >= V) throw new TokenOutOfRangeError(t, V);
}

async function run(kind: "step" | "steps" | "forward", input: number | number[]): Promise<RunResult> {
  const t0 = performance.now();
  const V = need().config.vocabSize;
  if (fused && kind !== "forward") {
    const tokens = kind === "step" ? [input as number] : (input as number[]);
    checkTokens(tokens);
    try {
      const f = await fusedNow();
      const logits = kind === "step" ? await f.step(tokens[0]) : (await f.steps(tokens))!;
      owner = "fused";
      lastLogits = logits.slice();
      return { logits, ep: "webgpu", engine: "fused", ms: performance.now() - t0 };
    } catch (e) {
      return fusedFailure(e);
    }
  }
  const m = fused ? await ortNow() : need();
  try {
    const r =
      kind === "step"
        ? await m.step(input as number, state)
        : kind === "steps"
          ? await m.steps(input as number[], state)
          : await m.forward(input as number[], state);
    const old = state;
    state = r.state;
    if (old && old !== state) old.dispose();
    owner = "ort";
    lastLogits = r.logits.slice(r.logits.length - V);
    return {
      logits: r.logits,
      ...(r.probes ? { probes: r.probes } : {}),
      ep: m.ep,
      engine: "ort",
      ms: performance.now() - t0,
    };
  } catch (e) {
    if (e instanceof DeviceLostError) await recoverOnWasm(e.message);
    throw e;
  }
}

/** n times: sample from the current logits, then step that token (on the GPU with the fused engine). */
async function generate(o: GenerateRequestOptions): Promise<GenerateResult> {
  const t0 = performance.now();
  if (!Number.isInteger(o.n) || o.n < 0) throw new RangeError(`generate needs a token count, got ${o.n}`);
  if (fused) {
    try {
      const f = await fusedNow();
      if (!f.hasLogits)
        throw new OrtRwkvError("unsupported", "generate needs a prompt first (step, steps or forward)");
      const tokens = await f.generate(o.n, o);
      owner = "fused";
      lastLogits = undefined; // the fused engine holds the current logits
      return { tokens, ms: performance.now() - t0, engine: "fused", ep: "webgpu", sampledOn: "gpu" };
    } catch (e) {
      if (e instanceof OrtRwkvError || e instanceof RangeError) throw e;
      return fusedFailure(e);
    }
  }
  const m = need();
  if (!lastLogits)
    throw new OrtRwkvError("unsupported", "generate needs a prompt first (step, steps or forward)");
  if (o.seed !== undefined || !cpuSampler) cpuSampler = new Sampler(o.seed ?? 0);
  const tokens: number[] = [];
  for (let i = 0; i < o.n; i++) {
    const t = cpuSampler.sample(lastLogits, { temperature: o.temperature, topP: o.topP });
    tokens.push(t);
    const r = await run("step", t);
    lastLogits = r.logits;
  }
  return { tokens, ms: performance.now() - t0, engine: "ort", ep: m.ep, sampledOn: "cpu" };
}

async function handle(req: Request): Promise<{ result: unknown; transfer: Transferable[] }> {
  switch (req.type) {
    case "init":
      return { result: await init(req.source, req.options), transfer: [] };
    case "step":
    case "steps":
    case "forward": {
      if (req.type === "forward" && req.from) {
        const m = need();
        const next = req.from === "initial" ? m.initialState() : m.fromRwkvState(req.from);
        state?.dispose();
        state = next;
        owner = "ort";
      }
      const r = await run(req.type, req.type === "step" ? req.token : req.tokens);
      const transfer: Transferable[] = [r.logits.buffer as ArrayBuffer];
      for (const p of Object.values(r.probes ?? {})) transfer.push(p.buffer as ArrayBuffer);
      return { result: r, transfer };
    }
    case "reset": {
      const m = need();
      state?.dispose();
      state = m.initialState();
      fused?.reset();
      owner = "both";
      lastLogits = undefined;
      return { result: null, transfer: [] };
    }
    case "getState":
      need();
      if (owner === "fused") {
        try {
          return { result: await fused!.getState(), transfer: [] };
        } catch (e) {
          return fusedFailure(e);
        }
      }
      return { result: await state!.read(), transfer: [] };
    case "setState": {
      const m = need();
      const next = m.fromRwkvState(req.state);
      state?.dispose();
      state = next;
      fused?.setState(req.state);
      owner = "both";
      lastLogits = undefined;
      return { result: null, transfer: [] };
    }
    case "generate":
      return { result: await generate(req), transfer: [] };
    case "simulateDeviceLoss": {
      const d = device;
      if (!d) return { result: false, transfer: [] };
      d.destroy();
      await d.lost; // the handler registered in pickWebGpu has marked the model lost by now
      return { result: true, transfer: [] };
    }
    case "gptInit":
      return { result: await gptInit(req.source, req.options), transfer: [] };
    case "gptForward": {
      const g = needGpt();
      const t0 = performance.now();
      const r = await g.forward(req.tokens, gptCache);
      gptCache = r.cache;
      const result: GptStepResult = {
        cacheLength: r.cache.length,
        ms: performance.now() - t0,
        kvNumbers: r.cache.k.size + r.cache.v.size,
        ...(r.attention ? { attention: r.attention } : {}),
      };
      return { result, transfer: (r.attention ?? []).map((a) => a.buffer as ArrayBuffer) };
    }
    case "gptReset":
      gptCache = needGpt().newCache();
      return { result: null, transfer: [] };
    case "tokenize":
      return { result: needTokenizer().encode(req.text), transfer: [] };
    case "tokenTexts": {
      const tk = needTokenizer();
      const texts = req.ids.map((id) =>
        Number.isInteger(id) && id >= 0 && id < tk.vocabSize ? tk.tokenText(id) : null,
      );
      return { result: texts, transfer: [] };
    }
    case "traceInit":
      return { result: await traceInit(req.source, req.options), transfer: [] };
    case "traceBegin":
      needTracer().begin(req.job);
      return { result: null, transfer: [] };
    case "traceRun":
      return { result: await needTracer().run(req.noise), transfer: [] };
    case "traceRows":
      return { result: await needTracer().rows(req.ts), transfer: [] };
    case "dispose": {
      await tracer?.dispose();
      tracer = undefined;
      await gpt?.dispose();
      gpt = undefined;
      gptCache = undefined;
      state?.dispose();
      state = undefined;
      fused?.dispose();
      fused = undefined;
      await model?.dispose();
      model = undefined;
      tokenizer = undefined;
      device?.destroy();
      device = undefined;
      return { result: null, transfer: [] };
    }
  }
}

const queue = new SerialQueue();
// With threads, ORT's bundled wasm starts its pthread workers from this same script (import.meta.url), named
// "em-pthread...": there Emscripten owns the messages, and this worker's request handler must stay out.
if (!scope.name?.startsWith("em-pthread")) {
  scope.onmessage = (e: MessageEvent<Request>) => {
    const req = e.data;
    void queue.run(async () => {
      try {
        const { result, transfer } = await handle(req);
        post({ id: req.id, ok: true, result }, transfer);
      } catch (err) {
        post({ id: req.id, ok: false, error: serializeError(err) });
      }
    });
  };
}
