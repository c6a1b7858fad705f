import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  CONFIG_JSON_LIMITS,
  JsonLimitError,
  TOKENIZER_JSON_LIMITS,
  checkJsonLimits,
  checkJsonSize,
  jsonDepth,
  parseJsonLimited,
} from "../../src/util/json-limits.js";

const enc = (s: string) => new TextEncoder().encode(s);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const neox = path.resolve(repoRoot, "../shared/data/20B_tokenizer.json");

/** Depth of a parsed value, by recursion over the value (independent of the byte scan). */
function valueDepth(v: unknown): number {
  if (Array.isArray(v)) return 1 + Math.max(0, ...v.map(valueDepth));
  if (v !== null && typeof v === "object") return 1 + Math.max(0, ...Object.values(v).map(valueDepth));
  return 0;
}

/** Random JSON values whose strings hold brackets, quotes, backslashes and non-ASCII text. */
function randomValue(rand: () => number, depth: number): unknown {
  const pieces = ["[", "]", "{", "}", '"', "\\", "\\u005b", "é", "中", "🙂", "a", " ", "\n"];
  const str = () =>
    Array.from({ length: Math.floor(rand() * 6) }, () => pieces[Math.floor(rand() * pieces.length)]).join("");
  const r = rand();
  if (depth <= 0 || r < 0.3) return [1.5, "s", true, null, str()][Math.floor(rand() * 5)];
  const n = Math.floor(rand() * 4);
  if (r < 0.65) return Array.from({ length: n }, () => randomValue(rand, depth - 1));
  return Object.fromEntries(Array.from({ length: n }, () => [str(), randomValue(rand, depth - 1)]));
}

describe("jsonDepth: nesting of arrays and objects, on the bytes", () => {
  it("equals the depth of the parsed value for 500 random documents (brackets inside strings do not count)", () => {
    let s = 7;
    const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    for (let i = 0; i < 500; i++) {
      const v = randomValue(rand, 1 + (i % 9));
      const text = JSON.stringify(v, null, i % 2 ? 1 : undefined);
      expect(jsonDepth(enc(text)).depth, text).toBe(valueDepth(v));
    }
  });

  it("points at the byte where the deepest level opens, and stops at the first level past stopAbove", () => {
    expect(jsonDepth(enc('{"a": [1, {"b": []}]}'))).toEqual({ depth: 4, at: 16 });
    expect(jsonDepth(enc("[[[[[[1]]]]]]"), 2)).toEqual({ depth: 3, at: 2 });
    expect(jsonDepth(enc('"[[[["'))).toEqual({ depth: 0, at: -1 });
    expect(jsonDepth(enc('["\\"[", ["\\\\"]]'))).toEqual({ depth: 2, at: 8 });
  });
});

describe("limits checked before JSON.parse", () => {
  it("a config.json nested 170,000 deep (1 MB) is refused as too deep, without a stack overflow", () => {
    const depth = 170_000;
    const bytes = enc(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
    expect(bytes.length).toBeLessThanOrEqual(CONFIG_JSON_LIMITS.maxBytes);
    let err: unknown;
    try {
      parseJsonLimited(bytes, CONFIG_JSON_LIMITS, "config.json");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JsonLimitError);
    expect((err as JsonLimitError).code).toBe("json-too-deep");
    expect((err as Error).message).toBe(
      `config.json is nested more than 32 levels deep (level 33 at byte ${32 * 5}), which no config.json needs: it was not parsed`,
    );
  });

  it("exactly at the depth limit parses; one level more does not", () => {
    const nest = (d: number) => enc(`${"[".repeat(d)}0${"]".repeat(d)}`);
    const limits = { maxBytes: 1000, maxDepth: 5 };
    expect(valueDepth(parseJsonLimited(nest(5), limits, "x.json"))).toBe(5);
    expect(() => parseJsonLimited(nest(6), limits, "x.json")).toThrow(/nested more than 5 levels/);
  });

  it("a file over the size limit is refused from its length alone, before any byte is scanned", () => {
    const limits = { maxBytes: 10, maxDepth: 5 };
    expect(() => checkJsonLimits(enc("[1, 2, 3, 4]"), limits, "tokenizer.json")).toThrow(
      "tokenizer.json is 0.000 MiB, more than the 0.000 MiB this page reads for it: it was not parsed",
    );
    expect(() => checkJsonSize(34_000_000, TOKENIZER_JSON_LIMITS, "tokenizer.json")).toThrow(
      "tokenizer.json is 32.4 MiB, more than the 16.0 MiB this page reads for it",
    );
    expect(() => checkJsonSize(16 << 20, TOKENIZER_JSON_LIMITS, "tokenizer.json")).not.toThrow();
    try {
      checkJsonSize(2 << 20, CONFIG_JSON_LIMITS, "config.json");
    } catch (e) {
      expect((e as JsonLimitError).code).toBe("json-too-large");
    }
    expect.assertions(4);
  });

  it("invalid JSON and invalid UTF-8 are 'bad-json' with the file's name", () => {
    const codeOf = (b: Uint8Array) => {
      try {
        parseJsonLimited(b, CONFIG_JSON_LIMITS, "config.json");
      } catch (e) {
        return `${(e as JsonLimitError).code}: ${(e as Error).message}`;
      }
      return "parsed";
    };
    expect(codeOf(enc('{"a": 1'))).toMatch(/^bad-json: config.json is not valid JSON \(.+\)$/);
    expect(codeOf(new Uint8Array([0x7b, 0xff, 0x7d]))).toBe("bad-json: config.json is not UTF-8 text");
    expect(codeOf(enc('{"hidden_size": 768}'))).toBe("parsed");
  });

  it.skipIf(!existsSync(neox) && process.env.CI !== "true")(
    "GPT-NeoX's real tokenizer.json is within the tokenizer limits and parses to the same value as JSON.parse",
    () => {
      const bytes = new Uint8Array(readFileSync(neox));
      const v = parseJsonLimited(bytes, TOKENIZER_JSON_LIMITS, "tokenizer.json");
      expect(v).toEqual(JSON.parse(new TextDecoder().decode(bytes)));
      expect(jsonDepth(bytes).depth).toBeLessThanOrEqual(TOKENIZER_JSON_LIMITS.maxDepth / 4);
    },
  );
});
