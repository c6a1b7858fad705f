import { describe, expect, it } from "vitest";
import {
  TABLE2_PRESETS,
  exactParams,
  matmulFlops,
  paperParams,
  rwkvMatrices,
  table2Flops,
} from "../../src/components/flops-calculator.js";
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
