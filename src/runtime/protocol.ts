/**
 * Messages between the page (./client.ts) and the model worker (./worker.ts). Plain data only
 * (structured clone); typed arrays are transferred where possible.
 */
import type { RwkvConfig, RwkvState, RwkvWeights } from "../rwkv/weights.js";
import type { GptWeights } from "../transformer/gpt.js";
import type { SerializedError } from "./errors.js";
import type { TraceJob } from "./trace-ort.js";

export type EpPreference = "auto" | "webgpu" | "wasm";

export interface WorkerInitOptions {
  /** "auto": WebGPU when the browser has an adapter that fits the model, else wasm (default) */
  ep?: EpPreference;
  /** URL of ort-wasm-simd-threaded.asyncify.wasm served by the site itself (never a CDN) */
  wasmUrl: string;
  /** which graphs to build (default "both") */
  mode?: "rnn" | "parallel" | "both";
  maxTokens?: number;
  chunk?: number;
  probes?: boolean;
  parallelLogits?: "all" | "last";
  /**
   * matrix storage: "fp32" (default) or "fp16" (half the bytes; on WebGPU only where the adapter has shader-f16,
   * else fp32 with InitResult.weightsNote saying why)
   */
  weights?: "fp32" | "fp16";
  /** ORT log severity: 0 = verbose (node placement is logged), default 3 */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * WebGPU: run `step` through ORT graph capture where possible (default false; see rwkv-ort.ts); "both":
   * full chunks of `forward` too
   */
  graphCapture?: boolean | "both";
  /**
   * wasm threads for ORT, when the page fixes them (`?threads=`, which only the page sees, or its own request;
   * ./threads.ts) with the reason; the worker still uses 1 when it is not cross-origin isolated. Default: the
   * policy applied in the worker, which knows the model's size.
   */
  numThreads?: number;
  threadsReason?: string;
  /**
   * which engine runs the RNN step (`step`, `steps`, `generate`): "ort" (the ONNX step graph, default) or
   * "fused" (hand-written WGSL kernels, ./fused/; WebGPU only: on wasm, or when they cannot be built, ORT runs
   * them and InitResult.engineFallback says why). The parallel graph and the probes stay on ORT either way.
   */
  engine?: Engine;
}

export type Engine = "ort" | "fused";

/**
 * Where the model comes from: weights (graphs are built in the worker), prebuilt ONNX bytes, checkpoint bytes
 * (a .pth / .bin / .safetensors file, read and validated in the worker, so a 677 MB file never blocks the page), or
 * a synthetic shape (deterministic random weights made in the worker, src/rwkv/synthetic.ts).
 */
export type ModelSource =
  | { weights: RwkvWeights }
  | { config: RwkvConfig; graphs: { rnn?: Uint8Array; parallel?: Uint8Array } }
  | {
      checkpoint: Uint8Array;
      hfConfig?: object;
      /**
       * a reader's config.json and tokenizer.json as bytes: the worker checks their size and nesting depth before
       * parsing them (src/util/json-limits.ts), so a huge or deeply nested file never reaches the page's thread; a
       * config.json that fails fails the load, a tokenizer.json that fails is reported in InitResult.tokenizer
       */
      hfConfigJson?: Uint8Array;
      tokenizerJson?: Uint8Array;
    }
  | { synthetic: RwkvConfig; seed?: number };

/** The tokenizer.json the worker read for a checkpoint source: its vocabulary, or why it is not used. */
export interface TokenizerSummary {
  vocabSize?: number;
  error?: string;
}

/** What the worker read from a checkpoint or made for a synthetic shape (for the page's figures and tables). */
export interface LoadedSummary {
  /** "safetensors" | "torch-zip" | "synthetic" */
  format: string;
  /** "blinkdl" | "hf" | "synthetic" */
  naming: string;
  /** stored dtype ("F32", "BF16", ...; "F32" for synthetic) */
  dtype: string;
  /** values stored in the file (every tensor) */
  parameterCount: number;
  /** per layer, the loaded decay w = -exp(time_decay) (C) */
  w: Float32Array[];
  /** per layer, the bonus u = time_first (C) */
  u: Float32Array[];
  /** milliseconds to read and validate the checkpoint (or make the synthetic weights) */
  readMs: number;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter: boolean;
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  shaderF16: boolean;
}

export interface InitResult {
  /** the execution provider that really runs the sessions */
  ep: "webgpu" | "wasm";
  /** why WebGPU was not used (when it was wanted); undefined when it runs on WebGPU or wasm was asked for */
  fallbackReason?: string;
  adapter?: AdapterSummary;
  config: RwkvConfig;
  /** seconds to build the graphs and the sessions */
  buildSeconds: number;
  ortVersion: string;
  /** where the recurrent state lives between calls: "gpu-buffer" (WebGPU) or "cpu" */
  stateLocation: string;
  /** the matrices' storage the sessions were built with */
  weights: "fp32" | "fp16";
  /** why fp16 was asked for but not used */
  weightsNote?: string;
  /**
   * WebGPU: whether ORT's sessions run on the worker's own GPUDevice (the one whose loss it watches, with the
   * adapter's buffer limits), read back from ort.env.webgpu.device after the sessions were built
   */
  sessionsOnWorkerDevice?: boolean;
  /** for checkpoint and synthetic sources */
  loaded?: LoadedSummary;
  /** whether `step` runs through ORT graph capture (only when asked for with `graphCapture`) */
  graphCapture?: boolean;
  /** whether full chunks of `forward` run through ORT graph capture (only when asked for with "both") */
  graphCaptureParallel?: boolean;
  /** why graph capture was asked for but is not used */
  graphCaptureFallback?: string;
  /** with a source's tokenizerJson: the tokenizer the worker keeps (requests "tokenize", "tokenTexts") */
  tokenizer?: TokenizerSummary;
  /** the engine of the RNN step (see WorkerInitOptions.engine) */
  engine: Engine;
  /** why "fused" was asked for but ORT runs the step */
  engineFallback?: string;
  /** wasm threads ORT runs with (read back from ORT after the sessions were built) */
  threads: number;
  /** why that many (./threads.ts) */
  threadsReason: string;
}

/**
 * The transformer baseline in the worker (a second Worker of the same script): a synthetic GPT shape, or loaded
 * weights (`{weights}`, e.g. the project's trained tiny GPT).
 */
export type GptInitSource = GptSyntheticShape | { weights: GptWeights };

export interface GptSyntheticShape {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  vocabSize: number;
  blockSize: number;
  seed?: number;
}

export interface GptInitResult {
  ep: "webgpu" | "wasm";
  fallbackReason?: string;
  adapter?: AdapterSummary;
  buildSeconds: number;
  parameterCount: number;
  /** wasm threads ORT runs with, and why (as InitResult's) */
  threads: number;
  threadsReason: string;
}

export interface GptStepResult {
  /** tokens in the KV cache after this call */
  cacheLength: number;
  /**
   * with gptInit's `attention` option: per layer, the softmax weights (H, T, P+T) row-major of the T new query
   * positions over all P+T keys
   */
  attention?: Float32Array[];
  /** milliseconds inside the worker (run and logits read back) */
  ms: number;
  /** numbers held by the KV cache tensors (past_k + past_v) after this call, from their dims */
  kvNumbers: number;
}

export interface RunResult {
  /** (V) for step; (T, V) or (1, V) for forward */
  logits: Float32Array;
  probes?: Record<string, Float32Array>;
  /** the EP that ran this call (changes to "wasm" after a lost device) */
  ep: "webgpu" | "wasm";
  /** the engine that ran it ("fused" only for step and steps, when the fused step is in use) */
  engine: Engine;
  /** milliseconds inside the worker */
  ms: number;
}

/** `generate`: tokens sampled on the GPU by the fused engine, or on the CPU from ORT's logits (same loop). */
export interface GenerateRequestOptions {
  /** tokens to generate (each: sample from the current logits, then one step of that token) */
  n: number;
  /** 0 = greedy */
  temperature: number;
  topP: number;
  /** restart the sampler's random stream from this seed (else it continues from the last generate) */
  seed?: number;
}

export interface GenerateResult {
  tokens: number[];
  /** milliseconds inside the worker for all of them */
  ms: number;
  engine: Engine;
  ep: "webgpu" | "wasm";
  /** where the tokens were sampled */
  sampledOn: "gpu" | "cpu";
}

/** Chapter 9's causal trace in a worker of its own (./trace-ort.ts): the RWKV's or the GPT's trace-step graph. */
export type TraceInitSource = { kind: "rwkv"; weights: RwkvWeights } | { kind: "gpt"; weights: GptWeights };

export interface TraceInitResult {
  ep: "webgpu" | "wasm";
  fallbackReason?: string;
  buildSeconds: number;
  /** positions the trace hands `traceRows` at once */
  rowsPerCall: number;
  threads: number;
  threadsReason: string;
}

export type Request =
  | { id: number; type: "init"; source: ModelSource; options: WorkerInitOptions }
  | { id: number; type: "step"; token: number }
  /** RNN mode over several tokens from the kept state (which advances); logits of the last one only */
  | { id: number; type: "steps"; tokens: number[] }
  /** sample and step n times from the kept state and the last logits (a prompt must have run: step/steps/forward) */
  | ({ id: number; type: "generate" } & GenerateRequestOptions)
  /**
   * `from`: run from this state ("initial": the empty one) instead of the kept state; the kept state becomes the
   * state after these tokens either way (traces set it on each call instead of a separate setState round trip)
   */
  | { id: number; type: "forward"; tokens: number[]; from?: RwkvState | "initial" }
  | { id: number; type: "reset" }
  | { id: number; type: "getState" }
  | { id: number; type: "setState"; state: RwkvState }
  | { id: number; type: "dispose" }
  /** destroy the GPU device on purpose (tests, and a presenter rehearsing the fallback); a no-op on wasm */
  | { id: number; type: "simulateDeviceLoss" }
  | {
      id: number;
      type: "gptInit";
      source: GptInitSource;
      /** `attention`: build the graph with its attention-weight outputs (chapter 2's softmax figure) */
      options: WorkerInitOptions & { attention?: boolean };
    }
  /** T tokens after the cached ones (the cache grows by T) */
  | { id: number; type: "gptForward"; tokens: number[] }
  | { id: number; type: "gptReset" }
  /** the kept tokenizer (InitResult.tokenizer): text -> token ids */
  | { id: number; type: "tokenize"; text: string }
  | { id: number; type: "traceInit"; source: TraceInitSource; options: WorkerInitOptions }
  /** a new trace: the sequence, prompt length, subject and target (./trace-ort.ts TraceJob) */
  | { id: number; type: "traceBegin"; job: TraceJob }
  /** noise null: the clean run; else a corrupted run with these noise rows; answers log P[o] */
  | { id: number; type: "traceRun"; noise: Float32Array | null }
  /** log P[o] of the restored runs (l, t) for every block l and each t of ts (Float64Array [L] per t) */
  | { id: number; type: "traceRows"; ts: number[] }
  /** the kept tokenizer: the text of each token id, null for an id outside its vocabulary */
  | { id: number; type: "tokenTexts"; ids: number[] };

export type Response =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: SerializedError };

/** Unsolicited notices from the worker (e.g. the GPU device was lost and the model now runs on wasm). */
export interface WorkerEvent {
  type: "event";
  kind: "device-lost" | "fallback";
  message: string;
  ep: "webgpu" | "wasm";
}
