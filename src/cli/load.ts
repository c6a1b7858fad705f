/**
 * Node-side model loading for the CLI and benchmarks: reads a checkpoint file once (one copy of its
 * bytes in memory; fp32 tensors are views into it), finds what belongs beside it (config.json for
 * Hugging Face files, <name>.json model card with the vocabulary for the project's char models,
 * tokenizer.json), and builds the model and its tokenizer. Also the synthetic shapes.
 */
import { existsSync, readFileSync } from "node:fs";
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

function readJson(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new CliError(`cannot read JSON ${path}: ${(e as Error).message}`);
  }
}

/** Model card beside a checkpoint: data/models/<name>.safetensors -> data/models/<name>.json */
function findCard(path: string): Record<string, unknown> | undefined {
  const base = basename(path).replace(/\.(safetensors|pth|bin)$/, "");
  const card = join(dirname(path), `${base}.json`);
  if (basename(card) !== "config.json" && existsSync(card)) return readJson(card);
  return undefined;
}

function findTokenizer(
  path: string,
  vocabSize: number,
  card: Record<string, unknown> | undefined,
  explicit?: string,
): [Tokenizer | undefined, string] {
  if (card && typeof card.vocabulary === "string")
    return [new CharTokenizer(card.vocabulary), "char (model card)"];
  const candidates = explicit
    ? [explicit]
    : [join(dirname(path), "tokenizer.json"), join(SHARED_DATA, "20B_tokenizer.json")];
  for (const c of candidates) {
    if (!existsSync(c)) {
      if (c === explicit) throw new CliError(`no such tokenizer file: ${c}`);
      continue;
    }
    const tok = new NeoXTokenizer(readFileSync(c, "utf8"));
    // a tokenizer whose ids the model cannot embed is no tokenizer for it
    if (tok.vocabSize > vocabSize) {
      if (c === explicit)
        throw new CliError(`tokenizer ${c} has ${tok.vocabSize} ids, the model only ${vocabSize}`);
      continue;
    }
    return [tok, `GPT-NeoX BPE (${c})`];
  }
  return [undefined, "none"];
}

export function loadModel(spec: string, opts: { tokenizer?: string; seed?: number } = {}): LoadedModel {
  if (isSynthetic(spec)) {
    const config = SHAPES[SYNTHETIC[spec]];
    const weights = syntheticWeights(config, opts.seed ?? 0);
    return {
      source: `${spec} (deterministic random weights, seed ${opts.seed ?? 0}; not a trained model)`,
      format: "synthetic",
      naming: "-",
      dtype: "F32",
      weights,
      model: new RwkvModel(weights),
      tokenizerName: "none",
    };
  }
  const path = resolve(spec);
  if (!existsSync(path)) throw new CliError(`no such model file: ${spec}`);
  const buf = readFileSync(path); // the only copy of the file's bytes
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const configPath = join(dirname(path), "config.json");
  const hfConfig = existsSync(configPath) ? readJson(configPath) : undefined;
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
