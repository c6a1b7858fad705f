/**
 * Tokenizers: text <-> token ids. DOM-free and fs-free (callers pass the vocabulary or the tokenizer JSON in).
 *
 * - CharTokenizer: one token per Unicode code point, for the project's tiny char-level model; the vocabulary
 *   (a string or array of single characters, index = id) is stored in the model card.
 *   Unknown characters: `encodeWithReport` returns the ids AND every unknown character with its position, so
 *   a page can mark them; `encode` replaces each unknown character by the fallback token (by default "?" if the
 *   vocabulary has it, else " ", else id 0; see `fallbackId`), never silently dropping it, or, with
 *   `{ onUnknown: "error" }`, throws TokenizerError("unknown-char") listing them.
 * - NeoXTokenizer: the GPT-NeoX-20B byte-level BPE (vocab 50,277) of the RWKV-4 Pile models, run by the
 *   maintained @huggingface/tokenizers library from the tokenizer JSON text (20B_tokenizer.json / tokenizer.json).
 *   Byte-level BPE covers every string, so nothing is unknown; note its NFC normalizer (decode(encode(s)) is
 *   NFC(s)). Decoding keeps spaces exactly (no "clean up tokenization spaces").
 */
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";

export interface Tokenizer {
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  readonly vocabSize: number;
}

export type TokenizerErrorCode = "unknown-char" | "bad-id" | "bad-vocab" | "bad-json";

export class TokenizerError extends Error {
  readonly code: TokenizerErrorCode;
  constructor(code: TokenizerErrorCode, message: string) {
    super(message);
    this.name = "TokenizerError";
    this.code = code;
  }
}

export interface UnknownChar {
  /** position in the text, in code points (the index of the token the character became) */
  index: number;
  char: string;
}

export interface EncodeReport {
  ids: number[];
  /** characters not in the vocabulary, each replaced by the fallback id in `ids` */
  unknown: UnknownChar[];
}

function showChar(c: string): string {
  return `${JSON.stringify(c)} (U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")})`;
}

export interface CharTokenizerOptions {
  /** what encode() does with a character outside the vocabulary (default "replace") */
  onUnknown?: "replace" | "error";
  /** the character unknown ones become (must be in the vocabulary); default "?", else " ", else id 0 */
  fallback?: string;
}

export class CharTokenizer implements Tokenizer {
  /** id -> character */
  readonly vocab: readonly string[];
  readonly vocabSize: number;
  /** the id unknown characters are encoded as */
  readonly fallbackId: number;
  private readonly ids = new Map<string, number>();
  private readonly onUnknown: "replace" | "error";

  constructor(vocabulary: string | readonly string[], opts: CharTokenizerOptions = {}) {
    const chars = typeof vocabulary === "string" ? Array.from(vocabulary) : [...vocabulary];
    if (chars.length === 0) throw new TokenizerError("bad-vocab", "CharTokenizer: the vocabulary is empty");
    chars.forEach((c, i) => {
      if (typeof c !== "string" || Array.from(c).length !== 1) {
        throw new TokenizerError(
          "bad-vocab",
          `CharTokenizer: vocabulary entry ${i} is not a single character`,
        );
      }
      if (this.ids.has(c)) {
        throw new TokenizerError(
          "bad-vocab",
          `CharTokenizer: ${showChar(c)} appears twice in the vocabulary (ids ${this.ids.get(c)} and ${i})`,
        );
      }
      this.ids.set(c, i);
    });
    this.vocab = chars;
    this.vocabSize = chars.length;
    this.onUnknown = opts.onUnknown ?? "replace";
    if (opts.fallback !== undefined) {
      const f = this.ids.get(opts.fallback);
      if (f === undefined) {
        throw new TokenizerError(
          "bad-vocab",
          `CharTokenizer: fallback ${showChar(opts.fallback)} is not in the vocabulary`,
        );
      }
      this.fallbackId = f;
    } else {
      this.fallbackId = this.ids.get("?") ?? this.ids.get(" ") ?? 0;
    }
  }

  has(char: string): boolean {
    return this.ids.has(char);
  }

  /** ids for every code point; unknown characters become `fallbackId` and are listed. Never throws. */
  encodeWithReport(text: string): EncodeReport {
    const ids: number[] = [];
    const unknown: UnknownChar[] = [];
    for (const c of text) {
      const id = this.ids.get(c);
      if (id === undefined) {
        unknown.push({ index: ids.length, char: c });
        ids.push(this.fallbackId);
      } else ids.push(id);
    }
    return { ids, unknown };
  }

  encode(text: string): number[] {
    const r = this.encodeWithReport(text);
    if (r.unknown.length > 0 && this.onUnknown === "error") {
      const list = r.unknown.slice(0, 5).map((u) => `${showChar(u.char)} at ${u.index}`);
      throw new TokenizerError(
        "unknown-char",
        `${r.unknown.length} character(s) not in the ${this.vocabSize}-character vocabulary: ${list.join(", ")}` +
          (r.unknown.length > 5 ? ", ..." : ""),
      );
    }
    return r.ids;
  }

  decode(ids: readonly number[]): string {
    let s = "";
    for (const id of ids) s += this.tokenText(id);
    return s;
  }

  /** the character of one id */
  tokenText(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new TokenizerError("bad-id", `token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    }
    return this.vocab[id];
  }
}

export class NeoXTokenizer implements Tokenizer {
  readonly vocabSize: number;
  private readonly tk: HfTokenizer;

  /** `json`: the text of tokenizer.json (20B_tokenizer.json), or its parsed object */
  constructor(json: string | object) {
    let obj: unknown = json;
    if (typeof json === "string") {
      try {
        obj = JSON.parse(json);
      } catch (e) {
        throw new TokenizerError(
          "bad-json",
          `NeoXTokenizer: the tokenizer file is not JSON (${(e as Error).message})`,
        );
      }
    }
    const model = (obj as { model?: { type?: unknown; vocab?: unknown } } | null)?.model;
    if (!model || model.type !== "BPE" || typeof model.vocab !== "object") {
      throw new TokenizerError(
        "bad-json",
        "NeoXTokenizer: not a Hugging Face tokenizer.json with a BPE model",
      );
    }
    this.tk = new HfTokenizer(obj as object, {});
    this.vocabSize = this.tk.get_vocab(true).size;
  }

  encode(text: string): number[] {
    return this.tk.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new TokenizerError("bad-id", `token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
      }
    }
    return this.tk.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /** the text of one token (a lone token may hold part of a UTF-8 sequence: then it shows U+FFFD) */
  tokenText(id: number): string {
    return this.decode([id]);
  }
}

/**
 * Decoding while generating, in O(1) per token: tokens are decoded in small groups, and a group is released
 * as soon as it ends on a whole character. A byte-level BPE token may end inside a UTF-8 sequence (its text
 * then ends in U+FFFD); such tokens wait for the next ones, up to MAX_PENDING tokens (a UTF-8 character has at
 * most 4 bytes, so a longer wait means the bytes are invalid, and they are released as U+FFFD, as a whole
 * decode would show them). Concatenated, the pieces equal tokenizer.decode(all ids) for tokenizers whose
 * decode is a concatenation (byte-level BPE, characters).
 */
export class TextStream {
  static readonly MAX_PENDING = 8;
  private pending: number[] = [];
  constructor(private readonly tokenizer: Pick<Tokenizer, "decode">) {}

  /** Add one token; returns the text completed by it ("" while a character is still incomplete). */
  push(id: number): string {
    this.pending.push(id);
    const text = this.tokenizer.decode(this.pending);
    if (text.endsWith("\uFFFD") && this.pending.length < TextStream.MAX_PENDING) return "";
    this.pending = [];
    return text;
  }

  /** The text of tokens still held back (an incomplete character at the very end), and reset. */
  flush(): string {
    const text = this.pending.length > 0 ? this.tokenizer.decode(this.pending) : "";
    this.pending = [];
    return text;
  }
}
