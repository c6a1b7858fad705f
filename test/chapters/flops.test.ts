import { describe, expect, it } from "vitest";
import {
  TABLE2_PRESETS,
  calculatorInputs,
  calculatorRows,
  decodeCounts,
  diagramLinks,
  exactParams,
  matmulFlops,
  modelCounts,
  paperParams,
  printedFlops,
  rwkvMatrices,
  sciTex,
  shownCounts,
  table2Flops,
  wholeModelFacts,
} from "../../src/chapters/flops.js";
import { countParameters, paperParameterCount, syntheticWeights } from "../../src/rwkv/synthetic.js";

describe("parameter and FLOP formulas (chapter 7, Table 2)", () => {
  it("reproduces every parameter count and FLOP count printed in Table 2 (4 significant digits)", () => {
    // Table 2 of the paper (Name, Layers, Model Dimension, Parameters, FLOPs per token), typed from the paper
    const printed: [string, number, number, number, number][] = [
      ["169M", 12, 768, 1.693e8, 2.613e8],
      ["430M", 24, 1024, 4.304e8, 7.573e8],
      ["1.5B", 24, 2048, 1.515e9, 2.823e9],
      ["3B", 32, 2560, 2.985e9, 5.71e9],
      ["7B", 32, 4096, 7.393e9, 1.437e10],
      ["14B", 40, 5120, 1.415e10, 2.778e10],
    ];
    for (const [name, L, D, params, flops] of printed) {
      const s = { L, D, V: 50277 };
      const rel = (a: number, b: number) => Math.abs(a - b) / b;
      expect(rel(paperParams(s), params), name).toBeLessThan(5e-4);
      expect(rel(table2Flops(s), flops), name).toBeLessThan(5e-4);
      // the other candidate readings of the notes do not reproduce the column
      expect(rel(2 * (2 * 50277 * D + 13 * D * D * L), flops), name).toBeGreaterThan(5e-3);
    }
    expect(TABLE2_PRESETS.map((p) => [p.name, p.L, p.D])).toEqual(printed.map((r) => [r[0], r[1], r[2]]));
  });

  it("gives 169,342,464 parameters for RWKV-4-Pile 169M (the count of its checkpoint's tensors)", () => {
    expect(paperParams({ L: 12, D: 768, V: 50277 })).toBe(169_342_464);
  });

  it("equals the number of values in actual weights, for F = 4D and for other F", () => {
    for (const config of [
      { nLayer: 3, nEmbd: 16, ffnSize: 64, vocabSize: 30, layerNormEps: 1e-5 },
      { nLayer: 2, nEmbd: 24, ffnSize: 40, vocabSize: 7, layerNormEps: 1e-5 },
    ]) {
      const w = syntheticWeights(config, 1);
      const shape = { L: config.nLayer, D: config.nEmbd, V: config.vocabSize, F: config.ffnSize };
      expect(exactParams(shape)).toBe(countParameters(w));
      if (config.ffnSize === 4 * config.nEmbd) {
        expect(paperParams(shape)).toBe(countParameters(w));
        expect(paperParams(shape)).toBe(paperParameterCount(config));
      } else {
        expect(paperParams(shape)).not.toBe(countParameters(w));
      }
      // FLOPs from the real matrices: 2 per weight of every multiplied matrix (not the embedding lookup)
      const mats = rwkvMatrices(w);
      expect(mats).toHaveLength(2 + 7 * config.nLayer);
      let multiplied = 0;
      for (const m of mats) if (m.name !== "emb.weight") multiplied += m.rows * m.cols;
      expect(matmulFlops(mats)).toBe(2 * multiplied);
      expect(matmulFlops(mats)).toBe(table2Flops(shape));
    }
  });

  it("rejects non-integer or non-positive shapes", () => {
    expect(() => paperParams({ L: 0, D: 8, V: 4 })).toThrow(RangeError);
    expect(() => table2Flops({ L: 2, D: 8.5, V: 4 })).toThrow(/D must be a positive integer/);
    expect(() => exactParams({ L: 2, D: 8, V: Number.NaN })).toThrow(RangeError);
  });
});

describe("chapter 7's counts of loaded tensors", () => {
  const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 12, layerNormEps: 1e-5 };

  it("model counts: every tensor value, and the paper's formula when F = 4D", () => {
    const w = syntheticWeights(config, 1);
    const c = modelCounts(w);
    expect(c.actualParams).toBe(countParameters(w));
    expect(c.actualParams).toBe(paperParameterCount(config));
    expect(c.shape).toEqual({ L: 2, D: 16, V: 12, F: 64 });
    // 2 FLOPs per weight of the 7 matrices per block and the head (not the embedding): 2(13 D² L + V D)
    expect(c.actualFlops).toBe(2 * (13 * 16 * 16 * 2 + 12 * 16));
  });

  it("shows the live counts once the model is loaded, the build-time ones before, and says which", () => {
    const w = syntheticWeights(config, 1);
    const pre = { ...modelCounts(w), actualParams: 1, name: "tiny-rwkv", synthetic: false };
    const before = shownCounts(null, pre, false);
    expect([before.source, before.actualParams, before.name]).toEqual([
      "precomputed",
      1,
      "this site's model (tiny-rwkv)",
    ]);
    expect(before.where).toMatch(/build time/);
    const after = shownCounts({ weights: w }, pre, true);
    expect([after.source, after.actualParams, after.name]).toEqual([
      "live",
      countParameters(w),
      "this site's model (synthetic)",
    ]);
    expect(after.where).toMatch(/in this browser/);
  });

  it("reads the build-time counts and refuses anything else", () => {
    const json = JSON.parse(
      JSON.stringify({ ...modelCounts(syntheticWeights(config, 1)), name: "x", synthetic: true }),
    );
    expect(decodeCounts(json).actualParams).toBe(paperParameterCount(config));
    expect(() => decodeCounts({ shape: { L: 2, D: 16, V: 12 }, actualParams: 5, actualFlops: 5 })).toThrow(
      RangeError,
    );
    expect(() => decodeCounts(null)).toThrow(RangeError);
  });
});

describe("the calculator's table", () => {
  const s169 = { L: 12, D: 768, V: 50277, F: 4 * 768 };

  it("for 169M: the checkpoint's 169,342,464 parameters, Table 2's FLOPs, 3x for training, 2x params", () => {
    const preset = TABLE2_PRESETS[0];
    const { rows, stateNumbers } = calculatorRows(s169, { table2: preset.table2 });
    expect(rows.map((r) => r.label)).toEqual([
      "Parameters",
      "FLOPs per token, forward",
      "FLOPs per token, training (3 × forward)",
      "The cruder estimate: 2 × parameters",
    ]);
    const [params, fwd, train, crude] = rows;
    expect(params.ours).toBe(169_342_464);
    expect(params.printed).toBe(1.693e8);
    // 2(VD + 13 D² L) from the shape, by hand
    const flops = 2 * (50277 * 768 + 13 * 768 * 768 * 12);
    expect(fwd.ours).toBe(flops);
    expect(fwd.printed).toBe(2.613e8);
    expect(train.ours).toBe(3 * flops);
    expect(crude.ours).toBe(2 * 169_342_464);
    expect(params.actual).toBeUndefined();
    expect(stateNumbers).toBe(5 * 12 * 768);
  });

  it("for a hidden size other than 4D: the general count, plus the paper's formula as its own row", () => {
    const config = { nLayer: 2, nEmbd: 24, ffnSize: 40, vocabSize: 7, layerNormEps: 1e-5 };
    const w = syntheticWeights(config, 1);
    const shape = { L: 2, D: 24, V: 7, F: 40 };
    const { rows } = calculatorRows(shape, { loaded: modelCounts(w) });
    expect(rows[0].ours).toBe(countParameters(w));
    expect(rows[0].actual).toBe(countParameters(w));
    expect(rows[1].label).toMatch(/paper's formula/);
    expect(rows[1].ours).not.toBe(countParameters(w));
    expect(rows[2].ours).toBe(rows[2].actual);
    expect(() => calculatorRows({ ...shape, D: 0 })).toThrow(/D must be a positive integer/);
  });

  it("the loaded model's preset comes first, then Table 2's six", () => {
    const loaded = { name: "mine", shape: { L: 1, D: 2, V: 3, F: 8 }, actualParams: 1, actualFlops: 2 };
    const { presets } = calculatorInputs(loaded);
    expect(presets.map((p) => p.name)).toEqual(["mine", "169M", "430M", "1.5B", "3B", "7B", "14B"]);
    expect(calculatorInputs().presets).toHaveLength(6);
  });
});

describe("chapter 7's prose and diagram", () => {
  it("quotes Table 2's 169M cost and 4·L·T·D of attention at T = 1024", () => {
    const w = syntheticWeights({ nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 12, layerNormEps: 1e-5 }, 1);
    const f = wholeModelFacts({ L: 2, D: 16, V: 12, F: 64 }, { actualParams: countParameters(w) });
    expect(f.exact).toBe(true);
    expect(f.mflops169M.toFixed(0)).toBe("261"); // Table 2: 2.613e8
    expect(f.attentionMflops169M).toBe((4 * 12 * 1024 * 768) / 1e6);
    expect(f.mflops).toBe((2 * (12 * 16 + 13 * 16 * 16 * 2)) / 1e6);
    expect(wholeModelFacts({ L: 2, D: 16, V: 12, F: 64 }, { actualParams: 1 }).exact).toBe(false);
  });

  it("the formulas printed under Table 2 miss it; 2(VD + 13D²L) does not", () => {
    // 169M: V = 50277, D = 768, L = 12 (Table 2); the arithmetic done here independently
    const [V, D, L] = [50277, 768, 12];
    expect(printedFlops({ L, D, V })).toEqual({ v4: 338_476_032, v1: 783_751_680 });
    expect(table2Flops({ L, D, V })).toBe(261_250_560); // Table 2: 2.613 × 10^8
    expect(sciTex(261_250_560)).toBe("2.613 \\times 10^{8}");
    const facts = wholeModelFacts({ L, D, V, F: 4 * D }, { actualParams: 0 });
    expect([facts.table169M, facts.v4Printed169M, facts.v1Printed169M]).toEqual([
      "2.613 \\times 10^{8}",
      "3.385 \\times 10^{8}",
      "7.838 \\times 10^{8}",
    ]);
    expect(facts.crudeOver169M).toBe(30); // v1 Appendix C: "a 30% discrepancy for 169M"
  });

  it("links diagram parts only to the chapters in this build", () => {
    const links = diagramLinks({ "05-wkv": true, "08-rnn-and-parallel": true, "02-attention": false });
    // the output gate (Eq. 17) is displayed in chapter 5
    expect(links).toEqual({
      wkv: "./05-wkv.html",
      gate: "./05-wkv.html",
      modes: "./08-rnn-and-parallel.html",
    });
  });
});
