import { describe, expect, it } from "vitest";
import { TINY_SHAKESPEARE_VOCABULARY, decodeTokens, encodePrompt } from "../../src/trace/prompt.js";
import { clampInt, formatViewState, mergeSearch, parseViewState } from "../../src/ui/url-state.js";

describe("encodePrompt", () => {
  it("maps characters to their index in the vocabulary", () => {
    const enc = encodePrompt("Ab\n", TINY_SHAKESPEARE_VOCABULARY);
    expect(enc.tokens).toEqual([13, 40, 0]); // "\n !$&',-.3:;?" is 13 characters, then A.., a..
    expect(enc.labels).toEqual(["A", "b", "↵"]);
    expect(decodeTokens(enc.tokens, TINY_SHAKESPEARE_VOCABULARY)).toBe("Ab\n");
    expect(enc.message).toBe("");
  });

  it("leaves out unknown characters and says which", () => {
    const enc = encodePrompt("café 9", TINY_SHAKESPEARE_VOCABULARY);
    expect(enc.text).toBe("caf ");
    expect(enc.unknown).toEqual([
      { index: 3, char: "é" },
      { index: 5, char: "9" },
    ]);
    expect(enc.message).toMatch(/2 characters the model has never seen \(“é”, “9”\) were left out/);
  });

  it("cuts a prompt over the chapter's limit, with a message", () => {
    const enc = encodePrompt("abcdef", TINY_SHAKESPEARE_VOCABULARY, { maxTokens: 4 });
    expect(enc.text).toBe("abcd");
    expect(enc.truncated).toBe(2);
    expect(enc.message).toMatch(/first 4 characters/);
  });

  it("rejects a vocabulary with a repeated character and out-of-range ids", () => {
    expect(() => encodePrompt("a", "aba")).toThrow(/twice/);
    expect(() => decodeTokens([99], "ab")).toThrow(/outside the vocabulary/);
  });
});

describe("view state in the URL", () => {
  const defaults = { prompt: "ROMEO:", layer: 0, channel: 0, token: -1 };

  it("round-trips a view through the query string", () => {
    const view = { prompt: "To be, or not?\n&=", layer: 3, channel: 17, token: 4 };
    const search = formatViewState(view, defaults);
    expect(parseViewState(search, defaults)).toEqual(view);
  });

  it("leaves defaults out of the URL and reads missing keys as defaults", () => {
    expect(formatViewState({ ...defaults }, defaults)).toBe("");
    expect(formatViewState({ ...defaults, layer: 2 }, defaults)).toBe("?layer=2");
    expect(parseViewState("?layer=2", defaults)).toEqual({ ...defaults, layer: 2 });
  });

  it("ignores malformed numbers instead of producing NaN", () => {
    expect(parseViewState("?layer=abc&channel=2.5&token=", defaults)).toEqual(defaults);
    expect(clampInt(99, 0, 3)).toBe(3);
    expect(clampInt(Number.NaN, 0, 3)).toBe(0);
  });

  it("keeps real-valued settings: a shared link with temperature 0.3 and top-p 0.55 reads back exactly", () => {
    const sampling = { prompt: "ROMEO:", temperature: 0.8, topP: 0.9, seed: 42, n: 200 };
    const shared = "?temperature=0.3&topP=0.55&seed=7";
    expect(parseViewState(shared, sampling)).toEqual({ ...sampling, temperature: 0.3, topP: 0.55, seed: 7 });
    expect(
      parseViewState(formatViewState({ ...sampling, temperature: 0.3 }, sampling), sampling).temperature,
    ).toBe(0.3);
    // an integer default stays integer-only unless the key is declared real
    expect(parseViewState("?seed=7.5", sampling).seed).toBe(42);
    expect(parseViewState("?n=2.5", { n: 1 }, { real: ["n"] }).n).toBe(2.5);
    expect(parseViewState("?temperature=Infinity&topP=nan", sampling)).toEqual(sampling);
  });

  it("merges a change into an existing query and drops keys set back to the default", () => {
    expect(mergeSearch("?layer=2&x=1", { layer: 0, channel: 5 }, defaults)).toBe("?x=1&channel=5");
  });
});
