/**
 * Node-only build helpers for the browser runtime (data loaders, browser tests): bundle the model worker
 * (./worker.ts with onnxruntime-web/webgpu) into one ES module, and locate the ORT wasm binary that the
 * site must serve itself (never a CDN). Not imported by browser code.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** The wasm binary that onnxruntime-web/webgpu loads (its JSEP-free "asyncify" build, ~27 MB). */
export const ORT_WASM_NAME = "ort-wasm-simd-threaded.asyncify.wasm";

/**
 * The plain SIMD build (no asyncify), which onnxruntime-web's wasm-only bundle loads: the wasm EP alone, ~14 MB.
 * Chapter 9's trace workers run on it when the EP is wasm: the asyncify build ran the tiny RWKV's trace ~10x
 * slower in Node (docs/benchmarks.md, chapter 9).
 */
export const ORT_PLAIN_WASM_NAME = "ort-wasm-simd-threaded.wasm";

export function ortWasmPath(name = ORT_WASM_NAME): string {
  const require = createRequire(import.meta.url);
  return require.resolve(`onnxruntime-web/${name}`);
}

export function ortWasmBytes(name = ORT_WASM_NAME): Uint8Array {
  return readFileSync(ortWasmPath(name));
}

/**
 * Bundle an entry (default: the model worker) into one self-contained ES module (JS source text). `wasmOnly`: with
 * onnxruntime-web's wasm-only bundle in place of its WebGPU one (which loads ORT_PLAIN_WASM_NAME).
 */
export async function bundleModule(
  entry = join(here, "worker.ts"),
  minify = true,
  opts: { wasmOnly?: boolean } = {},
): Promise<string> {
  const esbuild = await import("esbuild");
  const out = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify,
    write: false,
    logLevel: "silent",
    ...(opts.wasmOnly ? { alias: { "onnxruntime-web/webgpu": "onnxruntime-web/wasm" } } : {}),
    // ORT's bundle refers to node builtins behind runtime checks it never takes in a browser
    external: ["node:*", "fs", "path", "url", "worker_threads", "module"],
  });
  return out.outputFiles[0].text;
}
