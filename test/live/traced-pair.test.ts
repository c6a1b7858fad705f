/** Chapter 9's pair of reference models behind one handle (src/live/traced-pair.ts). */
import { describe, expect, it } from "vitest";
import { startHandle } from "../../src/live/handle.js";
import type { LiveModel, ModelHandle } from "../../src/live/live-model.js";
import type { TraceRunner } from "../../src/chapters/memory/causal-trace.js";
import { openTracedPair, readyOrOff, sharedRunner, workersBackend } from "../../src/live/traced-pair.js";
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

  it("when one trace worker fails to start, the ones that started later are stopped, not left running", async () => {
    // the RWKV worker fails at once; the two GPT workers answer a moment later (after the failure)
    const workers: { terminated: boolean }[] = [];
    const saved = (globalThis as { Worker?: unknown }).Worker;
    (globalThis as { Worker?: unknown }).Worker = class {
      onmessage: ((e: { data: unknown }) => void) | null = null;
      onerror: unknown = null;
      terminated = false;
      constructor() {
        workers.push(this);
      }
      postMessage(m: { id: number; type: string; source?: { kind: string } }): void {
        const answer = (data: unknown, ms: number) => setTimeout(() => this.onmessage?.({ data }), ms);
        if (m.type !== "traceInit") answer({ id: m.id, ok: true, result: null }, 0);
        else if (m.source?.kind === "rwkv")
          answer({ id: m.id, ok: false, error: { name: "Error", message: "rwkv worker failed" } }, 0);
        else
          answer(
            { id: m.id, ok: true, result: { ep: "wasm", threads: 1, threadsReason: "", rowsPerCall: 1 } },
            20,
          );
      }
      terminate(): void {
        this.terminated = true;
      }
    };
    try {
      const pair = openTracedPair(
        chapterHandle(async () => ({ weights }) as unknown as LiveModel),
        async () => gpt,
        { workerUrl: "/w/ort-worker.js", wasmUrl: "/w/ort-wasm.wasm", ep: "wasm" },
      );
      const p = await readyOrOff(pair);
      expect(p.backend).toMatch(/the workers could not start: rwkv worker failed/);
      expect(workers).toHaveLength(3);
      expect(workers.map((w) => w.terminated)).toEqual([true, true, true]);
    } finally {
      (globalThis as { Worker?: unknown }).Worker = saved;
    }
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
    expect(workersBackend(["wasm", "wasm", "wasm"])).toBe(
      "onnxruntime-web (wasm) in three workers, both models at once",
    );
  });
});

describe("sharedRunner", () => {
  // a fake worker: row t is [t, 100 + t, k] (k: which worker), and it records what it was sent
  const fake = (k: number) => {
    const log: string[] = [];
    const got: number[][] = [];
    const r: TraceRunner = {
      rowsPerCall: 32,
      begin: (job) => void log.push(`begin ${job.T}`),
      run: async (noise) => (log.push(noise ? `run ${noise.length}` : "clean"), noise ? -2 : -1),
      rows: async (ts) => (got.push([...ts]), ts.map((t) => Float64Array.from([t, 100 + t, k]))),
    };
    return { r, log, got };
  };

  it("sends begin and run to every worker and splits rows between them, answering in the asked order", async () => {
    const [a, b] = [fake(0), fake(1)];
    const s = sharedRunner([a.r, b.r]);
    expect(s.rowsPerCall).toBe(32);
    await s.begin({ seq: [1, 2, 3], T: 3, subject: [0, 1], target: [4] });
    expect(await s.run(null)).toBe(-1);
    expect(await s.run(new Float32Array(4))).toBe(-2);
    expect(a.log).toEqual(["begin 3", "clean", "run 4"]);
    expect(b.log).toEqual(a.log);
    const ts = [9, 8, 7, 6, 5];
    const rows = await s.rows(ts);
    expect(a.got).toEqual([[9, 7, 5]]);
    expect(b.got).toEqual([[8, 6]]);
    expect(rows.map((x) => [...x])).toEqual(ts.map((t, i) => [t, 100 + t, i % 2]));
    // one position: the second worker is not asked
    expect((await s.rows([4])).map((x) => [...x])).toEqual([[4, 104, 0]]);
    expect(b.got.length).toBe(1);
  });
});
