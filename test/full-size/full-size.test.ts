import { describe, expect, it } from "vitest";
import { CheckpointError } from "../../src/rwkv/checkpoint/index.js";
import { loadRwkvCheckpoint } from "../../src/rwkv/checkpoint/index.js";
import { DownloadError, fetchCached, type CacheLike } from "../../src/full-size/download.js";
import {
  MODEL_CACHE,
  MODELS,
  cacheKey,
  cumulative,
  fileKind,
  formatBytes,
  hubBase,
  kvCacheNumbers,
  loadErrorMessage,
  memoryRows,
  modelById,
  modelFiles,
  progressStats,
  slope,
  stateNumbers,
  topK,
} from "../../src/full-size/full-size.js";
import { readFileSync } from "node:fs";
import path from "node:path";

const fixtures = path.resolve(import.meta.dirname, "../fixtures/checkpoints");

describe("catalogue and hub base", () => {
  it("the default hub is huggingface.co and ?hub= replaces it (http/https only)", () => {
    expect(hubBase("")).toBe("https://huggingface.co");
    expect(hubBase("?hub=http%3A%2F%2F127.0.0.1%3A8123%2Fhub%2F")).toBe("http://127.0.0.1:8123/hub");
    expect(hubBase("?hub=javascript:alert(1)")).toBe("https://huggingface.co");
    expect(hubBase("?hub=not a url")).toBe("https://huggingface.co");
  });

  it("the 169M files are BlinkDL's .pth (338,718,755 bytes) and the HF repo's three files", () => {
    const blink = modelFiles(modelById("rwkv-4-pile-169m")!);
    expect(blink[0].url).toBe(
      "https://huggingface.co/BlinkDL/rwkv-4-pile-169m/resolve/main/RWKV-4-Pile-169M-20220807-8023.pth",
    );
    expect(blink[0].bytes).toBe(338718755);
    const hf = modelFiles(modelById("rwkv-4-169m-pile-hf")!, "http://127.0.0.1:9/x/");
    expect(hf.map((f) => f.url)).toEqual([
      "http://127.0.0.1:9/x/RWKV/rwkv-4-169m-pile/resolve/main/pytorch_model.bin",
      "http://127.0.0.1:9/x/RWKV/rwkv-4-169m-pile/resolve/main/config.json",
      "http://127.0.0.1:9/x/RWKV/rwkv-4-169m-pile/resolve/main/tokenizer.json",
    ]);
    expect(MODELS.filter((m) => m.synthetic).map((m) => m.id)).toEqual(["synthetic-small", "synthetic-169m"]);
    // synthetic-169m has the paper's 169M shape: 2VD + 13 D^2 L + D(11L + 4) = 169,342,464
    const s = modelById("synthetic-169m")!.synthetic!;
    const { vocabSize: V, nEmbd: D, nLayer: L } = s;
    expect(2 * V * D + 13 * D * D * L + D * (11 * L + 4)).toBe(169342464);
  });

  it("the cache name carries a version and keys drop the fragment", () => {
    expect(MODEL_CACHE).toMatch(/-v\d+$/);
    expect(cacheKey("http://a.b/c.pth#x")).toBe("http://a.b/c.pth");
    expect(cacheKey("/c.pth", "http://127.0.0.1:5/p")).toBe("http://127.0.0.1:5/c.pth");
  });
});

describe("progress maths", () => {
  it("fraction, speed and time left", () => {
    // 25 MB of 100 MB in 2 s: 12.5 MB/s, 75 MB left -> 6 s
    const p = progressStats({ loaded: 25e6, total: 100e6, ms: 2000 });
    expect(p.fraction).toBe(0.25);
    expect(p.bytesPerSecond).toBe(12.5e6);
    expect(p.etaSeconds).toBe(6);
  });
  it("no Content-Length: no fraction, no ETA; no time yet: no speed", () => {
    expect(progressStats({ loaded: 10, ms: 1000 })).toEqual({
      fraction: undefined,
      bytesPerSecond: 10,
      etaSeconds: undefined,
    });
    expect(progressStats({ loaded: 0, total: 10, ms: 0 }).etaSeconds).toBeUndefined();
  });
  it("formats sizes", () => {
    expect(formatBytes(338718755)).toBe("339 MB");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1500)).toBe("1.50 kB");
  });
});

describe("memory and statistics", () => {
  it("RWKV state 5LC against KV cache 2LTC (169M: 46,080 numbers against 18,432 per token)", () => {
    expect(stateNumbers(12, 768)).toBe(46080);
    expect(kvCacheNumbers(12, 768, 1)).toBe(18432);
    expect(kvCacheNumbers(12, 768, 1024)).toBe(18874368);
    const rows = memoryRows(12, 768, [1, 1024]);
    expect(rows[1]).toEqual({ T: 1024, rwkvBytes: 184320, kvBytes: 75497472 });
    // the KV cache passes the state at T = 5/2 = 2.5 tokens
    expect(kvCacheNumbers(12, 768, 2)).toBeLessThan(stateNumbers(12, 768));
    expect(kvCacheNumbers(12, 768, 3)).toBeGreaterThan(stateNumbers(12, 768));
  });
  it("topK returns the largest entries of a row, largest first", () => {
    const a = Float32Array.from([0, 9, 3, 7, 1, 5, 2, 8, /* row 1 */ 1, 1, 1, 1, 1, 1, 1, 4]);
    expect(topK(a, 8, 3, 0)).toEqual([
      [1, 9],
      [7, 8],
      [3, 7],
    ]);
    expect(topK(a, 8, 1, 1)).toEqual([[7, 4]]);
    expect(() => topK(a, 8, 1, 2)).toThrow(RangeError);
  });
  it("cumulative sums and slope", () => {
    expect(cumulative([1, 2, 3])).toEqual([1, 3, 6]);
    expect(slope([0, 1, 2, 3], [1, 3, 5, 7])).toBeCloseTo(2, 12);
    expect(slope([0, 1, 2], [4, 4, 4])).toBe(0);
  });
  it("file kinds from names", () => {
    expect(fileKind("RWKV-4-Pile-169M-20220807-8023.pth")).toBe("checkpoint");
    expect(fileKind("model.safetensors")).toBe("checkpoint");
    expect(fileKind("tokenizer.json")).toBe("tokenizer");
    expect(fileKind("config.json")).toBe("config");
    expect(fileKind("notes.txt")).toBe("other");
  });
});

describe("load error messages", () => {
  it("another architecture's checkpoint is named in the message (RWKV-5 and GPT-2 fixtures)", () => {
    for (const [file, arch] of [
      ["rwkv5-like.pth", "RWKV-5"],
      ["gpt2-like.pth", "GPT-2"],
    ]) {
      let err: unknown;
      try {
        loadRwkvCheckpoint(readFileSync(path.join(fixtures, file)));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CheckpointError);
      const m = loadErrorMessage(err);
      expect(m).toMatch(/^Not an RWKV-4 checkpoint/);
      expect(m).toContain(arch);
    }
  });
  it("a text file is not a model file; a cut file is damaged", () => {
    let err: unknown;
    try {
      loadRwkvCheckpoint(new TextEncoder().encode("<!doctype html><html>not found</html>"));
    } catch (e) {
      err = e;
    }
    expect(loadErrorMessage(err)).toMatch(/^Not a model file this page can read/);
    const good = readFileSync(path.join(fixtures, "blinkdl-bf16.pth"));
    try {
      loadRwkvCheckpoint(good.subarray(0, good.length >> 1));
      err = undefined;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    expect(loadErrorMessage(err)).toMatch(/damaged or incomplete|cannot|not a model file/i);
  });
  it("errors across the worker keep their code as a plain property", () => {
    const e = Object.assign(new Error("this is a RWKV-7 (Goose) checkpoint"), {
      code: "unsupported-architecture",
    });
    expect(loadErrorMessage(e)).toContain("RWKV-4 only");
    const q = new Error("quota");
    q.name = "QuotaExceededError";
    expect(loadErrorMessage(q)).toMatch(/storage is full/);
  });
});

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
