/**
 * The causal trace with its runs on ORT (src/runtime/rwkv-trace.ts: the trace-step graph, Node, wasm EP, one thread)
 * against the same trace on the reference model (src/chapters/memory/causal-trace.ts's default runner, plain JS):
 * the same noise, cells and averages, so the two differ only by fp32 rounding.
 *
 * Tolerance: one step's logits agree to <= 1e-5 (test/onnx/rwkv-trace-graph.test.ts); a restored run adds up to
 * m = 2 target log-probabilities after up to N = 21 steps whose rounding differences pass on through the state, so
 * |log P_ort - log P_ref| stays well below N * 2 * m * 1e-5 = 8.4e-4. Probabilities are compared as log P (relative).
 */
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import {
  causalTrace,
  type CausalTraceOptions,
  type TracedModel,
} from "../../src/chapters/memory/causal-trace.js";
import { bothTraces, traceRequest } from "../../src/chapters/memory/chapter.js";
import { configureNodeOrt } from "../../src/runtime/node.js";
import { OrtTrace } from "../../src/runtime/trace-ort.js";
import type { TraceRunner } from "../../src/chapters/memory/causal-trace.js";
import { SerialQueue } from "../../src/util/serial.js";
import { encode, tinyModels } from "../chapters/memory/helpers.js";

const TOL = 8.4e-4;

for (const kind of ["rwkv", "gpt"] as const) {
  describe(`${kind}: causal trace on ORT (trace-step graph) vs on the reference model`, () => {
    let runner: OrtTrace;
    let traced: TracedModel;
    let vocabulary: string;
    beforeAll(async () => {
      configureNodeOrt();
      const m = tinyModels();
      vocabulary = m.vocabulary;
      traced = kind === "rwkv" ? { kind, model: m.rwkv } : { kind, model: m.gpt };
      runner =
        kind === "rwkv"
          ? await OrtTrace.rwkv(ort, m.rwkv.weights, { ep: "wasm" })
          : await OrtTrace.gpt(ort, m.gpt.weights, { ep: "wasm" });
    });

    it("every cell, P and P* agree in log space within the fp32 bound", async () => {
      const prompt = "BAPTISTA:\nWhy, how hast";
      const opts: CausalTraceOptions = {
        tokens: encode(vocabulary, prompt),
        subject: [3, 9],
        target: encode(vocabulary, " t"),
        samples: 2,
      };
      const ref = await causalTrace(traced, opts);
      const got = await causalTrace(traced, opts, runner);
      expect(Math.abs(Math.log(got.pClean) - Math.log(ref.pClean))).toBeLessThanOrEqual(TOL);
      expect(Math.abs(Math.log(got.pCorrupt) - Math.log(ref.pCorrupt))).toBeLessThanOrEqual(TOL);
      let worst = 0;
      for (let i = 0; i < ref.pRestored.length; i++)
        worst = Math.max(worst, Math.abs(Math.log(got.pRestored[i]) - Math.log(ref.pRestored[i])));
      expect(worst).toBeLessThanOrEqual(TOL);
      // the restores move the probability (the comparison is not of constants): some cell differs from P* by 5%
      expect(ref.pRestored.some((v) => Math.abs(v / ref.pCorrupt - 1) > 0.05)).toBe(true);
      console.log(`${kind}: max |log P diff| over ${ref.pRestored.length} cells: ${worst.toExponential(2)}`);
    });

    it("a prompt longer than the model can take is refused before any run", () => {
      expect(() => runner.begin({ seq: [0, 1], T: 3, subject: [0, 1], target: [1, 2] })).toThrow(/sequence/);
    });
  });
}

describe("both traces at once on the ORT runners (the page's path)", () => {
  it("bothTraces with runners runs them concurrently and matches the reference traces; batch size does not matter", async () => {
    configureNodeOrt();
    const m = tinyModels();
    const rwkv = await OrtTrace.rwkv(ort, m.rwkv.weights, { ep: "wasm" });
    const gpt = await OrtTrace.gpt(ort, m.gpt.weights, { ep: "wasm" });
    // one ORT wasm instance per Node process runs one session at a time (the page has a worker per model): the
    // two runners' calls take turns here, while bothTraces still interleaves the two traces
    const queue = new SerialQueue();
    const serial = (r: OrtTrace): TraceRunner => ({
      begin: (job) => queue.run(() => r.begin(job)),
      run: (noise) => queue.run(() => r.run(noise)),
      rows: (ts) => queue.run(() => r.rows(ts)),
      get rowsPerCall() {
        return r.rowsPerCall;
      },
    });
    const runners = { rwkv: serial(rwkv), gpt: serial(gpt) };
    const req = traceRequest("BAPTISTA:\nWhy, how hast thou", "how", " o", m.vocabulary);
    const ref = await bothTraces({ rwkv: m.rwkv, gpt: m.gpt }, req, { samples: 1 });
    let last = 0;
    const got = await bothTraces({ rwkv: m.rwkv, gpt: m.gpt, runners }, req, {
      samples: 1,
      onProgress: (p) => {
        expect(p.done).toBeGreaterThanOrEqual(last);
        last = p.done;
      },
    });
    expect(last).toBe(ref.reduce((n, r) => n + r.nLayer * r.T, 0));
    rwkv.rowsPerCall = 1;
    gpt.rowsPerCall = 5;
    const small = await bothTraces({ rwkv: m.rwkv, gpt: m.gpt, runners }, req, { samples: 1 });
    for (let i = 0; i < 2; i++) {
      expect(got[i].model).toBe(ref[i].model);
      for (let c = 0; c < ref[i].pRestored.length; c++) {
        expect(Math.abs(Math.log(got[i].pRestored[c]) - Math.log(ref[i].pRestored[c]))).toBeLessThanOrEqual(
          TOL,
        );
        // the same graph on the same inputs: one row per call or several gives the same numbers up to the
        // batch's summation order
        expect(Math.abs(Math.log(small[i].pRestored[c]) - Math.log(got[i].pRestored[c]))).toBeLessThanOrEqual(
          TOL,
        );
      }
    }
    await rwkv.dispose();
    await gpt.dispose();
  });
});
