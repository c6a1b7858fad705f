// Lets onnxruntime-web's multi-threaded wasm start in Node: with numThreads > 1 it fetch()es its own
// ort-wasm-simd-threaded*.mjs by file: URL (Node's fetch refuses) and imports it through a blob: URL (Node's
// import() refuses). Answer the fetch from the file system and hand back the file: URL itself.
import { readFileSync } from "node:fs";

const realFetch = globalThis.fetch;
const blobUrl = new WeakMap();
globalThis.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : (input?.href ?? input?.url);
  if (typeof url === "string" && url.startsWith("file:")) {
    const blob = new Blob([]);
    blobUrl.set(blob, url);
    return {
      ok: true,
      status: 200,
      headers: new Headers(),
      blob: async () => blob,
      arrayBuffer: async () => readFileSync(new URL(url)).buffer,
    };
  }
  return realFetch(input, init);
};
const realCreate = URL.createObjectURL;
URL.createObjectURL = (obj) => blobUrl.get(obj) ?? realCreate(obj);
