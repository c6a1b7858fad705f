import { describe, expect, it } from "vitest";
import { CheckpointError } from "../../src/rwkv/checkpoint/index.js";
import { loadRwkvCheckpoint } from "../../src/rwkv/checkpoint/index.js";
import {
  MODEL_CACHE,
  MODELS,
  cacheKey,
  cumulative,
  fileKind,
  formatBytes,
  hubBase,
  hubChoice,
  kvCacheNumbers,
  loadErrorMessage,
  memoryRows,
  modelById,
  modelFiles,
  progressStats,
  slope,
  stateNumbers,
  topK,
  weightsParam,
} from "../../src/full-size/full-size.js";
import { readFileSync } from "node:fs";
import path from "node:path";

const fixtures = path.resolve(import.meta.dirname, "../fixtures/checkpoints");

describe("catalogue and hub base", () => {
  it("hubChoice: the Hub and the page's own origin are allowed; any other ?hub= host must be confirmed", () => {
    const page = "https://group.example.org";
    expect(hubChoice("", page)).toEqual({
      base: "https://huggingface.co",
      host: "huggingface.co",
      trusted: true,
    });
    expect(hubChoice("?hub=https%3A%2F%2Fgroup.example.org%2Fmirror", page)).toMatchObject({
      host: "group.example.org",
      trusted: true,
    });
    expect(hubChoice("?hub=https%3A%2F%2Fevil.example%2Fhub", page)).toEqual({
      base: "https://evil.example/hub",
      host: "evil.example",
      trusted: false,
    });
    // same host name, other scheme or port: another origin
    expect(hubChoice("?hub=http%3A%2F%2Fgroup.example.org%2F", page).trusted).toBe(false);
    expect(hubChoice("?hub=https%3A%2F%2Fhuggingface.co.evil.example%2F", page).trusted).toBe(false);
  });

  it("the default hub is huggingface.co and ?hub= replaces it (http/https only)", () => {
    expect(hubBase("")).toBe("https://huggingface.co");
    expect(hubBase("?hub=http%3A%2F%2F127.0.0.1%3A8123%2Fhub%2F")).toBe("http://127.0.0.1:8123/hub");
    expect(hubBase("?hub=javascript:alert(1)")).toBe("https://huggingface.co");
    expect(hubBase("?hub=not a url")).toBe("https://huggingface.co");
  });

  it("?weights= is a precision, or a checkpoint copied next to the site (same origin only)", () => {
    const page = "http://127.0.0.1:8000/rwkv/full-size.html?x=1";
    expect(weightsParam("", page)).toEqual({ precision: "fp32" });
    expect(weightsParam("?weights=fp16", page)).toEqual({ precision: "fp16" });
    expect(weightsParam("?weights=fp32", page)).toEqual({ precision: "fp32" });
    // a path resolves against the page: next to the site, under its sub-path
    expect(
      weightsParam(
        "?weights=models/RWKV-4-Pile-169M-20220807-8023.pth&tokenizer=models/tokenizer.json&config=/c/config.json",
        page,
      ),
    ).toEqual({
      precision: "fp32",
      site: {
        url: "http://127.0.0.1:8000/rwkv/models/RWKV-4-Pile-169M-20220807-8023.pth",
        tokenizerUrl: "http://127.0.0.1:8000/rwkv/models/tokenizer.json",
        configUrl: "http://127.0.0.1:8000/c/config.json",
      },
    });
    // ?precision= goes with a path (a copied checkpoint in fp16), and wins over ?weights=fp16|fp32
    expect(weightsParam("?weights=models/x.pth&precision=fp16", page)).toEqual({
      precision: "fp16",
      site: { url: "http://127.0.0.1:8000/rwkv/models/x.pth" },
    });
    expect(weightsParam("?precision=fp16", page)).toEqual({ precision: "fp16" });
    expect(weightsParam("?weights=fp16&precision=fp32", page)).toEqual({ precision: "fp32" });
    expect(weightsParam("?weights=models/x.pth&precision=fp8", page).precision).toBe("fp32");
    expect(weightsParam("?weights=https://elsewhere.example/x.pth&precision=fp16", page)).toMatchObject({
      precision: "fp16",
      refused: expect.stringMatching(/takes a path on this site/),
    });
    // another host (the venue's network) is refused, with the reader's message
    for (const search of [
      "?weights=https://huggingface.co/x.pth",
      "?weights=//evil.example/x.pth",
      "?weights=models/x.pth&tokenizer=https://elsewhere.example/t.json",
    ]) {
      const r = weightsParam(search, page);
      expect(r.site, search).toBeUndefined();
      expect(r.refused, search).toMatch(/takes a path on this site/);
    }
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
  it("a JSON file over its limits and a download over its cap say so, with the file's own message", () => {
    const deep = Object.assign(new Error("config.json is nested more than 32 levels deep"), {
      code: "json-too-deep",
    });
    expect(loadErrorMessage(deep)).toBe(
      "The files were not loaded: config.json is nested more than 32 levels deep.",
    );
    const big = Object.assign(new Error("http://h/config.json is 2000000 bytes or more"), {
      code: "too-large",
    });
    expect(loadErrorMessage(big)).toBe(
      "The download was stopped: http://h/config.json is 2000000 bytes or more.",
    );
  });
});
