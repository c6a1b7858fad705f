/**
 * The recall probes of chapter 9: copy probe (recall against distance), context use, prompt order. Their
 * sequences are seeded and built as documented; their losses are checked against fake models whose losses are
 * known exactly (a model that knows nothing: ln V per character; an oracle that knows the next character);
 * on the tiny models, properties that could fail (random strings are hard; context helps).
 */
import { describe, expect, it } from "vitest";
import { copyAlphabet, copyProbe, copyProbeSequence } from "../../../src/chapters/memory/copy-probe.js";
import { contextUse, contextWindows } from "../../../src/chapters/memory/context-use.js";
import {
  type SequenceModel,
  branchLosses,
  gptSequenceModel,
  nextTokenLosses,
  rwkvSequenceModel,
  rwkvStateSize,
} from "../../../src/chapters/memory/lm.js";
import { promptOrder, promptOrderTrial } from "../../../src/chapters/memory/prompt-order.js";
import { gaussians, randomString, subSeed } from "../../../src/chapters/memory/random.js";
import { encode, fakeModel, tinyModels } from "./helpers.js";

const { rwkv, gpt, vocabulary } = tinyModels();
const V = vocabulary.length;
// any held-out-like text will do for the structure; the page cuts it from the corpus's validation split
const FILLER =
  "KING RICHARD II:\nWe were not born to sue, but to command;\nWhich since we cannot do to make you friends,\n" +
  "Be ready, as your lives shall answer it,\nAt Coventry, upon Saint Lambert's day:\nThere shall your swords " +
  "and lances arbitrate\nThe swelling difference of your settled hate:\nSince we can not atone you, we shall see\n" +
  "Justice design the victor's chivalry.\nLord marshal, command our officers at arms\nBe ready to direct these home alarms.\n";

describe("seeded randomness", () => {
  it("subSeed mixes every part, including the seed", () => {
    const seeds = new Set([subSeed(1, 0), subSeed(2, 0), subSeed(1, 1), subSeed(1, 0, 0), subSeed(0, 1)]);
    expect(seeds.size).toBe(5);
    expect(subSeed(7, 3, 4)).toBe(subSeed(7, 3, 4));
  });

  it("gaussians are N(0, 1): mean, variance and the 1-sigma mass within sampling error", () => {
    const n = 200_000;
    const g = gaussians(123, n);
    let m = 0;
    let v = 0;
    let inside = 0;
    for (const x of g) m += x / n;
    for (const x of g) {
      v += (x - m) ** 2 / n;
      if (Math.abs(x) < 1) inside++;
    }
    expect(Math.abs(m)).toBeLessThan(5 / Math.sqrt(n)); // 5 standard errors
    expect(Math.abs(v - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    const p = 0.6826894921370859; // P(|Z| < 1) = erf(1/sqrt 2)
    expect(Math.abs(inside / n - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / n));
  });

  it("randomString is uniform over the alphabet (chi-square) and reproducible", () => {
    const alphabet = "abcdefghij";
    const s = randomString(9, 50_000, alphabet);
    expect(randomString(9, 50_000, alphabet)).toBe(s);
    const counts = new Map<string, number>();
    for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(10);
    const e = 5000;
    const chi2 = [...counts.values()].reduce((a, c) => a + (c - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(27.88); // chi-square, 9 degrees of freedom, p = 0.001
  });
});

describe("copy probe", () => {
  const opts = { vocabulary, filler: FILLER, lengths: [4, 12], distances: [0, 40, 200], trials: 3, seed: 11 };

  it("reads string + filler + the same string, seeded and reproducible", () => {
    const a = copyProbeSequence(opts, 12, 40, 1);
    expect(copyProbeSequence(opts, 12, 40, 1)).toEqual(a);
    expect(copyProbeSequence({ ...opts, seed: 12 }, 12, 40, 1).text).not.toBe(a.text);
    const s = a.text.slice(...a.first);
    expect(a.text.slice(...a.second)).toBe(s);
    expect(a.text.length).toBe(2 * 12 + 40);
    expect(FILLER).toContain(a.text.slice(12, 52));
    expect([...s].every((c) => copyAlphabet(opts).includes(c) && c !== "\n")).toBe(true);
    expect(a.tokens).toEqual(encode(vocabulary, a.text));
    // the string does not depend on d, the filler does not depend on n: only the distance changes
    const b = copyProbeSequence(opts, 12, 200, 1);
    expect(b.text.slice(...b.first)).toBe(s);
    expect(b.text.slice(12, 52)).toBe(a.text.slice(12, 52));
    expect(copyProbeSequence(opts, 4, 40, 1).text.slice(4, 44)).toBe(a.text.slice(12, 52));
  });

  it("a model that knows nothing scores ln V on both copies; an oracle recalls the second copy", async () => {
    const blind = await copyProbe(fakeModel(V), opts);
    for (const c of blind.cells) {
      expect(c.first!.mean).toBeCloseTo(Math.log(V), 5);
      expect(c.second!.mean).toBeCloseTo(Math.log(V), 5);
      expect(Math.abs(c.gain!.mean)).toBeLessThan(1e-5);
    }
    // the oracle knows the string (from the first copy) once the second copy starts
    const oracle = fakeModel(V, Infinity, (tokens, i) => {
      const n =
        tokens.length === 2 * 4 + 0 || tokens.length === 2 * 4 + 40 || tokens.length === 2 * 4 + 200 ? 4 : 12;
      const start = tokens.length - n;
      return i >= start ? (tokens[i - start + 1] ?? null) : null;
    });
    const r = await copyProbe(oracle, opts);
    for (const c of r.cells) {
      expect(c.second!.mean).toBeLessThan(1e-6);
      expect(c.first!.mean).toBeCloseTo(Math.log(V), 5);
      expect(c.secondByChar![0]).toBeNaN();
    }
    expect(r.uniformLoss).toBeCloseTo(Math.log(V - 1), 12); // the alphabet is the vocabulary without "\n"
  });

  it("leaves out what a model cannot read (the GPT's 256 positions)", async () => {
    const r = await copyProbe(fakeModel(V, 64), opts);
    const cell = (n: number, d: number) => r.cells.find((c) => c.n === n && c.d === d)!;
    expect(cell(12, 40).first).not.toBeNull(); // 64 characters
    expect(cell(12, 200).first).toBeNull();
    expect(cell(4, 200).second).toBeNull();
  });

  it("on the tiny models: the first copy of a random string costs well above 2 nats a character", async () => {
    for (const model of [rwkvSequenceModel(rwkv), gptSequenceModel(gpt)]) {
      const r = await copyProbe(model, { ...opts, lengths: [12], distances: [40], trials: 2 });
      expect(r.cells[0].first!.mean).toBeGreaterThan(2);
      expect(Number.isFinite(r.cells[0].second!.mean)).toBe(true);
    }
    // the RWKV reads string + filler once and branches the second copy off it at every d: the same numbers
    const small = { ...opts, lengths: [4], trials: 1 };
    const reused = await copyProbe(rwkvSequenceModel(rwkv), small);
    const whole = await copyProbe({ ...rwkvSequenceModel(rwkv), resume: undefined }, small);
    for (const [i, c] of whole.cells.entries()) {
      expect(Math.abs(reused.cells[i].second!.mean - c.second!.mean)).toBeLessThan(PREFIX_TOL);
      expect(Math.abs(reused.cells[i].first!.mean - c.first!.mean)).toBeLessThan(PREFIX_TOL);
    }
  });
});

describe("context use", () => {
  const tokens = encode(vocabulary, FILLER.repeat(3));

  it("bins are scored from exactly d characters of context, in the same windows for every model", async () => {
    const opts = { tokens, edges: [1, 2, 5, 31], windows: 4, seed: 3 };
    const starts = contextWindows(opts, 30);
    expect(contextWindows(opts, 30)).toEqual(starts);
    // an oracle that is right only when it has seen exactly 5 characters: loss ~0 at d = 5, ln V elsewhere
    const calls: number[][] = [];
    const model = {
      ...fakeModel(V),
      logits(toks: readonly number[]) {
        const off = starts[calls.length];
        calls.push([...toks]);
        const out = new Float32Array(toks.length * V);
        out[4 * V + tokens[off + 5]] = 50; // row 4 has seen 5 characters and predicts token off + 5
        return out;
      },
    };
    const r = await contextUse(model, opts);
    expect(calls).toEqual(starts.map((off) => tokens.slice(off, off + 30)));
    expect(r.points.map((p) => [p.d, p.dEnd])).toEqual([
      [1, 2],
      [2, 5],
      [5, 31],
    ]);
    expect(r.points[0].loss!.mean).toBeCloseTo(Math.log(V), 5);
    expect(r.points[1].loss!.mean).toBeCloseTo(Math.log(V), 5);
    // bin [5, 31): one of its 26 predictions is right, the other 25 cost ln V
    expect(r.points[2].loss!.mean).toBeCloseTo((25 * Math.log(V)) / 26, 5);
    expect(r.points[2].loss!.n).toBe(4);
  });

  it("with `long`, the bins below the split read many short windows, the others a few long ones", async () => {
    const opts = { tokens, edges: [1, 2, 5, 31], windows: 5, long: { from: 5, windows: 2 }, seed: 3 };
    const short = contextWindows(opts, 4);
    const long = contextWindows(opts, 30, 2);
    const model = fakeModel(V);
    const r = await contextUse(model, opts);
    expect(model.calls).toEqual([
      ...short.map((off) => tokens.slice(off, off + 4)),
      ...long.map((off) => tokens.slice(off, off + 30)),
    ]);
    expect(r.points.map((p) => p.loss!.n)).toEqual([5, 5, 2]);
    expect(r.windows).toBe(5);
    expect(r.long).toEqual({ from: 5, windows: 2 });
    await expect(contextUse(model, { ...opts, long: { from: 3, windows: 2 } })).rejects.toThrow(
      /inner bin edge/,
    );
  });

  it("the GPT has no number for a bin past its 256 positions; bad edges are refused", async () => {
    const r = await contextUse(fakeModel(V, 256), { tokens, edges: [8, 256, 257, 300], windows: 2 });
    expect(r.points.map((p) => p.loss === null)).toEqual([false, false, true]);
    await expect(contextUse(fakeModel(V), { tokens, edges: [4, 4] })).rejects.toThrow(/increasing/);
  });

  it("on the tiny models, 32-63 characters of context predict better than 1", async () => {
    for (const model of [rwkvSequenceModel(rwkv), gptSequenceModel(gpt)]) {
      const r = await contextUse(model, { tokens, edges: [1, 2, 32, 64], windows: 6, seed: 1 });
      expect(r.points[2].loss!.mean).toBeLessThan(r.points[0].loss!.mean - 0.5);
    }
  });
});

describe("prompt order", () => {
  const opts = { vocabulary, speeches: FILLER, speechLengths: [30, 150], trials: 3, seed: 4 };

  it("far and near hold the same characters in a different order; absent names someone else", () => {
    const p = promptOrderTrial(opts, 150, 2);
    expect(promptOrderTrial(opts, 150, 2)).toEqual(p);
    expect([...p.far].sort().join("")).toBe([...p.near].sort().join(""));
    expect(p.far).not.toBe(p.near);
    expect(p.far.startsWith(`${p.name}:\n`)).toBe(true);
    expect(p.near.endsWith(`${p.name}:\nI come, my lord.\n\n${p.name[0]}`)).toBe(true);
    expect(p.absent.endsWith(`${p.other}:\nI come, my lord.\n\n${p.name[0]}`)).toBe(true);
    expect(p.absent).not.toContain(p.name);
    expect(p.other[0]).not.toBe(p.name[0]);
    expect(p.target).toBe(p.name.slice(1));
    expect(p.name).toMatch(/^([BCDFGKLMNPRSTVZ][AEIOU]){3}$/);
    expect(promptOrderTrial(opts, 30, 2).name).toBe(p.name); // same names for every speech length
  });

  it("draws the names from a list when given one, never two with the same first letter", () => {
    const names = ["GREMIO", "GRUMIO", "TRANIO", "BIANCA"];
    for (let trial = 0; trial < 20; trial++) {
      const p = promptOrderTrial({ ...opts, names }, 30, trial);
      expect(names).toContain(p.name);
      expect(names).toContain(p.other);
      expect(p.other[0]).not.toBe(p.name[0]);
    }
    expect(() => promptOrderTrial({ ...opts, names: ["GREMIO", "GRUMIO"] }, 30, 0)).toThrow(/first letters/);
  });

  it("a model that knows nothing shows no order effect", async () => {
    const r = await promptOrder(fakeModel(V), opts);
    for (const pt of r.points) {
      expect(pt.far!.mean).toBeCloseTo(Math.log(V), 5);
      expect(pt.near!.mean).toBeCloseTo(Math.log(V), 5);
      expect(Math.abs(pt.orderEffect!.mean)).toBeLessThan(1e-5);
    }
    const short = await promptOrder(fakeModel(V, 100), opts);
    expect(short.points[1].far).toBeNull(); // 150 + the name block does not fit in 100
  });

  it("scores the name's remaining letters teacher-forced, the shared speech read once or every prompt whole", async () => {
    const model = rwkvSequenceModel(rwkv);
    const whole: SequenceModel = { ...model, resume: undefined }; // every prompt read from the start
    const reused = await promptOrder(model, { ...opts, trials: 1 });
    const fresh = await promptOrder(whole, { ...opts, trials: 1 });
    for (const [i, Ls] of opts.speechLengths.entries()) {
      const p = promptOrderTrial(opts, Ls, 0);
      for (const order of ["far", "near", "absent"] as const) {
        const losses = await nextTokenLosses(whole, encode(vocabulary, p[order] + p.target));
        const expected = [...losses.slice(-5)].reduce((a, b) => a + b, 0) / 5;
        expect(fresh.points[i][order]!.mean).toBeCloseTo(expected, 10);
        // the same model in segments (the state carried): float32 rounding only
        expect(Math.abs(reused.points[i][order]!.mean - expected)).toBeLessThan(PREFIX_TOL);
      }
    }
  });
});

// Reading a sequence in segments with the state carried is exact in real arithmetic; in float32 the chunked
// WKV sums in another order. Measured differences on these sequences are ~1e-6 nats; 1e-4 leaves room.
const PREFIX_TOL = 1e-4;

describe("branchLosses (prefix reuse)", () => {
  const trunk = encode(vocabulary, FILLER.slice(0, 120));
  const branches = [
    { at: 1, tokens: encode(vocabulary, "ab") },
    { at: 40, tokens: encode(vocabulary, "KING:") },
    { at: 40, tokens: encode(vocabulary, "x") },
    { at: 120, tokens: encode(vocabulary, "x y") },
  ];

  it("equals reading every branch whole, and reads the trunk once", async () => {
    const model = rwkvSequenceModel(rwkv);
    const read: number[] = [];
    const counted: SequenceModel = {
      ...model,
      resume: (after, tokens) => {
        read.push(tokens.length);
        return model.resume!(after, tokens);
      },
    };
    const fast = await branchLosses(counted, trunk, branches);
    const slow = await branchLosses({ ...model, resume: undefined }, trunk, branches);
    for (const [i, b] of branches.entries()) {
      const whole = await nextTokenLosses(model, [...trunk.slice(0, b.at), ...b.tokens]);
      expect([...slow[i]]).toEqual([...whole]);
      expect(fast[i].length).toBe(whole.length);
      for (let k = 0; k < whole.length; k++) expect(Math.abs(fast[i][k] - whole[k])).toBeLessThan(PREFIX_TOL);
    }
    // the trunk's 120 tokens once, then each branch but its last token ("x" needs no call)
    expect(read.reduce((a, b) => a + b, 0)).toBe(120 + 1 + 4 + 2);
  });

  it("refuses a branch outside the trunk or an empty one", async () => {
    const model = rwkvSequenceModel(rwkv);
    await expect(branchLosses(model, trunk, [{ at: 0, tokens: [1] }])).rejects.toThrow(/outside/);
    await expect(branchLosses(model, trunk, [{ at: 121, tokens: [1] }])).rejects.toThrow(/outside/);
    await expect(branchLosses(model, trunk, [{ at: 3, tokens: [] }])).rejects.toThrow(/at least one/);
  });
});

describe("state size", () => {
  it("is 5 L C numbers (Appendix D)", () => {
    expect(rwkvStateSize(rwkv.config)).toBe(5 * 6 * 192);
    const state = rwkv.initialState();
    const held = state.reduce(
      (a, s) => a + s.attX.length + s.a.length + s.b.length + s.p.length + s.ffnX.length,
      0,
    );
    expect(rwkvStateSize(rwkv.config)).toBe(held);
  });
});
