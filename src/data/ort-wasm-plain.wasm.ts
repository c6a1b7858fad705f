// Data loader: onnxruntime-web's plain SIMD wasm binary (the build its wasm-only bundle loads, used by
// data/ort-worker-wasm.js), served by the site itself (never a CDN).
import { ORT_PLAIN_WASM_NAME, ortWasmBytes } from "../runtime/bundle.js";

process.stdout.write(ortWasmBytes(ORT_PLAIN_WASM_NAME));
