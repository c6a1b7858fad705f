import { describe, expect, it } from "vitest";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvState } from "../../src/rwkv/weights.js";
import {
  TraceCache,
  referenceTracer,
  base64ToBytes,
  bytesToBase64,
  columnOf,
  concatTraces,
  decodeTrace,
  encodeTrace,
  rowOf,
  sliceTrace,
  stateAt,
  tensorOf,
  viewOfTrace,
  type TraceView,
} from "../../src/trace/trace.js";

const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 11, layerNormEps: 1e-5 };
const weights = syntheticWeights(config, 7);
const model = new RwkvModel(weights);
const meta = { backend: "reference (JS)" as const, synthetic: true };

function fullView(tokens: number[]): TraceView {
  const res = model.forward(tokens, undefined, { trace: true });
  return viewOfTrace(res.trace!, tokens, { ...meta, labels: tokens.map(String), text: tokens.join("") });
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("trace slicing", () => {
  it("rowOf and columnOf read the (T, C) layout: row t, channel c", () => {
    const v = fullView([1, 2, 3, 4]);
    const k = tensorOf(v, 1, "k");
    expect(rowOf(v, 1, "k", 2)[5]).toBe(k[2 * 16 + 5]);
    expect(Array.from(columnOf(v, 1, "k", 5))).toEqual([0, 1, 2, 3].map((t) => k[t * 16 + 5]));
    expect(rowOf(v, 0, "ffnAct", 3).length).toBe(64);
    expect(() => rowOf(v, 0, "k", 4)).toThrow(/out of range/);
    expect(() => columnOf(v, 2, "k", 0)).toThrow(/layer 2/);
  });

  it("a prefix's trace is the prefix of the trace (the model is causal)", () => {
    const tokens = [3, 1, 4, 1, 5, 9, 2, 6];
    const sliced = sliceTrace(fullView(tokens), 5);
    const direct = fullView(tokens.slice(0, 5));
    for (const name of ["xr", "wkv", "a", "p", "ffnAct", "xOut"] as const) {
      for (let l = 0; l < 2; l++)
        expect(maxDiff(tensorOf(sliced, l, name), tensorOf(direct, l, name))).toBeLessThan(1e-5);
    }
  });
});

describe("stateAt rebuilds the RNN state from a trace", () => {
  it("equals the state forward() returns after the same prefix", () => {
    const tokens = [2, 7, 1, 8, 2, 8];
    const view = fullView(tokens);
    const rebuilt = stateAt(view, weights, 3);
    const expected = model.forward(tokens.slice(0, 4)).state;
    for (let l = 0; l < 2; l++) {
      for (const key of ["attX", "a", "b", "p", "ffnX"] as const) {
        expect(maxDiff(rebuilt[l][key], expected[l][key])).toBeLessThan(1e-5);
      }
    }
  });
});

describe("TraceCache", () => {
  it("typing at the end runs only the new token, and equals a full rerun", async () => {
    const cache = new TraceCache(referenceTracer(model), weights, meta);
    const tokens = [1, 2, 3, 4, 5, 6];
    await cache.trace(tokens.slice(0, 5), tokens.slice(0, 5).map(String), "");
    const before = cache.stats.tokensRun;
    const view = await cache.trace(tokens, tokens.map(String), "");
    expect(cache.stats.tokensRun - before).toBe(1);
    const full = fullView(tokens);
    for (const name of ["k", "wkv", "a", "b", "p", "ffn", "xOut"] as const) {
      for (let l = 0; l < 2; l++)
        expect(maxDiff(tensorOf(view, l, name), tensorOf(full, l, name))).toBeLessThan(1e-5);
    }
  });

  it("views share storage safely: typing, deleting and retyping never changes a view already returned", async () => {
    const cache = new TraceCache(referenceTracer(model), weights, meta);
    const base = [1, 2, 3, 4, 5, 6];
    const seqs = [
      base,
      [...base, 7],
      [...base, 7, 8],
      [...base, 7],
      base,
      [...base, 9],
      [...base, 9, 10],
      [3],
    ];
    const fields = ["xr", "k", "wkv", "a", "p", "ffnAct", "xOut"] as const;
    const snap = (v: TraceView) => fields.map((f) => [0, 1].map((l) => Float32Array.from(tensorOf(v, l, f))));
    // all calls at once (a burst of keystrokes): they run one after another
    const views = await Promise.all(seqs.map((toks) => cache.trace(toks, Array(toks.length).fill("x"), "")));
    const atReturn: ReturnType<typeof snap>[] = [];
    // replay with snapshots taken the moment each view is returned
    const cache2 = new TraceCache(referenceTracer(model), weights, meta);
    const views2: TraceView[] = [];
    for (const toks of seqs) {
      const v = await cache2.trace(toks, Array(toks.length).fill("x"), "");
      atReturn.push(snap(v));
      views2.push(v);
    }
    views2.forEach((v, i) => {
      const now = snap(v);
      const fresh = snap(fullView(seqs[i]));
      now.forEach((byLayer, f) =>
        byLayer.forEach((arr, l) => {
          expect(maxDiff(arr, atReturn[i][f][l]), `view ${i} ${fields[f]}[${l}] changed later`).toBe(0);
          expect(maxDiff(arr, fresh[f][l]), `view ${i} ${fields[f]}[${l}] vs a fresh run`).toBeLessThan(1e-5);
        }),
      );
    });
    expect(views.map((v) => v.T)).toEqual(seqs.map((t) => t.length));
  });

  it("a field joined lazily (typing after a deletion) reads correctly even after later edits", async () => {
    const cache = new TraceCache(referenceTracer(model), weights, meta);
    const base = [1, 2, 3, 4, 5, 6];
    await cache.trace([...base, 7], Array(7).fill("x"), "");
    await cache.trace(base, Array(6).fill("x"), ""); // delete
    const retyped = await cache.trace([...base, 9], Array(7).fill("x"), ""); // append after a deletion
    // its ffnAct (read by no one yet) must not change when later keystrokes append in place
    await cache.trace([...base, 9, 10], Array(8).fill("x"), "");
    await cache.trace([...base, 9, 10, 0], Array(9).fill("x"), "");
    const fresh = fullView([...base, 9]);
    for (const name of ["ffnAct", "xr", "p", "xOut"] as const)
      for (let l = 0; l < 2; l++)
        expect(maxDiff(tensorOf(retyped, l, name), tensorOf(fresh, l, name)), `${name}[${l}]`).toBeLessThan(
          1e-5,
        );
  });

  it("an edit in the middle reruns from the first changed token only", async () => {
    const cache = new TraceCache(referenceTracer(model), weights, meta);
    await cache.trace([1, 2, 3, 4, 5, 6, 7, 8], Array(8).fill("x"), "");
    const before = cache.stats.tokensRun;
    const edited = [1, 2, 3, 9, 5, 6, 7, 8];
    const view = await cache.trace(edited, Array(8).fill("x"), "");
    expect(cache.stats.tokensRun - before).toBe(5);
    const direct = fullView(edited);
    expect(view.T).toBe(8);
    expect(view.tokens).toEqual(edited);
    for (const name of ["xr", "k", "wkv", "a", "b", "p", "ffnAct", "xOut"] as const)
      for (let l = 0; l < 2; l++)
        expect(maxDiff(tensorOf(view, l, name), tensorOf(direct, l, name)), `${name}[${l}]`).toBeLessThan(
          1e-5,
        );
    // the cached trace of the first prompt is not aliased: a second edit still matches a fresh run
    const again = [1, 2, 3, 9, 5, 0];
    const view2 = await cache.trace(again, Array(6).fill("x"), "");
    expect(maxDiff(tensorOf(view2, 1, "wkv"), tensorOf(fullView(again), 1, "wkv"))).toBeLessThan(1e-5);
  });

  it("backspace slices without running anything", async () => {
    const cache = new TraceCache(referenceTracer(model), weights, meta);
    await cache.trace([1, 2, 3, 4], Array(4).fill("x"), "");
    const before = cache.stats.tokensRun;
    const view = await cache.trace([1, 2, 3], Array(3).fill("x"), "");
    expect(cache.stats.tokensRun).toBe(before);
    expect(view.T).toBe(3);
    await expect(cache.trace([], [], "")).rejects.toThrow(/empty/);
    // a failed call does not block the next one
    expect((await cache.trace([1, 2], Array(2).fill("x"), "")).T).toBe(2);
  });

  it("concatTraces refuses traces of different models", () => {
    const other = new RwkvModel(syntheticWeights({ ...config, nEmbd: 8 }, 1)).forward([1], undefined, {
      trace: true,
    });
    const b = viewOfTrace(other.trace!, [1], { ...meta, labels: ["1"], text: "1" });
    expect(() => concatTraces(fullView([1]), b)).toThrow(/different models/);
  });
});

describe("TraceCache.quick: a prefix or a character typed at the end, at once", () => {
  /** the engine (the worker's graphs in the page): asynchronous, labelled wasm; here the reference model again */
  const engineMeta = { backend: "wasm" as const, synthetic: true };
  const engine = (pending?: (() => void)[]) => (tokens: readonly number[], state: RwkvState | undefined) => {
    const trace = model.forward(tokens, state, { trace: true }).trace!;
    return pending ? new Promise<typeof trace>((r) => pending.push(() => r(trace))) : Promise.resolve(trace);
  };
  const quickTracing = {
    tracer: (tokens: readonly number[], state: RwkvState) =>
      model.forward(tokens, state, { trace: true }).trace!,
    backend: "reference (JS)" as const,
    maxTokens: 2,
  };
  const labels = (t: readonly number[]) => t.map(String);
  const fields = ["a", "b", "p", "k", "wkv", "ffnAct", "xOut"] as const;
  const snap = (v: TraceView) =>
    fields.flatMap((f) => [0, 1].map((l) => Float32Array.from(tensorOf(v, l, f))));
  const base = [1, 2, 3, 4, 5, 6];

  it("extends the engine's last trace on the quick tracer, labelled as such, equal to a full run", async () => {
    const cache = new TraceCache(engine(), weights, engineMeta, quickTracing);
    expect(cache.quick(base, labels(base), "")).toBeUndefined(); // nothing traced yet
    await cache.trace(base, labels(base), "123456");
    const run = cache.stats.tokensRun;
    const typed = [...base, 7];
    const view = cache.quick(typed, labels(typed), "1234567")!;
    expect(view.T).toBe(7);
    expect(view.backend).toBe("reference (JS)");
    expect(view.text).toBe("1234567");
    expect(cache.stats).toMatchObject({ tokensRun: run, quickTokensRun: 1 });
    const fresh = snap(fullView(typed));
    snap(view).forEach((arr, i) => expect(maxDiff(arr, fresh[i])).toBeLessThan(1e-5));
    // two characters at once are still quick; three wait for the engine; a changed start has nothing to extend
    expect(cache.quick([...base, 7, 8], labels([...base, 7, 8]), "")?.T).toBe(8);
    expect(cache.quick([...base, 7, 8, 9], labels([...base, 7, 8, 9]), "")).toBeUndefined();
    expect(cache.quick([9, ...base], labels([9, ...base]), "")).toBeUndefined();
  });

  it("a prefix is a slice of the engine's trace, under the engine's label, with no run", async () => {
    const cache = new TraceCache(engine(), weights, engineMeta); // no quick tracer: prefixes only
    await cache.trace(base, labels(base), "123456");
    const cut = cache.quick(base.slice(0, 4), labels(base.slice(0, 4)), "1234")!;
    expect([cut.T, cut.backend, cut.text]).toEqual([4, "wasm", "1234"]);
    const fresh = snap(fullView(base.slice(0, 4)));
    snap(cut).forEach((arr, i) => expect(maxDiff(arr, fresh[i])).toBeLessThan(1e-5));
    expect(cache.quick([...base, 7], labels([...base, 7]), "")).toBeUndefined();
    expect(cache.stats.quickTokensRun).toBe(0);
  });

  it("leaves the last trace's room to the engine's next trace; its own fields, read later, are still right", async () => {
    const cache = new TraceCache(engine(), weights, engineMeta, quickTracing);
    await cache.trace(base, labels(base), "");
    const grown = await cache.trace([...base, 7], labels([...base, 7]), ""); // a copy with room to grow
    const typed = [...base, 7, 8];
    const quick = cache.quick(typed, labels(typed), "")!; // nothing read yet
    const engineView = await cache.trace(typed, labels(typed), "");
    // the engine's trace was appended in place, into the room the quick trace did not take
    expect(tensorOf(engineView, 1, "a").buffer).toBe(tensorOf(grown, 1, "a").buffer);
    const fresh = fullView(typed);
    for (const name of ["a", "b", "p", "xAfterAtt", "xOut"] as const)
      for (let l = 0; l < 2; l++) {
        expect(
          maxDiff(tensorOf(quick, l, name), tensorOf(fresh, l, name)),
          `quick ${name}[${l}]`,
        ).toBeLessThan(1e-5);
        expect(maxDiff(tensorOf(engineView, l, name), tensorOf(fresh, l, name))).toBeLessThan(1e-5);
      }
    expect(maxDiff(quick.x0!, fresh.x0!)).toBeLessThan(1e-6);
  });

  it("answers from the last trace while the engine runs, and no view it gave changes afterwards", async () => {
    const pending: (() => void)[] = [];
    const cache = new TraceCache(engine(pending), weights, engineMeta, quickTracing);
    /** let the engine's oldest call answer (once the queue has started it) */
    const answer = async () => {
      for (let i = 0; i < 100 && !pending.length; i++) await Promise.resolve();
      pending.shift()!();
    };
    const first = cache.trace(base, labels(base), "");
    await answer();
    await first;
    const quickViews = [7, 8, 9].map((t) => cache.quick([...base, t], labels([...base, t]), "")!);
    const atReturn = quickViews.map(snap);
    // the engine extends the same trace meanwhile (in place where it can), then again
    const running = cache.trace([...base, 8], labels([...base, 8]), "");
    expect(cache.quick([...base, 8, 1], labels([...base, 8, 1]), "")?.T).toBe(8); // from the last settled trace
    await answer();
    const engineView = await running;
    expect(engineView.backend).toBe("wasm");
    const next = cache.trace([...base, 8, 2], labels([...base, 8, 2]), "");
    await answer();
    await next;
    quickViews.forEach((v, i) =>
      snap(v).forEach((arr, j) =>
        expect(maxDiff(arr, atReturn[i][j]), `quick view ${i}, array ${j}`).toBe(0),
      ),
    );
    const fresh = snap(fullView([...base, 8]));
    snap(engineView).forEach((arr, i) => expect(maxDiff(arr, fresh[i])).toBeLessThan(1e-5));
  });
});

describe("compact trace JSON", () => {
  it("base64 matches Node's Buffer encoding for every length mod 3", () => {
    for (const n of [0, 1, 2, 3, 4, 5, 255]) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 73 + 11) & 255);
      const b64 = bytesToBase64(bytes);
      expect(b64).toBe(Buffer.from(bytes).toString("base64"));
      expect(Array.from(base64ToBytes(b64))).toEqual(Array.from(bytes));
    }
    expect(() => base64ToBytes("ab$d")).toThrow(/invalid character/);
  });

  it("round-trips the selected fields and layers exactly, and marks them precomputed", () => {
    const view = fullView([4, 3, 2]);
    const json = JSON.parse(JSON.stringify(encodeTrace(view, { fields: ["a", "ffnAct"], layers: [1] })));
    const back = decodeTrace(json);
    expect(back.source).toBe("precomputed");
    expect(Array.from(tensorOf(back, 1, "a"))).toEqual(Array.from(tensorOf(view, 1, "a")));
    expect(Array.from(tensorOf(back, 1, "ffnAct"))).toEqual(Array.from(tensorOf(view, 1, "ffnAct")));
    expect(() => tensorOf(back, 0, "a")).toThrow(/no "a" for layer 0/);
    expect(() => decodeTrace({ format: "other" })).toThrow(/not an explainer trace/);
  });
});
