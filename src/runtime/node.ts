/**
 * Node entry of the runtime (CLI, tests, loaders): onnxruntime-web's wasm EP.
 * The browser uses ./worker.ts (onnxruntime-web/webgpu) through ./client.ts instead.
 */
import * as ort from "onnxruntime-web";
import type { OnnxWeights } from "../onnx/rwkv-graph.js";
import { STATE_NAMES, type StateName } from "../onnx/names.js";
import type { RwkvConfig, RwkvWeights } from "../rwkv/weights.js";
import type { GptWeights } from "../transformer/gpt.js";
import { OrtGpt } from "./gpt-ort.js";
import { measureRooflines, type Rooflines } from "./roofline.js";
import { OrtRwkv, OrtState, type OrtRwkvOptions } from "./rwkv-ort.js";

export { OrtRwkv, OrtState } from "./rwkv-ort.js";
export { OrtGpt, type GptCache, type GptRunResult } from "./gpt-ort.js";
export type { ForwardResult, GraphMode, OrtRwkvOptions, StepResult } from "./rwkv-ort.js";
export * from "./errors.js";
export type { Rooflines } from "./roofline.js";

let configured = false;
/**
 * One wasm thread by default (stable timings and tests); the CLI's `--threads N` passes more. ORT's wasm starts
 * once per process, with the thread count set before its first session.
 */
export function configureNodeOrt(opts: { numThreads?: number } = {}): void {
  ort.env.wasm.numThreads = opts.numThreads ?? 1;
  ort.env.logLevel = "error";
  configured = true;
}

/** The wasm threads ORT runs with (ORT lowers env.wasm.numThreads to 1 when it cannot start threads). */
export function nodeOrtThreads(): number {
  return ort.env.wasm.numThreads ?? 1;
}

/** Build the graphs from `weights` and open wasm sessions on them. */
export async function createOrtRwkv(
  weights: RwkvWeights | OnnxWeights,
  opts: Omit<OrtRwkvOptions, "ep"> = {},
): Promise<OrtRwkv> {
  if (!configured) configureNodeOrt();
  return OrtRwkv.create(ort, weights, { ...opts, ep: "wasm" });
}

/** Matmul-rate and bandwidth rooflines of this runtime (wasm EP, current thread count). */
export function nodeRooflines(
  opts: { T?: number; C?: number; F?: number; repeats?: number; bandwidthBytes?: number } = {},
): Promise<Rooflines> {
  if (!configured) configureNodeOrt();
  return measureRooflines(ort, { ...opts, ep: "wasm" });
}

/** The empty state (attX = ffnX = a = b = 0, p = -1e38) as CPU ORT tensors, usable with any session. */
export function emptyOrtState(config: RwkvConfig): OrtState {
  const { nLayer: L, nEmbd: C } = config;
  const t = {} as Record<StateName, ort.Tensor>;
  for (const s of STATE_NAMES) {
    const d = new Float32Array(L * C);
    if (s === "p") d.fill(-1e38);
    t[s] = new ort.Tensor("float32", d, [L, C]);
  }
  return new OrtState(t, config);
}

/** The transformer baseline's graph on the wasm EP, with a KV cache (see ./gpt-ort.ts). */
export function createOrtGpt(weights: GptWeights, opts: { attention?: boolean } = {}): Promise<OrtGpt> {
  if (!configured) configureNodeOrt();
  return OrtGpt.create(ort, weights, { ...opts, ep: "wasm" });
}

/** The ORT version in use (for reports). */
export const ortVersion: string = ort.env.versions.web ?? "unknown";
