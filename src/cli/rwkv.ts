/**
 * The `rwkv` command line (a stable interface: other work and checks call it).
 *
 *   npm run rwkv -- info <model>
 *   npm run rwkv -- logits <model> --tokens 3,1,4 | --tokens-file F [--mode rnn|parallel] [--backend ref|ort] --json
 *   npm run rwkv -- generate <model> --prompt "..." [--max-tokens N] [--temperature t] [--top-p p] [--seed s]
 *                   [--backend ref|ort]
 *   npm run rwkv -- eval <model> --text-file F | --tokens ... | --tokens-file F [--mode rnn|parallel]
 *                   [--backend ref|ort] --json
 *   npm run rwkv -- bench <model|synthetic-169m|synthetic-tiny> [--backend ref|ort] [--tokens T] [--json]
 *   (any command) --tokenizer tokenizer.json: use this tokenizer (it must fit the model's vocabulary)
 *   --threads N (with --backend ort, for logits, generate, eval and bench): onnxruntime-web's wasm threads
 *   (default 1); `bench --json` reports the threads ORT ran with.
 *
 * <model>: a .safetensors, .pth or .bin file (config.json beside it for the Hugging Face format),
 * or synthetic-169m / synthetic-430m / synthetic-tiny (deterministic random weights, nothing downloaded).
 * Token ids: decimal integers in 0..V-1, separated by commas or whitespace (a --tokens-file may hold any
 * number of them). Files must be regular files within a size limit (load.ts FILE_LIMITS).
 * Errors: non-zero exit and one clear line on stderr; non-finite logits are an error, never printed.
 * Runs longer than 3 s report progress on stderr (generate: only when stdout is not a terminal, where the
 * text itself shows it).
 */
import { parseArgs } from "node:util";
import { assertFiniteLogits, logSoftmaxAt, Sampler } from "../rwkv/sampling.js";
import { countParameters, paperParameterCount } from "../rwkv/synthetic.js";
import {
  CliError,
  FILE_LIMITS,
  loadModel,
  parseTokenIds,
  Progress,
  readTextFile,
  type LoadedModel,
} from "./load.js";
import { benchRef } from "./bench-ref.js";
import { CharTokenizer, TextStream } from "../rwkv/tokenizer.js";

const USAGE = `usage: rwkv <info|logits|generate|eval|bench> <model> [options]
  info <model>                                   format, config, parameter count
  logits <model> --tokens 3,1,4 | --tokens-file F [--mode rnn|parallel] [--backend ref|ort] --json
  generate <model> --prompt "..." [--max-tokens N] [--temperature t] [--top-p p] [--seed s] [--backend ref|ort]
  eval <model> --text-file F | --tokens ... | --tokens-file F [--mode rnn|parallel] [--backend ref|ort] --json
  bench <model|synthetic-169m|synthetic-tiny> [--backend ref|ort] [--tokens T] [--repeats R] --json
  --tokenizer tokenizer.json   use this tokenizer (its ids must fit the model's vocabulary)
  --threads N   onnxruntime-web's wasm threads for --backend ort (default 1)`;

const { values: opts, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        tokens: { type: "string" },
        "tokens-file": { type: "string" },
        mode: { type: "string", default: "rnn" },
        backend: { type: "string", default: "ref" },
        json: { type: "boolean", default: false },
        prompt: { type: "string" },
        "max-tokens": { type: "string", default: "200" },
        temperature: { type: "string", default: "1" },
        "top-p": { type: "string", default: "0.9" },
        seed: { type: "string", default: "0" },
        "text-file": { type: "string" },
        tokenizer: { type: "string" },
        repeats: { type: "string" },
        threads: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    fail(`${(e as Error).message}\n${USAGE}`);
  }
})();

function fail(message: string): never {
  process.stderr.write(`rwkv: ${message.split("\n")[0]}\n`);
  if (message.includes("\n")) process.stderr.write(message.slice(message.indexOf("\n") + 1) + "\n");
  process.exit(1);
}

/** a decimal number option: an integer (optionally signed) or a plain decimal fraction; no hex, no "" */
function num(
  name: string,
  value: string | undefined,
  check: (x: number) => boolean,
  integer = false,
): number {
  const syntax = integer ? /^-?[0-9]+$/ : /^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/;
  const x = Number(value);
  if (value === undefined || !syntax.test(value) || !Number.isFinite(x) || !check(x))
    fail(`--${name} has an invalid value: ${JSON.stringify(value)}`);
  return x;
}

/** `--threads N`: ORT's wasm threads (--backend ort only; the reference model runs on one thread). */
function threads(): number | undefined {
  if (opts.threads === undefined) return undefined;
  if (opts.backend !== "ort")
    fail("--threads applies to --backend ort (the reference model runs on one thread)");
  return num("threads", opts.threads, (x) => Number.isInteger(x) && x >= 1 && x <= 64);
}

function mode(): "rnn" | "parallel" {
  if (opts.mode !== "rnn" && opts.mode !== "parallel")
    fail(`--mode must be rnn or parallel, got ${opts.mode}`);
  return opts.mode;
}

/**
 * The model behind generate and eval, whichever backend runs it: the reference model (src/rwkv/model.ts) or
 * the ONNX graphs on onnxruntime-web's wasm EP (src/cli/ort.ts). States are opaque: pass them on unchanged.
 */
interface Runner {
  initialState(): unknown;
  step(token: number, state: unknown): Promise<{ logits: Float32Array; state: unknown }>;
  forward(
    tokens: number[],
    state: unknown,
    o?: { lastOnly?: boolean },
  ): Promise<{ logits: Float32Array; state: unknown }>;
  dispose(): Promise<void>;
}

async function runner(m: LoadedModel): Promise<Runner> {
  if (opts.backend === "ort") {
    const ort = await import("./ort.js");
    const om = ort.createOrtModel(m.weights, { threads: threads() });
    type S = ReturnType<typeof om.initialState>;
    return {
      initialState: () => om.initialState(),
      step: (token, state) => om.step(token, state as S),
      forward: (tokens, state, o) => om.forward(tokens, state as S, o),
      dispose: () => om.dispose(),
    };
  }
  if (opts.backend !== "ref") fail(`--backend must be ref or ort, got ${opts.backend}`);
  type S = ReturnType<typeof m.model.initialState>;
  return {
    initialState: () => m.model.initialState(),
    step: async (token, state) => m.model.step(token, state as S),
    forward: async (tokens, state, o) => m.model.forward(tokens, state as S, o),
    dispose: async () => {},
  };
}

/** Parallel mode works through long inputs in blocks of this many tokens, carrying the state (for progress). */
const BLOCK = 256;

/** Logits (T, V) of `tokens` from the empty state, through parallel mode or T steps of RNN mode. */
async function backendLogits(
  m: LoadedModel,
  tokens: number[],
  md: "rnn" | "parallel",
): Promise<Float32Array> {
  const model = await runner(m);
  const V = m.weights.config.vocabSize;
  const out = new Float32Array(tokens.length * V);
  const progress = new Progress(`logits (${md} mode)`, tokens.length);
  try {
    let state = model.initialState();
    if (md === "parallel") {
      for (let s = 0; s < tokens.length; s += BLOCK) {
        const r = await model.forward(tokens.slice(s, s + BLOCK), state);
        out.set(r.logits, s * V);
        state = r.state;
        progress.update(Math.min(s + BLOCK, tokens.length));
      }
    } else {
      for (let t = 0; t < tokens.length; t++) {
        const r = await model.step(tokens[t], state);
        out.set(r.logits, t * V);
        state = r.state;
        progress.update(t + 1);
      }
    }
    progress.finish();
    return out;
  } finally {
    await model.dispose();
  }
}

function info(m: LoadedModel): void {
  const cfg = m.weights.config;
  const params = countParameters(m.weights);
  const formula = paperParameterCount(cfg);
  const result = {
    source: m.source,
    format: m.format,
    naming: m.naming,
    dtype: m.dtype,
    config: cfg,
    parameters: params,
    paper_formula: formula,
    paper_formula_text: "2VD + 13D^2 L + D(11L + 4)",
    formula_applies: cfg.ffnSize === 4 * cfg.nEmbd,
    formula_matches: params === formula,
    state_numbers: 5 * cfg.nLayer * cfg.nEmbd,
    tokenizer: m.tokenizerName,
  };
  if (opts.json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`model      ${result.source}`);
  console.log(`format     ${m.format} (${m.naming} names, ${m.dtype})`);
  console.log(
    `config     L=${cfg.nLayer} D=${cfg.nEmbd} FFN=${cfg.ffnSize} V=${cfg.vocabSize} eps=${cfg.layerNormEps}`,
  );
  console.log(`parameters ${params.toLocaleString("en-US")}`);
  console.log(
    `paper      2VD + 13D^2 L + D(11L + 4) = ${formula.toLocaleString("en-US")} ` +
      (result.formula_applies
        ? result.formula_matches
          ? "(matches)"
          : "(DIFFERS)"
        : "(formula assumes FFN = 4D)"),
  );
  console.log(
    `state      5 x L x D = ${result.state_numbers.toLocaleString("en-US")} numbers, constant in T`,
  );
  console.log(`tokenizer  ${m.tokenizerName}`);
}

/** token ids from --tokens or --tokens-file (exactly one), strictly parsed; undefined if neither is given */
function tokenIds(m: LoadedModel): number[] | undefined {
  const V = m.weights.config.vocabSize;
  const file = opts["tokens-file"];
  if (file !== undefined && opts.tokens !== undefined) fail("give --tokens or --tokens-file, not both");
  if (file !== undefined)
    return parseTokenIds(readTextFile(file, "tokens file", FILE_LIMITS.tokens), V, file);
  if (opts.tokens !== undefined) return parseTokenIds(opts.tokens, V, "--tokens");
  return undefined;
}

async function logits(m: LoadedModel): Promise<void> {
  const tokens = tokenIds(m) ?? fail("logits needs --tokens 3,1,4 or --tokens-file F");
  const flat = await backendLogits(m, tokens, mode());
  assertFiniteLogits(flat); // never print NaN (JSON null) as if it were an answer
  const V = m.weights.config.vocabSize;
  if (opts.json) {
    // row by row: a long run's JSON is never one giant string
    process.stdout.write('{"logits":[');
    for (let t = 0; t < tokens.length; t++) {
      const row = JSON.stringify(Array.from(flat.subarray(t * V, (t + 1) * V)));
      process.stdout.write(t === 0 ? row : "," + row);
    }
    process.stdout.write("]}\n");
  } else {
    for (let t = 0; t < tokens.length; t++) {
      const row = flat.subarray(t * V, (t + 1) * V);
      let best = 0;
      for (let i = 1; i < V; i++) if (row[i] > row[best]) best = i;
      console.log(`t=${t} token=${tokens[t]} argmax=${best}`);
    }
  }
}

function encodeOrFail(m: LoadedModel, text: string): number[] {
  if (!m.tokenizer) fail(`no tokenizer for ${m.source}: pass --tokenizer tokenizer.json`);
  let ids: number[];
  if (m.tokenizer instanceof CharTokenizer) {
    const report = m.tokenizer.encodeWithReport(text);
    ids = report.ids;
    if (report.unknown.length > 0) {
      const shown = [...new Set(report.unknown.map((u) => JSON.stringify(u.char)))].slice(0, 10).join(" ");
      process.stderr.write(
        `rwkv: warning: ${report.unknown.length} character(s) not in the model's vocabulary (${shown}) ` +
          `were replaced by ${JSON.stringify(m.tokenizer.vocab[m.tokenizer.fallbackId])}\n`,
      );
    }
  } else ids = m.tokenizer.encode(text);
  if (ids.length === 0) fail("the text is empty after tokenization");
  return ids;
}

async function generate(m: LoadedModel): Promise<void> {
  if (opts.prompt === undefined) fail('generate needs --prompt "..."');
  const maxTokens = num("max-tokens", opts["max-tokens"], (x) => x >= 0, true);
  const temperature = num("temperature", opts.temperature, (x) => x >= 0);
  const topP = num("top-p", opts["top-p"], (x) => x > 0 && x <= 1);
  const seed = num("seed", opts.seed, Number.isSafeInteger, true);
  const tok = m.tokenizer;
  const prompt = encodeOrFail(m, opts.prompt);
  const sampler = new Sampler(seed);
  const model = await runner(m);
  // ingest the prompt in parallel mode (in blocks, with progress if it is long), then continue in RNN mode
  const ingest = new Progress("generate: reading the prompt", prompt.length);
  let state = model.initialState();
  let last: Float32Array = new Float32Array(0);
  for (let s = 0; s < prompt.length; s += BLOCK) {
    const r = await model.forward(prompt.slice(s, s + BLOCK), state, { lastOnly: true });
    state = r.state;
    last = r.logits;
    ingest.update(Math.min(s + BLOCK, prompt.length));
  }
  ingest.finish();
  process.stdout.write(opts.prompt);
  // decode as we go, a few tokens at a time (TextStream): O(1) a token, not a decode of the whole output
  const stream = new TextStream(tok!);
  const progress = process.stdout.isTTY ? undefined : new Progress("generate", maxTokens);
  for (let n = 0; n < maxTokens; n++) {
    const next = sampler.sample(last, { temperature, topP }); // throws on non-finite logits
    const text = stream.push(next);
    if (text) process.stdout.write(text);
    progress?.update(n + 1);
    if (n + 1 === maxTokens) break; // the last token's logits are never used
    const r = await model.step(next, state);
    state = r.state;
    last = r.logits;
  }
  process.stdout.write(stream.flush() + "\n");
  progress?.finish();
  await model.dispose();
}

async function evaluate(m: LoadedModel): Promise<void> {
  const file = opts["text-file"];
  const given = tokenIds(m);
  if ((file === undefined) === (given === undefined))
    fail("eval needs --text-file F, or token ids (--tokens ... or --tokens-file F), exactly one of them");
  const ids = given ?? encodeOrFail(m, readTextFile(file!, "text file", FILE_LIMITS.text));
  if (ids.length < 2) {
    fail(
      `eval needs at least two tokens (each is predicted from the ones before it); ${file ?? "the ids"} ` +
        `gave ${ids.length}`,
    );
  }
  const md = mode();
  const model = await runner(m);
  const t0 = performance.now();
  const progress = new Progress(`eval (${md} mode)`, ids.length - 1);
  // Predict token t+1 from tokens 0..t, carrying the state over the whole file (no windows).
  let nll = 0;
  let state = model.initialState();
  if (md === "rnn") {
    for (let t = 0; t + 1 < ids.length; t++) {
      const r = await model.step(ids[t], state);
      state = r.state;
      nll -= logSoftmaxAt(r.logits, ids[t + 1]); // throws on non-finite logits
      progress.update(t + 1);
    }
  } else {
    const V = m.weights.config.vocabSize;
    for (let s = 0; s + 1 < ids.length; s += BLOCK) {
      const piece = ids.slice(s, Math.min(s + BLOCK, ids.length - 1));
      const r = await model.forward(piece, state);
      state = r.state;
      for (let t = 0; t < piece.length; t++)
        nll -= logSoftmaxAt(r.logits.subarray(t * V, (t + 1) * V), ids[s + t + 1]);
      progress.update(s + piece.length);
    }
  }
  progress.finish();
  const predicted = ids.length - 1;
  const natsPerToken = nll / predicted;
  await model.dispose();
  if (!Number.isFinite(natsPerToken)) fail(`the loss is ${natsPerToken}: the model's outputs are not finite`);
  const result = {
    nats_per_token: natsPerToken,
    bits_per_token: natsPerToken / Math.LN2,
    tokens: predicted,
    mode: md,
    backend: opts.backend,
    seconds: (performance.now() - t0) / 1000,
  };
  if (opts.json) console.log(JSON.stringify(result));
  else
    console.log(
      `${natsPerToken.toFixed(4)} nats/token (${result.bits_per_token.toFixed(4)} bits) over ${predicted} predicted tokens, ${md} mode`,
    );
}

async function bench(spec: string, m: LoadedModel): Promise<void> {
  const T = num("tokens", opts.tokens ?? "64", (x) => x > 0, true);
  const repeats = opts.repeats !== undefined ? num("repeats", opts.repeats, (x) => x > 0, true) : undefined;
  let result: Record<string, unknown>;
  if (opts.backend === "ort") {
    const ort = await import("./ort.js");
    result = await ort.ortBench(m.weights, { tokens: T, repeats, threads: threads() });
  } else if (opts.backend === "ref") {
    threads();
    result = { ...benchRef(m.model, { tokens: T, repeats }), threads: 1 };
  } else fail(`--backend must be ref or ort, got ${opts.backend}`);
  result = { model: spec, backend: opts.backend, tokens: T, ...result };
  console.log(opts.json ? JSON.stringify(result) : JSON.stringify(result, null, 2));
}

async function main(): Promise<void> {
  if (opts.help || positionals.length === 0) {
    console.log(USAGE);
    return;
  }
  const [cmd, spec] = positionals;
  if (!["info", "logits", "generate", "eval", "bench"].includes(cmd))
    fail(`unknown command '${cmd}'\n${USAGE}`);
  if (!spec) fail(`${cmd} needs a model: a .safetensors/.pth/.bin file or synthetic-169m / synthetic-tiny`);
  const seed = num("seed", opts.seed, Number.isSafeInteger, true);
  if (cmd !== "info") threads(); // --threads with --backend ref fails here, before loading anything
  const m = loadModel(spec, { tokenizer: opts.tokenizer, seed });
  if (cmd === "info") info(m);
  else if (cmd === "logits") await logits(m);
  else if (cmd === "generate") await generate(m);
  else if (cmd === "eval") await evaluate(m);
  else await bench(spec, m);
}

main().catch((e: unknown) => {
  const err = e as Error;
  const known =
    err instanceof CliError || err.name !== "Error" || /checkpoint|token|model/i.test(err.message);
  fail(known ? err.message : `${err.name}: ${err.message}`);
});
