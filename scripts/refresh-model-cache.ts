/**
 * Framework caches data-loader output (src/.observablehq/cache/data/) and re-runs a loader only when the loader
 * file itself changes, not when the files it reads change. The model loaders (tiny-rwkv*, tiny-gpt*, the
 * chapters' precomputed traces in traces/) read data/models/, and ort-worker.js bundles src/runtime/worker.ts:
 * delete their cached output whenever a file in data/models/ (or src/rwkv/, src/transformer/, src/onnx/,
 * src/runtime/, src/trace/, src/live/, src/chapters/, src/build/, src/util/, whose code computes the traces or
 * is bundled into the worker)
 * is newer, so a newly trained model is picked up by the next build. Usage: `tsx scripts/refresh-model-cache.ts` (before `observable build`).
 * The service worker (coi-sw.js) is refreshed the same way.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const cache = path.join(root, "src", ".observablehq", "cache", "data");

function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

// Everything the model/trace loaders import: the models, the RWKV and GPT code, the graphs and runtime, and the
// trace, live-model, chapter-maths and build-time helpers they call.
const inputs = Math.max(
  newest(path.join(root, "data", "models")),
  newest(path.join(root, "src", "rwkv")),
  newest(path.join(root, "src", "transformer")),
  newest(path.join(root, "src", "onnx")),
  newest(path.join(root, "src", "runtime")),
  ...["trace", "live", "chapters", "build", "util"].map((dir) => newest(path.join(root, "src", dir))),
);
const targets: string[] = [];
if (existsSync(cache)) {
  for (const name of readdirSync(cache))
    // ort-worker.js too: the bundled model worker (src/runtime/worker.ts and what it imports)
    if (/^(tiny-(rwkv|gpt)|ort-worker)/.test(name)) targets.push(path.join(cache, name));
  const traces = path.join(cache, "traces");
  if (existsSync(traces)) for (const name of readdirSync(traces)) targets.push(path.join(traces, name));
}
// the cross-origin-isolation service worker (src/coi-sw.js.ts, from src/runtime/isolation.ts), at the cache's root
const coiSw = path.join(cache, "..", "coi-sw.js");
if (existsSync(coiSw)) targets.push(coiSw);
let removed = 0;
for (const file of targets) {
  if (statSync(file).mtimeMs < inputs) {
    rmSync(file, { force: true });
    removed++;
  }
}
console.log(`refresh-model-cache: ${removed} stale cached model/trace outputs removed`);
