/**
 * The full-size page's own measurements (src/full-size/bench.ts: RNN vs parallel agreement, prefill
 * against T, per-token generation against a same-size transformer with a KV cache) on synthetic-169m, run on
 * onnxruntime-web's WebGPU EP in Node through Dawn, for the NVIDIA machine. Packed by scripts/bench-gpu/pack.sh
 * and run by its run.sh. The runtimes are built as the page's worker builds them (src/runtime/worker.ts: plain
 * sessions, default chunk, all-position logits), and timed the same way (each call's own run and read-back).
 *
 * env: ORT_PATH, GPUINIT (as ort-gpu-bench.ts), PREFILL_TS=1,2,...,1024, GEN=512. Prints FULLSIZE_JSON {...}.
 */
import type * as Ort from "onnxruntime-web";
import { equivalence, generation, prefill, timingTokens } from "../full-size/bench.js";
import { prepareOnnxWeights } from "../onnx/rwkv-graph.js";
import { installDawnWebGpu } from "./dawn.js";
import { OrtGpt, type GptCache } from "../runtime/gpt-ort.js";
import { OrtRwkv, type OrtState } from "../runtime/rwkv-ort.js";
import { SHAPES, syntheticWeights } from "../rwkv/synthetic.js";
import { gptWeightsFromTensors } from "../transformer/gpt.js";
import { syntheticGptTensors } from "../transformer/synthetic.js";

const env = process.env;

async function main(): Promise<void> {
  const EP = (env.EP ?? "webgpu") as "webgpu" | "wasm"; // wasm: a local smoke run of the same code
  const adapter = EP === "webgpu" ? (await installDawnWebGpu()).info : null;
  const ort = (await import(env.ORT_PATH ?? "./nm/ort/ort.webgpu.min.mjs")) as typeof Ort;
  ort.env.logLevel = "error";
  const shape = env.SHAPE === "tiny" ? SHAPES.tiny : SHAPES.pile169m;
  const out: Record<string, unknown> = {
    model: env.SHAPE === "tiny" ? "synthetic-tiny" : "synthetic-169m",
    ep: EP,
    adapter,
    ortVersion: ort.env.versions.web,
  };
  const V = shape.vocabSize;
  // as the page builds it: RNN steps through graph capture on WebGPU
  const m = await OrtRwkv.create(ort, prepareOnnxWeights(syntheticWeights(shape, 0)), {
    ep: EP,
    graphCapture: EP === "webgpu",
  });
  let state: OrtState = m.initialState();
  const keep = (s: OrtState) => {
    if (s !== state) state.dispose();
    state = s;
  };
  // the captured step's own split (ORT's replay on the CPU, the wait for the logits), per step, and an optional
  // garbage collection before each step (outside the timed call; node --expose-gc): where the growth comes from
  const split: { runMs: number[]; readMs: number[] } = { runMs: [], readMs: [] };
  let gcFirst = false;
  const rwkv = {
    ep: m.ep,
    reset: async () => keep(m.initialState()),
    step: async (token: number) => {
      if (gcFirst) (globalThis as { gc?: () => void }).gc?.();
      const t0 = performance.now();
      const r = await m.step(token, state);
      const ms = performance.now() - t0;
      keep(r.state);
      const ct = m.captureTiming;
      if (ct) {
        split.runMs.push(+ct.runMs.toFixed(3));
        split.readMs.push(+ct.readMs.toFixed(3));
      }
      return { logits: r.logits, ms };
    },
    steps: async (tokens: ArrayLike<number>) => {
      const t0 = performance.now();
      const r = await m.steps(tokens, state);
      keep(r.state);
      return { logits: r.logits, ms: performance.now() - t0 };
    },
    forward: async (tokens: ArrayLike<number>) => {
      const t0 = performance.now();
      const r = await m.forward(tokens, state);
      keep(r.state);
      return { logits: r.logits, ms: performance.now() - t0 };
    },
  };
  out.graphCapture = m.graphCapture;

  // the transformer baseline the page builds: same L x C x V, 64-wide heads, context 1024, random weights
  const gw = gptWeightsFromTensors(
    syntheticGptTensors(
      {
        nLayer: shape.nLayer,
        nEmbd: shape.nEmbd,
        nHead: Math.max(1, shape.nEmbd / 64),
        vocabSize: V,
        blockSize: 1024,
        bias: true,
      },
      1,
    ),
    { nHead: Math.max(1, shape.nEmbd / 64) },
  );
  const g = await OrtGpt.create(ort, gw, { ep: EP });
  let cache: GptCache = g.newCache();
  const gpt = {
    ep: g.ep,
    reset: async () => {
      cache = g.newCache();
    },
    forward: async (tokens: ArrayLike<number>) => {
      const t0 = performance.now();
      const r = await g.forward(tokens, cache);
      cache = r.cache;
      return {
        ms: performance.now() - t0,
        cacheLength: r.cache.length,
        kvNumbers: r.cache.k.size + r.cache.v.size,
      };
    },
  };

  const tokens = timingTokens(1024, V);
  const eq = await equivalence(rwkv, tokens.slice(0, 24), V);
  out.equivalence = eq;
  console.log("equivalence", JSON.stringify({ T: eq.T, worst: eq.worst, scale: eq.scale }));
  const Ts = (env.PREFILL_TS ?? "1,2,4,8,16,32,64,128,256,512,1024").split(",").map(Number);
  out.prefill = await prefill(rwkv, Ts, tokens, { repeat: 3, repeatUpTo: 128 });
  console.log("prefill", JSON.stringify(out.prefill));
  const gen = await generation(rwkv, gpt, Number(env.GEN ?? 512), tokens);
  const q = (xs: number[], a: number, b: number) => {
    const s = xs.slice(Math.floor(a * xs.length), Math.floor(b * xs.length)).sort((x, y) => x - y);
    return s[Math.floor(s.length / 2)];
  };
  out.generation = {
    N: gen.positions.length,
    rwkvMsFirstQuarterMedian: q(gen.rwkvMs, 0, 0.25),
    rwkvMsLastQuarterMedian: q(gen.rwkvMs, 0.75, 1),
    gptMsFirstQuarterMedian: q(gen.gptMs, 0, 0.25),
    gptMsLastQuarterMedian: q(gen.gptMs, 0.75, 1),
    rwkvTotalMs: gen.rwkvCumulative.at(-1),
    gptTotalMs: gen.gptCumulative.at(-1),
    kvNumbers: gen.kvNumbers,
    rwkvMs: gen.rwkvMs.map((x) => +x.toFixed(3)),
    gptMs: gen.gptMs.map((x) => +x.toFixed(3)),
  };
  console.log(
    "generation",
    JSON.stringify({ ...(out.generation as object), rwkvMs: undefined, gptMs: undefined }),
  );
  // why the RWKV step grows while alternating (docs/benchmarks.md): the same loop again, split, and variants
  const N = Number(env.GEN ?? 512);
  const summary = (r: { rwkvMs: number[]; gptMs: number[] }) => ({
    rwkvMsFirstQuarterMedian: q(r.rwkvMs, 0, 0.25),
    rwkvMsLastQuarterMedian: q(r.rwkvMs, 0.75, 1),
    ...(r.gptMs.length
      ? { gptMsFirstQuarterMedian: q(r.gptMs, 0, 0.25), gptMsLastQuarterMedian: q(r.gptMs, 0.75, 1) }
      : {}),
    runMsFirstQuarterMedian: q(split.runMs, 0, 0.25),
    runMsLastQuarterMedian: q(split.runMs, 0.75, 1),
    readMsFirstQuarterMedian: q(split.readMs, 0, 0.25),
    readMsLastQuarterMedian: q(split.readMs, 0.75, 1),
    rwkvMs: r.rwkvMs.map((x) => +x.toFixed(3)),
    runMs: split.runMs.slice(),
    readMs: split.readMs.slice(),
  });
  const variants: Record<string, unknown> = {};
  for (const name of (env.GEN_VARIANTS ?? "alternating,rwkvAlone,alternatingGc").split(",").filter(Boolean)) {
    split.runMs.length = 0;
    split.readMs.length = 0;
    gcFirst = name === "alternatingGc";
    if (gcFirst && !(globalThis as { gc?: unknown }).gc) {
      variants[name] = { error: "node was not started with --expose-gc" };
      continue;
    }
    const r = await generation(rwkv, name === "rwkvAlone" ? undefined : gpt, N, tokens);
    // the warm-up step of generation() is in split too: drop it
    split.runMs.shift();
    split.readMs.shift();
    variants[name] = summary(r);
    console.log(
      "variant",
      name,
      JSON.stringify({
        ...(variants[name] as object),
        rwkvMs: undefined,
        runMs: undefined,
        readMs: undefined,
      }),
    );
  }
  gcFirst = false;
  out.generationVariants = variants;
  console.log("FULLSIZE_JSON " + JSON.stringify(out));
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error("FULLSIZE_FAIL", e instanceof Error ? e.stack : String(e));
  process.exit(1);
});
