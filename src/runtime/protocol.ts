/**
 * Messages between the page (./client.ts) and the model worker (./worker.ts). Plain data only
 * (structured clone); typed arrays are transferred where possible.
 */
import type { RwkvConfig, RwkvState, RwkvWeights } from "../rwkv/weights.js";
import type { SerializedError } from "./errors.js";

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
  /** ORT log severity: 0 = verbose (node placement is logged), default 3 */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * WebGPU: run `step` through ORT graph capture where possible (default false; see rwkv-ort.ts); "both":
   * full chunks of `forward` too
   */
  graphCapture?: boolean | "both";
}

/** Where the model comes from: weights (graphs are built in the worker) or prebuilt ONNX bytes. */
export type ModelSource =
  { weights: RwkvWeights } | { config: RwkvConfig; graphs: { rnn?: Uint8Array; parallel?: Uint8Array } };

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
  /** whether `step` runs through ORT graph capture (only when asked for with `graphCapture`) */
  graphCapture?: boolean;
  /** whether full chunks of `forward` run through ORT graph capture (only when asked for with "both") */
  graphCaptureParallel?: boolean;
  /** why graph capture was asked for but is not used */
  graphCaptureFallback?: string;
}

export interface RunResult {
  /** (V) for step; (T, V) or (1, V) for forward */
  logits: Float32Array;
  probes?: Record<string, Float32Array>;
  /** the EP that ran this call (changes to "wasm" after a lost device) */
  ep: "webgpu" | "wasm";
  /** milliseconds inside the worker */
  ms: number;
}

export type Request =
  | { id: number; type: "init"; source: ModelSource; options: WorkerInitOptions }
  | { id: number; type: "step"; token: number }
  | { id: number; type: "forward"; tokens: number[] }
  | { id: number; type: "reset" }
  | { id: number; type: "getState" }
  | { id: number; type: "setState"; state: RwkvState }
  | { id: number; type: "dispose" }
  /** destroy the GPU device on purpose (tests, and a presenter rehearsing the fallback); a no-op on wasm */
  | { id: number; type: "simulateDeviceLoss" };

export type Response =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: SerializedError };

/** Unsolicited notices from the worker (e.g. the GPU device was lost and the model now runs on wasm). */
export interface WorkerEvent {
  type: "event";
  kind: "device-lost" | "fallback";
  message: string;
  ep: "webgpu" | "wasm";
}
