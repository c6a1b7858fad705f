/**
 * Node-side model loading for the CLI and benchmarks: reads a checkpoint file once (one copy of its
 * bytes in memory; fp32 tensors are views into it), finds what belongs beside it (config.json for
 * Hugging Face files, <name>.json model card with the vocabulary for the project's char models,
 * tokenizer.json), and builds the model and its tokenizer. Also the synthetic shapes.
 *
 * Every file is read through readRegularFile (issue 16): it must be a regular file (not a FIFO, a device
 * such as /dev/zero, or a directory; checked on the open descriptor, opened non-blocking) and within a size
 * limit for its kind, checked before a byte is read. Also here: strict token-id lists (parseTokenIds) and
 * progress lines on stderr for long runs (Progress).
 */
import { closeSync, constants, existsSync, fstatSync, openSync, readSync, type Stats } from "node:fs";
import { constants as bufferConstants } from "node:buffer";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadRwkvCheckpoint } from "../rwkv/checkpoint/index.js";
import { RwkvModel } from "../rwkv/model.js";
import { SHAPES, syntheticWeights } from "../rwkv/synthetic.js";
import { CharTokenizer, NeoXTokenizer, type Tokenizer } from "../rwkv/tokenizer.js";
import type { RwkvWeights } from "../rwkv/weights.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
/** The shared data folder beside the checkout (Tiny Shakespeare, the GPT-NeoX tokenizer). */
export const SHARED_DATA = resolve(REPO_ROOT, "../shared/data");

export class CliError extends Error {}

const MiB = 1024 * 1024;
/** Size limits by kind of file, checked before reading (the CLI holds each file in memory once). */
export const FILE_LIMITS = {
  /** a checkpoint: as much as one Node buffer holds (4 GiB on Node 20) */
  model: bufferConstants.MAX_LENGTH,
  /** config.json, a model card */
  json: 16 * MiB,
  /** tokenizer.json (GPT-NeoX's is 2.4 MB) */
  tokenizer: 64 * MiB,
  /** --text-file */
  text: 256 * MiB,
  /** --tokens-file (a few bytes an id) */
  tokens: 256 * MiB,
} as const;

function kindOf(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO (named pipe)";
  if (st.isCharacterDevice()) return "a character device";
  if (st.isBlockDevice()) return "a block device";
  if (st.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * The bytes of a regular file of at most `maxBytes`. Opened with O_NONBLOCK so that a FIFO cannot block the
 * open, then checked with fstat on the descriptor (no window between check and read); reads exactly the size
 * fstat reported and refuses a file that grew meanwhile. Throws CliError naming `what` and the path.
 */
export function readRegularFile(path: string, what: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      code === "ENOENT" ? `no such ${what}: ${path}` : `cannot open ${what} ${path}: ${(e as Error).message}`,
    );
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CliError(`${what} ${path} is ${kindOf(st)}, not a regular file`);
    if (st.size > maxBytes) {
      throw new CliError(
        `${what} ${path} is ${st.size} bytes, over the ${maxBytes}-byte limit for a ${what}`,
      );
    }
    const buf = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, Math.min(st.size - got, 1 << 30), null);
      if (n === 0) throw new CliError(`${what} ${path} shrank while it was read`);
      got += n;
    }
    if (readSync(fd, Buffer.alloc(1), 0, 1, null) !== 0) {
      throw new CliError(`${what} ${path} grew while it was read`);
    }
    return buf;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** A regular file as UTF-8 text (see readRegularFile). */
export function readTextFile(path: string, what: string, maxBytes: number): string {
  return readRegularFile(path, what, maxBytes).toString("utf8");
}

/**
 * A list of token ids: decimal integers in 0..vocabSize-1 separated by commas and/or whitespace (a trailing
 * newline is fine). Empty items ("3,,4", "1, ,2", "5,"), signs, hex, exponents and fractions are errors naming
 * the item; so is an empty list.
 */
export function parseTokenIds(text: string, vocabSize: number, what: string): number[] {
  const body = text.trim();
  if (body === "") throw new CliError(`${what}: no token ids`);
  const items = body.split(/\s*,\s*|\s+/);
  const ids = new Array<number>(items.length);
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    const shown = JSON.stringify(item.length > 20 ? item.slice(0, 20) + "..." : item);
    if (item === "") throw new CliError(`${what}: item ${i} is empty (ids are separated by one comma)`);
    if (!/^[0-9]+$/.test(item)) throw new CliError(`${what}: item ${i} (${shown}) is not a decimal integer`);
    const id = item.length > 15 ? Infinity : Number(item);
    if (!(id < vocabSize))
      throw new CliError(`${what}: item ${i} (${shown}) is not a token id in 0..${vocabSize - 1}`);
    ids[i] = id;
  }
  return ids;
}

/**
 * Progress on stderr for runs longer than a few seconds: silent for the first `afterMs` (3 s; the environment
 * variable RWKV_PROGRESS_AFTER_MS overrides it, e.g. 0 for CI logs), then one line at most every second
 * (rewritten in place on a terminal): done/total, rate, time left.
 */
export class Progress {
  private readonly t0 = performance.now();
  private last = -Infinity;
  private shown = false;
  constructor(
    private readonly what: string,
    private readonly total: number,
    private readonly unit = "tokens",
    private readonly afterMs = Number(process.env.RWKV_PROGRESS_AFTER_MS ?? 3000),
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  update(done: number): void {
    const now = performance.now();
    const ms = now - this.t0;
    if (ms < this.afterMs || now - this.last < 1000) return;
    this.last = now;
    this.write(done, ms, false);
  }

  /** the final line, if any progress was shown */
  finish(done = this.total): void {
    if (this.shown) this.write(done, performance.now() - this.t0, true);
  }

  private write(done: number, ms: number, final: boolean): void {
    const rate = done / (ms / 1000);
    const left = rate > 0 ? (this.total - done) / rate : Infinity;
    const pct = this.total > 0 ? ((100 * done) / this.total).toFixed(0) : "100";
    const line =
      `rwkv: ${this.what}: ${done.toLocaleString("en-US")}/${this.total.toLocaleString("en-US")} ${this.unit} ` +
      `(${pct}%), ${rate.toFixed(rate < 10 ? 1 : 0)} ${this.unit}/s` +
      (final
        ? `, ${(ms / 1000).toFixed(1)} s`
        : `, ~${Number.isFinite(left) ? left.toFixed(0) : "?"} s left`);
    this.shown = true;
    if (this.out.isTTY) this.out.write(`\r\x1b[K${line}${final ? "\n" : ""}`);
    else this.out.write(line + "\n");
  }
}

export interface LoadedModel {
  source: string;
  format: string;
  naming: string;
  dtype: string;
  weights: RwkvWeights;
  model: RwkvModel;
  /** undefined when no tokenizer could be found (token ids only) */
  tokenizer?: Tokenizer;
  tokenizerName: string;
  card?: Record<string, unknown>;
}

const SYNTHETIC: Record<string, keyof typeof SHAPES> = {
  "synthetic-169m": "pile169m",
  "synthetic-430m": "pile430m",
  "synthetic-tiny": "tiny",
};

export function isSynthetic(name: string): boolean {
  return name in SYNTHETIC;
}

function readJson(path: string, what: string): Record<string, unknown> {
  const text = readTextFile(path, what, FILE_LIMITS.json);
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CliError(`cannot read JSON ${path}: ${(e as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v))
    throw new CliError(`${what} ${path} is not a JSON object`);
  return v as Record<string, unknown>;
}

/** Model card beside a checkpoint: data/models/<name>.safetensors -> data/models/<name>.json */
function findCard(path: string): Record<string, unknown> | undefined {
  const base = basename(path).replace(/\.(safetensors|pth|bin)$/, "");
  const card = join(dirname(path), `${base}.json`);
  if (basename(card) !== "config.json" && existsSync(card)) return readJson(card, "model card");
  return undefined;
}

/**
 * The tokenizer: an explicit --tokenizer file always wins (and must fit the model's vocabulary, else an
 * error); otherwise the model card's vocabulary, then tokenizer.json beside the checkpoint, then the shared
 * GPT-NeoX tokenizer, each only if its ids fit the model.
 */
function findTokenizer(
  path: string | undefined,
  vocabSize: number,
  card: Record<string, unknown> | undefined,
  explicit?: string,
): [Tokenizer | undefined, string] {
  const load = (c: string): NeoXTokenizer => {
    const text = readTextFile(c, "tokenizer file", FILE_LIMITS.tokenizer);
    try {
      return new NeoXTokenizer(text);
    } catch (e) {
      throw new CliError(`tokenizer ${c}: ${(e as Error).message}`);
    }
  };
  if (explicit !== undefined) {
    const tok = load(explicit);
    // a tokenizer whose ids the model cannot embed is no tokenizer for it
    if (tok.vocabSize > vocabSize)
      throw new CliError(`tokenizer ${explicit} has ${tok.vocabSize} ids, the model only ${vocabSize}`);
    return [tok, `GPT-NeoX BPE (${explicit})`];
  }
  if (card && typeof card.vocabulary === "string")
    return [new CharTokenizer(card.vocabulary), "char (model card)"];
  if (path === undefined) return [undefined, "none"];
  for (const c of [join(dirname(path), "tokenizer.json"), join(SHARED_DATA, "20B_tokenizer.json")]) {
    if (!existsSync(c)) continue;
    const tok = load(c);
    if (tok.vocabSize > vocabSize) continue;
    return [tok, `GPT-NeoX BPE (${c})`];
  }
  return [undefined, "none"];
}

export function loadModel(spec: string, opts: { tokenizer?: string; seed?: number } = {}): LoadedModel {
  if (isSynthetic(spec)) {
    const config = SHAPES[SYNTHETIC[spec]];
    const weights = syntheticWeights(config, opts.seed ?? 0);
    // no tokenizer of its own: token ids, or the one --tokenizer names
    const [tokenizer, tokenizerName] = findTokenizer(undefined, config.vocabSize, undefined, opts.tokenizer);
    return {
      source: `${spec} (deterministic random weights, seed ${opts.seed ?? 0}; not a trained model)`,
      format: "synthetic",
      naming: "-",
      dtype: "F32",
      weights,
      model: new RwkvModel(weights),
      tokenizer,
      tokenizerName,
    };
  }
  const path = resolve(spec);
  const buf = readRegularFile(path, "model file", FILE_LIMITS.model); // the only copy of the file's bytes
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const configPath = join(dirname(path), "config.json");
  const hfConfig = existsSync(configPath) ? readJson(configPath, "config.json") : undefined;
  const loaded = loadRwkvCheckpoint(bytes, hfConfig ? { hfConfig } : {});
  const card = findCard(path);
  const [tokenizer, tokenizerName] = findTokenizer(
    path,
    loaded.weights.config.vocabSize,
    card,
    opts.tokenizer,
  );
  return {
    source: path,
    format: loaded.format,
    naming: loaded.naming,
    dtype: loaded.dtype,
    weights: loaded.weights,
    model: new RwkvModel(loaded.weights),
    tokenizer,
    tokenizerName,
    card,
  };
}
