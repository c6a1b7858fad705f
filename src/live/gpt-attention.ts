/**
 * Chapter 2's softmax attention from the transformer baseline in JavaScript (src/transformer/gpt.ts): the whole
 * prompt at once, or incrementally while the reader types. The page uses the incremental cache only when the
 * transformer's ONNX graph cannot start (src/live/gpt-ort-attention.ts); the tests use both as the reference.
 *
 * API:
 *   gptAttention(model, tokens, meta) -> GptAttention        every layer's and head's (T, T) softmax weights
 *   new GptAttentionCache(model).attention(tokens, meta)     the same, incremental; `tokensRun` counts the tokens
 *                                                            actually run
 */
import { attentionFromRows, attentionMeta, type GptAttention } from "../chapters/attention.js";
import type { GptModel, KvCache } from "../transformer/gpt.js";
import { PrefixRows } from "../util/prefix.js";

export function gptAttention(
  model: GptModel,
  tokens: readonly number[],
  meta: { text: string; synthetic: boolean; source?: "precomputed" | "live" },
): GptAttention {
  const T = tokens.length;
  const { nLayer, nHead } = model.config;
  const { attention } = model.forward(tokens, { attention: true });
  const data = new Float32Array(nLayer * nHead * T * T);
  attention!.forEach((layer, l) => layer.forEach((A, h) => data.set(A, (l * nHead + h) * T * T)));
  return { ...attentionMeta(tokens, model.config, meta), source: meta.source ?? "live", data };
}

/**
 * Incremental `gptAttention` for a page where the reader types: the positions shared with the previous prompt
 * keep their rows (attention is causal: row t depends on tokens 0..t only), the KV cache is cut back to them, and
 * only the new tokens run, one KV-cache step each. Equal to gptAttention (tests check it).
 */
export class GptAttentionCache {
  /** rows[t][layer][head]: (t + 1) weights */
  private readonly prefix = new PrefixRows<Float32Array[][]>();
  private readonly cache: KvCache;
  /** tokens actually run, over the cache's life (tests read it) */
  tokensRun = 0;

  constructor(private readonly model: GptModel) {
    this.cache = model.newCache();
  }

  attention(tokens: readonly number[], meta: { text: string; synthetic: boolean }): GptAttention {
    const p = this.prefix.keep(tokens);
    this.cache.length = p;
    for (let t = p; t < tokens.length; t++) {
      this.prefix.push(tokens[t], this.model.stepWithAttention(tokens[t], this.cache).attention);
      this.tokensRun++;
    }
    return attentionFromRows(this.prefix.rows, tokens, this.model.config, {
      ...meta,
      backend: "reference (JS)",
    });
  }
}
