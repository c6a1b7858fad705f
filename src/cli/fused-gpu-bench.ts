/**
 * The fused WGSL step (src/runtime/fused/) on the NVIDIA machine through Dawn for Node, bundled by
 * `npm run bench:gpu` (scripts/bench-gpu/pack.sh) and run by run.sh's "fused" step. Prints FUSED_JSON {...}.
 *
 *  1. checks against the reference model (src/runtime/fused/check.ts): the tiny shape with every check (the
 *     sampler's frequencies too), and the 169M shape (step logits and state, steps, greedy, top-p);
 *  2. times 169M fp32 generation (synthetic weights, RWKV-4-Pile-169M shapes):
 *     - readBack: `step` with the logits read back every token and the next token chosen on the CPU (greedy);
 *     - gpuSampled: `generate`, greedy and temperature 0.8 / top-p 0.9, sampled on the GPU, tokens read at the end;
 *     - ingestion: `steps` over T tokens (RNN mode, head only for the last token);
 *     - encodeMsPerStep: the CPU time to encode one step's dispatches (no GPU work).
 *
 * env: GPUINIT (gpuinit.mjs), GEN=256 (tokens per timed run), REPEATS=5, CHECK=0 skips the checks,
 *      CHECK_SHAPES=tiny,169m (which checks), SHAPE=tiny times the tiny shape instead.
 */
import { installDawnWebGpu } from "./dawn.js";
import { judgeFusedCheck, runFusedCheck, type FusedCheckRequest } from "../runtime/fused/check.js";
import { FusedRwkv } from "../runtime/fused/fused-rwkv.js";
import type { GAdapter, GDevice } from "../runtime/fused/webgpu.js";
import { argmax } from "../rwkv/sampling.js";
import { SHAPES, syntheticWeights } from "../rwkv/synthetic.js";
import type { RwkvConfig } from "../rwkv/weights.js";

const env = process.env;
const log = (...a: unknown[]) => console.log(...a);
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};

/** Numbers one RNN step reads from the matrices and the head (the bandwidth bound's bytes / 4). */
function stepNumbers(c: RwkvConfig): number {
  const { nLayer: L, nEmbd: C, ffnSize: F, vocabSize: V } = c;
  return L * (5 * C * C + 2 * C * F) + C * V;
}

async function main(): Promise<void> {
  const result: Record<string, unknown> = { node: process.version };
  const sum = await installDawnWebGpu();
  result.adapter = sum.info;
  const gpu = (navigator as unknown as { gpu: { requestAdapter(o: object): Promise<GAdapter | null> } }).gpu;
  const adapter = (await gpu.requestAdapter({ powerPreference: "high-performance" }))!;
  const device: GDevice = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  void device.lost.then((i) => log("DEVICE LOST", i.message));

  // the timed shape's weights (the 169M check uses the same ones)
  const config = env.SHAPE === "tiny" ? SHAPES.tiny : SHAPES.pile169m;
  let t0 = performance.now();
  const weights = syntheticWeights(config, 0);
  result.weightsSeconds = (performance.now() - t0) / 1000;

  // ---- checks against the reference model
  if (env.CHECK !== "0") {
    const checks: Record<string, unknown> = {};
    for (const [name, shape, req] of [
      [
        "tiny",
        SHAPES.tiny,
        {
          tokens: [1, 5, 64, 0, 7, 7, 3, 9, 11, 2],
          greedy: 16,
          sampling: [
            [1, 0.5, 1],
            [0.7, 0.9, 2],
          ],
          sampled: 16,
          freq: { ids: [9, 2, 50, 31, 0], probs: [0.4, 0.3, 0.15, 0.1, 0.05], topP: 0.8, draws: 400 },
        },
      ],
      [
        "169m",
        SHAPES.pile169m,
        { tokens: [510, 2, 50276, 7, 1234], greedy: 6, sampling: [[0.8, 0.9, 1]], sampled: 6 },
      ],
    ] as [string, RwkvConfig, FusedCheckRequest][]) {
      if (!(env.CHECK_SHAPES ?? "tiny,169m").split(",").includes(name)) continue;
      const c0 = performance.now();
      const w = shape === config ? weights : syntheticWeights(shape, 0);
      const f = await FusedRwkv.create(device, w);
      const out = await runFusedCheck(f, req);
      f.dispose();
      const report = judgeFusedCheck(w, req, out);
      checks[name] = { ...report, seconds: (performance.now() - c0) / 1000 };
      log("check", name, JSON.stringify(checks[name]));
    }
    result.checks = checks;
  }

  // ---- timings
  result.shape = config;
  result.stepBytes = 4 * stepNumbers(config);
  t0 = performance.now();
  const f = await FusedRwkv.create(device, weights);
  await f.finish();
  result.buildSeconds = (performance.now() - t0) / 1000;
  const GEN = Number(env.GEN ?? 256);
  const REPEATS = Number(env.REPEATS ?? 5);
  const V = config.vocabSize;
  const prompt = Array.from({ length: 16 }, (_, i) => (i * 7919 + 13) % V);

  // logits read back every token, the next token chosen on the CPU
  f.reset();
  let logits = (await f.steps(prompt))!;
  const stepMs: number[] = [];
  for (let i = 0; i < GEN + 8; i++) {
    const s = performance.now();
    logits = await f.step(argmax(logits));
    if (i >= 8) stepMs.push(performance.now() - s);
  }
  result.readBack = {
    tokens: GEN,
    msPerTokenMedian: q(stepMs, 0.5),
    msPerTokenP95: q(stepMs, 0.95),
    tokensPerSecond: 1000 / q(stepMs, 0.5),
  };
  log("readBack", JSON.stringify(result.readBack));

  // sampled on the GPU: GEN tokens per call, queued without read-backs
  const sampled: Record<string, unknown> = {};
  for (const [name, temperature, topP] of [
    ["greedy", 0, 1],
    ["topP", 0.8, 0.9],
  ] as const) {
    const ms: number[] = [];
    for (let r = 0; r < REPEATS + 1; r++) {
      f.reset();
      await f.steps(prompt, { read: false });
      await f.finish();
      const s = performance.now();
      await f.generate(GEN, { temperature, topP, seed: r });
      if (r > 0) ms.push(performance.now() - s);
    }
    sampled[name] = {
      tokens: GEN,
      msPerTokenMedian: q(ms, 0.5) / GEN,
      tokensPerSecond: (GEN / q(ms, 0.5)) * 1000,
      runs: ms.length,
    };
    log("gpuSampled", name, JSON.stringify(sampled[name]));
  }
  result.gpuSampled = sampled;

  // RNN-mode ingestion (no head per token, no sampler)
  const T = 512;
  const toks = Array.from({ length: T }, (_, i) => (i * 104729 + 7) % V);
  const ing: number[] = [];
  for (let r = 0; r < REPEATS + 1; r++) {
    f.reset();
    await f.finish();
    const s = performance.now();
    await f.steps(toks);
    if (r > 0) ing.push(performance.now() - s);
  }
  result.ingestion = { T, msMedian: q(ing, 0.5), tokensPerSecond: (T / q(ing, 0.5)) * 1000 };
  log("ingestion", JSON.stringify(result.ingestion));

  // the CPU cost of encoding a step (createCommandEncoder .. finish, never submitted)
  const enc = (f as unknown as { encodeReadStep(): unknown }).encodeReadStep.bind(f);
  for (let i = 0; i < 20; i++) enc();
  t0 = performance.now();
  for (let i = 0; i < 200; i++) enc();
  result.encodeMsPerStep = (performance.now() - t0) / 200;
  log("encodeMsPerStep", result.encodeMsPerStep);
  f.dispose();
  console.log("FUSED_JSON " + JSON.stringify(result));
  device.destroy();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error("FUSED_FAIL", e instanceof Error ? e.stack : String(e));
    process.exit(1);
  },
);
