/**
 * The one execution-provider policy, used by every page (through src/live/), by the model worker and by the CLI.
 * onnxruntime-web can run the graphs on WebGPU or on WebAssembly (wasm); which one runs is decided here only:
 *
 *  1. `?ep=webgpu|wasm|auto` in the page's address (or the CLI's `--ep`) wins, and the badge says so;
 *  2. else the caller's request (a page may ask for wasm, e.g. while another model owns the GPU);
 *  3. else WebGPU when there is a hardware adapter, and wasm with a reason when there is none, when requesting
 *     one fails, or when the only adapter is a software fallback (SwiftShader runs the tiny model's step in
 *     ~0.5 s where wasm takes ~5 ms: a software adapter always means wasm unless WebGPU is asked for by name).
 *
 * API:
 *   parseEp(value) -> EpPreference | undefined        "webgpu" | "wasm" | "auto", else undefined
 *   epFromUrl(search?) -> EpPreference | undefined    the `?ep=` of the page's address
 *   decideEp({requested?, adapter}) -> EpChoice        pure: the rules above from what was detected
 *   softwareAdapterReason(adapter) -> string|undefined the one sentence for a software adapter
 *   chooseEp(requested?) -> Promise<EpChoice>          detects navigator.gpu's adapter and applies decideEp
 *   engineFromUrl(search?) -> Engine | undefined        `?engine=fused|ort`: which engine runs the RNN step on
 *                                                       WebGPU (the fused WGSL kernels or ORT's step graph), for
 *                                                       every model the page opens (src/runtime/client.ts)
 */
import type { Engine, EpPreference } from "./protocol.js";

export type { Engine, EpPreference };

export interface EpChoice {
  /** what to ask the worker for: "auto" means WebGPU with wasm as the fallback */
  ep: EpPreference;
  /** why wasm (or why this choice was forced), shown by the badge; undefined when WebGPU is the plain choice */
  reason?: string;
}

/** What feature detection found: no WebGPU, no adapter, a failed request, or an adapter (software or not). */
export type AdapterFound =
  | { kind: "no-webgpu" }
  | { kind: "no-adapter" }
  | { kind: "request-failed"; message: string }
  | { kind: "adapter"; isFallbackAdapter: boolean };

export function parseEp(value: string | null | undefined): EpPreference | undefined {
  return value === "webgpu" || value === "wasm" || value === "auto" ? value : undefined;
}

export function epFromUrl(
  search: string | undefined = globalThis.location?.search,
): EpPreference | undefined {
  return parseEp(new URLSearchParams(search ?? "").get("ep"));
}

export function engineFromUrl(search: string | undefined = globalThis.location?.search): Engine | undefined {
  const v = new URLSearchParams(search ?? "").get("engine");
  return v === "fused" || v === "ort" ? v : undefined;
}

export const SOFTWARE_ADAPTER_REASON = "the only WebGPU adapter is a software fallback (slower than wasm)";

export function softwareAdapterReason(adapter: { isFallbackAdapter: boolean }): string | undefined {
  return adapter.isFallbackAdapter ? SOFTWARE_ADAPTER_REASON : undefined;
}

/** The policy itself, from what was detected; `fromUrl` is the address's `?ep=`, which wins. */
export function decideEp({
  fromUrl,
  requested,
  adapter,
}: {
  fromUrl?: EpPreference;
  requested?: EpPreference;
  adapter: AdapterFound;
}): EpChoice {
  if (fromUrl) return { ep: fromUrl, reason: "?ep= in the address" };
  if (requested === "wasm" || requested === "webgpu") return { ep: requested };
  switch (adapter.kind) {
    case "no-webgpu":
      return { ep: "wasm", reason: "this browser has no WebGPU" };
    case "no-adapter":
      return { ep: "wasm", reason: "no WebGPU adapter" };
    case "request-failed":
      return { ep: "wasm", reason: `requesting a WebGPU adapter failed (${adapter.message})` };
    case "adapter": {
      const reason = softwareAdapterReason(adapter);
      return reason ? { ep: "wasm", reason } : { ep: "auto" };
    }
  }
}

interface GpuLike {
  requestAdapter(): Promise<{ info?: { isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean } | null>;
}

/** Detect the browser's WebGPU adapter (main thread or worker) and apply the policy. */
export async function chooseEp(requested?: EpPreference): Promise<EpChoice> {
  const fromUrl = epFromUrl();
  if (fromUrl || requested === "wasm" || requested === "webgpu")
    return decideEp({ fromUrl, requested, adapter: { kind: "no-adapter" } });
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  let adapter: AdapterFound;
  if (!gpu) adapter = { kind: "no-webgpu" };
  else {
    try {
      const a = await gpu.requestAdapter();
      adapter = a
        ? { kind: "adapter", isFallbackAdapter: !!(a.info?.isFallbackAdapter ?? a.isFallbackAdapter) }
        : { kind: "no-adapter" };
    } catch (e) {
      adapter = { kind: "request-failed", message: e instanceof Error ? e.message : String(e) };
    }
  }
  return decideEp({ requested, adapter });
}
