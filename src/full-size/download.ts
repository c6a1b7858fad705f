/**
 * Download a model file with progress, through a versioned Cache API cache (./full-size.ts MODEL_CACHE).
 * DOM-free: `fetch` and the cache are passed in (the page passes the browser's; tests pass fakes), so the same
 * code runs in Node.
 *
 *   const r = await fetchCached(url, {fetch, cache, signal, onProgress});
 *   r.bytes        Uint8Array of the whole file
 *   r.fromCache    true when no request went out
 *   r.cacheError   why the file could not be stored (e.g. a full quota): the model still loads
 *
 * Failures throw DownloadError with a `code`: "http" (status >= 400), "interrupted" (the body ended before its
 * Content-Length, or the stream failed), "aborted" (the reader pressed stop), "network" (fetch rejected),
 * "too-large" (with `maxBytes`: the Content-Length, or the bytes received, or the cached file, exceed it; the
 * download stops there). Nothing partial is ever stored in the cache.
 */
import { cacheKey, progressStats, type ProgressStats } from "./full-size.js";

export type DownloadErrorCode = "http" | "interrupted" | "aborted" | "network" | "quota" | "too-large";

export class DownloadError extends Error {
  readonly code: DownloadErrorCode;
  constructor(code: DownloadErrorCode, message: string) {
    super(message);
    this.name = "DownloadError";
    this.code = code;
  }
}

/** The part of the Cache API used here. */
export interface CacheLike {
  match(key: string): Promise<Response | undefined>;
  put(key: string, response: Response): Promise<void>;
  delete?(key: string): Promise<boolean>;
}

export interface Progress extends ProgressStats {
  url: string;
  loaded: number;
  total: number | undefined;
}

export interface FetchCachedOptions {
  fetch: (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;
  /** no cache (e.g. caches is missing, or the reader turned it off): every load downloads */
  cache?: CacheLike;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  now?: () => number;
  /** refuse a file larger than this (a config.json or tokenizer.json: src/util/json-limits.ts) */
  maxBytes?: number;
}

export interface FetchCachedResult {
  bytes: Uint8Array;
  fromCache: boolean;
  cacheError?: string;
}

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return !!signal?.aborted || (e as { name?: string } | null)?.name === "AbortError";
}

function tooLarge(url: string, bytes: number, max: number): DownloadError {
  return new DownloadError(
    "too-large",
    `${url} is ${bytes} bytes or more, larger than the ${max} bytes this page reads for such a file`,
  );
}

export async function fetchCached(url: string, opts: FetchCachedOptions): Promise<FetchCachedResult> {
  const now = opts.now ?? (() => performance.now());
  const max = opts.maxBytes ?? Infinity;
  const key = cacheKey(url);
  if (opts.cache) {
    let hit: Response | undefined;
    try {
      hit = await opts.cache.match(key);
    } catch {
      hit = undefined; // an unreadable cache is a miss
    }
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      if (bytes.length > max) throw tooLarge(url, bytes.length, max);
      opts.onProgress?.({
        url,
        loaded: bytes.length,
        total: bytes.length,
        ...progressStats({ loaded: bytes.length, total: bytes.length, ms: 0 }),
      });
      return { bytes, fromCache: true };
    }
  }
  if (opts.signal?.aborted) throw new DownloadError("aborted", `the download of ${url} was stopped`);
  let res: Response;
  try {
    res = await opts.fetch(url, opts.signal ? { signal: opts.signal } : {});
  } catch (e) {
    if (isAbort(e, opts.signal)) throw new DownloadError("aborted", `the download of ${url} was stopped`);
    throw new DownloadError("network", `could not fetch ${url}: ${(e as Error)?.message ?? String(e)}`);
  }
  if (!res.ok) {
    throw new DownloadError(
      "http",
      `${url} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`,
    );
  }
  const header = res.headers.get("content-length");
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : undefined;
  if (total !== undefined && total > max) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(url, total, max);
  }
  const t0 = now();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const report = () =>
    opts.onProgress?.({ url, loaded, total, ...progressStats({ loaded, total, ms: now() - t0 }) });
  report();
  try {
    if (!res.body) {
      const b = new Uint8Array(await res.arrayBuffer());
      if (b.length > max) throw tooLarge(url, b.length, max);
      chunks.push(b);
      loaded = b.length;
    } else {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.length;
        if (loaded > max) {
          await reader.cancel().catch(() => undefined);
          throw tooLarge(url, loaded, max);
        }
        if (total !== undefined && loaded > total) {
          await reader.cancel().catch(() => undefined);
          throw new DownloadError(
            "interrupted",
            `${url} sent more bytes (${loaded}) than its Content-Length (${total})`,
          );
        }
        report();
      }
    }
  } catch (e) {
    if (e instanceof DownloadError) throw e;
    if (isAbort(e, opts.signal)) throw new DownloadError("aborted", `the download of ${url} was stopped`);
    throw new DownloadError(
      "interrupted",
      `the download of ${url} broke off after ${loaded} bytes: ${(e as Error)?.message ?? String(e)}`,
    );
  }
  if (total !== undefined && loaded !== total) {
    throw new DownloadError(
      "interrupted",
      `the download of ${url} ended after ${loaded} of ${total} bytes (connection interrupted?)`,
    );
  }
  report();
  let bytes: Uint8Array;
  if (chunks.length === 1) bytes = chunks[0];
  else {
    bytes = new Uint8Array(loaded);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.length;
    }
  }
  let cacheError: string | undefined;
  if (opts.cache) {
    try {
      // a copy: the caller may transfer `bytes` to a worker
      await opts.cache.put(
        key,
        new Response(bytes.slice(), {
          headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) },
        }),
      );
    } catch (e) {
      const name = (e as { name?: string } | null)?.name;
      cacheError =
        name === "QuotaExceededError"
          ? `not cached: the browser's storage quota is full (${((e as Error).message || name) ?? ""})`
          : `not cached: ${(e as Error)?.message ?? String(e)}`;
      await opts.cache.delete?.(key).catch(() => false);
    }
  }
  return { bytes, fromCache: false, ...(cacheError ? { cacheError } : {}) };
}

/** The part of the CacheStorage API (`caches`) the page's cache line and "Clear cached models" use. */
export interface CacheStorageLike {
  open(name: string): Promise<{
    keys(): Promise<readonly Request[]>;
    match(key: Request | string): Promise<Response | undefined>;
  }>;
  keys(): Promise<string[]>;
  delete(name: string): Promise<boolean>;
}

/** How many files the model cache holds and their bytes (from each stored response's Content-Length). */
export async function cacheSummary(
  storage: CacheStorageLike,
  name: string,
): Promise<{ files: number; bytes: number }> {
  const c = await storage.open(name);
  const keys = await c.keys();
  let bytes = 0;
  for (const k of keys) bytes += Number((await c.match(k))?.headers.get("content-length") ?? 0);
  return { files: keys.length, bytes };
}

/** Delete every cache whose name starts with `prefix` (all versions of the model cache); their names. */
export async function clearCaches(storage: CacheStorageLike, prefix: string): Promise<string[]> {
  const gone: string[] = [];
  for (const k of await storage.keys()) {
    if (k.startsWith(prefix) && (await storage.delete(k))) gone.push(k);
  }
  return gone;
}
