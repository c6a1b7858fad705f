import { describe, expect, it } from "vitest";
import {
  DownloadError,
  cacheSummary,
  clearCaches,
  fetchCached,
  type CacheLike,
  type CacheStorageLike,
} from "../../src/full-size/download.js";

/** A Map-backed Cache API stand-in. */
function memoryCache(opts: { failPut?: Error } = {}): CacheLike & { store: Map<string, Uint8Array> } {
  const store = new Map<string, Uint8Array>();
  return {
    store,
    async match(k) {
      const b = store.get(k);
      return b ? new Response(b.slice()) : undefined;
    },
    async put(k, r) {
      if (opts.failPut) throw opts.failPut;
      store.set(k, new Uint8Array(await r.arrayBuffer()));
    },
    async delete(k) {
      return store.delete(k);
    },
  };
}

/** A fetch whose body comes in the given chunks; `length` overrides Content-Length; `failAfter` breaks the stream. */
function fakeFetch(chunks: Uint8Array[], o: { length?: number; status?: number; failAfter?: number } = {}) {
  const calls: string[] = [];
  const f = async (url: string) => {
    calls.push(url);
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (o.failAfter !== undefined && i === o.failAfter) return c.error(new Error("connection reset"));
        if (i < chunks.length) c.enqueue(chunks[i++]);
        else c.close();
      },
    });
    const total = o.length ?? chunks.reduce((s, c) => s + c.length, 0);
    return new Response(body, { status: o.status ?? 200, headers: { "content-length": String(total) } });
  };
  return { f, calls };
}

describe("fetchCached", () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 255);
  const parts = [bytes.subarray(0, 300), bytes.subarray(300, 700), bytes.subarray(700)];

  it("downloads with progress, stores the file, and the second load makes no request", async () => {
    const cache = memoryCache();
    const { f, calls } = fakeFetch(parts);
    let t = 0;
    const seen: number[] = [];
    const r = await fetchCached("http://h/m.pth", {
      fetch: f,
      cache,
      now: () => (t += 100),
      onProgress: (p) => seen.push(p.loaded),
    });
    expect(r.fromCache).toBe(false);
    expect(Array.from(r.bytes)).toEqual(Array.from(bytes));
    expect(seen).toEqual([0, 300, 700, 1000, 1000]);
    const again = await fetchCached("http://h/m.pth", { fetch: f, cache });
    expect(again.fromCache).toBe(true);
    expect(Array.from(again.bytes)).toEqual(Array.from(bytes));
    expect(calls).toEqual(["http://h/m.pth"]);
  });

  it("a body shorter than its Content-Length is 'interrupted' and nothing is cached", async () => {
    const cache = memoryCache();
    const { f } = fakeFetch(parts.slice(0, 2), { length: 1000 });
    await expect(fetchCached("http://h/m.pth", { fetch: f, cache })).rejects.toMatchObject({
      code: "interrupted",
    });
    expect(cache.store.size).toBe(0);
  });

  it("a stream that breaks is 'interrupted'; HTTP 404 is 'http'; a stopped download is 'aborted'", async () => {
    const broken = fakeFetch(parts, { failAfter: 1 });
    await expect(fetchCached("http://h/a", { fetch: broken.f })).rejects.toMatchObject({
      code: "interrupted",
    });
    const missing = fakeFetch([], { status: 404 });
    const e = await fetchCached("http://h/b", { fetch: missing.f }).catch((x) => x);
    expect(e).toBeInstanceOf(DownloadError);
    expect(e.code).toBe("http");
    expect(e.message).toContain("404");
    const ac = new AbortController();
    ac.abort();
    await expect(
      fetchCached("http://h/c", { fetch: fakeFetch(parts).f, signal: ac.signal }),
    ).rejects.toMatchObject({
      code: "aborted",
    });
  });

  it("a full quota still returns the bytes, with the reason they were not cached", async () => {
    const q = new Error("quota exceeded");
    q.name = "QuotaExceededError";
    const cache = memoryCache({ failPut: q });
    const r = await fetchCached("http://h/m.pth", { fetch: fakeFetch(parts).f, cache });
    expect(r.bytes.length).toBe(1000);
    expect(r.cacheError).toMatch(/quota is full/);
    expect(cache.store.size).toBe(0);
  });
});

describe("fetchCached with a size cap (a config.json or tokenizer.json)", () => {
  const bytes = new Uint8Array(1000);
  const parts = [bytes.subarray(0, 400), bytes.subarray(400, 800), bytes.subarray(800)];

  it("refuses a Content-Length over the cap before reading the body, and stores nothing", async () => {
    const cache = memoryCache();
    const seen: number[] = [];
    const e = await fetchCached("http://h/config.json", {
      fetch: fakeFetch(parts).f,
      cache,
      maxBytes: 999,
      onProgress: (p) => seen.push(p.loaded),
    }).catch((x) => x);
    expect(e).toBeInstanceOf(DownloadError);
    expect(e.code).toBe("too-large");
    expect(e.message).toBe(
      "http://h/config.json is 1000 bytes or more, larger than the 999 bytes this page reads for such a file",
    );
    expect(seen).toEqual([]);
    expect(cache.store.size).toBe(0);
  });

  it("without a Content-Length, stops as soon as the bytes received pass the cap", async () => {
    let pulled = 0;
    const f = async () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(c) {
            if (pulled < 10) c.enqueue(new Uint8Array(100).fill(pulled++));
            else c.close();
          },
        }),
      );
    await expect(fetchCached("http://h/t.json", { fetch: f, maxBytes: 250 })).rejects.toMatchObject({
      code: "too-large",
      message: expect.stringContaining("is 300 bytes or more"),
    });
    // three chunks read, at most one more queued by the stream: the other six are never asked for
    expect(pulled).toBeLessThanOrEqual(4);
  });

  it("a file exactly at the cap loads; a cached file over the cap is refused too", async () => {
    const cache = memoryCache();
    const r = await fetchCached("http://h/x.json", { fetch: fakeFetch(parts).f, cache, maxBytes: 1000 });
    expect(r.bytes.length).toBe(1000);
    await expect(
      fetchCached("http://h/x.json", { fetch: fakeFetch(parts).f, cache, maxBytes: 10 }),
    ).rejects.toMatchObject({ code: "too-large" });
  });
});

describe("the model cache's summary line and clearing", () => {
  /** A CacheStorage stand-in: named caches of (url -> body with a Content-Length). */
  function storage(named: Record<string, Record<string, number>>): CacheStorageLike {
    const caches = new Map(Object.entries(named).map(([k, v]) => [k, new Map(Object.entries(v))]));
    return {
      async open(name) {
        const c = caches.get(name) ?? new Map<string, number>();
        caches.set(name, c);
        return {
          keys: async () => [...c.keys()].map((u) => new Request(u)),
          match: async (k) => {
            const n = c.get(typeof k === "string" ? k : k.url);
            return n === undefined
              ? undefined
              : new Response("", { headers: { "content-length": String(n) } });
          },
        };
      },
      keys: async () => [...caches.keys()],
      delete: async (name) => caches.delete(name),
    };
  }

  it("counts the files and adds up their Content-Lengths", async () => {
    const s = storage({ "models-v1": { "http://h/a.pth": 338_718_755, "http://h/t.json": 2_467_981 } });
    expect(await cacheSummary(s, "models-v1")).toEqual({ files: 2, bytes: 338_718_755 + 2_467_981 });
    expect(await cacheSummary(s, "models-v2")).toEqual({ files: 0, bytes: 0 });
  });

  it("clearing deletes every version of the model cache and nothing else", async () => {
    const s = storage({ "models-v0": { "http://h/a": 1 }, "models-v1": {}, "other-v1": { "http://h/b": 2 } });
    expect((await clearCaches(s, "models-")).sort()).toEqual(["models-v0", "models-v1"]);
    expect(await s.keys()).toEqual(["other-v1"]);
  });
});
