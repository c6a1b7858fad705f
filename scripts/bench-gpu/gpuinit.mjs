// WebGPU in Node for the GPU benchmark: Dawn for Node (npm "webgpu", dawn.node) as navigator.gpu.
// Runs on the NVIDIA machine only (scripts/bench-gpu/run.sh); never imported by the site or the tests.
import { create, globals } from "./nm/webgpu/index.js";

Object.assign(globalThis, globals);
process.env.XDG_RUNTIME_DIR ??= "/tmp";

/**
 * dawn.node rejects typed arrays backed by a SharedArrayBuffer, and onnxruntime-web's wasm heap is one:
 * copy such views into a plain ArrayBuffer before writeBuffer sees them.
 */
export function patchSAB() {
  const orig = globalThis.GPUQueue.prototype.writeBuffer;
  globalThis.GPUQueue.prototype.writeBuffer = function (buffer, offset, data, dataOffset = 0, size) {
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      const bpe = data.BYTES_PER_ELEMENT ?? 1;
      const n = size ?? data.length - dataOffset;
      const copy = new Uint8Array(n * bpe);
      copy.set(new Uint8Array(data.buffer, data.byteOffset + dataOffset * bpe, n * bpe));
      return orig.call(this, buffer, offset, copy, 0, n * bpe);
    }
    return orig.call(this, buffer, offset, data, dataOffset, size);
  };
}

/** Dawn toggles from DAWN_OPTS, space-separated (e.g. "enable-dawn-features=disable_robustness") */
export function makeGPU() {
  return create((process.env.DAWN_OPTS ?? "").split(" ").filter(Boolean));
}

export function adapterSummary(adapter) {
  const info = {};
  for (const k of ["vendor", "architecture", "device", "description", "isFallbackAdapter"])
    info[k] = adapter.info[k];
  const limits = {};
  for (const k of ["maxBufferSize", "maxStorageBufferBindingSize", "maxComputeWorkgroupStorageSize"]) {
    limits[k] = adapter.limits[k];
  }
  return { info, features: [...adapter.features].sort(), limits };
}
