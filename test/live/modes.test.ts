import { describe, expect, it } from "vitest";
import {
  maxAbsDiffPerPosition,
  runModes,
  type ModesData,
  type ModesResult,
} from "../../src/chapters/modes.js";
import { startHandle } from "../../src/live/handle.js";
import type { LiveModel, ModelHandle } from "../../src/live/live-model.js";
import { openModes, runtimeModes, type GraphsRuntime, type GraphsView } from "../../src/live/modes.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvWeights } from "../../src/rwkv/weights.js";
import { encodePrompt } from "../../src/trace/prompt.js";

describe("runtime modes (the ONNX graphs' slot)", () => {
  it("drive a stateful runtime: reset, then step per token (RNN) or one forward (parallel)", async () => {
    const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 10, layerNormEps: 1e-5 };
    const model = new RwkvModel(syntheticWeights(config, 4));
    // a fake runtime backed by the reference model, recording its calls
    const calls: string[] = [];
    let state = model.initialState();
    const rt = {
      ep: "wasm" as const,
      reset: async () => {
        calls.push("reset");
        state = model.initialState();
      },
      step: async (t: number) => {
        calls.push("step");
        const r = model.step(t, state);
        state = r.state;
        return { logits: r.logits };
      },
      forward: async (tokens: ArrayLike<number>) => {
        calls.push("forward");
        const r = model.forward(Array.from(tokens), state);
        state = r.state;
        return { logits: r.logits };
      },
    };
    const tokens = [1, 2, 3, 4, 5];
    const runs = await runModes(runtimeModes(rt, 10), tokens, { repeat: 1, warmup: false });
    expect(calls).toEqual(["reset", "step", "step", "step", "step", "step", "reset", "forward"]);
    expect(runs.map((r) => r.backend)).toEqual(["onnxruntime-web (wasm)", "onnxruntime-web (wasm)"]);
    expect(Math.max(...maxAbsDiffPerPosition(runs[0].logits, runs[1].logits, 5, 10))).toBeLessThan(1e-4);
    // a parallel graph that returns only the last row is refused with a clear message
    const lastOnly = { ...rt, forward: async () => ({ logits: new Float32Array(10) }) };
    await expect(runtimeModes(lastOnly, 10)[1].run(tokens)).rejects.toThrow(/parallelLogits "all"/);
  });
});

const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 10, layerNormEps: 1e-5 };
const weights = syntheticWeights(config, 4);
const card = { name: "test", synthetic: true, vocabulary: "abcdefghij" };
const encode = (text: string) => encodePrompt(text, card.vocabulary, { maxTokens: 64 });

function handleOf(w: RwkvWeights, { off = false, fail = false } = {}): ModelHandle {
  const h = startHandle(
    async () => {
      if (fail) throw new Error("no weights here");
      return { weights: w } as unknown as LiveModel;
    },
    { off },
  );
  return Object.assign(h, { card });
}

/** The graphs' runtime stood in for by the reference model (the worker's protocol, in Node), counting its runs. */
function fakeRuntime(w: RwkvWeights, ep: "webgpu" | "wasm" = "wasm") {
  const model = new RwkvModel(w);
  let state = model.initialState();
  const log: string[] = [];
  const rt: GraphsRuntime = {
    ep,
    fallbackReason: undefined,
    config: { vocabSize: w.config.vocabSize },
    reset: async () => {
      state = model.initialState();
    },
    step: async (t) => {
      const r = model.step(t, state);
      state = r.state;
      return { logits: r.logits };
    },
    forward: async (tokens) => {
      log.push(`forward ${tokens.length}`);
      const r = model.forward(Array.from(tokens), state);
      state = r.state;
      return { logits: r.logits };
    },
    dispose: async () => {
      log.push("dispose");
    },
  };
  return { rt, log };
}

async function all<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of gen) out.push(v);
  return out;
}

const isResult = (v: GraphsView | null): v is ModesResult => !!v && "runs" in v;

describe("openModes: chapter 8's live comparisons", () => {
  it("the graphs' runtime starts on the EP the policy chose, and says why it is wasm", async () => {
    const { rt } = fakeRuntime(weights);
    const modes = openModes(
      { handle: handleOf(weights), precomputed: null },
      {
        workerUrl: "w",
        wasmUrl: "x",
        startDelayMs: 0,
        startRuntime: async () => ({ runtime: rt, reason: "the only WebGPU adapter is a software fallback" }),
      },
    );
    const values = await all(modes.graphs(encode("abcab")));
    expect(values[0]).toEqual({ pending: true });
    const r = values.at(-1)!;
    if (!isResult(r)) throw new Error(`no result: ${JSON.stringify(r)}`);
    expect(r.backend).toBe("wasm");
    expect(r.fallbackReason).toBe("the only WebGPU adapter is a software fallback");
    expect(modes.onnx.status).toBe("ready");
    expect(modes.onnx.fallbackReason).toBe("the only WebGPU adapter is a software fallback");
    expect(modes.onnx.card).toBe(card);
    // both graphs' logits agree over the prompt's 5 positions
    expect(Math.max(...maxAbsDiffPerPosition(r.runs[0].logits, r.runs[1].logits, 5, 10))).toBeLessThan(1e-4);
    await modes.dispose();
  });

  it("a new prompt: the previous result at once, marked stale, then the new one (not stale)", async () => {
    const { rt, log } = fakeRuntime(weights);
    const modes = openModes(
      { handle: handleOf(weights), precomputed: null },
      { workerUrl: "w", wasmUrl: "x", startDelayMs: 0, startRuntime: async () => ({ runtime: rt }) },
    );
    const first = (await all(modes.graphs(encode("abcab")))).at(-1)!;
    if (!isResult(first)) throw new Error("no first result");
    const runsBefore = log.length;
    const next = modes.graphs(encode("bead"));
    const stale = (await next.next()).value as ModesResult;
    // before anything ran for the new prompt: the old prompt's numbers, marked
    expect(log.length).toBe(runsBefore);
    expect(stale.stale).toBe(true);
    expect(stale.text).toBe("abcab");
    expect(stale.labels).toHaveLength(5);
    const rest = await all(next);
    const fresh = rest.at(-1)!;
    if (!isResult(fresh)) throw new Error("no new result");
    expect(fresh.stale).toBeUndefined();
    expect([fresh.text, fresh.labels.length]).toEqual(["bead", 4]);
    // the same prompt again: its own result at once, not stale
    const again = (await modes.graphs(encode("bead")).next()).value as ModesResult;
    expect([again.text, again.stale]).toEqual(["bead", undefined]);
  });

  it("runs one comparison at a time, and a newer prompt makes an older one skip its run", async () => {
    const { rt, log } = fakeRuntime(weights);
    const modes = openModes(
      { handle: handleOf(weights), precomputed: null },
      { workerUrl: "w", wasmUrl: "x", startDelayMs: 0, startRuntime: async () => ({ runtime: rt }) },
    );
    await all(modes.graphs(encode("ab")));
    log.length = 0;
    const older = modes.graphs(encode("abc"));
    const newer = modes.graphs(encode("abcd"));
    const [a, b] = await Promise.all([all(older), all(newer)]);
    expect(a.filter(isResult).map((r) => [r.text, !!r.stale])).toEqual([["ab", true]]);
    expect(b.filter(isResult).map((r) => [r.text, !!r.stale])).toEqual([
      ["ab", true],
      ["abcd", false],
    ]);
    // only the newer prompt ran (one parallel-graph call, warm: no warm-up, one timed run)
    expect(log).toEqual(["forward 4"]);
  });

  it("the reference model: the precomputed comparison first, then the live one; stale across prompts", async () => {
    const model = new RwkvModel(weights);
    const prompt = encode("cab");
    const precomputed: ModesData = {
      text: "cab",
      labels: prompt.labels,
      V: 10,
      runs: [
        { name: "rnn", label: "r", backend: "b", logits: new Float32Array(30), ms: 1, times: [1] },
        { name: "parallel", label: "p", backend: "b", logits: new Float32Array(30), ms: 1, times: [1] },
      ],
      where: "build",
      synthetic: true,
    };
    const modes = openModes(
      { handle: handleOf(weights), precomputed },
      {
        workerUrl: "w",
        wasmUrl: "x",
        debounceMs: 0,
        startRuntime: async () => ({ runtime: fakeRuntime(weights).rt }),
      },
    );
    const values = await all(modes.reference(prompt));
    expect(values.map((v) => v?.source)).toEqual(["precomputed", "live"]);
    const live = values[1]!;
    // the live run is the model's: parallel mode's logits are forward()'s
    expect(Array.from(live.runs[1].logits)).toEqual(Array.from(model.forward(prompt.tokens).logits));
    const next = await all(modes.reference(encode("dead")));
    expect(next.map((v) => [v?.text, !!v?.stale])).toEqual([
      ["cab", true],
      ["dead", false],
    ]);
    expect(await all(modes.reference(encode("")))).toEqual([null]);
    await modes.dispose();
  });

  it("live models off or failed: nothing runs, and the notices say why", async () => {
    const off = openModes(
      { handle: handleOf(weights, { off: true }), precomputed: null },
      { workerUrl: "w", wasmUrl: "x" },
    );
    expect(off.onnx.status).toBe("off");
    const prompt = encode("abc");
    expect(await all(off.graphs(prompt))).toEqual([null]);
    expect(await all(off.reference(prompt))).toEqual([null]);
    expect(off.graphsNotice(null, prompt)).toEqual(["The live models are off (?live=0).", "info"]);
    const failed = openModes(
      { handle: handleOf(weights, { fail: true }), precomputed: null },
      { workerUrl: "w", wasmUrl: "x", startDelayMs: 0 },
    );
    const values = await all(failed.graphs(prompt));
    expect(values.at(-1)).toEqual({ error: "no weights here" });
    expect(failed.graphsNotice(values.at(-1)!, prompt)[0]).toBe(
      "The ONNX runtime could not run here: no weights here",
    );
    expect(failed.graphsNotice({ pending: true }, prompt)[0]).toMatch(/^Starting onnxruntime-web/);
    expect(failed.graphsNotice(null, encode(""))[0]).toMatch(/Type a prompt/);
  });
});
