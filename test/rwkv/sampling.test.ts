import { describe, expect, it } from "vitest";
import { logSoftmaxAt, NonFiniteLogitsError, Sampler } from "../../src/rwkv/sampling.js";

describe("sampling refuses non-finite logits (issue 16)", () => {
  const bad: [string, number[]][] = [
    ["NaN", [0.5, NaN, 1]],
    ["+Infinity", [0.5, Infinity, 1]],
    ["-Infinity", [0.5, -Infinity, 1]],
    ["all NaN", [NaN, NaN, NaN]],
  ];
  for (const [what, logits] of bad) {
    it(`${what}: sample (greedy, temperature 1, top-p 0.9) and logSoftmaxAt throw, naming the index`, () => {
      const s = new Sampler(1);
      for (const opts of [{ temperature: 0 }, { temperature: 1 }, { temperature: 0.7, topP: 0.9 }]) {
        expect(() => s.sample(Float32Array.from(logits), opts)).toThrow(NonFiniteLogitsError);
      }
      const first = logits.findIndex((x) => !Number.isFinite(x));
      expect(() => logSoftmaxAt(logits, 0)).toThrow(new RegExp(`logit ${first} is`));
    });
  }

  it("finite logits still sample: greedy is the argmax; a seeded draw follows the probabilities", () => {
    const s = new Sampler(3);
    expect(s.sample([0.1, 3, -2], { temperature: 0 })).toBe(1);
    const counts = [0, 0];
    for (let i = 0; i < 4000; i++) counts[s.sample([0, Math.log(3)])]++;
    // p = (1/4, 3/4): 1000 +- 5 sigma (sigma = sqrt(4000 * 3/16) = 27)
    expect(Math.abs(counts[0] - 1000)).toBeLessThan(140);
    expect(logSoftmaxAt([0, Math.log(3)], 1)).toBeCloseTo(Math.log(0.75), 12);
    expect(() => logSoftmaxAt([0, 1], 2)).toThrow(RangeError);
  });
});
