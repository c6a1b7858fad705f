/**
 * JSON from a reader (a model's config.json, a tokenizer.json) read within limits: its size and its nesting
 * depth are checked on the bytes BEFORE JSON.parse, so a 100 MB file or one nested 100,000 levels deep gives a
 * clear error at once instead of a frozen page, a crashed renderer or "Maximum call stack size exceeded"
 * (JSON.parse, structured clone and most readers of the parsed value recurse on nesting). The depth scan is one
 * pass over the bytes that stops at the first level too many: the structural characters of JSON are ASCII, and
 * in UTF-8 no byte of a multi-byte character is below 0x80, so the bytes can be scanned without decoding.
 * A leaf module: it imports nothing (docs/architecture.md), so the model worker and the pages both use it.
 *
 * API:
 *   CONFIG_JSON_LIMITS, TOKENIZER_JSON_LIMITS   the limits for a model's config.json and a tokenizer.json
 *   jsonDepth(bytes, stopAbove?) -> {depth, at}  deepest nesting of arrays/objects outside strings (stops early)
 *   checkJsonLimits(bytes, limits, name)         throws JsonLimitError "json-too-large" | "json-too-deep"
 *   parseJsonLimited(bytes, limits, name)        the checks, then UTF-8 decoding and JSON.parse ("bad-json")
 *   class JsonLimitError {code, message}
 */

export interface JsonLimits {
  /** largest file accepted, in bytes */
  maxBytes: number;
  /** deepest nesting of arrays and objects accepted (a flat object is depth 1) */
  maxDepth: number;
}

/** A Hugging Face config.json is about 1 kB and 1 level deep (2 with a nested dict). */
export const CONFIG_JSON_LIMITS: JsonLimits = { maxBytes: 1 << 20, maxDepth: 32 };
/** GPT-NeoX's tokenizer.json is 2.5 MB and 6 levels deep: six times the size, five times the depth. */
export const TOKENIZER_JSON_LIMITS: JsonLimits = { maxBytes: 16 << 20, maxDepth: 32 };

export type JsonLimitCode = "json-too-large" | "json-too-deep" | "bad-json";

export class JsonLimitError extends Error {
  readonly code: JsonLimitCode;
  constructor(code: JsonLimitCode, message: string) {
    super(message);
    this.name = "JsonLimitError";
    this.code = code;
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/**
 * The deepest nesting of arrays and objects in JSON bytes, counting only brackets outside strings, and the byte
 * offset where it is first reached. With `stopAbove`, the scan stops at the first byte that goes deeper than it
 * (then `depth` is stopAbove + 1). Malformed JSON is scanned all the same (JSON.parse judges it afterwards).
 */
export function jsonDepth(bytes: Uint8Array, stopAbove = Infinity): { depth: number; at: number } {
  let depth = 0;
  let max = 0;
  let at = -1;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      depth++;
      if (depth > max) {
        max = depth;
        at = i;
        if (max > stopAbove) break;
      }
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) depth--;
  }
  return { depth: max, at };
}

function mib(n: number): string {
  return `${(n / 2 ** 20).toFixed(n < 2 ** 20 ? 3 : 1)} MiB`;
}

/** Throws JsonLimitError when the bytes are larger or deeper than the limits; reads nothing past a failure. */
export function checkJsonLimits(bytes: Uint8Array, limits: JsonLimits, name: string): void {
  checkJsonSize(bytes.length, limits, name);
  const { depth, at } = jsonDepth(bytes, limits.maxDepth);
  if (depth > limits.maxDepth) {
    throw new JsonLimitError(
      "json-too-deep",
      `${name} is nested more than ${limits.maxDepth} levels deep (level ${depth} at byte ${at}), which no ` +
        `${name} needs: it was not parsed`,
    );
  }
}

/** The size check alone, from a length (a File's size, a Content-Length) before the bytes are read. */
export function checkJsonSize(length: number, limits: JsonLimits, name: string): void {
  if (length > limits.maxBytes) {
    throw new JsonLimitError(
      "json-too-large",
      `${name} is ${mib(length)}, more than the ${mib(limits.maxBytes)} this page reads for it: it was not parsed`,
    );
  }
}

/** checkJsonLimits, then strict UTF-8 decoding and JSON.parse; a syntax error is JsonLimitError "bad-json". */
export function parseJsonLimited(bytes: Uint8Array, limits: JsonLimits, name: string): unknown {
  checkJsonLimits(bytes, limits, name);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new JsonLimitError("bad-json", `${name} is not UTF-8 text`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new JsonLimitError("bad-json", `${name} is not valid JSON (${(e as Error).message})`);
  }
}
