/**
 * The fused WGSL RNN step (src/runtime/fused/) in headless Chromium's WebGPU (SwiftShader on CPU-only machines),
 * against the reference model (src/rwkv/model.ts) computed here in Node:
 *  - on the page's own device, for a 3 x 32 shape and the tiny model's shape (4 x 256): step logits and state,
 *    one steps() call, greedy generation on the GPU token for token, top-p samples inside the reference's
 *    nucleus, and the sampler's frequencies against the nucleus' renormalised probabilities;
 *  - behind the model worker's client (engine "fused", the interface the pages generate through), on the 3 x 32
 *    shape: the state moves between ORT's parallel graph and the fused step in both directions, and generate
 *    samples on the GPU;
 *  - on wasm the same request falls back to ORT's step, says why, and generate samples on the CPU.
 */
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORT_WASM_NAME, bundleModule, ortWasmPath } from "../../src/runtime/bundle.js";
import { judgeFusedCheck, type FusedCheckOutput } from "../../src/runtime/fused/check.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { argmax } from "../../src/rwkv/sampling.js";
import { SHAPES, syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvConfig, RwkvState } from "../../src/rwkv/weights.js";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import type { DirectRequest, WorkerRequest } from "./fused-page.js";

const status = browserStatus();
const SMALL: RwkvConfig = { nLayer: 3, nEmbd: 32, ffnSize: 128, vocabSize: 67, layerNormEps: 1e-5 };
const KEYS = ["attX", "a", "b", "p", "ffnX"] as const;

let dir: string;
let server: StaticServer;
let browser: Browser;

async function inPage<T>(
  fn: "fusedDirect" | "fusedWorker",
  req: unknown,
): Promise<{ out: T; logs: string[] }> {
  const page: Page = await browser.context.newPage();
  const logs: string[] = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  try {
    await page.goto(`${server.origin}/index.html`);
    await page.waitForFunction((f) => f in window, fn);
    const out = (await page.evaluate(
      ([f, r]) => (window as unknown as Record<string, (r: unknown) => Promise<unknown>>)[f as string](r),
      [fn, req] as const,
    )) as T;
    return { out, logs };
  } finally {
    await page.close();
  }
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function stateAbs(got: Record<string, number[]>[], want: RwkvState): number {
  let m = 0;
  got.forEach((l, i) => KEYS.forEach((k) => (m = Math.max(m, maxAbs(l[k], want[i][k])))));
  return m;
}

if (!status.available) console.log(`SKIP fused WebGPU browser tests: ${status.message}`);

describe.runIf(status.available)("the fused WGSL RNN step in Chromium's WebGPU", () => {
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "rwkv-fused-e2e-"));
    await writeFile(path.join(dir, "worker.js"), await bundleModule());
    await writeFile(
      path.join(dir, "page.js"),
      await bundleModule(path.join(import.meta.dirname, "fused-page.ts")),
    );
    await writeFile(
      path.join(dir, "index.html"),
      '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./page.js"></script>',
    );
    await symlink(ortWasmPath(), path.join(dir, ORT_WASM_NAME));
    server = await serveStatic(dir);
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  // the small shape takes every check; the tiny model's shape (C = 256: every thread of a row's share does several
  // columns; SwiftShader runs every workgroup's recomputed LayerNorm and WKV on the CPU) four tokens a phase and
  // one sampling run, with the default rows per workgroup and with the most (16 a workgroup, 128 for the head):
  // then W'_v's and the head's rows are longer than what a thread loads before the prologue (16 and 32 vec4 a
  // thread, against PREFETCH 12 and HEAD_PREFETCH 8), and the rest of each is streamed after it (kernels.ts
  // matvec); that case also queues at most 3 tokens a call, so steps, generate and the batched read-back of 4
  // tokens each cross a run boundary (FusedOptions.maxTokens)
  const MOST_ROWS = { rkvIn: 16, rkvOut: 16, ffnIn: 16, ffnOut: 16, head: 128 };
  for (const [name, config, seed, full, rows, maxTokens] of [
    ["a 3 x 32 shape", SMALL, 3, true, undefined, undefined],
    ["the tiny model's shape (4 x 256, V = 65)", SHAPES.tiny, 1, false, undefined, undefined],
    [
      "the tiny model's shape, 16 rows a workgroup, 128 for the head, 3 tokens a call",
      SHAPES.tiny,
      1,
      false,
      MOST_ROWS,
      3,
    ],
  ] as const) {
    it(`${name}: logits, state, greedy and top-p generation agree with the reference model`, async () => {
      const V = config.vocabSize;
      const req: DirectRequest = {
        config,
        seed,
        rows,
        maxTokens,
        tokens: (full ? [1, 5, 66, 0, 7, 7, 3, 9, 11, 2] : [1, 5, 66, 7]).map((t) => t % V),
        greedy: full ? 12 : 4,
        sampling: full
          ? [
              [1, 0.5, 1],
              [0.7, 0.9, 2],
              [1.3, 1, 3],
            ]
          : [[0.8, 0.9, 4]],
        sampled: full ? 12 : 4,
        // five tokens with probabilities 0.4, 0.3, 0.15, 0.1, 0.05: top-p 0.8 keeps the first three (0.85)
        ...(full
          ? { freq: { ids: [9, 2, 50, 31, 0], probs: [0.4, 0.3, 0.15, 0.1, 0.05], topP: 0.8, draws: 200 } }
          : {}),
      };
      const { out, logs } = await inPage<{
        adapter: string;
        out: FusedCheckOutput;
        ms: { create: number; check: number };
        error?: string;
      }>("fusedDirect", req);
      expect(out.error, logs.join("\n")).toBeUndefined();
      const r = judgeFusedCheck(syntheticWeights(config, seed), req, out.out);
      console.log(
        `fused on ${out.adapter}, ${name} (create ${out.ms.create} ms, check ${out.ms.check} ms): ${JSON.stringify({ ...r, freq: undefined })}`,
      );
      expect(r.stepLogitsRel).toBeLessThan(1e-5);
      expect(r.stepsLogitsRel).toBeLessThan(1e-5);
      expect(r.greedyLogitsRel).toBeLessThan(1e-5);
      expect(r.stepStateAbs).toBeLessThan(1e-4);
      expect(r.stepsStateAbs).toBeLessThan(1e-4);
      expect(r.greedyStateAbs).toBeLessThan(1e-4);
      expect(r.greedyFirstMismatch).toBe(-1);
      expect(r.sampledTotal).toBe(full ? 36 : 4);
      expect(r.sampledOutsideNucleus).toBe(0);
      // the pipelined read-back (sampled on the GPU, logits of every step mapped while the next steps run)
      expect(r.pipelinedTokens).toBe(req.greedy);
      expect(r.pipelinedFirstMismatch).toBe(-1);
      expect(r.pipelinedLogitsRel).toBeLessThan(1e-5);
      // greedy from logits given with setLogits: ties, the last row, all equal, a pattern
      expect(r.greedyFromSetMismatch).toBe(0);
      if (full) {
        expect(r.freqOutside).toBe(0);
        expect(r.freq!.map((x) => x.id).sort((a, b) => a - b)).toEqual([2, 9, 50]);
        // 4 standard deviations of a binomial proportion with N = 200 is at most 0.142
        for (const x of r.freq!) expect(Math.abs(x.observed - x.expected)).toBeLessThan(0.142);
      }
      expect(logs.filter((l) => /^error|pageerror/.test(l))).toEqual([]);
    });
  }

  // the client's plumbing (the state between ORT's parallel graph and the fused step, GPU sampling): the small
  // shape, as the kernels at the tiny model's shape are checked above (SwiftShader takes ~1 s a step there)
  const WREQ = { config: SMALL, seed: 2, prompt: [3, 14, 15, 9, 2, 6], more: [5, 3, 5], greedy: 8 };
  const ref = new RwkvModel(syntheticWeights(SMALL, 2));
  const afterPrompt = ref.forward(WREQ.prompt, undefined, { wkv: "scan", lastOnly: true });
  const expectedGreedy = (from: { logits: Float32Array; state: RwkvState }) => {
    let { logits, state } = from;
    const tokens: number[] = [];
    for (let i = 0; i < WREQ.greedy; i++) {
      tokens.push(argmax(logits));
      ({ logits, state } = ref.step(tokens[i], state));
    }
    return { tokens, state };
  };

  interface WorkerOut {
    engine: string;
    engineFallback: string | null;
    ep: string;
    warnings: string[];
    prompt: { logits: number[]; engine: string };
    steps: { logits: number[]; engine: string }[];
    state: Record<string, number[]>[];
    again: { logits: number[]; engine: string };
    gen: { tokens: number[]; engine: string; sampledOn: string };
    genState: Record<string, number[]>[];
    fromEmpty: { logits: number[]; engine: string };
    lost: { code: unknown; engine: string; ep: string; fallback: string | null } | null;
  }

  function checkWorker(out: WorkerOut, fusedEngine: boolean): void {
    const step = fusedEngine ? "fused" : "ort";
    expect(out.prompt.engine).toBe("ort"); // the parallel graph stays on ORT
    expect(maxAbs(out.prompt.logits, afterPrompt.logits)).toBeLessThan(1e-3);
    let { logits, state } = afterPrompt;
    out.steps.forEach((s, i) => {
      ({ logits, state } = ref.step(WREQ.more[i], state));
      expect(s.engine).toBe(step);
      expect(maxAbs(s.logits, logits)).toBeLessThan(1e-3);
    });
    expect(stateAbs(out.state, state)).toBeLessThan(1e-3);
    // ORT's parallel graph continues from the fused engine's state
    ({ logits, state } = ref.step(WREQ.more[0], state));
    expect(out.again.engine).toBe("ort");
    expect(maxAbs(out.again.logits, logits)).toBeLessThan(1e-3);
    // and the fused engine from ORT's: greedy generation, sampled on the GPU
    const g = expectedGreedy({ logits, state });
    expect(out.gen).toEqual({ tokens: g.tokens, engine: step, sampledOn: fusedEngine ? "gpu" : "cpu" });
    expect(stateAbs(out.genState, g.state)).toBeLessThan(1e-3);
    expect(out.fromEmpty.engine).toBe(step);
    expect(maxAbs(out.fromEmpty.logits, afterPrompt.logits)).toBeLessThan(1e-3);
  }

  it("behind the model worker (engine fused): the state moves between ORT's parallel graph and the fused step", async () => {
    const req: WorkerRequest = { ...WREQ, ep: "webgpu" };
    const { out, logs } = await inPage<WorkerOut>("fusedWorker", req);
    expect(out.ep, logs.join("\n")).toBe("webgpu");
    expect(out.engine).toBe("fused");
    expect(out.engineFallback).toBeNull();
    expect(out.warnings).toEqual([]);
    checkWorker(out, true);
    // after a lost device the failing call is a DeviceLostError and the next one runs ORT's step on wasm
    expect(out.lost).toMatchObject({ code: "device-lost", engine: "ort", ep: "wasm" });
    expect(out.lost!.fallback).toMatch(/now running on wasm/); // the worker's device-lost notice
  });

  it("on wasm the fused request falls back to ORT's step, says why, and samples on the CPU", async () => {
    const req: WorkerRequest = { ...WREQ, ep: "wasm" };
    const { out } = await inPage<WorkerOut>("fusedWorker", req);
    expect(out.ep).toBe("wasm");
    expect(out.engine).toBe("ort");
    expect(out.engineFallback).toMatch(/needs WebGPU/);
    expect(out.warnings.some((w) => /fused WGSL step not used: .*needs WebGPU/.test(w))).toBe(true);
    checkWorker(out, false);
    expect(out.lost).toBeNull(); // no GPU device to lose
  });
});
