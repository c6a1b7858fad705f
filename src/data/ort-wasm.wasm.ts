// Data loader: onnxruntime-web's wasm binary (the build its WebGPU bundle loads), served by the site itself (never a
// CDN); pass new URL(await FileAttachment("data/ort-wasm.wasm").url(), location.href).href as the worker's wasmUrl.
import { ortWasmBytes } from "../runtime/bundle.js";

process.stdout.write(ortWasmBytes());
