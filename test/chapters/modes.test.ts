import { describe, expect, it } from "vitest";
import {
  argmaxPerPosition,
  decodeModes,
  encodeModes,
  maxAbsDiffPerPosition,
  modeDiffData,
  onnxChecks,
  referenceChecks,
  referenceModes,
  rnnOverParallel,
  runModes,
  type CheckLine,
  type ModeRun,
  type ModesResult,
} from "../../src/chapters/modes.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

describe("mode comparison (chapter 8)", () => {
  it("maxAbsDiffPerPosition takes the max over the vocabulary, per position, and propagates NaN", () => {
    const a = [1, 2, 3, 4, 5, 6];
    const b = [1, 2.5, 3, 4, 5, 5.75];
    expect(Array.from(maxAbsDiffPerPosition(a, b, 2, 3))).toEqual([0.5, 0.25]);
    expect(Number.isNaN(maxAbsDiffPerPosition([NaN, 0], [0, 0], 1, 2)[0])).toBe(true);
    expect(() => maxAbsDiffPerPosition(a, b, 3, 3)).toThrow(RangeError);
    expect(Array.from(argmaxPerPosition([0, 2, 1, 5, 4, 3], 2, 3))).toEqual([1, 0]);
  });

  it("the reference model's RNN mode and parallel mode agree to 1e-4 at every position", async () => {
    const config = { nLayer: 3, nEmbd: 48, ffnSize: 192, vocabSize: 30, layerNormEps: 1e-5 };
    const model = new RwkvModel(syntheticWeights(config, 9));
    const tokens = Array.from({ length: 70 }, (_, i) => (i * 7 + 3) % 30);
    const runs = await runModes(referenceModes(model), tokens, { repeat: 1 });
    expect(runs.map((r) => r.name)).toEqual(["rnn", "parallel"]);
    const d = maxAbsDiffPerPosition(runs[0].logits, runs[1].logits, tokens.length, 30);
    expect(Math.max(...d)).toBeLessThan(1e-4);
    // and RNN mode's last row is what step() alone gives after the whole prompt (not a shifted row)
    let state = model.initialState();
    let last: Float32Array = new Float32Array(30);
    for (const t of tokens) ({ logits: last, state } = model.step(t, state));
    expect(Array.from(runs[0].logits.subarray(69 * 30))).toEqual(Array.from(last));
  });

  it("times each mode with the median of the repeats, after an untimed warm-up", async () => {
    let clock = 0;
    const durations = [100, 5, 9, 7]; // warm-up (untimed), then three timed runs
    let calls = 0;
    const mode = {
      name: "fake",
      label: "fake",
      backend: "test",
      run: () => {
        clock += durations[calls++];
        return new Float32Array(2);
      },
    };
    const [r] = await runModes([mode], [0], { repeat: 3, now: () => clock });
    expect(calls).toBe(4);
    expect(r.times).toEqual([5, 9, 7]);
    expect(r.ms).toBe(7);
  });
});

describe("the comparison as the build writes it and the page shows it", () => {
  const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 12, layerNormEps: 1e-5 };
  const tokens = [1, 4, 1, 5, 9, 2, 6, 5, 3, 5];

  it("the JSON form keeps both runs' logits exactly", async () => {
    const model = new RwkvModel(syntheticWeights(config, 2));
    const runs = await runModes(referenceModes(model), tokens, { repeat: 1 });
    const m = {
      text: "t",
      labels: tokens.map(String),
      V: 12,
      runs: [runs[0], runs[1]] as [ModeRun, ModeRun],
      where: "test",
      synthetic: true,
    };
    const back = decodeModes(JSON.parse(JSON.stringify(encodeModes(m))));
    expect(Array.from(back.runs[0].logits)).toEqual(Array.from(runs[0].logits));
    expect(Array.from(back.runs[1].logits)).toEqual(Array.from(runs[1].logits));
    expect(back.runs[1].ms).toBe(runs[1].ms);
    expect(() => decodeModes({ format: "nope" })).toThrow(/rwkv-modes\/1/);
  });

  /** Two runs over T = 3 positions, V = 4, whose difference is known by construction. */
  function fixture(
    perturb: { t: number; v: number; by: number }[],
    extra: Partial<ModesResult> = {},
  ): ModesResult {
    const V = 4;
    const base = Float32Array.from([0.5, -2, 1, 0, 3, 0.25, -1, 2, -8, 0, 0.5, 1]);
    const other = Float32Array.from(base);
    for (const { t, v, by } of perturb) other[t * V + v] += by;
    const run = (name: string, logits: Float32Array, ms: number): ModeRun => ({
      name,
      label: `${name} mode`,
      backend: "TypeScript reference",
      logits,
      ms,
      times: [ms],
    });
    return {
      text: "a b",
      labels: ["a", " ", "\n"],
      V,
      runs: [run("rnn", base, 6), run("parallel", other, 4)],
      where: "here",
      synthetic: false,
      source: "live",
      backend: "reference (JS)",
      ...extra,
    };
  }
  const text = (lines: CheckLine[]) => lines.map((l) => l.map((s) => s.text).join(""));

  it("figure data: the per-position differences, the positions with the same argmax, visible whitespace", () => {
    // base logits per position: [0.5, -2, 1, 0], [3, 0.25, -1, 2], [-8, 0, 0.5, 1] (argmax 2, 0, 3); +0.5 at
    // (1, 1) keeps position 1's argmax, +2 at (2, 1) makes token 1 position 2's most likely (2 > 1)
    const d = modeDiffData(
      fixture([
        { t: 1, v: 1, by: 0.5 },
        { t: 2, v: 1, by: 2 },
      ]),
    );
    expect(d.T).toBe(3);
    expect(Array.from(d.diffs)).toEqual([0, 0.5, 2]);
    expect(d.worst).toBe(2);
    expect(d.sameArgmax).toBe(2);
    expect(d.labels).toEqual(["a", "␣", "↵"]);
    expect(d.runs.map((r) => r.ms)).toEqual([6, 4]);
    expect(d.stale).toBe(false);
    expect(d.ep).toBeUndefined();
    expect(modeDiffData(fixture([], { backend: "wasm", stale: true }))).toMatchObject({
      ep: "wasm",
      stale: true,
    });
  });

  it("reference checks: the largest difference, where, the largest logit, the median times", () => {
    const [worst, times] = text(referenceChecks(fixture([{ t: 2, v: 0, by: 3e-5 }])));
    // the largest |logit| is 8 (position 2, token 0); the difference 3e-5 at position 2 is within tolerance
    expect(worst).toBe(
      "Largest difference over all 3 positions and 4 logits: 3.00e-5 at position 2, for logits as large as 8.0: " +
        "the two modes agree to within float32 rounding.",
    );
    expect(times).toBe(
      "rnn mode: 6.0 ms; parallel mode: 4.0 ms (here; the TypeScript reference, single-threaded JavaScript; median of 1 run).",
    );
    expect(text(referenceChecks(fixture([])))[0]).toMatch(/: 0 \(bit-identical\), for logits/);
    expect(text(referenceChecks(fixture([{ t: 0, v: 3, by: 0.01 }])))[0]).toMatch(
      /1\.00e-2 at position 0.*MORE than/,
    );
    expect(rnnOverParallel(fixture([]))).toBe("1.50");
    expect(rnnOverParallel(null)).toBe("–");
  });

  it("ONNX checks: where it ran and why, step against parallel graph, parallel graph against the reference", () => {
    const graphs = fixture([{ t: 1, v: 2, by: -2.5e-6 }], {
      backend: "wasm",
      fallbackReason: "the only WebGPU adapter is a software fallback (slower than wasm)",
    });
    // the reference's parallel mode differs from the graphs' parallel graph by 1e-3 at one logit
    const reference = fixture([]);
    reference.runs[1] = { ...reference.runs[1], logits: Float32Array.from(graphs.runs[1].logits) };
    reference.runs[1].logits[5] += 1e-3;
    const lines = text(onnxChecks(graphs, reference));
    expect(lines[0]).toBe(
      "Ran on WebAssembly (not WebGPU: the only WebGPU adapter is a software fallback (slower than wasm)).",
    );
    expect(lines[1]).toBe("Step graph against parallel graph, largest difference over 3 positions: 2.50e-6.");
    expect(lines[2]).toMatch(/^Parallel graph against the TypeScript reference's parallel mode: 1\.00e-3\.$/);
    // another prompt's reference is not compared; WebGPU says so without a reason
    expect(
      text(
        onnxChecks({ ...graphs, backend: "webgpu", fallbackReason: undefined }, { ...reference, text: "x" }),
      ),
    ).toEqual(["Ran on WebGPU.", lines[1]]);
  });

  it("a stale result says so in its first line", () => {
    const stale = fixture([], { stale: true });
    for (const lines of [text(referenceChecks(stale)), text(onnxChecks(stale, null))]) {
      expect(lines[0]).toMatch(/previous prompt's/);
    }
    expect(text(onnxChecks(fixture([]), null))[0]).not.toMatch(/previous/);
  });
});
