import type { LayerTrace } from "../rwkv/model.js";

/**
 * Names of the graph inputs and outputs, defined once and shared by the graph builder, the runtime and the
 * figures (they read introspection outputs by these names).
 */

/** The five per-layer state vectors, stacked over layers as [L, C] tensors (names, never an index order). */
export const STATE_NAMES = ["attX", "a", "b", "p", "ffnX"] as const;
export type StateName = (typeof STATE_NAMES)[number];

/** RNN-step graph input: one token id, int64 [1]. */
export const TOKEN = "token";
/** Parallel graph input: token ids, int64 [T] (T dynamic). */
export const TOKENS = "tokens";
/** Logits output: [V] in the RNN-step graph, [T, V] (or [1, V] with `logits: "last"`) in the parallel graph. */
export const LOGITS = "logits";

/** State input name (the state before the step / sequence). */
export function stateIn(name: StateName): string {
  return name;
}
/** State output name (the state after the step / sequence). */
export function stateOut(name: StateName): string {
  return `${name}_out`;
}

/**
 * Introspection outputs, per layer, emitted only when the graph is built with `probes: true`. Shapes are
 * [N, C] (channel-mix k: [N, F]) with N = 1 in the RNN-step graph and N = T in the parallel graph.
 * Symbols as in arXiv 2305.13048 v4: Eq. 11-13 (r, k, v), Eq. 16 (wkv), Eq. 14-15 and 18 (channel mixing).
 */
export const PROBES = {
  /** time mixing: token-shift mixes mu x_t + (1 - mu) x_{t-1} feeding r, k, v (Eq. 11-13) */
  att_xr: "time-mix token shift for r",
  att_xk: "time-mix token shift for k",
  att_xv: "time-mix token shift for v",
  /** receptance r_t before the sigmoid (Eq. 11) */
  att_r: "receptance r_t",
  /** key k_t (Eq. 12) */
  att_k: "key k_t",
  /** value v_t (Eq. 13) */
  att_v: "value v_t",
  /** the WKV operator output (Eq. 16, in the stable form of Appendix D) */
  att_wkv: "wkv_t",
  /** channel mixing: token-shift mixes feeding r' and k' (Eq. 14-15) */
  ffn_xr: "channel-mix token shift for r'",
  ffn_xk: "channel-mix token shift for k'",
  /** r'_t before the sigmoid (Eq. 14) */
  ffn_r: "channel-mix receptance r'_t",
  /** k'_t before the activation (Eq. 15), [N, F] */
  ffn_k: "channel-mix key k'_t",
  /** squared-ReLU activations max(k'_t, 0)^2 (Eq. 18), [N, F] */
  ffn_act: "max(k'_t, 0)^2",
  /** time-mixing output o_t = W_o (sigmoid(r_t) * wkv_t) (Eq. 17) */
  att_o: "time-mix output o_t",
  /** residual stream after time mixing, x_t + o_t */
  x_att: "residual after time mixing",
  /** channel-mixing output sigmoid(r'_t) * (W'_v max(k'_t, 0)^2) (Eq. 18) */
  ffn_o: "channel-mix output o'_t",
  /** residual stream after the block */
  x_block: "residual after the block",
  /** the WKV state after token t, relative to the running maximum (Appendix D): a_t, b_t and p_t */
  att_a: "WKV state a_t",
  att_b: "WKV state b_t",
  att_p: "WKV state p_t (running maximum exponent)",
} as const;
export type ProbeName = keyof typeof PROBES;
export const PROBE_NAMES = Object.keys(PROBES) as ProbeName[];

/**
 * The reference model's trace field (src/rwkv/model.ts LayerTrace) each probe equals, so that a trace read from
 * the graphs and one from the reference model are the same object (the figures cannot tell them apart). The
 * channel-mix token-shift mixes (ffn_xr, ffn_xk) have no trace field. `decay` (e^w per channel) is a function of
 * the weights alone, not an output.
 */
export const PROBE_FIELD: Readonly<Partial<Record<ProbeName, Exclude<keyof LayerTrace, "decay">>>> = {
  att_xr: "xr",
  att_xk: "xk",
  att_xv: "xv",
  att_r: "r",
  att_k: "k",
  att_v: "v",
  att_wkv: "wkv",
  ffn_r: "ffnR",
  ffn_k: "ffnK",
  ffn_act: "ffnAct",
  att_o: "att",
  x_att: "xAfterAtt",
  ffn_o: "ffn",
  x_block: "xOut",
  att_a: "a",
  att_b: "b",
  att_p: "p",
};

/** Probe output of the whole graph (not per layer): the embedding after ln0, [N, C] (the trace's x0). */
export const X0 = "x0";

/** Output name of one probe of one layer, e.g. `layer3.att_wkv`. */
export function probeOut(layer: number, probe: ProbeName): string {
  return `layer${layer}.${probe}`;
}

/**
 * The causal-trace step graph (./rwkv-trace-graph.ts, ./gpt-trace-graph.ts): B runs side by side, one position
 * each. Inputs: the raw embedding rows (before ln0 / before the positions are added) so that noise can be added to
 * them, and per block a restore mask and the values to restore. Outputs: logits [B, V], the new state, and every
 * block's output after the restore (the clean run's outputs are the values a restored run puts back).
 */
export const TRACE = {
  /** raw embedding rows emb[token] (+ noise), float [B, C] */
  xEmb: "x_emb",
  /** 1 where block l's output of run b is replaced by restore_x[l, b], else 0: float [L, B] */
  restoreMask: "restore_mask",
  /** the values put back, float [L, B, C] (ignored where the mask is 0) */
  restoreX: "restore_x",
  /** each block's output after the restore, float [L, B, C] */
  blockX: "block_x",
  /** GPT only: the position of this step, int64 [1] (the same for every run) */
  position: "position",
  /** GPT only: this step's keys and values, float [L, B, C] (the caller appends them to its cache) */
  newK: "new_k",
  newV: "new_v",
} as const;
