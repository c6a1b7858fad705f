import { describe, expect, it } from "vitest";
import { countStateNumbers, kvCacheNumbers, stateSizeNumbers } from "../../src/live/live-model.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

const config = { nLayer: 3, nEmbd: 8, ffnSize: 32, vocabSize: 7, layerNormEps: 1e-5 };
const weights = syntheticWeights(config, 3);

describe("state size against a KV cache (chapter 1's meter)", () => {
  it("the state the model really carries has 5·L·C numbers, whatever the length", () => {
    const model = new RwkvModel(weights);
    let state = model.initialState();
    for (const tok of [1, 2, 3, 4, 5, 6]) {
      state = model.step(tok, state).state;
      expect(countStateNumbers(state)).toBe(stateSizeNumbers(config));
    }
    expect(stateSizeNumbers(config)).toBe(5 * 3 * 8);
  });

  it("a transformer's cache holds a key and a value per layer per token", () => {
    expect(kvCacheNumbers(config, 10)).toBe(2 * 3 * 10 * 8);
  });
});
