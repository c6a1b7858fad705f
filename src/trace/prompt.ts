/**
 * Prompts for a character-level model: text -> token ids, with the characters the model cannot read reported
 * (never silently dropped without saying so) and a length limit per chapter. DOM-free.
 *
 * API:
 *   TINY_SHAKESPEARE_VOCABULARY   the 65 characters of Tiny Shakespeare, sorted (the tiny model's vocabulary
 *                                 until its model card says otherwise; the card's `vocabulary` wins)
 *   encodePrompt(text, vocabulary, {maxTokens}) -> EncodedPrompt
 *       {text (kept characters), tokens, labels, unknown: [{index, char}], truncated, message}
 *   decodeTokens(tokens, vocabulary) -> string
 *   PromptError                   thrown for an empty prompt or an unusable vocabulary
 */
import { tokenLabel } from "./trace.js";

/** sorted(set(tinyshakespeare.txt)): newline, space, !$&',-.3:;? and the Latin letters. */
export const TINY_SHAKESPEARE_VOCABULARY =
  "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export class PromptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PromptError";
  }
}

export interface EncodedPrompt {
  /** the prompt as the model reads it: the known characters, in order, after truncation */
  text: string;
  tokens: number[];
  /** display labels, one per token */
  labels: string[];
  /** characters left out because the model's vocabulary lacks them (index into the original text) */
  unknown: { index: number; char: string }[];
  /** characters cut from the end to respect maxTokens */
  truncated: number;
  /** a sentence for the reader when something was left out or cut, else "" */
  message: string;
}

const vocabCache = new Map<string, Map<string, number>>();

function vocabIndex(vocabulary: string): Map<string, number> {
  let index = vocabCache.get(vocabulary);
  if (!index) {
    const chars = [...vocabulary];
    if (chars.length === 0) throw new PromptError("the model's vocabulary is empty");
    index = new Map();
    chars.forEach((ch, i) => {
      if (index!.has(ch)) throw new PromptError(`the vocabulary lists ${JSON.stringify(ch)} twice`);
      index!.set(ch, i);
    });
    vocabCache.set(vocabulary, index);
  }
  return index;
}

function describeChar(ch: string): string {
  if (ch === "\t") return "tab";
  if (ch === "\r") return "carriage return";
  const code = ch.codePointAt(0)!;
  return code < 32 ? `U+${code.toString(16).toUpperCase().padStart(4, "0")}` : `“${ch}”`;
}

export function encodePrompt(
  text: string,
  vocabulary: string,
  { maxTokens = Infinity }: { maxTokens?: number } = {},
): EncodedPrompt {
  const index = vocabIndex(vocabulary);
  const tokens: number[] = [];
  const kept: string[] = [];
  const unknown: { index: number; char: string }[] = [];
  let pos = 0;
  for (const ch of text.replace(/\r\n/g, "\n")) {
    const id = index.get(ch);
    if (id === undefined) unknown.push({ index: pos, char: ch });
    else {
      tokens.push(id);
      kept.push(ch);
    }
    pos++;
  }
  let truncated = 0;
  if (tokens.length > maxTokens) {
    truncated = tokens.length - maxTokens;
    tokens.length = maxTokens;
    kept.length = maxTokens;
  }
  const parts: string[] = [];
  if (unknown.length > 0) {
    const distinct = [...new Set(unknown.map((u) => u.char))];
    const shown = distinct.slice(0, 8).map(describeChar).join(", ") + (distinct.length > 8 ? ", …" : "");
    parts.push(
      `${unknown.length} character${unknown.length === 1 ? "" : "s"} the model has never seen ` +
        `(${shown}) ${unknown.length === 1 ? "was" : "were"} left out`,
    );
  }
  if (truncated > 0) {
    parts.push(`the prompt was cut to its first ${maxTokens} characters (${truncated} more were left out)`);
  }
  const message = parts.length ? parts.join("; ").replace(/^./, (c) => c.toUpperCase()) + "." : "";
  return { text: kept.join(""), tokens, labels: kept.map(tokenLabel), unknown, truncated, message };
}

export function decodeTokens(tokens: readonly number[], vocabulary: string): string {
  const chars = [...vocabulary];
  return tokens
    .map((id) => {
      if (!Number.isInteger(id) || id < 0 || id >= chars.length) {
        throw new PromptError(`token id ${id} is outside the vocabulary (0..${chars.length - 1})`);
      }
      return chars[id];
    })
    .join("");
}
