/**
 * Browser side of test/e2e/fused-webgpu.test.ts (bundled by the test with esbuild). `fusedDirect` runs the fused
 * WGSL step (src/runtime/fused/) on a WebGPU device of the page (src/runtime/fused/check.ts's run); `fusedWorker`
 * runs it behind the model worker's client (src/runtime/client.ts, engine "fused"), the interface the pages
 * generate through, with ORT's parallel graph beside it. Both return plain numbers; the test compares them with
 * the reference model in Node.
 */
import { RwkvWorkerClient, type EpPreference } from "../../src/runtime/client.js";
import { runFusedCheck, type FusedCheckRequest } from "../../src/runtime/fused/check.js";
import { FusedRwkv } from "../../src/runtime/fused/fused-rwkv.js";
import type { RowsOf } from "../../src/runtime/fused/kernels.js";
import type { GAdapter } from "../../src/runtime/fused/webgpu.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvConfig, RwkvState } from "../../src/rwkv/weights.js";

export interface DirectRequest extends FusedCheckRequest {
  config: RwkvConfig;
  seed: number;
  /** rows per workgroup of the matrix-vector kernels, when not the defaults */
  rows?: Partial<RowsOf>;
  /** tokens one call queues (FusedOptions.maxTokens), when not the default */
  maxTokens?: number;
}

export interface WorkerRequest {
  config: RwkvConfig;
  seed: number;
  ep: EpPreference;
  prompt: number[];
  /** tokens stepped after the prompt */
  more: number[];
  greedy: number;
}

type PlainState = Record<string, number[]>[];
const plain = (s: RwkvState): PlainState =>
  s.map((l) => Object.fromEntries(Object.entries(l).map(([k, v]) => [k, Array.from(v as Float32Array)])));

async function fusedDirect(req: DirectRequest) {
  const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<GAdapter | null> } }).gpu;
  const adapter = await gpu?.requestAdapter();
  if (!adapter) return { error: "no WebGPU adapter" };
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  const t0 = performance.now();
  const f = await FusedRwkv.create(device, syntheticWeights(req.config, req.seed), {
    rows: req.rows,
    maxTokens: req.maxTokens,
  });
  const t1 = performance.now();
  try {
    const out = await runFusedCheck(f, req);
    // where the time goes (SwiftShader compiles the pipelines, then runs every dispatch on the CPU)
    const ms = { create: Math.round(t1 - t0), check: Math.round(performance.now() - t1) };
    return { adapter: adapter.info?.architecture ?? "", out, ms };
  } finally {
    f.dispose();
    device.destroy();
  }
}

/**
 * Through the model worker: ORT's parallel forward over the prompt, then fused steps from its state, the state
 * read back, a parallel forward from the fused state, greedy generation (sampled on the GPU), and a reset.
 */
async function fusedWorker(req: WorkerRequest) {
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => {
    warnings.push(a.map(String).join(" "));
    warn(...a);
  };
  const m = await RwkvWorkerClient.create({
    workerUrl: new URL("./worker.js", location.href),
    wasmUrl: new URL("./ort-wasm-simd-threaded.asyncify.wasm", location.href).href,
    source: { weights: syntheticWeights(req.config, req.seed) },
    ep: req.ep,
    engine: "fused",
    mode: "both",
    parallelLogits: "last",
  });
  console.warn = warn;
  try {
    const V = req.config.vocabSize;
    const prompt = await m.forward(req.prompt);
    const steps: { logits: number[]; engine: string }[] = [];
    for (const t of req.more) {
      const r = await m.step(t);
      steps.push({ logits: Array.from(r.logits), engine: r.engine });
    }
    const state = plain(await m.getState());
    // back to ORT's parallel graph from the fused state, then fused again from ORT's
    const again = await m.forward([req.more[0]]);
    const gen = await m.generate({ n: req.greedy, temperature: 0, topP: 1 });
    const genState = plain(await m.getState());
    await m.reset();
    const fromEmpty = await m.steps(req.prompt);
    const [engine, engineFallback, ep] = [m.engine, m.engineFallback ?? null, m.ep];
    // a lost GPU device: the failing call says so, then the worker runs on wasm with ORT's step (state reset)
    let lost: { code: unknown; engine: string; ep: string; fallback: string | null } | undefined;
    if (await m.simulateDeviceLoss()) {
      let code: unknown;
      try {
        await m.step(1);
      } catch (e) {
        code = (e as { code?: unknown }).code;
      }
      const after = await m.step(1);
      lost = { code, engine: after.engine, ep: after.ep, fallback: m.engineFallback ?? null };
    }
    return {
      lost: lost ?? null,
      engine,
      engineFallback,
      ep,
      warnings,
      prompt: { logits: Array.from(prompt.logits.subarray(prompt.logits.length - V)), engine: prompt.engine },
      steps,
      state,
      again: { logits: Array.from(again.logits.subarray(again.logits.length - V)), engine: again.engine },
      gen: { tokens: gen.tokens, engine: gen.engine, sampledOn: gen.sampledOn },
      genState,
      fromEmpty: { logits: Array.from(fromEmpty.logits), engine: fromEmpty.engine },
    };
  } finally {
    await m.dispose();
  }
}

Object.assign(window, { fusedDirect, fusedWorker });
