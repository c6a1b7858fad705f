// Data loader: the model worker (src/runtime/worker.ts) bundled with onnxruntime-web's wasm-only build (no WebGPU,
// no asyncify) for chapter 9's trace workers when the EP is wasm; it loads data/ort-wasm-plain.wasm.
import { bundleModule } from "../runtime/bundle.js";

process.stdout.write(await bundleModule(undefined, true, { wasmOnly: true }));
