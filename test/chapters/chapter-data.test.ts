import { describe, expect, it } from "vitest";
import { referenceModes, runModes } from "../../src/components/mode-diff.js";
import { decodeModes, encodeModes, modelCounts } from "../../src/chapters/chapter-data.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { countParameters, paperParameterCount, syntheticWeights } from "../../src/rwkv/synthetic.js";

const config = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 12, layerNormEps: 1e-5 };
const tokens = [1, 4, 1, 5, 9, 2, 6, 5, 3, 5];

describe("chapter data (JSON written at build time, read by the pages)", () => {
  it("model counts: every tensor value, and the paper's formula when F = 4D", () => {
    const w = syntheticWeights(config, 1);
    const c = modelCounts(w);
    expect(c.actualParams).toBe(countParameters(w));
    expect(c.actualParams).toBe(paperParameterCount(config));
    expect(c.shape).toEqual({ L: 2, D: 16, V: 12, F: 64 });
  });

  it("modes: the JSON form keeps both runs' logits exactly", async () => {
    const model = new RwkvModel(syntheticWeights(config, 2));
    const runs = await runModes(referenceModes(model), tokens, { repeat: 1 });
    const m = {
      text: "t",
      labels: tokens.map(String),
      V: 12,
      runs: [runs[0], runs[1]] as [(typeof runs)[0], (typeof runs)[0]],
      where: "test",
      synthetic: true,
    };
    const back = decodeModes(JSON.parse(JSON.stringify(encodeModes(m))));
    expect(Array.from(back.runs[0].logits)).toEqual(Array.from(runs[0].logits));
    expect(Array.from(back.runs[1].logits)).toEqual(Array.from(runs[1].logits));
    expect(back.runs[1].ms).toBe(runs[1].ms);
  });
});
