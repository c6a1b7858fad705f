import { describe, expect, it } from "vitest";
import {
  DEFAULT_SIZES,
  WIDE_SIZES,
  measure,
  sizesToRun,
  tokenName,
  type Bench,
  type MeasuredModel,
  type Sizes,
} from "../../src/full-size/measure.js";

const tick = () => new Promise((r) => setTimeout(r, 0));

/**
 * A fake model whose logits depend on its kept state: the state is a running hash of the tokens since the last
 * reset, and row v of the logits is (h mod 97) * (v + 1). RNN steps and the parallel forward agree exactly when
 * nobody else moves the state in between; every call waits a tick, so two runs could interleave.
 */
function statefulModel(C: number, V = 16, L = 2, opts: { tokenizer?: boolean } = {}) {
  let h = 0;
  const log: string[] = [];
  let tag = "";
  const row = () => Float32Array.from({ length: V }, (_, v) => (h % 97) * (v + 1));
  const advance = (tok: number) => (h = (h * 31 + tok + 1) % 1_000_003);
  const model: MeasuredModel & { log: string[]; tag(t: string): void } = {
    seq: 3,
    name: "fake",
    log,
    tag: (t) => (tag = t),
    ...(opts.tokenizer ? { tokenizerVocab: 10 } : {}),
    rwkv: {
      ep: "fake",
      config: { nLayer: L, nEmbd: C, ffnSize: 4 * C, vocabSize: V, layerNormEps: 1e-5 },
      async reset() {
        log.push(`${tag} reset`);
        await tick();
        h = 0;
      },
      async step(tok) {
        log.push(`${tag} step`);
        await tick();
        advance(tok);
        return { logits: row(), ms: 1 };
      },
      async forward(tokens) {
        log.push(`${tag} forward`);
        await tick();
        const out = new Float32Array(tokens.length * V);
        Array.from(tokens).forEach((t, i) => {
          advance(t);
          out.set(row(), i * V);
        });
        return { logits: out, ms: tokens.length };
      },
      async getState() {
        const z = () => new Float32Array(C);
        return Array.from({ length: L }, () => ({ attX: z(), a: z(), b: z(), p: z(), ffnX: z() }));
      },
      async tokenize(text) {
        return [...text].map((c) => c.charCodeAt(0) % V);
      },
      async tokenTexts(ids) {
        return ids.map((id) => (id < 10 ? `t${id}` : null));
      },
    },
    async gpt() {
      let n = 0;
      return {
        ep: "fake",
        info: { parameterCount: 1234, buildSeconds: 0.5 },
        async reset() {
          n = 0;
        },
        async forward(tokens) {
          n += tokens.length;
          return { ms: n / 100, cacheLength: n, kvNumbers: 2 * L * n * C };
        },
      };
    },
  };
  return model;
}

async function last(run: AsyncGenerator<Bench>): Promise<Bench> {
  let b: Bench | undefined;
  for await (const x of run) b = x;
  return b!;
}

describe("sizesToRun: the sizes that run, which the selects then show", () => {
  it("models 512 wide or more run 64 / 64 until the reader asks; then (and for small models) the reader's", () => {
    expect(sizesToRun(DEFAULT_SIZES, 768)).toEqual(WIDE_SIZES);
    expect(sizesToRun(DEFAULT_SIZES, 512)).toEqual({ T: 64, N: 64 });
    expect(sizesToRun(DEFAULT_SIZES, 511)).toEqual({ T: 1024, N: 512 });
    expect(sizesToRun({ T: 256, N: 1024, auto: false, seq: 1 }, 768)).toEqual({ T: 256, N: 1024 });
  });

  it("names a token by its quoted text, or #id where the tokenizer has none", () => {
    expect(tokenName(5, ' the "x"')).toBe('" the \\"x\\""');
    expect(tokenName(50260, null)).toBe("#50260");
  });
});

describe("measure", () => {
  const small: Sizes = { T: 16, N: 20, auto: false, seq: 4 };

  it("runs what sizesToRun says, all the way: agreement, prefill up to T, N generated tokens, the state", async () => {
    const m = statefulModel(32);
    const b = await last(measure(m, small, "ignored without a tokenizer"));
    expect(b).toMatchObject({ seq: 3, run: 4, T: 16, N: 20, V: 16, phase: "done", repeat: 3 });
    expect(b.eq!.worst).toBe(0);
    expect(b.promptNote).toBe("24 fixed token ids");
    expect(b.prefill!.map((p) => p.T)).toEqual([1, 2, 4, 8, 16]);
    expect(b.gen!.positions).toHaveLength(20);
    expect(b.gen!.kvNumbers).toBe(2 * 2 * 20 * 32); // 2LTC after 20 tokens
    expect(b.stateNumbers).toBe(5 * 2 * 32);
    expect(b.gptInfo).toBe(
      "GPT 2 × 32 (vocabulary 16), 1,234 parameters, random weights, on fake, built in 0.5 s",
    );
    expect(b.topNames!.rnn.every((n) => n.startsWith("#"))).toBe(true);
  });

  it("a wide model on the default sizes runs 64 / 64, once per point", async () => {
    const b = await last(measure(statefulModel(512, 8, 1), DEFAULT_SIZES, ""));
    expect([b.T, b.N, b.repeat]).toEqual([64, 64, 1]);
    expect(b.prefill!.at(-1)!.T).toBe(64);
    expect(b.gen!.positions.at(-1)).toBe(64);
  });

  it("with a tokenizer: the prompt's tokens (at most 64), and the top-5 named by the worker's tokenizer", async () => {
    const m = statefulModel(32, 16, 2, { tokenizer: true });
    const run = measure(m, small, "x".repeat(100));
    const first = (await run.next()).value as Bench;
    await run.return(undefined);
    expect(first.promptNote).toBe("the prompt, 64 GPT-NeoX tokens");
    const ids = first.eq!.topRnn.map(([id]) => id);
    expect(first.topNames!.rnn).toEqual(ids.map((id) => (id < 10 ? `"t${id}"` : `#${id}`)));
  });

  it("two runs on one model never interleave: a cancelled run stops at its next pause, then the next one runs", async () => {
    const m = statefulModel(32);
    let cancelledA = false;
    m.tag("A");
    const a = measure(m, small, "", { cancelled: () => cancelledA });
    const aFirst = await a.next(); // A is past the agreement check, into the prefill sweep
    expect((aFirst.value as Bench).phase).toBe("prefill");
    const aRest = (async () => {
      for await (const _ of a) void _;
    })();
    await tick();
    // the page re-runs: A is cancelled and B starts at once
    cancelledA = true;
    const b = measure(m, { ...small, seq: 5 }, "");
    const bDone = last(b);
    await tick();
    m.tag("B");
    const [bench] = await Promise.all([bDone, aRest]);
    // every call A made came before B's first: B's RNN steps and forward ran on a state nobody else moved
    const firstB = m.log.findIndex((x) => x.startsWith("B"));
    expect(m.log.slice(firstB).every((x) => x.startsWith("B"))).toBe(true);
    expect(bench.eq!.worst).toBe(0);
    expect(bench.run).toBe(5);
    // and A did stop early: far fewer calls than a whole run
    expect(m.log.slice(0, firstB).length).toBeLessThan(m.log.length - firstB);
  });

  it("pauses between calls (the page holds the timings there while another model loads)", async () => {
    const m = statefulModel(32);
    let pauses = 0;
    await last(measure(m, small, "", { pause: async () => void pauses++ }));
    expect(pauses).toBeGreaterThan(10);
  });
});
