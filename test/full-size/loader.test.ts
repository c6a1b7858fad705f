import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadRwkvCheckpoint } from "../../src/rwkv/checkpoint/index.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { CacheLike } from "../../src/full-size/download.js";
import { PILE_169M_SHAPE, SMALL_SHAPE } from "../../src/full-size/full-size.js";
import {
  loadModel,
  planLoad,
  tokenizerUse,
  type GptModelClient,
  type LoadRequest,
  type LoaderDeps,
  type LocalFile,
  type RwkvModelClient,
} from "../../src/full-size/loader.js";
import type { LoadContext, LoadProgress } from "../../src/full-size/state.js";
import type { GptSyntheticShape, InitResult, ModelSource } from "../../src/runtime/protocol.js";
import { CONFIG_JSON_LIMITS, TOKENIZER_JSON_LIMITS } from "../../src/util/json-limits.js";

const HUB = "http://127.0.0.1:9/hub";
const FIXTURES = path.resolve(import.meta.dirname, "../fixtures/checkpoints");

/** A local file whose reads are counted. */
function file(name: string, size: number, fill = 0): LocalFile & { reads: number } {
  const f = {
    name,
    size,
    reads: 0,
    async arrayBuffer() {
      f.reads++;
      return new Uint8Array(size).fill(fill).buffer;
    },
  };
  return f;
}

/** A fake RWKV worker client for a shape; records the source it was started with. */
function fakeRwkv(source: ModelSource, ep: "wasm" | "webgpu", tokenizer?: InitResult["tokenizer"]) {
  const config =
    "synthetic" in source
      ? source.synthetic
      : { nLayer: 2, nEmbd: 128, ffnSize: 512, vocabSize: 37, layerNormEps: 1e-5 };
  const init = {
    ep,
    config,
    buildSeconds: 0.1,
    ortVersion: "test",
    stateLocation: "cpu",
    weights: "fp32",
    ...(tokenizer ? { tokenizer } : {}),
  } as InitResult;
  return {
    ep,
    fallbackReason: undefined,
    init,
    config,
    source,
  } as unknown as RwkvModelClient & { source: ModelSource };
}

interface Harness {
  deps: LoaderDeps;
  started: { source: ModelSource; ep: string; signal: AbortSignal }[];
  gpts: { shape: GptSyntheticShape; signal: AbortSignal }[];
  requests: string[];
  cacheChanged: number;
}

function harness(
  o: { files?: Record<string, Uint8Array>; tokenizer?: InitResult["tokenizer"]; cache?: CacheLike } = {},
): Harness {
  const h: Harness = { started: [], gpts: [], requests: [], cacheChanged: 0 } as unknown as Harness;
  h.deps = {
    hubBase: HUB,
    // the loopback hub stands for an allowed one here; the confirmation has its own tests
    hubTrusted: true,
    fetch: async (url) => {
      h.requests.push(url);
      const body = o.files?.[url];
      return body
        ? new Response(body.slice(), { headers: { "content-length": String(body.length) } })
        : new Response("", { status: 404 });
    },
    openCache: async () => o.cache,
    chooseEp: async () => ({ ep: "wasm", reason: "this browser has no WebGPU" }),
    createRwkv: async (source, ep, signal) => {
      h.started.push({ source, ep, signal });
      return fakeRwkv(source, "wasm", o.tokenizer);
    },
    createGpt: async (shape, _ep, signal) => {
      h.gpts.push({ shape, signal });
      return { ep: "wasm", info: { parameterCount: 1, buildSeconds: 0 } } as unknown as GptModelClient;
    },
    cacheChanged: () => void h.cacheChanged++,
  };
  return h;
}

function context(controller = new AbortController()) {
  const progress: LoadProgress[] = [];
  let fallback: string | (() => string | undefined) | undefined;
  const ctx: LoadContext = {
    signal: controller.signal,
    progress: (p) => progress.push(p),
    name: () => undefined,
    setFallback: (r) => (fallback = r),
  };
  return {
    ctx,
    progress,
    controller,
    fallback: () => (typeof fallback === "function" ? fallback() : fallback),
  };
}

const req = (
  r: LoadRequest extends infer X ? (X extends { seq: number } ? Omit<X, "seq"> : never) : never,
  seq = 1,
) => ({ seq, ...r }) as LoadRequest;

describe("planLoad: which files make a request", () => {
  it("a catalogue entry: a synthetic shape, or its files under the hub base", () => {
    expect(planLoad(req({ kind: "model", id: "synthetic-169m" }), HUB)).toEqual({
      name: "synthetic-169m (the 169M shapes, random weights)",
      synthetic: PILE_169M_SHAPE,
      files: [],
    });
    const p = planLoad(req({ kind: "model", id: "rwkv-4-169m-pile-hf" }), HUB);
    expect(p.files.map((f) => [f.role, f.url])).toEqual([
      ["weights", `${HUB}/RWKV/rwkv-4-169m-pile/resolve/main/pytorch_model.bin`],
      ["config", `${HUB}/RWKV/rwkv-4-169m-pile/resolve/main/config.json`],
      ["tokenizer", `${HUB}/RWKV/rwkv-4-169m-pile/resolve/main/tokenizer.json`],
    ]);
    expect(() => planLoad(req({ kind: "model", id: "nope" }), HUB)).toThrow("unknown model nope");
  });

  it("a URL must be http(s); its optional config and tokenizer URLs come along", () => {
    expect(() => planLoad(req({ kind: "url", url: "file:///etc/passwd" }), HUB)).toThrow(
      /starting with https:/,
    );
    const p = planLoad(
      req({ kind: "url", url: "https://x/m/model.pth", tokenizerUrl: "https://x/t.json" }),
      HUB,
    );
    expect(p).toEqual({
      name: "model.pth",
      files: [
        { role: "weights", url: "https://x/m/model.pth" },
        { role: "tokenizer", url: "https://x/t.json" },
      ],
    });
  });

  it("a refused ?weights= path is the load's error, in the reader's words", () => {
    expect(() =>
      planLoad(req({ kind: "url", url: "", refused: "?weights= takes a path on this site" }), HUB),
    ).toThrow("?weights= takes a path on this site");
  });

  it("local files: the checkpoint by its extension, config.json and tokenizer.json beside it", () => {
    const ck = file("model.safetensors", 10);
    const cfg = file("config.json", 10);
    const tk = file("tokenizer.json", 10);
    expect(planLoad(req({ kind: "file", files: [tk, cfg, ck] }), HUB)).toEqual({
      name: "model.safetensors",
      files: [],
      local: { checkpoint: ck, config: cfg, tokenizer: tk },
    });
    expect(() => planLoad(req({ kind: "file", files: [] }), HUB)).toThrow("Pick a checkpoint file first.");
    expect(() => planLoad(req({ kind: "file", files: [cfg] }), HUB)).toThrow(
      /None of these files is a checkpoint/,
    );
  });
});

describe("tokenizerUse: prompts through the tokenizer, or token ids and why", () => {
  it("uses a tokenizer that fits the model's vocabulary, and says why not otherwise", () => {
    expect(tokenizerUse({ synthetic: false, summary: { vocabSize: 50254 }, modelVocab: 50277 })).toEqual({
      vocab: 50254,
      note: "tokenizer.json (50,254 tokens)",
    });
    expect(
      tokenizerUse({ synthetic: false, summary: { vocabSize: 50277 }, modelVocab: 50 }).vocab,
    ).toBeUndefined();
    expect(tokenizerUse({ synthetic: true, summary: { vocabSize: 5 }, modelVocab: 50 })).toEqual({
      note: "synthetic model: the inputs are token ids, not text",
    });
    expect(tokenizerUse({ synthetic: false, modelVocab: 50 }).note).toBe(
      "no tokenizer.json: the inputs are token ids",
    );
    expect(
      tokenizerUse({ synthetic: false, summary: { error: "tokenizer.json is nested …" }, modelVocab: 50 }),
    ).toEqual({
      note: "the tokenizer could not be read (tokenizer.json is nested …): token ids are used instead",
    });
  });
});

describe("loadModel", () => {
  it("a config.json over its size limit fails the load before any file is read", async () => {
    const h = harness();
    const ck = file("model.pth", 1000);
    const cfg = file("config.json", CONFIG_JSON_LIMITS.maxBytes + 1);
    const { ctx } = context();
    await expect(loadModel(req({ kind: "file", files: [ck, cfg] }), h.deps, ctx)).rejects.toMatchObject({
      code: "json-too-large",
    });
    expect([ck.reads, cfg.reads]).toEqual([0, 0]);
    expect(h.started).toEqual([]);
  });

  it("the reader's files go to the worker as bytes (nothing parsed here); a tokenizer over its limit is left out", async () => {
    const h = harness();
    const ck = file("model.pth", 1000, 7);
    const cfg = file("config.json", 20, 0x20);
    const tk = file("tokenizer.json", TOKENIZER_JSON_LIMITS.maxBytes + 1);
    const { ctx, progress } = context();
    const m = await loadModel(req({ kind: "file", files: [ck, cfg, tk] }), h.deps, ctx);
    const source = h.started[0].source as Extract<ModelSource, { checkpoint: Uint8Array }>;
    expect(source.checkpoint).toEqual(new Uint8Array(1000).fill(7));
    expect(source.hfConfigJson).toEqual(new Uint8Array(20).fill(0x20));
    expect(source.tokenizerJson).toBeUndefined();
    expect(tk.reads).toBe(0);
    expect(m.origin).toBe("local file");
    expect(m.tokenizerVocab).toBeUndefined();
    expect(m.tokenizerNote).toMatch(
      /^the tokenizer could not be read \(tokenizer.json is 16.0 MiB, more than/,
    );
    expect(progress.map((p) => p.phase)).toEqual(["reading", "building"]);
  });

  it("downloads through the cache with progress; the second load comes from the cache", async () => {
    const url = (p: string) => `${HUB}/RWKV/rwkv-4-169m-pile/resolve/main/${p}`;
    const files = {
      [url("pytorch_model.bin")]: new Uint8Array(3000).fill(1),
      [url("config.json")]: new TextEncoder().encode('{"hidden_size": 128}'),
      [url("tokenizer.json")]: new TextEncoder().encode('{"model": {}}'),
    };
    const store = new Map<string, Uint8Array>();
    const cache: CacheLike = {
      match: async (k) => (store.has(k) ? new Response(store.get(k)!.slice()) : undefined),
      put: async (k, r) => void store.set(k, new Uint8Array(await r.arrayBuffer())),
    };
    const h = harness({ files, cache, tokenizer: { vocabSize: 32 } });
    const first = context();
    const m = await loadModel(req({ kind: "model", id: "rwkv-4-169m-pile-hf" }), h.deps, first.ctx);
    expect(m.origin).toBe("download");
    expect(m.tokenizerVocab).toBe(32);
    expect(h.requests).toEqual(Object.keys(files));
    expect(h.cacheChanged).toBe(1);
    const downloads = first.progress.filter((p) => p.phase === "download");
    expect(downloads.at(-1)).toMatchObject({ loaded: 13, total: 13 });
    const source = h.started[0].source as Extract<ModelSource, { checkpoint: Uint8Array }>;
    expect(new TextDecoder().decode(source.hfConfigJson)).toBe('{"hidden_size": 128}');
    const again = await loadModel(
      req({ kind: "model", id: "rwkv-4-169m-pile-hf" }, 2),
      h.deps,
      context().ctx,
    );
    expect(again.origin).toBe("browser cache");
    expect(h.requests.length).toBe(3);
  });

  it("a hub off the allow-list is used only after the reader confirms its host (asked before any request)", async () => {
    const url = `${HUB}/RWKV/rwkv-4-169m-pile/resolve/main/pytorch_model.bin`;
    const files = {
      [url]: new Uint8Array(3000).fill(1),
      [url.replace("pytorch_model.bin", "config.json")]: new TextEncoder().encode("{}"),
      [url.replace("pytorch_model.bin", "tokenizer.json")]: new TextEncoder().encode("{}"),
    };
    const asked: string[] = [];
    for (const answer of [undefined, false]) {
      const h = harness({ files });
      h.deps.hubTrusted = false;
      if (answer !== undefined) h.deps.confirmHub = async (host) => (asked.push(host), answer);
      await expect(
        loadModel(req({ kind: "model", id: "rwkv-4-169m-pile-hf" }), h.deps, context().ctx),
      ).rejects.toThrow("Not downloading from 127.0.0.1:9");
      expect(h.requests).toEqual([]);
      expect(h.started).toEqual([]);
    }
    expect(asked).toEqual(["127.0.0.1:9"]);
    // confirmed: the files come from that host; a synthetic entry never asks
    const h = harness({ files });
    h.deps.hubTrusted = false;
    h.deps.confirmHub = async (host) => (asked.push(host), true);
    await loadModel(req({ kind: "model", id: "rwkv-4-169m-pile-hf" }), h.deps, context().ctx);
    expect(h.requests[0]).toBe(url);
    await loadModel(req({ kind: "model", id: "synthetic-small" }, 2), h.deps, context().ctx);
    expect(asked).toEqual(["127.0.0.1:9", "127.0.0.1:9"]);
  });

  it("a synthetic entry starts the worker on its shape; the EP policy's reason is the fallback reason", async () => {
    const h = harness();
    const c = context();
    const m = await loadModel(req({ kind: "model", id: "synthetic-small" }), h.deps, c.ctx);
    expect(h.started[0].source).toEqual({ synthetic: SMALL_SHAPE, seed: 0 });
    expect(h.started[0].ep).toBe("wasm");
    expect(m.synthetic).toBe(true);
    expect(m.tokenizerNote).toBe("synthetic model: the inputs are token ids, not text");
    expect(c.fallback()).toBe("this browser has no WebGPU");
  });

  it("the transformer is built once, on first need, with heads of 64 channels; dispose ends both workers", async () => {
    const h = harness();
    const c = context();
    const m = await loadModel(req({ kind: "model", id: "synthetic-169m" }), h.deps, c.ctx);
    expect(h.gpts).toEqual([]);
    await Promise.all([m.gpt(), m.gpt()]);
    expect(h.gpts.map((g) => g.shape)).toEqual([
      { nLayer: 12, nEmbd: 768, nHead: 12, vocabSize: 50277, blockSize: 1024, seed: 1 },
    ]);
    // the load is over: aborting its context no longer touches the model
    c.controller.abort();
    expect(h.started[0].signal.aborted).toBe(false);
    m.dispose();
    expect(h.started[0].signal.aborted).toBe(true);
    expect(h.gpts[0].signal.aborted).toBe(true);
  });

  it("a load aborted while its worker starts ends that worker and fails", async () => {
    const h = harness();
    const c = context();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const create = h.deps.createRwkv;
    h.deps.createRwkv = async (source, ep, signal) => {
      await gate;
      return create(source, ep, signal);
    };
    const p = loadModel(req({ kind: "model", id: "synthetic-small" }), h.deps, c.ctx);
    await new Promise((r) => setTimeout(r, 0));
    c.controller.abort();
    release();
    await expect(p).rejects.toThrow("another model was asked for");
    expect(h.started[0].signal.aborted).toBe(true);
  });
});

describe("referenceWeights: the loaded weights again, on the page, for the reference model", () => {
  it("a synthetic model is made again from its seed: the worker's weights", async () => {
    const h = harness();
    const m = await loadModel(req({ kind: "model", id: "synthetic-small" }), h.deps, context().ctx);
    const w = await m.referenceWeights();
    const expected = syntheticWeights(SMALL_SHAPE, 0);
    expect(w.config).toEqual(expected.config);
    expect(w.emb).toEqual(expected.emb);
    expect(w.blocks[3].ffn.Wv).toEqual(expected.blocks[3].ffn.Wv);
  });

  it("a reader's file is read again and parsed as the worker parses it", async () => {
    const bytes = new Uint8Array(readFileSync(path.join(FIXTURES, "blinkdl-f32.safetensors")));
    const ck: LocalFile & { reads: number } = {
      name: "blinkdl-f32.safetensors",
      size: bytes.length,
      reads: 0,
      async arrayBuffer() {
        ck.reads++;
        return bytes.slice().buffer;
      },
    };
    const h = harness();
    const m = await loadModel(req({ kind: "file", files: [ck] }), h.deps, context().ctx);
    const readsAtLoad = ck.reads;
    const w = await m.referenceWeights();
    expect(ck.reads).toBe(readsAtLoad + 1);
    const expected = loadRwkvCheckpoint(bytes).weights;
    expect(w.config).toEqual(expected.config);
    expect(w.head).toEqual(expected.head);
  });
});
