/** Chapter 9's pair of reference models behind one handle (src/live/traced-pair.ts). */
import { describe, expect, it } from "vitest";
import { startHandle } from "../../src/live/handle.js";
import type { LiveModel, ModelHandle } from "../../src/live/live-model.js";
import { openTracedPair, readyOrOff, workersBackend } from "../../src/live/traced-pair.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { GptModel } from "../../src/transformer/gpt.js";

const weights = syntheticWeights({ nLayer: 2, nEmbd: 16, ffnSize: 32, vocabSize: 11, layerNormEps: 1e-5 }, 0);
const gpt = { config: { nLayer: 1 } } as unknown as GptModel;
const chapterHandle = (load: () => Promise<LiveModel>, off = false) =>
  startHandle(load, { off }) as unknown as ModelHandle;

describe("openTracedPair", () => {
  it("builds the reference RWKV from the chapter handle's weights, with the GPT beside it", async () => {
    const pair = openTracedPair(
      chapterHandle(async () => ({ weights }) as unknown as LiveModel),
      async () => gpt,
    );
    const { rwkv, gpt: g } = await readyOrOff(pair);
    expect(rwkv.weights).toBe(weights);
    expect(rwkv.step(3).logits.length).toBe(11);
    expect(g).toBe(gpt);
    expect(pair.status).toBe("ready");
  });

  it("is off when the chapter's handle is off, and a live run is told so at once", async () => {
    const pair = openTracedPair(
      chapterHandle(async () => ({ weights }) as unknown as LiveModel, true),
      async () => gpt,
    );
    expect(pair.status).toBe("off");
    await expect(readyOrOff(pair)).rejects.toThrow(/switched off/);
  });

  it("fails when either model fails to load", async () => {
    const pair = openTracedPair(
      chapterHandle(async () => ({ weights }) as unknown as LiveModel),
      async () => Promise.reject(new Error("no GPT file")),
    );
    await expect(readyOrOff(pair)).rejects.toThrow("no GPT file");
    expect(pair.status).toBe("failed");
  });

  it("without a runtime the reference models run the traces in the page, and the badge says so", async () => {
    const pair = openTracedPair(
      chapterHandle(async () => ({ weights }) as unknown as LiveModel),
      async () => gpt,
    );
    const p = await readyOrOff(pair);
    expect(p.runners).toBeUndefined();
    expect(p.backend).toBe("reference (JS) in this page");
  });

  it("when the trace workers cannot start, it falls back to the reference models and says why", async () => {
    // Node has no Worker: TraceWorkerClient.create throws, as a browser that cannot start the worker would
    const pair = openTracedPair(
      chapterHandle(async () => ({ weights }) as unknown as LiveModel),
      async () => gpt,
      { workerUrl: "/nowhere/ort-worker.js", wasmUrl: "/nowhere/ort-wasm.wasm", ep: "wasm" },
    );
    const p = await readyOrOff(pair);
    expect(p.runners).toBeUndefined();
    expect(p.engine).toBeUndefined();
    expect(p.backend).toMatch(/^reference \(JS\) in this page \(the workers could not start: .+\)$/);
    expect(pair.fallbackReason).toMatch(/trace workers could not start/);
  });

  it("on wasm it starts the wasm-only workers when the page gives them, else the WebGPU bundle's", async () => {
    const started: string[] = [];
    const saved = (globalThis as { Worker?: unknown }).Worker;
    (globalThis as { Worker?: unknown }).Worker = class {
      constructor(url: string) {
        started.push(String(url));
        throw new Error("no workers in this test");
      }
    };
    try {
      const open = (ep: "wasm" | "webgpu", wasmOnly = true) =>
        readyOrOff(
          openTracedPair(
            chapterHandle(async () => ({ weights }) as unknown as LiveModel),
            async () => gpt,
            {
              workerUrl: "/w/ort-worker.js",
              wasmUrl: "/w/ort-wasm.wasm",
              ep,
              ...(wasmOnly
                ? { wasmOnly: { workerUrl: "/w/ort-worker-wasm.js", wasmUrl: "/w/ort-wasm-plain.wasm" } }
                : {}),
            },
          ),
        );
      await open("wasm");
      expect(new Set(started)).toEqual(new Set(["/w/ort-worker-wasm.js"]));
      started.length = 0;
      await open("webgpu");
      expect(new Set(started)).toEqual(new Set(["/w/ort-worker.js"]));
      started.length = 0;
      await open("wasm", false);
      expect(new Set(started)).toEqual(new Set(["/w/ort-worker.js"]));
    } finally {
      (globalThis as { Worker?: unknown }).Worker = saved;
    }
  });

  it("names the workers' engines for the badge", () => {
    expect(workersBackend(["wasm", "wasm"])).toBe(
      "onnxruntime-web (wasm) in two workers, both models at once",
    );
    expect(workersBackend(["webgpu", "wasm"])).toBe(
      "onnxruntime-web (webgpu and wasm) in two workers, both models at once",
    );
  });
});
