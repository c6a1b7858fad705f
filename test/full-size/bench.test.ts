import { describe, expect, it } from "vitest";
import {
  equivalence,
  generation,
  prefill,
  timingTokens,
  type GptRuntime,
  type RwkvRuntime,
} from "../../src/full-size/bench.js";

/**
 * A fake runtime with a known answer: logits[t, v] = (token_t + 1) * (v + 1) in both modes, except that the
 * parallel graph is off by `delta` at (position `at`, id 2). Each step takes 2 ms, a forward 1 ms per token.
 */
function fake(V: number, delta = 0, at = -1): RwkvRuntime & { calls: string[] } {
  const calls: string[] = [];
  const row = (tok: number) => Float32Array.from({ length: V }, (_, v) => (tok + 1) * (v + 1));
  return {
    ep: "fake",
    calls,
    async reset() {
      calls.push("reset");
    },
    async step(tok) {
      calls.push("step");
      return { logits: row(tok), ms: 2 };
    },
    async forward(tokens) {
      calls.push(`forward ${tokens.length}`);
      const out = new Float32Array(tokens.length * V);
      for (let t = 0; t < tokens.length; t++) out.set(row(tokens[t]), t * V);
      if (at >= 0 && at < tokens.length) out[at * V + 2] += delta;
      return { logits: out, ms: tokens.length };
    },
  };
}

describe("full-size measurements", () => {
  it("equivalence finds a planted difference at its position, and the top-5 of the last row", async () => {
    const V = 7;
    const r = await equivalence(fake(V, 0.5, 1), [3, 0, 2], V);
    expect(r.diffs).toEqual([0, 0.5, 0]);
    expect(r.worst).toBe(0.5);
    // last token 2: logits 3 * (v + 1): largest ids 6, 5, 4, 3, 2
    expect(r.topRnn.map(([id]) => id)).toEqual([6, 5, 4, 3, 2]);
    expect(r.topParallel[0]).toEqual([6, 21]);
    expect(r.rnnMs).toBe(6); // 3 steps of 2 ms
    expect(r.parallelMs).toBe(3);
    const same = await equivalence(fake(V), [1, 2], V);
    expect(same.worst).toBe(0);
  });

  it("prefill times T steps for RNN mode and one forward for parallel mode, from a reset state", async () => {
    const rt = fake(5);
    const pts = await prefill(rt, [1, 4, 8], timingTokens(8, 5), { maxRnnT: 4 });
    expect(pts).toEqual([
      { T: 1, parallelMs: 1, rnnMs: 2 },
      { T: 4, parallelMs: 4, rnnMs: 8 },
      { T: 8, parallelMs: 8 },
    ]);
    // after the warm-up, each measurement starts with a reset
    const afterWarmup = rt.calls.slice(4);
    expect(afterWarmup.slice(0, 4)).toEqual(["reset", "forward 1", "reset", "step"]);
  });

  it("generation: one step per position for both models, cumulative sums", async () => {
    let cache = 0;
    const order: string[] = [];
    const gpt: GptRuntime = {
      ep: "fake",
      async reset() {
        cache = 0;
      },
      async forward(t) {
        order.push("gpt");
        cache += t.length;
        return { ms: cache, cacheLength: cache, kvNumbers: 2 * cache };
      },
    };
    const rwkv = fake(5);
    const step = rwkv.step.bind(rwkv);
    rwkv.step = async (tok) => {
      order.push("rwkv");
      return step(tok);
    };
    const g = await generation(rwkv, gpt, 4, [1, 2, 3]);
    // RWKV's steps (warm-up + 4) all before the transformer's (warm-up + 4): never interleaved on the runtime
    expect(order).toEqual([...Array(5).fill("rwkv"), ...Array(5).fill("gpt")]);
    expect(g.positions).toEqual([1, 2, 3, 4]);
    expect(g.rwkvMs).toEqual([2, 2, 2, 2]);
    expect(g.gptMs).toEqual([1, 2, 3, 4]); // the fake's cost grows with the cache
    expect(g.rwkvCumulative).toEqual([2, 4, 6, 8]);
    expect(g.gptCumulative).toEqual([1, 3, 6, 10]);
    expect(g.kvNumbers).toBe(8);
  });

  it("generation: a run cancelled during RWKV's steps never calls the transformer", async () => {
    let gptCalls = 0;
    const gpt: GptRuntime = {
      ep: "fake",
      async reset() {
        gptCalls++;
      },
      async forward() {
        gptCalls++;
        return { ms: 1, cacheLength: 1 };
      },
    };
    const rwkv = fake(5);
    let steps = 0;
    const step = rwkv.step.bind(rwkv);
    rwkv.step = async (tok) => {
      steps++;
      return step(tok);
    };
    const g = await generation(rwkv, gpt, 100, [1, 2, 3], { cancelled: () => steps > 10 });
    expect(g.rwkvMs.length).toBe(10); // warm-up + 10 timed steps, then the check stops it
    expect(g.gptMs).toEqual([]);
    expect(gptCalls).toBe(0);
  });

  it("timing tokens are deterministic and inside the vocabulary", () => {
    const a = timingTokens(100, 37);
    expect(a).toEqual(timingTokens(100, 37));
    expect(Math.max(...a)).toBeLessThan(37);
    expect(new Set(a).size).toBeGreaterThan(20);
  });
});
