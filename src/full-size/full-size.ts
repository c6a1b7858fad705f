/**
 * The full-size page's pure logic (DOM-free, no runtime): which files make a model, where they come from, the
 * download's progress maths, the cache's versioned name, the memory of RWKV's state against a transformer's KV
 * cache, and the reader-facing message for each way a load can fail.
 *
 *   MODELS                                the catalogue: RWKV-4-Pile 169M / 430M (BlinkDL .pth or HF format),
 *                                         synthetic shapes made in the worker (no download)
 *   hubBase(search)                       https://huggingface.co, or the page's ?hub= (tests serve loopback)
 *   hubChoice(search, origin)             that base, its host, and whether it is allowed without asking
 *   weightsParam(search, page)            ?weights=: fp16 / fp32, or a checkpoint copied next to the site;
 *                                         ?precision=fp16|fp32 (with either)
 *                                         (same origin; &config= and &tokenizer= alike), for a talk offline
 *   modelFiles(model, base)               the URLs to fetch, with their role (weights / config / tokenizer)
 *   MODEL_CACHE, cacheKey(url)            Cache API name (versioned) and the key of one file
 *   progressStats({loaded, total, ms})    fraction, bytes/s, seconds left
 *   stateNumbers(L, C), kvCacheNumbers(L, C, T)   5LC against 2LTC (paper Sect. 3 / Table 1)
 *   loadErrorMessage(e)                   a sentence for the reader, from the typed errors of rwkv/ and runtime/
 */
import type { RwkvConfig } from "../rwkv/weights.js";

export const HUB = "https://huggingface.co";

export type FileRole = "weights" | "config" | "tokenizer";

export interface ModelFile {
  role: FileRole;
  /** path under the hub base, e.g. "BlinkDL/rwkv-4-pile-169m/resolve/main/RWKV-4-Pile-169M-20220807-8023.pth" */
  path: string;
  /** size in bytes when known (shown before the download starts) */
  bytes?: number;
}

export interface ModelEntry {
  id: string;
  label: string;
  /** synthetic entries have a shape and no files */
  synthetic?: RwkvConfig;
  files: ModelFile[];
  /** e.g. "bf16 .pth (BlinkDL)" */
  note: string;
}

const NEOX_169 = "RWKV/rwkv-4-169m-pile/resolve/main/tokenizer.json";
const NEOX_430 = "RWKV/rwkv-4-430m-pile/resolve/main/tokenizer.json";

/** A small synthetic RWKV-4, the page's automatic default (fast even on a software GPU or 1-thread wasm). */
export const SMALL_SHAPE: RwkvConfig = {
  nLayer: 4,
  nEmbd: 128,
  ffnSize: 512,
  vocabSize: 1024,
  layerNormEps: 1e-5,
};
/** RWKV-4-Pile-169M's exact shape (12 x 768, FFN 3072, vocab 50,277). */
export const PILE_169M_SHAPE: RwkvConfig = {
  nLayer: 12,
  nEmbd: 768,
  ffnSize: 3072,
  vocabSize: 50277,
  layerNormEps: 1e-5,
};

export const MODELS: ModelEntry[] = [
  {
    id: "synthetic-small",
    label: "synthetic-small (4 × 128, random weights)",
    synthetic: SMALL_SHAPE,
    files: [],
    note: "deterministic random weights, made in the worker; nothing downloaded",
  },
  {
    id: "synthetic-169m",
    label: "synthetic-169m (the 169M shapes, random weights)",
    synthetic: PILE_169M_SHAPE,
    files: [],
    note: "RWKV-4-Pile-169M's exact shapes with deterministic random weights; nothing downloaded",
  },
  {
    id: "rwkv-4-pile-169m",
    label: "RWKV-4-Pile-169M (BlinkDL .pth, bf16, 339 MB)",
    files: [
      {
        role: "weights",
        path: "BlinkDL/rwkv-4-pile-169m/resolve/main/RWKV-4-Pile-169M-20220807-8023.pth",
        bytes: 338_718_755,
      },
      { role: "tokenizer", path: NEOX_169 },
    ],
    note: "BlinkDL's original checkpoint (bf16) and the GPT-NeoX tokenizer",
  },
  {
    id: "rwkv-4-169m-pile-hf",
    label: "RWKV-4-Pile-169M (Hugging Face, fp32, 677 MB)",
    files: [
      { role: "weights", path: "RWKV/rwkv-4-169m-pile/resolve/main/pytorch_model.bin", bytes: 677_440_778 },
      { role: "config", path: "RWKV/rwkv-4-169m-pile/resolve/main/config.json" },
      { role: "tokenizer", path: NEOX_169 },
    ],
    note: "the transformers conversion (fp32), its config.json and the GPT-NeoX tokenizer",
  },
  {
    id: "rwkv-4-pile-430m",
    label: "RWKV-4-Pile-430M (BlinkDL .pth, bf16, ~0.86 GB)",
    files: [
      { role: "weights", path: "BlinkDL/rwkv-4-pile-430m/resolve/main/RWKV-4-Pile-430M-20220808-8066.pth" },
      { role: "tokenizer", path: NEOX_430 },
    ],
    note: "BlinkDL's original checkpoint (bf16) and the GPT-NeoX tokenizer",
  },
  {
    id: "rwkv-4-430m-pile-hf",
    label: "RWKV-4-Pile-430M (Hugging Face, fp32)",
    files: [
      { role: "weights", path: "RWKV/rwkv-4-430m-pile/resolve/main/pytorch_model.bin" },
      { role: "config", path: "RWKV/rwkv-4-430m-pile/resolve/main/config.json" },
      { role: "tokenizer", path: NEOX_430 },
    ],
    note: "the transformers conversion (fp32), its config.json and the GPT-NeoX tokenizer",
  },
];

export function modelById(id: string): ModelEntry | undefined {
  return MODELS.find((m) => m.id === id);
}

/**
 * The base URL the catalogue's files are fetched from: the Hugging Face Hub, or `?hub=<url>` in the page's
 * address (http/https only), so that tests (and mirrors) serve the same paths from elsewhere.
 */
export function hubBase(search = ""): string {
  const v = new URLSearchParams(search).get("hub");
  if (!v) return HUB;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    return HUB;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return HUB;
  return u.href.replace(/\/+$/, "");
}

/** Where the catalogue's downloads go, and whether the reader must confirm that host first. */
export interface HubChoice {
  base: string;
  /** the host shown to the reader, e.g. "huggingface.co" or "127.0.0.1:8123" */
  host: string;
  /** the Hugging Face Hub or this site itself: downloads start without asking */
  trusted: boolean;
}

/**
 * The hub of the page's address (hubBase) and whether it is on the allow-list: the Hub (https://huggingface.co)
 * and the page's own origin. Any other host, named by a `?hub=` in a link someone sent, gets a download only
 * after the reader has confirmed that host (issue 16: the address must not send downloads anywhere unasked).
 */
export function hubChoice(search: string, pageOrigin: string): HubChoice {
  const base = hubBase(search);
  const url = new URL(base);
  const trusted = url.origin === new URL(HUB).origin || url.origin === pageOrigin;
  return { base, host: url.host, trusted };
}

/** A checkpoint the presenter copied next to the site, with its optional config.json and tokenizer.json. */
export interface SiteFiles {
  url: string;
  configUrl?: string;
  tokenizerUrl?: string;
}

/**
 * What `?weights=` asks for: "fp16" (half-size matrices where the GPU allows) or "fp32", or the path of a
 * checkpoint on this site (with `&precision=fp16` for its matrices in half size), e.g.
 * `?weights=models/RWKV-4-Pile-169M-20220807-8023.pth&tokenizer=models/tokenizer.json` (resolved against the page's address; `&config=` for a Hugging Face pytorch_model.bin). A path on another
 * host is refused (`refused`: the reader's message): the point is a talk without the venue's network, and the
 * form's "checkpoint at a URL" loads from elsewhere.
 */
export function weightsParam(
  search: string,
  page: string,
): { precision: "fp16" | "fp32"; site?: SiteFiles; refused?: string } {
  const q = new URLSearchParams(search);
  const w = q.get("weights");
  // ?precision= also goes with a path in ?weights= (a copied checkpoint in fp16); it wins over ?weights=fp16|fp32
  const p = q.get("precision");
  const precision = p === "fp16" || p === "fp32" ? p : w === "fp16" ? "fp16" : "fp32";
  if (w === null || w === "" || w === "fp32" || w === "fp16") return { precision };
  const here = new URL(page);
  const resolve = (key: string, v: string): string => {
    let u: URL;
    try {
      u = new URL(v, here);
    } catch {
      throw new Error(`?${key}=${v} is not a path`);
    }
    if (u.origin !== here.origin)
      throw new Error(
        `?${key}= takes a path on this site (such as models/RWKV-4-Pile-169M-20220807-8023.pth), not ${u.origin}: ` +
          "copy the file next to the site, or load it as a checkpoint at a URL",
      );
    u.hash = "";
    return u.href;
  };
  try {
    const site: SiteFiles = { url: resolve("weights", w) };
    const config = q.get("config");
    const tokenizer = q.get("tokenizer");
    if (config) site.configUrl = resolve("config", config);
    if (tokenizer) site.tokenizerUrl = resolve("tokenizer", tokenizer);
    return { precision, site };
  } catch (e) {
    return { precision, refused: (e as Error).message };
  }
}

export function modelFiles(model: ModelEntry, base = HUB): (ModelFile & { url: string })[] {
  return model.files.map((f) => ({ ...f, url: `${base.replace(/\/+$/, "")}/${f.path}` }));
}

/**
 * The Cache API cache that holds downloaded model files. The version is part of the name: a change of the
 * stored layout bumps it, and `clearModelCache` drops every older version as well.
 */
export const MODEL_CACHE_VERSION = 1;
export const MODEL_CACHE_PREFIX = "rwkv-explainer-models";
export const MODEL_CACHE = `${MODEL_CACHE_PREFIX}-v${MODEL_CACHE_VERSION}`;

/** One file's key in the cache: its absolute URL without fragment (query kept: it may select a revision). */
export function cacheKey(url: string, base = "http://localhost/"): string {
  const u = new URL(url, base);
  u.hash = "";
  return u.href;
}

export interface ProgressStats {
  /** 0..1, or undefined without a Content-Length */
  fraction: number | undefined;
  /** mean bytes per second since the start (0 before any time has passed) */
  bytesPerSecond: number;
  /** seconds left at the mean speed, or undefined (unknown total, or no speed yet) */
  etaSeconds: number | undefined;
}

/** Progress of a download of `loaded` of `total` bytes (total undefined or 0: unknown) after `ms`. */
export function progressStats({
  loaded,
  total,
  ms,
}: {
  loaded: number;
  total?: number;
  ms: number;
}): ProgressStats {
  const bytesPerSecond = ms > 0 ? (loaded * 1000) / ms : 0;
  const known = total !== undefined && total > 0;
  const fraction = known ? Math.min(1, loaded / total) : undefined;
  const etaSeconds = known && bytesPerSecond > 0 ? Math.max(0, total - loaded) / bytesPerSecond : undefined;
  return { fraction, bytesPerSecond, etaSeconds };
}

/** 1 decimal from KB up, binary multiples written as kB/MB/GB of 1000 (as download sizes are quoted). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "?";
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return "unknown";
  if (s < 1) return "< 1 s";
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - 60 * m)} s`;
}

/** RWKV's recurrent state: attX, a, b, p, ffnX per layer, C each: 5 L C numbers, whatever the context length. */
export function stateNumbers(L: number, C: number): number {
  return 5 * L * C;
}

/** A transformer's KV cache after T tokens: a key and a value of C numbers per token and layer: 2 L T C. */
export function kvCacheNumbers(L: number, C: number, T: number): number {
  return 2 * L * T * C;
}

export interface MemoryRow {
  T: number;
  rwkvBytes: number;
  kvBytes: number;
}

/** fp32 bytes of both, for each context length. */
export function memoryRows(L: number, C: number, Ts: readonly number[], kvL = L, kvC = C): MemoryRow[] {
  return Ts.map((T) => ({ T, rwkvBytes: 4 * stateNumbers(L, C), kvBytes: 4 * kvCacheNumbers(kvL, kvC, T) }));
}

/** The k largest entries of row `row` of a (rows, V) array, largest first: [index, value][]. */
export function topK(logits: ArrayLike<number>, V: number, k = 5, row = 0): [number, number][] {
  if (!(V > 0) || logits.length < (row + 1) * V) {
    throw new RangeError(`topK: row ${row} of width ${V} is outside an array of ${logits.length} values`);
  }
  const best: [number, number][] = [];
  for (let v = 0; v < V; v++) {
    const x = logits[row * V + v];
    if (best.length < k || x > best[best.length - 1][1]) {
      let i = best.length;
      while (i > 0 && best[i - 1][1] < x) i--;
      best.splice(i, 0, [v, x]);
      if (best.length > k) best.pop();
    }
  }
  return best;
}

/** Running sum: cumulative generation time from per-token times. */
export function cumulative(xs: readonly number[]): number[] {
  const out: number[] = [];
  let s = 0;
  for (const x of xs) out.push((s += x));
  return out;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Least-squares slope of y against x (e.g. ms per token against position): a transformer's per-token time grows
 * with the position, RWKV's stays flat.
 */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = Math.min(xs.length, ys.length);
  if (n < 2) return NaN;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += xs[i];
    my += ys[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

/** What a file's name says it is, before reading it (the reader gets a message for a wrong pick at once). */
export function fileKind(name: string): "checkpoint" | "config" | "tokenizer" | "other" {
  const n = name.toLowerCase();
  if (/\.(pth|pt|bin|safetensors|ckpt)$/.test(n)) return "checkpoint";
  if (n.endsWith("tokenizer.json") || n.endsWith("20b_tokenizer.json")) return "tokenizer";
  if (n.endsWith(".json")) return "config";
  return "other";
}

const ARCHITECTURE_HINT =
  "This page runs RWKV-4 only (the model of the paper): pick an RWKV-4 checkpoint such as RWKV-4-Pile-169M.";

/**
 * The reader's message for a failed load. Knows the `code`s of CheckpointError (src/rwkv/checkpoint/errors.ts,
 * also carried across the worker as `code`), TokenizerError, JsonLimitError (src/util/json-limits.ts),
 * DownloadError (./download.ts) and the runtime's errors; anything else keeps its own message.
 */
export function loadErrorMessage(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string } | null;
  const msg = err?.message ?? String(e);
  const code = err?.code;
  switch (code) {
    case "unsupported-architecture":
      return `Not an RWKV-4 checkpoint: ${msg}. ${ARCHITECTURE_HINT}`;
    case "unknown-format":
      return `Not a model file this page can read (${msg}). Expected a PyTorch .pth/.bin or a .safetensors file.`;
    case "truncated":
    case "offset-out-of-range":
    case "bad-header":
    case "bad-pickle":
      return `The checkpoint file is damaged or incomplete (${msg}). Clear the cache and download it again.`;
    case "missing-key":
    case "extra-key":
    case "shape-mismatch":
      return `The checkpoint does not have the tensors of an RWKV-4 model (${msg}). ${ARCHITECTURE_HINT}`;
    case "unsupported-dtype":
    case "unsupported-compression":
    case "forbidden-pickle-global":
    case "non-finite":
      return `The checkpoint cannot be used: ${msg}`;
    case "http":
    case "interrupted":
    case "aborted":
    case "network":
      return `The download failed: ${msg}`;
    case "quota":
      return `The browser's storage is full: ${msg}`;
    case "bad-json":
      return `The tokenizer or config file is not valid: ${msg}`;
    case "json-too-large":
    case "json-too-deep":
      return `The files were not loaded: ${msg}.`;
    case "too-large":
      return `The download was stopped: ${msg}.`;
    case "session-build-failed":
      return `onnxruntime-web could not build the model here (too little memory for this size?): ${msg}`;
    case "device-lost":
      return `The GPU was lost while running: ${msg}`;
  }
  if (err?.name === "QuotaExceededError") return `The browser's storage is full: ${msg}`;
  if (/out of memory|allocation failed|Array buffer allocation|RangeError: Array buffer/i.test(msg)) {
    return `The browser ran out of memory for this model (${msg}). Try the 169M model, or close other tabs.`;
  }
  return msg;
}
