/**
 * The full-size page's fact trace (tracker issue 13, item 6) on the models the project makes, no download: the
 * request with and without a tokenizer, the trace on synthetic-small's weights (its mechanics: what restoring can
 * and cannot change), and the page's run (progress, the end, stopping).
 */
import { describe, expect, it } from "vitest";
import { restoredProbability, prepareTrace } from "../../src/chapters/memory/causal-trace.js";
import {
  FACT,
  type FactModel,
  type FactRun,
  factRequest,
  observeFact,
  traceFact,
} from "../../src/full-size/causal.js";
import { SMALL_SHAPE } from "../../src/full-size/full-size.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

/** A word-level stand-in for the NeoX tokenizer: " word" pieces, ids by first appearance. */
function wordTokenizer(merge = false) {
  const ids = new Map<string, number>();
  const pieces = (text: string) => {
    const p = text.match(/ ?[^ ]+/g) ?? [];
    return merge ? [p.slice(0, 2).join(""), ...p.slice(2)] : p;
  };
  const id = (w: string) => ids.get(w) ?? (ids.set(w, ids.size + 3), ids.size + 2);
  return {
    tokenize: (text: string) => Promise.resolve(pieces(text).map(id)),
    tokenTexts: (list: readonly number[]) =>
      Promise.resolve(list.map((i) => [...ids].find(([, v]) => v === i)?.[0] ?? null)),
  };
}

const weights = syntheticWeights({ ...SMALL_SHAPE, nLayer: 2 }, 0);

describe("factRequest", () => {
  it("with a tokenizer: the subject is the prompt's first tokens, the target its own tokens", async () => {
    const r = await factRequest(wordTokenizer(), 1024);
    expect(r.tokens.length).toBe(FACT.prompt.split(" ").length);
    expect(r.subject).toEqual([0, 3]); // "The", " Eiffel", " Tower"
    expect(r.target.length).toBe(1);
    expect(r.labels.slice(0, 3)).toEqual(["The", "␣Eiffel", "␣Tower"]);
    expect(r.mechanicsOnly).toBe(false);
  });

  it("refuses a tokenizer that does not split the subject off the prompt's start", async () => {
    const t = wordTokenizer();
    const merged = { ...t, tokenize: async (s: string) => (s === FACT.subject ? [999] : t.tokenize(s)) };
    await expect(factRequest(merged, 1024)).rejects.toThrow(/does not split/);
  });

  it("without one: a character per token, labelled the mechanics only", async () => {
    const r = await factRequest(null, 50);
    expect(r.tokens).toEqual([...FACT.prompt].map((c) => c.codePointAt(0)! % 50));
    expect(r.subject).toEqual([0, FACT.subject.length]);
    expect(r.target.length).toBe(FACT.target.length);
    expect(r.mechanicsOnly).toBe(true);
    expect(r.note).toMatch(/mechanics/);
  });
});

describe("traceFact on synthetic weights", () => {
  it("is the causal trace of the reference model: a cell recomputed from scratch agrees", async () => {
    const req = await factRequest(wordTokenizer(), weights.config.vocabSize);
    const r = await traceFact(weights, req, { seed: 3 });
    const L = weights.config.nLayer;
    expect(r.pRestored.length).toBe(L * req.tokens.length);
    const traced = { kind: "rwkv" as const, model: new RwkvModel(weights) };
    const p = prepareTrace(traced, { ...req, samples: 1, seed: 3 });
    for (const [layer, t] of [
      [0, 0],
      [0, 4],
      [L - 1, req.tokens.length - 1],
    ]) {
      const scratch = restoredProbability(traced, p, [{ layer, t }]);
      expect(Math.abs(r.pRestored[layer * r.T + t] - scratch) / scratch).toBeLessThan(1e-5);
    }
    // the top block's output at an earlier token reaches nothing: those cells are the corrupted run's
    for (let t = 0; t < r.T - 1; t++) expect(r.pRestored[(L - 1) * r.T + t]).toBeCloseTo(r.pCorrupt, 12);
  });
});

describe("observeFact (the page's cell)", () => {
  const model = (synthetic: boolean): FactModel => ({
    name: "synthetic-test",
    synthetic,
    rwkv: { ...wordTokenizer(), config: { vocabSize: weights.config.vocabSize } },
    referenceWeights: async () => weights,
  });

  it("reports progress and ends with the trace; a synthetic model is labelled the mechanics only", async () => {
    const runs: FactRun[] = [];
    await new Promise<void>((resolve) => {
      observeFact(
        model(true),
        (r) => {
          runs.push(r);
          if (r.done) resolve();
        },
        0,
      );
    });
    const last = runs.at(-1)!;
    expect(last.error).toBeNull();
    expect(last.req!.mechanicsOnly).toBe(true);
    expect(last.trace!.pRestored.every(Number.isFinite)).toBe(true);
    expect(last.status).toMatch(/done in/);
    expect(runs.some((r) => /% of the cells/.test(r.status))).toBe(true);
  });

  it("stops when disposed: no report after", async () => {
    const runs: FactRun[] = [];
    const stop = observeFact(model(false), (r) => runs.push(r), 0);
    stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(runs.some((r) => r.done)).toBe(false);
  });
});
