/**
 * Browser side of test/e2e/ort-webgpu.test.ts (bundled by the test with esbuild): builds synthetic weights in
 * the page (deterministic, the same as in Node), runs them through the model worker (src/runtime/client.ts)
 * and returns everything the test compares with the reference model.
 */
import { RwkvWorkerClient, type EpPreference } from "../../src/runtime/client.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvConfig, RwkvState } from "../../src/rwkv/weights.js";

export interface OrtPageRequest {
  config: RwkvConfig;
  seed: number;
  tokens: number[];
  ep: EpPreference;
  chunk: number;
  logSeverityLevel: 0 | 3;
  /** simulate a lost GPU device at the end */
  loseDevice?: boolean;
  /** ask for ORT graph capture of the RNN step ("both": of full parallel chunks too) */
  graphCapture?: boolean | "both";
}

type PlainState = Record<string, number[]>[];

function plain(s: RwkvState): PlainState {
  return s.map((l) =>
    Object.fromEntries(Object.entries(l).map(([k, v]) => [k, Array.from(v as Float32Array)])),
  );
}

async function ortRun(req: OrtPageRequest) {
  const events: unknown[] = [];
  const m = await RwkvWorkerClient.create({
    workerUrl: new URL("./worker.js", location.href),
    wasmUrl: new URL("./ort-wasm-simd-threaded.asyncify.wasm", location.href).href,
    source: { weights: syntheticWeights(req.config, req.seed) },
    ep: req.ep,
    chunk: req.chunk,
    logSeverityLevel: req.logSeverityLevel,
    graphCapture: req.graphCapture ?? false,
    onEvent: (e) => events.push(e),
  });
  try {
    const par = await m.forward(req.tokens);
    const parState = plain(await m.getState());
    await m.reset();
    const steps: number[][] = [];
    const stepEps: string[] = [];
    for (const t of req.tokens) {
      const r = await m.step(t);
      steps.push(Array.from(r.logits));
      stepEps.push(r.ep);
    }
    const rnnState = plain(await m.getState());
    // RNN mode over the whole prompt in one call (with capture: steps queued, only the last logits read back)
    await m.reset();
    const stepsLogits = Array.from((await m.steps(req.tokens)).logits);
    const stepsState = plain(await m.getState());
    // steps, then a parallel forward from the steps' state, then steps from the forward's state: logits of
    // every position in order (with graph capture: live captured state -> parallel session -> captured step)
    await m.reset();
    const mixed: number[][] = [];
    const cut1 = Math.floor(req.tokens.length / 2);
    const cut2 = req.tokens.length - 2;
    for (const t of req.tokens.slice(0, cut1)) mixed.push(Array.from((await m.step(t)).logits));
    const mid = await m.forward(req.tokens.slice(cut1, cut2));
    const V = req.config.vocabSize;
    for (let i = 0; i < cut2 - cut1; i++) mixed.push(Array.from(mid.logits.subarray(i * V, (i + 1) * V)));
    for (const t of req.tokens.slice(cut2)) mixed.push(Array.from((await m.step(t)).logits));
    const errors: { name: string; code: unknown; message: string }[] = [];
    for (const bad of [() => m.step(req.config.vocabSize), () => m.forward([])]) {
      try {
        await bad();
        errors.push({ name: "none", code: undefined, message: "no error" });
      } catch (e) {
        const err = e as Error & { code?: unknown };
        errors.push({ name: err.name, code: err.code, message: err.message });
      }
    }
    // still usable after the errors
    const after = Array.from((await m.step(1)).logits).length;
    // a lost GPU device: the next call fails with a typed error, then the model runs on wasm from a reset state
    let lost: { simulated: boolean; code?: unknown; epAfter?: string; logits?: number[] } | undefined;
    if (req.loseDevice) {
      const simulated = await m.simulateDeviceLoss();
      let code: unknown;
      try {
        await m.step(req.tokens[0]);
      } catch (e) {
        code = (e as { code?: unknown }).code;
      }
      const r = await m.step(req.tokens[0]);
      lost = { simulated, code, epAfter: r.ep, logits: Array.from(r.logits) };
    }
    return {
      init: m.init,
      lost,
      events,
      parEp: par.ep,
      parLogits: Array.from(par.logits),
      parState,
      steps,
      stepEps,
      rnnState,
      stepsLogits,
      stepsState,
      mixed,
      errors,
      after,
    };
  } finally {
    await m.dispose();
  }
}

(window as unknown as { ortRun: typeof ortRun }).ortRun = ortRun;
