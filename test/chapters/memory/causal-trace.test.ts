/**
 * Causal tracing (src/chapters/memory/causal-trace.ts) on the shipped tiny RWKV and GPT. The fast path (prefix
 * reuse, blocks 0..l skipped, cells before the subject filled in) is checked against runs recomputed from
 * scratch with the models' hooks, every block at every position (RWKV in RNN and in parallel mode); the other
 * references are the maths of the method: no noise restores 100%, restoring a whole layer is the clean run,
 * nothing before the subject or in the top block before the last position can matter.
 */
import { describe, expect, it } from "vitest";
import {
  type Cell,
  type TracedModel,
  NOISE_MULTIPLE,
  causalTrace,
  defaultNoiseScale,
  indirectEffect,
  prepareTrace,
  restoredProbability,
  restoredShare,
  strongestCells,
} from "../../../src/chapters/memory/causal-trace.js";
import { embeddingStd } from "../../../src/chapters/memory/random.js";
import type { Progress } from "../../../src/chapters/memory/run.js";
import { encode, relDiff, tinyModels } from "./helpers.js";

const { rwkv, gpt, vocabulary } = tinyModels();
const MODELS: TracedModel[] = [
  { kind: "rwkv", model: rwkv },
  { kind: "gpt", model: gpt },
];
// a short prompt keeps the from-scratch checks quick: every cell of a 15-character trace is recomputed
const PROMPT = "LORD HASTINGS:\n";
const SUBJECT: [number, number] = [5, 13]; // "HASTINGS"
const base = (target: string) => ({
  tokens: encode(vocabulary, PROMPT),
  subject: SUBJECT,
  target: encode(vocabulary, target),
});
const L = rwkv.config.nLayer;
const T = PROMPT.length;

describe.each(MODELS)("causal trace: $kind", (traced) => {
  it("with no corruption every cell restores exactly 100% of the clean probability", async () => {
    const r = await causalTrace(traced, { ...base("My"), noiseScale: 0 });
    expect(r.pCorrupt).toBe(r.pClean);
    expect(r.pClean).toBeGreaterThan(0);
    expect([...restoredShare(r)].every((v) => v === 1)).toBe(true);
    expect([...indirectEffect(r)].every((v) => v === 0)).toBe(true);
  });

  it("the noise is 3 x the standard deviation of the model's own embedding matrix, and it hurts", async () => {
    const emb = traced.kind === "rwkv" ? traced.model.weights.emb : traced.model.weights.wte;
    // independent reference: E[x^2] - E[x]^2 in one pass
    let s1 = 0;
    let s2 = 0;
    for (const x of emb) {
      s1 += x;
      s2 += x * x;
    }
    const std = Math.sqrt(s2 / emb.length - (s1 / emb.length) ** 2);
    expect(relDiff(embeddingStd(emb), std)).toBeLessThan(1e-9);
    expect(NOISE_MULTIPLE).toBe(3);
    expect(relDiff(defaultNoiseScale(traced), 3 * std)).toBeLessThan(1e-9);
    const r = await causalTrace(traced, { ...base("My"), samples: 2 });
    expect(relDiff(r.noiseScale, 3 * std)).toBeLessThan(1e-9);
    expect(r.pCorrupt).not.toBe(r.pClean);
  });

  it("every cell of the fast trace equals the run recomputed from scratch", async () => {
    const opts = { ...base("My"), seed: 5 };
    const r = await causalTrace(traced, opts);
    const p = prepareTrace(traced, opts);
    let worst = 0;
    for (let l = 0; l < L; l++) {
      for (let t = 0; t < T; t++) {
        worst = Math.max(
          worst,
          relDiff(r.pRestored[l * T + t], restoredProbability(traced, p, [{ layer: l, t }])),
        );
      }
    }
    // RWKV: both paths are RNN mode over the same numbers; GPT: KV-cache decode vs the parallel forward
    expect(worst).toBeLessThanOrEqual(traced.kind === "rwkv" ? 1e-12 : 1e-5);
  });

  it("averages the probabilities of the noise samples", async () => {
    const opts = { ...base("My"), samples: 3, seed: 6 };
    const r = await causalTrace(traced, opts);
    const p = prepareTrace(traced, opts);
    const mean = (cells: Cell[]) =>
      [0, 1, 2].reduce((a, s) => a + restoredProbability(traced, p, cells, { sample: s }), 0) / 3;
    expect(relDiff(r.pCorrupt, mean([]))).toBeLessThanOrEqual(1e-5);
    for (const [l, t] of [
      [0, 6],
      [2, 12],
      [4, T - 1],
    ]) {
      expect(relDiff(r.pRestored[l * T + t], mean([{ layer: l, t }]))).toBeLessThanOrEqual(1e-5);
    }
  });

  it("restoring one layer at every position is the clean run, for every layer", () => {
    const p = prepareTrace(traced, { ...base("My"), seed: 2 });
    const clean = restoredProbability(traced, p, [], { sample: null });
    const corrupt = restoredProbability(traced, p, []);
    expect(relDiff(clean, corrupt)).toBeGreaterThan(1e-3);
    for (let l = 0; l < L; l++) {
      const cells = Array.from({ length: p.seq.length }, (_, t) => ({ layer: l, t }));
      expect(relDiff(restoredProbability(traced, p, cells), clean)).toBeLessThanOrEqual(1e-6);
    }
    const all = Array.from({ length: L * p.seq.length }, (_, i) => ({ layer: i % L, t: Math.floor(i / L) }));
    expect(relDiff(restoredProbability(traced, p, all), clean)).toBeLessThanOrEqual(1e-6);
  });

  it("before the subject nothing changes, and the top block matters only at the last position", async () => {
    const r = await causalTrace(traced, { ...base("M"), seed: 3 });
    for (let l = 0; l < L; l++)
      for (let t = 0; t < SUBJECT[0]; t++) expect(r.pRestored[l * T + t]).toBe(r.pCorrupt);
    for (let t = 0; t < T - 1; t++) expect(r.pRestored[(L - 1) * T + t]).toBe(r.pCorrupt);
    expect(r.pRestored[(L - 1) * T + T - 1]).toBe(r.pClean);
    // the shortcut before the subject agrees with a real run
    const p = prepareTrace(traced, { ...base("M"), seed: 3 });
    expect(relDiff(restoredProbability(traced, p, [{ layer: 2, t: 1 }]), r.pCorrupt)).toBeLessThanOrEqual(
      1e-6,
    );
    const top = strongestCells(r, 1)[0];
    expect(top.p).toBe(Math.max(...r.pRestored));
  });

  it("a target of several characters is scored teacher-forced: P[o] is the product of its characters", () => {
    const p2 = prepareTrace(traced, { ...base("My") });
    const pM = restoredProbability(traced, prepareTrace(traced, { ...base("M") }), [], { sample: null });
    const tokensM = { ...base("y"), tokens: encode(vocabulary, PROMPT + "M") };
    const py = restoredProbability(traced, prepareTrace(traced, tokensM), [], { sample: null });
    expect(relDiff(restoredProbability(traced, p2, [], { sample: null }), pM * py)).toBeLessThanOrEqual(1e-5);
  });

  it("is seeded: the same seed gives the same trace, another seed another corruption", async () => {
    const a = await causalTrace(traced, { ...base("M"), seed: 9 });
    const b = await causalTrace(traced, { ...base("M"), seed: 9 });
    const c = await causalTrace(traced, { ...base("M"), seed: 10 });
    expect(b.pRestored).toEqual(a.pRestored);
    expect(c.pCorrupt).not.toBe(a.pCorrupt);
  });
});

describe("causal trace: RWKV modes, progress, cancellation, errors", () => {
  const traced: TracedModel = { kind: "rwkv", model: rwkv };

  it("RNN-mode and parallel-mode recomputations agree", () => {
    const p = prepareTrace(traced, { ...base("My"), seed: 4 });
    for (const cells of [
      [],
      [{ layer: 1, t: 7 }],
      [
        { layer: 3, t: 12 },
        { layer: 0, t: 5 },
      ],
    ]) {
      const rnn = restoredProbability(traced, p, cells, { mode: "rnn" });
      const par = restoredProbability(traced, p, cells, { mode: "parallel" });
      expect(relDiff(rnn, par)).toBeLessThanOrEqual(1e-5);
    }
  });

  it("reports progress up to the total and stops when aborted", async () => {
    const seen: Progress[] = [];
    await causalTrace(traced, { ...base("M"), onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)!.done).toBe(L * T);
    expect(seen.every((p, i) => p.total === L * T && (i === 0 || p.done > seen[i - 1].done))).toBe(true);
    const ac = new AbortController();
    const run = causalTrace(traced, {
      ...base("M"),
      signal: ac.signal,
      onProgress: (p) => {
        if (p.done === 10) ac.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    const pre = new AbortController();
    pre.abort();
    await expect(causalTrace(traced, { ...base("M"), signal: pre.signal })).rejects.toThrow(/abort/i);
  });

  it("reports partial traces row by row: NaN where not reached, the final trace at the end", async () => {
    const partials: Float64Array[] = [];
    const r = await causalTrace(traced, {
      ...base("M"),
      samples: 2,
      onPartial: (p) => partials.push(p.pRestored),
    });
    expect(partials).toHaveLength(2 * T);
    // after the first row of the first sample (t = T - 1) only that column is known
    const first = partials[0];
    for (let l = 0; l < L; l++) {
      for (let t = 0; t < T; t++) expect(Number.isNaN(first[l * T + t])).toBe(t !== T - 1);
    }
    // in the second sample, finished rows average two samples, the others still the first one alone
    expect(partials.at(-1)).toEqual(r.pRestored);
    expect(partials[T - 1].every(Number.isFinite)).toBe(true);
  });

  it("rejects an empty subject, an empty target and a subject outside the prompt", async () => {
    await expect(causalTrace(traced, { ...base("M"), subject: [3, 3] })).rejects.toThrow(/subject/);
    await expect(causalTrace(traced, { ...base("M"), subject: [3, T + 1] })).rejects.toThrow(/subject/);
    await expect(causalTrace(traced, { ...base(""), target: [] })).rejects.toThrow(/target/);
  });
});
