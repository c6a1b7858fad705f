/**
 * Chapter 2's softmax attention from the transformer baseline's ONNX graph (src/onnx/gpt-graph.ts, with its
 * attention-weight outputs) on onnxruntime-web, instead of the JS model: typing at the end of the prompt runs only
 * the new characters through the worker's KV cache; any other edit runs the prompt again from an empty cache
 * (the worker's cache cannot be cut back). Calls run one after another.
 *
 * API:
 *   interface GptAttentionRunner {ep, reset(), forward(tokens) -> {attention?: per layer (H, n, P+n)}}
 *     (a GptWorkerClient built with `attention: true`, or OrtGpt with a kept cache in Node)
 *   new OrtGptAttentionCache(runner, {nLayer, nHead}).attention(tokens, {text, synthetic}) -> Promise<GptAttention>
 *   stats: {tokensRun, resets}
 */
import { attentionFromRows, type GptAttention } from "../chapters/attention.js";
import { PrefixRows, commonPrefixLength } from "../util/prefix.js";
import { SerialQueue } from "../util/serial.js";

export interface GptAttentionRunner {
  readonly ep: "webgpu" | "wasm";
  reset(): Promise<void>;
  /** the n tokens after the cached ones; the cache grows by n */
  forward(tokens: ArrayLike<number>): Promise<{ attention?: Float32Array[] }>;
}

export class OrtGptAttentionCache {
  /** rows[t][layer][head] has t + 1 weights, for the tokens they were computed for */
  private readonly prefix = new PrefixRows<Float32Array[][]>();
  /** the tokens in the runner's KV cache (may run ahead of the rows after a deletion); null when unknown */
  private cached: number[] | null = [];
  private readonly serial = new SerialQueue();
  readonly stats = { tokensRun: 0, resets: 0 };

  constructor(
    private readonly runner: GptAttentionRunner,
    private readonly shape: { nLayer: number; nHead: number },
  ) {}

  attention(tokens: readonly number[], meta: { text: string; synthetic: boolean }): Promise<GptAttention> {
    return this.serial.run(() => this.attentionNow([...tokens], meta));
  }

  private async attentionNow(
    tokens: number[],
    meta: { text: string; synthetic: boolean },
  ): Promise<GptAttention> {
    const T = tokens.length;
    const p = this.prefix.keep(tokens);
    if (p < T) {
      // the runner's cache must hold exactly tokens[0..p): else start again from an empty cache
      let from = p;
      const cached = this.cached;
      if (!cached || cached.length !== p || commonPrefixLength(tokens, cached) !== p) {
        await this.runner.reset();
        this.stats.resets++;
        this.prefix.keep([]);
        from = 0;
      }
      const fresh = tokens.slice(from);
      this.cached = null; // until the forward has succeeded
      const r = await this.runner.forward(fresh);
      this.cached = tokens;
      if (!r.attention || r.attention.length !== this.shape.nLayer) {
        throw new Error("the transformer's graph returned no attention weights (was it built with them?)");
      }
      this.stats.tokensRun += fresh.length;
      const n = fresh.length;
      const keys = from + n;
      const H = this.shape.nHead;
      for (let i = 0; i < n; i++) {
        const t = from + i;
        this.prefix.push(
          tokens[t],
          r.attention.map((a) => {
            if (a.length !== H * n * keys)
              throw new Error("the transformer's attention output has a bad size");
            return Array.from({ length: H }, (_, h) =>
              a.slice((h * n + i) * keys, (h * n + i) * keys + t + 1),
            );
          }),
        );
      }
    }
    return attentionFromRows(this.prefix.rows, tokens, this.shape, { ...meta, backend: this.runner.ep });
  }
}
