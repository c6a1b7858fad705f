/**
 * One load of the full-size page, from the reader's request to a model running in a worker: which files make
 * it (`planLoad`), downloading them through the cache with progress or reading the reader's own files, then the
 * RWKV model worker (the checkpoint, config.json and tokenizer.json are read there, within the limits of
 * src/util/json-limits.ts: nothing of a reader's file is parsed on the page's thread) and, when the timings
 * first need it, the transformer baseline in a second worker. The execution provider comes from the one policy
 * (chooseEp, src/runtime/ep-policy.ts, passed in as `deps.chooseEp`).
 *
 * DOM-free: the workers, `fetch`, the cache and the EP policy are dependencies (src/full-size/page.ts passes the
 * browser's; tests pass fakes). The lifecycle around a load (what stays loaded, what a newer request aborts) is
 * src/full-size/state.ts's; `loadModel` is the function it runs.
 *
 * API:
 *   planLoad(req, hubBase) -> LoadPlan                the files of a request, or an Error with the reader's message
 *   loadModel(req, deps, ctx) -> Promise<LoadedModel> ctx: state.ts's LoadContext (signal, progress, ...)
 *   tokenizerUse({synthetic, summary, error, modelVocab}) -> {vocab?, note}   whether prompts go through the
 *                                                     tokenizer, and the sentence the status box shows
 */
import type { EpChoice, EpPreference } from "../runtime/ep-policy.js";
import type {
  GptInitResult,
  GptSyntheticShape,
  InitResult,
  ModelSource,
  TokenizerSummary,
} from "../runtime/protocol.js";
import { loadRwkvCheckpoint } from "../rwkv/checkpoint/index.js";
import { syntheticWeights } from "../rwkv/synthetic.js";
import type { RwkvConfig, RwkvState, RwkvWeights } from "../rwkv/weights.js";
import { parseJsonLimited } from "../util/json-limits.js";
import { CONFIG_JSON_LIMITS, TOKENIZER_JSON_LIMITS, checkJsonSize } from "../util/json-limits.js";
import type { GptRuntime, RwkvRuntime } from "./bench.js";
import { fetchCached, type CacheLike, type FetchCachedOptions } from "./download.js";
import { fileKind, formatBytes, modelById, modelFiles, type FileRole } from "./full-size.js";
import type { LoadContext } from "./state.js";

/** A file the reader picked or dropped (a browser File, or a test double). */
export interface LocalFile {
  name: string;
  size: number;
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** What the loader form asks for; `seq` numbers the requests (the page's data-seq). */
export type LoadRequest = { seq: number } & (
  | { kind: "model"; id: string }
  | { kind: "url"; url: string; configUrl?: string; tokenizerUrl?: string; refused?: string }
  | { kind: "file"; files: readonly LocalFile[] }
);

export interface RemoteFile {
  role: FileRole;
  url: string;
  bytes?: number;
}

export interface LoadPlan {
  name: string;
  /** a catalogue shape made in the worker (no file) */
  synthetic?: RwkvConfig;
  /** files to download (through the cache) */
  files: RemoteFile[];
  /** the reader's own files */
  local?: { checkpoint: LocalFile; config?: LocalFile; tokenizer?: LocalFile };
}

/** The RWKV model worker as the loader and the timings use it (RwkvWorkerClient, or a fake). */
export interface RwkvModelClient extends RwkvRuntime {
  readonly ep: "webgpu" | "wasm";
  readonly fallbackReason?: string;
  readonly init: InitResult;
  readonly config: RwkvConfig;
  getState(): Promise<RwkvState>;
  tokenize(text: string): Promise<number[]>;
  tokenTexts(ids: readonly number[]): Promise<(string | null)[]>;
}

/** The transformer baseline's worker (GptWorkerClient, or a fake). */
export interface GptModelClient extends GptRuntime {
  readonly ep: "webgpu" | "wasm";
  readonly info: GptInitResult;
}

export interface LoaderDeps {
  /** where the catalogue's files come from (hubBase of the page's address) */
  hubBase: string;
  /**
   * Whether a download from the catalogue may go to `host` (the hub is not the Hugging Face Hub or this site):
   * the page asks the reader, showing the host. Absent: such downloads are refused.
   */
  confirmHub?(host: string): Promise<boolean>;
  /** true when hubBase is on the allow-list (hubChoice); false or absent: confirmHub decides */
  hubTrusted?: boolean;
  fetch: FetchCachedOptions["fetch"];
  /** the model cache, or undefined without the Cache API */
  openCache(): Promise<CacheLike | undefined>;
  chooseEp(): Promise<EpChoice>;
  /**
   * Start the RWKV model worker on `source`. When `signal` aborts (a newer request, the reader's stop, the model
   * disposed) its worker ends at once and a start still under way rejects.
   */
  createRwkv(source: ModelSource, ep: EpPreference, signal: AbortSignal): Promise<RwkvModelClient>;
  /** Start the transformer baseline's worker; `signal` as for createRwkv. */
  createGpt(shape: GptSyntheticShape, ep: EpPreference, signal: AbortSignal): Promise<GptModelClient>;
  /** called after files went through the cache (the page refreshes its cache line) */
  cacheChanged?(): void;
  now?(): number;
}

export interface LoadedModel {
  seq: number;
  name: string;
  /** "synthetic" | "local file" | "download" | "browser cache" | "download and browser cache" */
  origin: string;
  /** why a downloaded file was not cached (e.g. a full quota), or "" */
  cacheNote: string;
  synthetic: boolean;
  rwkv: RwkvModelClient;
  /** the transformer baseline (same L, C and V, random weights), built on first call */
  gpt(): Promise<GptModelClient>;
  /** the tokenizer's vocabulary when prompts go through the worker's tokenizer; undefined: token ids */
  tokenizerVocab?: number;
  tokenizerNote: string;
  init: InitResult;
  loadSeconds: number;
  /**
   * the same weights on this page, for the reference model (src/rwkv/model.ts): the causal trace needs its hooks,
   * which the worker's ONNX graphs do not have. Read again on call (a synthetic model is made again from its
   * seed; a file is read again, a download taken from the browser cache or fetched again), parsed on the page.
   */
  referenceWeights(): Promise<RwkvWeights>;
  /** end both workers at once */
  dispose(): void;
}

const CHECKPOINT_URL = /^https?:\/\//;

export function planLoad(req: LoadRequest, hubBase: string): LoadPlan {
  if (req.kind === "model") {
    const entry = modelById(req.id);
    if (!entry) throw new Error(`unknown model ${req.id}`);
    return {
      name: entry.label,
      ...(entry.synthetic ? { synthetic: entry.synthetic } : {}),
      files: modelFiles(entry, hubBase),
    };
  }
  if (req.kind === "url") {
    if (req.refused) throw new Error(req.refused);
    if (!CHECKPOINT_URL.test(req.url))
      throw new Error("Give the checkpoint's address, starting with https:// (or http://).");
    const files: RemoteFile[] = [{ role: "weights", url: req.url }];
    if (req.configUrl) files.push({ role: "config", url: req.configUrl });
    if (req.tokenizerUrl) files.push({ role: "tokenizer", url: req.tokenizerUrl });
    return { name: req.url.split("/").pop() || req.url, files };
  }
  if (!req.files.length) throw new Error("Pick a checkpoint file first.");
  const of = (k: ReturnType<typeof fileKind>) => req.files.filter((f) => fileKind(f.name) === k);
  const checkpoint = of("checkpoint")[0] ?? of("other")[0];
  if (!checkpoint) throw new Error("None of these files is a checkpoint (.pth, .bin, .pt or .safetensors).");
  const config = of("config")[0];
  const tokenizer = of("tokenizer")[0];
  return {
    name: checkpoint.name,
    files: [],
    local: { checkpoint, ...(config ? { config } : {}), ...(tokenizer ? { tokenizer } : {}) },
  };
}

/** Whether prompts go through the tokenizer the worker read, and the sentence that says so. */
export function tokenizerUse({
  synthetic,
  summary,
  error,
  modelVocab,
}: {
  synthetic: boolean;
  summary?: TokenizerSummary;
  /** why the page did not pass a tokenizer.json on (too large to read) */
  error?: string;
  modelVocab: number;
}): { vocab?: number; note: string } {
  if (synthetic) return { note: "synthetic model: the inputs are token ids, not text" };
  const why = error ?? summary?.error;
  if (why) return { note: `the tokenizer could not be read (${why}): token ids are used instead` };
  const v = summary?.vocabSize;
  if (v === undefined) return { note: "no tokenizer.json: the inputs are token ids" };
  // a model's vocabulary may be larger than its tokenizer's (the Pile models: 50,277 rows, 50,254 tokens)
  if (v > modelVocab)
    return {
      note: `the tokenizer has ${v} tokens but the model only ${modelVocab}: token ids are used instead`,
    };
  return { vocab: v, note: `tokenizer.json (${v.toLocaleString("en-US")} tokens)` };
}

function errorCode(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/** The load itself (run by state.ts's LoadMachine, which owns what stays loaded). */
export async function loadModel(req: LoadRequest, deps: LoaderDeps, ctx: LoadContext): Promise<LoadedModel> {
  const now = deps.now ?? (() => performance.now());
  const t0 = now();
  const plan = planLoad(req, deps.hubBase);
  ctx.name(plan.name);
  if (req.kind === "model" && plan.files.length && !deps.hubTrusted) {
    const host = new URL(deps.hubBase).host;
    if (!(await deps.confirmHub?.(host)))
      throw new Error(
        `Not downloading from ${host}: the page's address (?hub=) names it instead of the Hugging Face Hub, ` +
          "and it was not confirmed. Open the page without ?hub= to download from the Hub.",
      );
  }
  // the model's workers end when this aborts: a newer request or a stop while loading, dispose afterwards
  const life = new AbortController();
  const endLife = () => life.abort();
  ctx.signal.addEventListener("abort", endLife);
  try {
    let checkpoint: Uint8Array | undefined;
    let hfConfigJson: Uint8Array | undefined;
    let tokenizerJson: Uint8Array | undefined;
    let tokenizerError: string | undefined;
    let origin = plan.synthetic ? "synthetic" : "download";
    let cacheNote = "";
    if (plan.local) {
      const { checkpoint: ck, config, tokenizer } = plan.local;
      origin = "local file";
      ctx.progress({ phase: "reading", message: `Reading ${ck.name} (${formatBytes(ck.size)})…` });
      // the sizes first, from the files' own lengths: an oversized JSON file is never read
      if (config) checkJsonSize(config.size, CONFIG_JSON_LIMITS, "config.json");
      if (tokenizer) {
        try {
          checkJsonSize(tokenizer.size, TOKENIZER_JSON_LIMITS, "tokenizer.json");
          tokenizerJson = new Uint8Array(await tokenizer.arrayBuffer());
        } catch (e) {
          tokenizerError = (e as Error).message;
        }
      }
      checkpoint = new Uint8Array(await ck.arrayBuffer());
      if (config) hfConfigJson = new Uint8Array(await config.arrayBuffer());
    }
    if (plan.files.length) {
      const cache = await deps.openCache();
      let fromCache = 0;
      for (const f of plan.files) {
        const limits =
          f.role === "config"
            ? CONFIG_JSON_LIMITS
            : f.role === "tokenizer"
              ? TOKENIZER_JSON_LIMITS
              : undefined;
        let got;
        try {
          got = await fetchCached(f.url, {
            fetch: deps.fetch,
            cache,
            signal: ctx.signal,
            ...(limits ? { maxBytes: limits.maxBytes } : {}),
            onProgress: (p) =>
              ctx.progress({
                phase: "download",
                file: f,
                loaded: p.loaded,
                bytesPerSecond: p.bytesPerSecond,
                ...(p.total !== undefined ? { total: p.total } : {}),
                ...(p.etaSeconds !== undefined ? { etaSeconds: p.etaSeconds } : {}),
              }),
          });
        } catch (e) {
          // a tokenizer too large to read is not fatal: the model runs on token ids, and says why
          if (f.role === "tokenizer" && errorCode(e) === "too-large") {
            tokenizerError = (e as Error).message;
            continue;
          }
          throw e;
        }
        if (got.fromCache) fromCache++;
        if (got.cacheError) cacheNote = got.cacheError;
        if (f.role === "weights") checkpoint = got.bytes;
        else if (f.role === "config") hfConfigJson = got.bytes;
        else tokenizerJson = got.bytes;
      }
      origin =
        fromCache === plan.files.length
          ? "browser cache"
          : fromCache
            ? "download and browser cache"
            : "download";
      deps.cacheChanged?.();
    }
    ctx.progress({
      phase: "building",
      message: "Reading the checkpoint and building the RNN-step and parallel ONNX graphs in the worker…",
    });
    const choice = await deps.chooseEp();
    const source: ModelSource = plan.synthetic
      ? { synthetic: plan.synthetic, seed: 0 }
      : {
          checkpoint: checkpoint!,
          ...(hfConfigJson ? { hfConfigJson } : {}),
          ...(tokenizerJson ? { tokenizerJson } : {}),
        };
    const rwkv = await deps.createRwkv(source, choice.ep, life.signal);
    if (ctx.signal.aborted) throw new Error("another model was asked for");
    // the handle's fallback reason: the worker's own (a failed WebGPU start, a lost device), else the policy's
    ctx.setFallback(() => rwkv.fallbackReason ?? (rwkv.ep === "wasm" ? choice.reason : undefined));
    const { nLayer, nEmbd, vocabSize } = rwkv.config;
    const tk = tokenizerUse({
      synthetic: !!plan.synthetic,
      ...(rwkv.init.tokenizer ? { summary: rwkv.init.tokenizer } : {}),
      ...(tokenizerError ? { error: tokenizerError } : {}),
      modelVocab: vocabSize,
    });
    let gptPromise: Promise<GptModelClient> | undefined;
    const gpt = () =>
      (gptPromise ??= deps.createGpt(
        // heads of 64 channels (GPT-2's), context 1024, random weights
        { nLayer, nEmbd, nHead: nEmbd % 64 === 0 ? nEmbd / 64 : 1, vocabSize, blockSize: 1024, seed: 1 },
        choice.ep,
        life.signal,
      ));
    return {
      seq: req.seq,
      name: plan.name,
      origin,
      cacheNote,
      synthetic: !!plan.synthetic,
      rwkv,
      gpt,
      ...(tk.vocab !== undefined ? { tokenizerVocab: tk.vocab } : {}),
      tokenizerNote: tk.note,
      init: rwkv.init,
      loadSeconds: (now() - t0) / 1000,
      referenceWeights: () => referenceWeights(plan, deps),
      dispose: endLife,
    };
  } catch (e) {
    endLife();
    throw e;
  } finally {
    ctx.signal.removeEventListener("abort", endLife);
  }
}

/** LoadedModel.referenceWeights: the plan's weights read again and parsed on this page (as the worker does). */
async function referenceWeights(plan: LoadPlan, deps: LoaderDeps): Promise<RwkvWeights> {
  if (plan.synthetic) return syntheticWeights(plan.synthetic, 0);
  let checkpoint: Uint8Array | undefined;
  let config: Uint8Array | undefined;
  if (plan.local) {
    checkpoint = new Uint8Array(await plan.local.checkpoint.arrayBuffer());
    if (plan.local.config) config = new Uint8Array(await plan.local.config.arrayBuffer());
  } else {
    const cache = await deps.openCache();
    for (const f of plan.files) {
      if (f.role === "tokenizer") continue;
      const got = await fetchCached(f.url, {
        fetch: deps.fetch,
        cache,
        ...(f.role === "config" ? { maxBytes: CONFIG_JSON_LIMITS.maxBytes } : {}),
      });
      if (f.role === "weights") checkpoint = got.bytes;
      else config = got.bytes;
    }
  }
  if (!checkpoint) throw new Error("the checkpoint could not be read again");
  const hfConfig = config
    ? (parseJsonLimited(config, CONFIG_JSON_LIMITS, "config.json") as object)
    : undefined;
  return loadRwkvCheckpoint(checkpoint, hfConfig ? { hfConfig } : {}).weights;
}
