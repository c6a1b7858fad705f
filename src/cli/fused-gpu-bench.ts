/**
 * The fused WGSL step (src/runtime/fused/) on the NVIDIA machine through Dawn for Node, bundled by
 * `npm run bench:gpu` (scripts/bench-gpu/pack.sh) and run by run.sh's "fused" step. Prints FUSED_JSON {...}.
 *
 *  1. checks against the reference model (src/runtime/fused/check.ts): the tiny shape with every check (the
 *     sampler's frequencies too), and the 169M shape (step logits and state, steps, greedy, top-p);
 *  2. times 169M fp32 generation (synthetic weights, RWKV-4-Pile-169M shapes):
 *     - readBack: `step` with the logits read back every token and the next token chosen on the CPU (greedy),
 *       each step waiting for its read-back (unpipelined);
 *     - readBackPipelined: `generateReading`, the token sampled on the GPU and every step's logits mapped while
 *       the next steps run (DEPTHS staging buffers in flight, each holding BATCHES=1,8 steps), greedy and top-p;
 *     - gpuSampled: `generate`, greedy and temperature 0.8 / top-p 0.9, sampled on the GPU, tokens read at the end;
 *     - ingestion: `steps` over INGEST_T = 512 tokens (RNN mode, head only for the last token);
 *     - encodeMsPerStep: the CPU time to encode one step's dispatches (no GPU work);
 *     - kernelsUsPerDispatch: each kernel alone (KERNELS=0 skips): microseconds a dispatch, back to back in one
 *       pass as within a step, beside a one-workgroup dispatch that does nearly nothing (the floor), and their sum
 *       over a greedy token's dispatches (KERNEL_COUNTS=50,250: the two counts);
 *     - rowsSweep: ingestion and GPU-sampled greedy again for other rows per workgroup of the matrix-vector
 *       kernels (ROWS_SWEEP: space-separated rkvIn,rkvOut,ffnIn,ffnOut,head).
 *
 * env: GPUINIT (gpuinit.mjs), GEN=256 (tokens per timed run), REPEATS=5, CHECK=0 skips the checks, DEPTHS=2,4,8,
 *      CHECK_SHAPES=tiny,169m (which checks), SHAPE=tiny times the tiny shape instead.
 */
import { installDawnWebGpu } from "./dawn.js";
import { judgeFusedCheck, runFusedCheck, type FusedCheckRequest } from "../runtime/fused/check.js";
import { FusedRwkv } from "../runtime/fused/fused-rwkv.js";
import { USAGE, type GAdapter, type GComputePass, type GDevice } from "../runtime/fused/webgpu.js";
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

  /** ms of GEN tokens sampled on the GPU after the prompt, REPEATS runs after a warm-up (seed: the run's number) */
  const timeGeneration = async (m: FusedRwkv, temperature: number, topP: number): Promise<number[]> => {
    const ms: number[] = [];
    for (let r = 0; r < REPEATS + 1; r++) {
      m.reset();
      await m.steps(prompt, { read: false });
      await m.finish();
      const s = performance.now();
      await m.generate(GEN, { temperature, topP, seed: r });
      if (r > 0) ms.push(performance.now() - s);
    }
    return ms;
  };

  // sampled on the GPU: GEN tokens per call, queued without read-backs
  const sampled: Record<string, unknown> = {};
  for (const [name, temperature, topP] of [
    ["greedy", 0, 1],
    ["topP", 0.8, 0.9],
  ] as const) {
    const ms = await timeGeneration(f, temperature, topP);
    sampled[name] = {
      tokens: GEN,
      msPerTokenMedian: q(ms, 0.5) / GEN,
      tokensPerSecond: (GEN / q(ms, 0.5)) * 1000,
      runs: ms.length,
    };
    log("gpuSampled", name, JSON.stringify(sampled[name]));
  }
  result.gpuSampled = sampled;

  // every step's logits read back, pipelined: sampled on the GPU, the next steps queued while they are mapped
  const pipelined: Record<string, unknown>[] = [];
  const depths = (env.DEPTHS ?? "2,4,8").split(",").map(Number);
  const batches = (env.BATCHES ?? "1,8").split(",").map(Number);
  const runs: [string, number, number, number, number][] = [];
  for (const batch of batches) for (const depth of depths) runs.push(["greedy", 0, 1, depth, batch]);
  runs.push(["topP", 0.8, 0.9, 4, batches[batches.length - 1]]);
  for (const [name, temperature, topP, depth, batch] of runs) {
    const ms: number[] = [];
    let got = 0;
    let sameAsArgmax = true;
    for (let r = 0; r < REPEATS + 1; r++) {
      f.reset();
      await f.steps(prompt, { read: false });
      await f.finish();
      let prev: Float32Array | undefined;
      const s = performance.now();
      const toks = await f.generateReading(
        GEN,
        { temperature, topP, seed: r },
        (t, l) => {
          got++;
          // greedy: each token is the argmax of the logits read back one step before
          if (temperature === 0 && prev && argmax(prev) !== t) sameAsArgmax = false;
          prev = l;
        },
        depth,
        batch,
      );
      if (r > 0) ms.push(performance.now() - s);
      if (toks.length !== GEN) throw new Error(`generateReading returned ${toks.length} tokens`);
    }
    const row = {
      sampler: name,
      depth,
      batch,
      tokens: GEN,
      logitsRead: got / (REPEATS + 1),
      ...(temperature === 0 ? { tokenIsArgmaxOfReadLogits: sameAsArgmax } : {}),
      msPerTokenMedian: q(ms, 0.5) / GEN,
      tokensPerSecond: (GEN / q(ms, 0.5)) * 1000,
      runs: ms.length,
    };
    pipelined.push(row);
    log("readBackPipelined", JSON.stringify(row));
  }
  result.readBackPipelined = pipelined;

  // RNN-mode ingestion (no head per token, no sampler)
  const T = Number(env.INGEST_T ?? 512);
  const toks = Array.from({ length: T }, (_, i) => (i * 104729 + 7) % V);
  const ingestion = async (m: FusedRwkv): Promise<number> => {
    const ing: number[] = [];
    for (let r = 0; r < REPEATS + 1; r++) {
      m.reset();
      await m.finish();
      const s = performance.now();
      await m.steps(toks);
      if (r > 0) ing.push(performance.now() - s);
    }
    return q(ing, 0.5);
  };
  const ingMs = await ingestion(f);
  result.ingestion = { T, msMedian: ingMs, tokensPerSecond: (T / ingMs) * 1000 };
  log("ingestion", JSON.stringify(result.ingestion));

  // the CPU cost of encoding a step (createCommandEncoder .. finish, never submitted)
  const enc = (f as unknown as { encodeReadStep(): unknown }).encodeReadStep.bind(f);
  for (let i = 0; i < 20; i++) enc();
  t0 = performance.now();
  for (let i = 0; i < 200; i++) enc();
  result.encodeMsPerStep = (performance.now() - t0) / 200;
  log("encodeMsPerStep", result.encodeMsPerStep);
  result.rows = f.rows;

  // each kernel alone, to see where a step's time goes: n dispatches of it back to back in one pass (each waits
  // for the one before, as within a step), timed at two counts so that the submission's own cost cancels
  if (env.KERNELS !== "0") {
    const perDispatchUs = async (encode: (pass: GComputePass) => void): Promise<number> => {
      const median = async (n: number): Promise<number> => {
        const ms: number[] = [];
        for (let r = 0; r < 4; r++) {
          const e = device.createCommandEncoder();
          const pass = e.beginComputePass();
          for (let i = 0; i < n; i++) encode(pass);
          pass.end();
          const cb = e.finish();
          const s = performance.now();
          device.queue.submit([cb]);
          await f.finish();
          if (r > 0) ms.push(performance.now() - s);
        }
        return q(ms, 0.5);
      };
      const [lo, hi] = (env.KERNEL_COUNTS ?? "50,250").split(",").map(Number);
      return (((await median(hi)) - (await median(lo))) / (hi - lo)) * 1000;
    };
    // the floor: a dispatch of one workgroup that adds 1 to a number (a barrier between each, as in a step)
    const counter = device.createBuffer({ size: 16, usage: USAGE.STORAGE, label: "noop" });
    const noop = device.createComputePipeline({
      layout: "auto",
      compute: {
        module: device.createShaderModule({
          code: `@group(0) @binding(0) var<storage, read_write> b: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(local_invocation_index) i: u32) { if (i == 0u) { b[0] = b[0] + 1u; } }`,
        }),
        entryPoint: "main",
      },
    });
    const noopGroup = device.createBindGroup({
      layout: noop.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: counter } }],
    });
    const kernels: Record<string, number> = {};
    kernels.noop = await perDispatchUs((pass) => {
      pass.setPipeline(noop);
      pass.setBindGroup(0, noopGroup);
      pass.dispatchWorkgroups(1);
    });
    const L = config.nLayer;
    for (const [name, kernel, layer] of [
      ["embedMixIn", "embedIn", 0],
      ["timeMixIn", "rkvIn", L - 1],
      ["timeMixOut", "rkvOut", L - 1],
      ["chanMixIn", "ffnIn", L - 1],
      ["chanMixOut", "ffnOut", L - 1],
      ["head", "head", 0],
    ] as const)
      kernels[name] = await perDispatchUs((pass) => f.dispatch(pass, kernel, layer));
    for (const [name, temperature, topP] of [
      ["sampleGreedy", 0, 1],
      ["sampleTopP", 0.8, 0.9],
    ] as const) {
      await f.sample({ temperature, topP, seed: 1 }); // the sampler's options, written to the GPU
      kernels[name] = await perDispatchUs((pass) => f.dispatch(pass, "sample"));
    }
    // a greedy token as the sum of its dispatches
    kernels.greedyStepSum =
      kernels.embedMixIn +
      (L - 1) * kernels.timeMixIn +
      L * (kernels.timeMixOut + kernels.chanMixIn + kernels.chanMixOut) +
      kernels.head +
      kernels.sampleGreedy;
    result.kernelsUsPerDispatch = kernels;
    log("kernelsUsPerDispatch", JSON.stringify(kernels));
    counter.destroy();
  }
  f.dispose();

  // other rows per workgroup: ingestion (the blocks alone) and GPU-sampled greedy generation
  const sweep: Record<string, unknown>[] = [];
  for (const spec of (env.ROWS_SWEEP ?? "").split(/\s+/).filter(Boolean)) {
    const [rkvIn, rkvOut, ffnIn, ffnOut, headRows] = spec.split(",").map(Number);
    const rows = { rkvIn, rkvOut, ffnIn, ffnOut, head: headRows };
    try {
      const m = await FusedRwkv.create(device, weights, { rows });
      const ms = await ingestion(m);
      const gen = await timeGeneration(m, 0, 1);
      m.dispose();
      const row = {
        rows,
        ingestionMsPerToken: ms / T,
        greedyMsPerToken: q(gen, 0.5) / GEN,
        greedyTokensPerSecond: (GEN / q(gen, 0.5)) * 1000,
      };
      sweep.push(row);
      log("rowsSweep", JSON.stringify(row));
    } catch (e) {
      sweep.push({ rows, error: (e as Error).message });
    }
  }
  result.rowsSweep = sweep;
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
