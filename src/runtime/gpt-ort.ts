/**
 * The transformer baseline (src/onnx/gpt-graph.ts) on onnxruntime-web, with its KV cache carried between calls
 * as ORT tensors. `ort` is passed in (type-only import), as in ./rwkv-ort.ts. Calls are serialised.
 */
import type * as Ort from "onnxruntime-web";
import { GPT_NAMES, buildGptGraph } from "../onnx/gpt-graph.js";
import type { GptConfig, GptWeights } from "../transformer/gpt.js";
import {
  OrtRwkvError,
  PromptTooLongError,
  SessionBuildError,
  TokenOutOfRangeError,
  messageOf,
} from "./errors.js";
import { SerialQueue } from "../util/serial.js";

export interface GptCache {
  /** tokens held */
  readonly length: number;
  /** [L, length, C] each */
  readonly k: Ort.Tensor;
  readonly v: Ort.Tensor;
}

export interface GptRunResult {
  /** (T, V) row-major */
  logits: Float32Array;
  cache: GptCache;
  /** with `attention: true`: per layer (H, T, P+T) row-major, query rows t over keys 0 .. P+T-1 */
  attention?: Float32Array[];
}

/** Additive mask for T new tokens after P cached ones: 0 where key j <= P + t, else MASKED. */
export const GPT_MASKED = -1e30;

export class OrtGpt {
  private readonly queue = new SerialQueue();

  private constructor(
    private readonly ort: typeof Ort,
    readonly ep: "wasm" | "webgpu",
    readonly config: GptConfig,
    private readonly session: Ort.InferenceSession,
    readonly attention: boolean,
  ) {}

  static async create(
    ort: typeof Ort,
    weights: GptWeights,
    opts: {
      ep?: "wasm" | "webgpu";
      attention?: boolean;
      logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
      /** WebGPU: the GPUDevice to run on (see OrtRwkvOptions.device) */
      device?: unknown;
    } = {},
  ): Promise<OrtGpt> {
    const ep = opts.ep ?? "wasm";
    const bytes = buildGptGraph(weights, { attention: !!opts.attention });
    let session: Ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, {
        executionProviders: [ep === "webgpu" && opts.device ? { name: "webgpu", device: opts.device } : ep],
        graphOptimizationLevel: "all",
        logSeverityLevel: opts.logSeverityLevel ?? 3,
      });
    } catch (e) {
      throw new SessionBuildError(ep, e);
    }
    return new OrtGpt(ort, ep, weights.config, session, !!opts.attention);
  }

  /** An empty KV cache. */
  newCache(): GptCache {
    const { nLayer: L, nEmbd: C } = this.config;
    return {
      length: 0,
      k: new this.ort.Tensor("float32", new Float32Array(0), [L, 0, C]),
      v: new this.ort.Tensor("float32", new Float32Array(0), [L, 0, C]),
    };
  }

  /** T new tokens after the cached ones -> logits (T, V) and the grown cache (the input cache is unchanged). */
  forward(tokens: ArrayLike<number>, cache?: GptCache): Promise<GptRunResult> {
    return this.queue.run(() => this.run(tokens, cache ?? this.newCache()));
  }

  /** One token with the KV cache (decoding). */
  step(token: number, cache: GptCache): Promise<GptRunResult> {
    return this.forward([token], cache);
  }

  private async run(tokens: ArrayLike<number>, cache: GptCache): Promise<GptRunResult> {
    const { vocabSize: V, blockSize, nHead: H } = this.config;
    const T = tokens.length;
    if (T === 0) throw new OrtRwkvError("empty-prompt", "the transformer needs at least one token");
    const P = cache.length;
    if (P + T > blockSize) throw new PromptTooLongError(P + T, blockSize);
    const ids = new BigInt64Array(T);
    const pos = new BigInt64Array(T);
    for (let t = 0; t < T; t++) {
      const id = tokens[t];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new TokenOutOfRangeError(id, V);
      ids[t] = BigInt(id);
      pos[t] = BigInt(P + t);
    }
    const S = P + T;
    const mask = new Float32Array(T * S);
    for (let t = 0; t < T; t++) for (let j = P + t + 1; j < S; j++) mask[t * S + j] = GPT_MASKED;
    const feeds: Record<string, Ort.Tensor> = {
      [GPT_NAMES.tokens]: new this.ort.Tensor("int64", ids, [T]),
      [GPT_NAMES.positions]: new this.ort.Tensor("int64", pos, [T]),
      [GPT_NAMES.mask]: new this.ort.Tensor("float32", mask, [T, S]),
      [GPT_NAMES.pastK]: cache.k,
      [GPT_NAMES.pastV]: cache.v,
    };
    let out: Ort.InferenceSession.ReturnType;
    try {
      out = await this.session.run(feeds);
    } catch (e) {
      throw new OrtRwkvError("unsupported", `onnxruntime run failed on ${this.ep}: ${messageOf(e)}`, {
        cause: e,
      });
    }
    const logits = (await out[GPT_NAMES.logits].getData()) as Float32Array;
    let attention: Float32Array[] | undefined;
    if (this.attention) {
      attention = [];
      for (let l = 0; l < this.config.nLayer; l++) {
        const a = (await out[GPT_NAMES.attention(l)].getData()) as Float32Array;
        if (a.length !== H * T * S)
          throw new OrtRwkvError("unsupported", `attention output of layer ${l} has a bad size`);
        attention.push(a);
      }
    }
    return {
      logits,
      cache: { length: S, k: out[GPT_NAMES.presentK], v: out[GPT_NAMES.presentV] },
      ...(attention ? { attention } : {}),
    };
  }

  async dispose(): Promise<void> {
    await this.queue.idle();
    await this.session.release();
  }
}
