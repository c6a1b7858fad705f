/**
 * Tokenizers. Char-level: behaviour follows from the vocabulary given in the test. GPT-NeoX-20B BPE: reference
 * ids come from outside our code: BlinkDL's README (ChatRWKV / rwkv pip package) feeds [187, 510, 1563, 310, 247]
 * to RWKV-4 Pile models "use 20B_tokenizer.json", "\n" = 187 (shared/data/README.md), and single-token words
 * are looked up directly in the JSON's BPE vocabulary (byte-level "Ġ" = space).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CharTokenizer, NeoXTokenizer, TextStream, TokenizerError } from "../../src/rwkv/tokenizer.js";
import { mulberry32 } from "../../src/rwkv/random.js";

const HERE = dirname(fileURLToPath(import.meta.url));
// RWKV_NEOX_TOKENIZER overrides the location (e.g. to check the skip path)
const NEOX_JSON = process.env.RWKV_NEOX_TOKENIZER ?? resolve(HERE, "../../../shared/data/20B_tokenizer.json");
const haveNeoX = existsSync(NEOX_JSON);

function tokenizerError(fn: () => unknown, code: string): TokenizerError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TokenizerError);
  expect((err as TokenizerError).code).toBe(code);
  return err as TokenizerError;
}

describe("CharTokenizer", () => {
  const vocab = "\n !?abcdefghijklmnopqrstuvwxyzé🙂"; // 32 code points; id = position
  const tok = new CharTokenizer(vocab);

  it("ids are positions in the vocabulary, counted in code points", () => {
    expect(tok.vocabSize).toBe(32);
    expect(tok.encode("hi!\n")).toEqual([11, 12, 2, 0]);
    expect(tok.encode("é🙂")).toEqual([30, 31]); // an astral character is one token
    expect(tok.decode([11, 12, 2, 0])).toBe("hi!\n");
    expect(tok.tokenText(1)).toBe(" ");
  });

  it("round-trips any text made of known characters", () => {
    const s = "the quick brown fox?\njumps over the lazy dog! é🙂";
    expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.encode("")).toEqual([]);
  });

  it("unknown characters are reported with their positions and encoded as the fallback '?'", () => {
    const r = tok.encodeWithReport("Hi, 世界");
    expect(tok.fallbackId).toBe(3); // "?"
    expect(r.ids).toEqual([3, 12, 3, 1, 3, 3]);
    expect(r.unknown).toEqual([
      { index: 0, char: "H" },
      { index: 2, char: "," },
      { index: 4, char: "世" },
      { index: 5, char: "界" },
    ]);
    expect(tok.encode("Hi, 世界")).toEqual(r.ids);
    expect(tok.decode(r.ids)).toBe("?i? ??");
  });

  it("fallback: ' ' when there is no '?', else id 0, or a chosen character", () => {
    expect(new CharTokenizer("ab c").fallbackId).toBe(2);
    expect(new CharTokenizer("xyz").fallbackId).toBe(0);
    expect(new CharTokenizer("xyz", { fallback: "z" }).encode("q")).toEqual([2]);
    tokenizerError(() => new CharTokenizer("xyz", { fallback: "q" }), "bad-vocab");
  });

  it('onUnknown: "error" throws a TokenizerError listing the characters', () => {
    const strict = new CharTokenizer(vocab, { onUnknown: "error" });
    const e = tokenizerError(() => strict.encode("aXb"), "unknown-char");
    expect(e.message).toContain('"X"');
    expect(e.message).toContain("U+0058");
    expect(e.message).toContain("at 1");
    expect(strict.encode("ab")).toEqual([4, 5]);
  });

  it("bad vocabularies and ids are typed errors", () => {
    tokenizerError(() => new CharTokenizer(""), "bad-vocab");
    tokenizerError(() => new CharTokenizer("abca"), "bad-vocab");
    tokenizerError(() => new CharTokenizer(["a", "bc"]), "bad-vocab");
    tokenizerError(() => tok.decode([0, 32]), "bad-id");
    tokenizerError(() => tok.decode([-1]), "bad-id");
    tokenizerError(() => tok.decode([1.5]), "bad-id");
  });

  it("an array vocabulary works like a string one", () => {
    const a = new CharTokenizer(Array.from(vocab));
    expect(a.encode("hello 🙂")).toEqual(tok.encode("hello 🙂"));
  });
});

describe.skipIf(!haveNeoX)("NeoXTokenizer (GPT-NeoX-20B BPE via @huggingface/tokenizers)", () => {
  if (!haveNeoX) console.warn(`skipping NeoX tokenizer tests: ${NEOX_JSON} is absent`);
  const text = haveNeoX ? readFileSync(NEOX_JSON, "utf8") : "{}";
  const tok = haveNeoX ? new NeoXTokenizer(text) : (undefined as unknown as NeoXTokenizer);
  const json = haveNeoX ? (JSON.parse(text) as { model: { vocab: Record<string, number> } }) : undefined;

  it("vocabulary of the RWKV-4 Pile models: 50,277 ids", () => {
    expect(tok.vocabSize).toBe(50277);
  });

  it('"\\n" is 187 and BlinkDL\'s example ids are "\\nThe following is a"', () => {
    expect(tok.encode("\n")).toEqual([187]);
    expect(tok.encode("\nThe following is a")).toEqual([187, 510, 1563, 310, 247]);
    expect(tok.decode([187, 510, 1563, 310, 247])).toBe("\nThe following is a");
  });

  it("single-token words get the id the JSON vocabulary gives them", () => {
    const v = json!.model.vocab;
    const words = ["Hello", " world", " recurrent", " language", " model", " attention", " the", " time"];
    const ids = words.map((w) => v[w.replace(/ /g, "\u0120")]);
    for (const id of ids) expect(typeof id).toBe("number");
    expect(tok.encode(words.join(""))).toEqual(ids);
  });

  it("round-trips text, spaces, newlines, punctuation, and non-ASCII (NFC) exactly", () => {
    for (const s of [
      "RWKV: Reinventing RNNs for the Transformer Era",
      "  two  spaces,\n\n\ttabs and trailing   ",
      "hello , world . don 't", // no "clean up tokenization spaces"
      "日本語 café 🤖 – “quotes”",
      "<|endoftext|>",
    ]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    expect(tok.encode("<|endoftext|>")).toEqual([0]);
  });

  it("bad ids and bad JSON are typed errors", () => {
    tokenizerError(() => tok.decode([50277]), "bad-id");
    tokenizerError(() => tok.decode([-1]), "bad-id");
    tokenizerError(() => new NeoXTokenizer("{oops"), "bad-json");
    tokenizerError(() => new NeoXTokenizer("{}"), "bad-json");
  });
});

describe("TextStream: decoding while generating, O(1) a token (issue 16)", () => {
  /** counts the ids each decode call is given */
  function counting<T extends { decode(ids: readonly number[]): string }>(tok: T) {
    const c = { ids: 0, calls: 0 };
    return {
      c,
      decode: (ids: readonly number[]) => {
        c.ids += ids.length;
        c.calls++;
        return tok.decode(ids);
      },
    };
  }

  it("characters: every piece at once, concatenation equals decode()", () => {
    const tok = new CharTokenizer("ab\n");
    const ids = [0, 1, 2, 1, 0];
    const s = new TextStream(tok);
    expect(ids.map((id) => s.push(id)).join("") + s.flush()).toBe(tok.decode(ids));
  });

  it.skipIf(!haveNeoX)(
    "GPT-NeoX BPE: 20,000 random ids (multi-byte characters split across tokens) decode as a whole does, " +
      "with at most 8 ids per decode call",
    () => {
      const tok = new NeoXTokenizer(readFileSync(NEOX_JSON, "utf8"));
      const r = mulberry32(16);
      // mostly byte tokens of multi-byte UTF-8 (ids 0..255 are the 256 bytes), some whole words
      const ids = Array.from({ length: 20_000 }, () =>
        r() < 0.6 ? 128 + Math.floor(r() * 128) : Math.floor(r() * tok.vocabSize),
      );
      const w = counting(tok);
      const s = new TextStream(w);
      let out = "";
      let heldBack = 0;
      for (const id of ids) {
        const piece = s.push(id);
        if (piece === "") heldBack++;
        out += piece;
      }
      out += s.flush();
      expect(out).toBe(tok.decode(ids));
      expect(heldBack).toBeGreaterThan(1000); // the partial-character path is exercised
      expect(w.c.ids / ids.length).toBeLessThan(TextStream.MAX_PENDING);
      // a real text: exactly the text back
      const text = "naïve café — 東京, emoji 🙂 and \n new lines ";
      const enc = tok.encode(text);
      const s2 = new TextStream(tok);
      expect(enc.map((id) => s2.push(id)).join("") + s2.flush()).toBe(tok.decode(enc));
    },
  );
});
