import { describe, expect, it } from "vitest";
import { PrefixRows } from "../../src/util/prefix.js";

/** A causal "model" for the test: row t is the sum of tokens[0..t], counted as it runs. */
function runner() {
  const cache = new PrefixRows<number>();
  let ran = 0;
  const rows = (tokens: number[]) => {
    for (let t = cache.keep(tokens); t < tokens.length; t++) {
      cache.push(tokens[t], (t ? cache.rows[t - 1] : 0) + tokens[t]);
      ran++;
    }
    return [...cache.rows];
  };
  return { cache, rows, ran: () => ran };
}

const prefixSums = (tokens: number[]) =>
  tokens.map((_, t) => tokens.slice(0, t + 1).reduce((a, b) => a + b, 0));

describe("PrefixRows", () => {
  it("keeps the rows of the common prefix and computes only the rest, equal to a fresh computation", () => {
    const r = runner();
    const edits: [number[], number][] = [
      [[1, 2, 3], 3],
      [[1, 2, 3, 4, 5], 2], // typing at the end
      [[1, 2, 9, 4, 5], 3], // a change in the middle: from there on
      [[1, 2], 0], // a deletion: nothing runs
      [[1, 2, 9, 4], 2],
      [[], 0],
      [[7], 1],
    ];
    for (const [tokens, runs] of edits) {
      const before = r.ran();
      expect(r.rows(tokens)).toEqual(prefixSums(tokens));
      expect(r.ran() - before, `rows computed for ${tokens}`).toBe(runs);
      expect(r.cache.tokens).toEqual(tokens);
    }
  });

  it("a computation that failed halfway keeps the rows it pushed, consistent with their tokens", () => {
    const cache = new PrefixRows<string>();
    cache.keep([1, 2, 3]);
    cache.push(1, "a");
    cache.push(2, "b"); // then the row of 3 failed
    expect(cache.keep([1, 2, 3])).toBe(2);
    expect(cache.keep([1, 5])).toBe(1);
    expect([cache.tokens, cache.rows]).toEqual([[1], ["a"]]);
  });
});
