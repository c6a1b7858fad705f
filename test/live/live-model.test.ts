import { describe, expect, it } from "vitest";
import { countStateNumbers } from "../../src/live/live-model.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

const config = { nLayer: 3, nEmbd: 8, ffnSize: 32, vocabSize: 7, layerNormEps: 1e-5 };
const weights = syntheticWeights(config, 3);

describe("countStateNumbers: the state the model really carries", () => {
  it("has 5·L·C numbers (attX, a, b, p, ffnX per layer), whatever the length", () => {
    const model = new RwkvModel(weights);
    let state = model.initialState();
    for (const tok of [1, 2, 3, 4, 5, 6]) {
      state = model.step(tok, state).state;
      expect(countStateNumbers(state)).toBe(5 * config.nLayer * config.nEmbd);
    }
  });
});
