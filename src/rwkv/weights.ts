/**
 * RWKV-4 weights after the one-time load transform (paper arXiv 2305.13048 v4, Sect. 4;
 * reference: BlinkDL RWKV-LM RWKV-v4/src/model_run.py).
 *
 * Key names follow BlinkDL's checkpoints (`blocks.N.att.time_decay`, ...). Hugging Face
 * checkpoints are renamed to these keys by the checkpoint module before this point.
 *
 * Transforms applied once at load (DESIGN.md, "facts"):
 *   w = -exp(time_decay)     the per-step decay factor is e^{w} = e^{-e^{time_decay}} (Eq. 14, 16)
 *   u = time_first           the bonus for the current token (Eq. 16)
 *   mu_* = time_mix_*        squeezed from (1, 1, C) to (C)
 * Matrices keep PyTorch's nn.Linear layout: (out, in), so y = W x.
 */
export interface RwkvConfig {
  /** number of blocks L */
  readonly nLayer: number;
  /** model width D (= C, channels) */
  readonly nEmbd: number;
  /** channel-mix hidden size (4D for the Pile models) */
  readonly ffnSize: number;
  /** vocabulary size V */
  readonly vocabSize: number;
  /** LayerNorm epsilon (1e-5 in RWKV-4) */
  readonly layerNormEps: number;
}

export interface LayerNormWeights {
  readonly weight: Float32Array; // (C)
  readonly bias: Float32Array; // (C)
}

export interface TimeMixWeights {
  readonly muK: Float32Array; // (C) time_mix_k
  readonly muV: Float32Array; // (C) time_mix_v
  readonly muR: Float32Array; // (C) time_mix_r
  /** w = -exp(time_decay), (C) */
  readonly w: Float32Array;
  /** u = time_first, (C) */
  readonly u: Float32Array;
  readonly Wk: Float32Array; // (C, C) key.weight
  readonly Wv: Float32Array; // (C, C) value.weight
  readonly Wr: Float32Array; // (C, C) receptance.weight
  readonly Wo: Float32Array; // (C, C) output.weight
}

export interface ChannelMixWeights {
  readonly muK: Float32Array; // (C) time_mix_k
  readonly muR: Float32Array; // (C) time_mix_r
  readonly Wk: Float32Array; // (F, C) key.weight
  readonly Wv: Float32Array; // (C, F) value.weight
  readonly Wr: Float32Array; // (C, C) receptance.weight
}

export interface BlockWeights {
  readonly ln1: LayerNormWeights;
  readonly ln2: LayerNormWeights;
  readonly att: TimeMixWeights;
  readonly ffn: ChannelMixWeights;
}

export interface RwkvWeights {
  readonly config: RwkvConfig;
  /** emb.weight, (V, C); ln0 is NOT folded in (the figures show the raw embedding) */
  readonly emb: Float32Array;
  /** blocks.0.ln0 */
  readonly ln0: LayerNormWeights;
  readonly blocks: readonly BlockWeights[];
  /** ln_out */
  readonly lnOut: LayerNormWeights;
  /** head.weight, (V, C) */
  readonly head: Float32Array;
}

/** The recurrent state of one block (names are the interface, never an index order). */
export interface LayerState {
  /** last token-shift input of time mixing: LayerNorm ln1 output of the previous token, (C) */
  attX: Float32Array;
  /** WKV numerator accumulator a (Appendix D, scaled by e^{-p}), (C) */
  a: Float32Array;
  /** WKV denominator accumulator b (scaled by e^{-p}), (C) */
  b: Float32Array;
  /** running maximum exponent p, starts at -1e38, (C) */
  p: Float32Array;
  /** last token-shift input of channel mixing: ln2 output of the previous token, (C) */
  ffnX: Float32Array;
}

export type RwkvState = LayerState[];
