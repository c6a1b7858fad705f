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
} as const;
export type ProbeName = keyof typeof PROBES;
export const PROBE_NAMES = Object.keys(PROBES) as ProbeName[];

/** Output name of one probe of one layer, e.g. `layer3.att_wkv`. */
export function probeOut(layer: number, probe: ProbeName): string {
  return `layer${layer}.${probe}`;
}
