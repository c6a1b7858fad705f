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

export function ortWasmPath(): string {
  const require = createRequire(import.meta.url);
  return require.resolve(`onnxruntime-web/${ORT_WASM_NAME}`);
}

export function ortWasmBytes(): Uint8Array {
  return readFileSync(ortWasmPath());
}

/** Bundle an entry (default: the model worker) into one self-contained ES module (JS source text). */
export async function bundleModule(entry = join(here, "worker.ts"), minify = true): Promise<string> {
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
    // ORT's bundle refers to node builtins behind runtime checks it never takes in a browser
    external: ["node:*", "fs", "path", "url", "worker_threads", "module"],
  });
  return out.outputFiles[0].text;
}
