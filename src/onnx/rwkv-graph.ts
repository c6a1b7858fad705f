/**
 * ONNX graphs of RWKV-4 built from loaded weights (arXiv 2305.13048 v4, Sect. 4), standard operators only
 * (opset 17), weights as fp32 initializers.
 *
 * Two graphs:
 *  - RNN step (`buildRnnStepGraph`): one token + state -> logits [V] + new state; the WKV in the
 *    numerically stable running-max form of Appendix D.
 *  - Parallel (`buildParallelGraph`): T tokens (dynamic T) + initial state -> logits [T, V] + final state.
 *    All matmuls for all T at once, and the WKV in a stable parallel form (no Loop/Scan): a [T, T, C] tensor of
 *    log-weights, its row maximum subtracted before exp (see `buildParallelGraph`). Memory: about 4 T^2 C bytes for
 *    each live [T, T, C] intermediate (T = 64, C = 768: 12.6 MB; T = 128: 50 MB; T = 1024: 3.2 GB), so the
 *    runtime feeds long prompts in chunks of at most `chunk` tokens and carries the state between
 *    chunks (the graph's state inputs make that exact).
 *
 * Inputs/outputs are named in ./names.ts: states attX, a, b, p, ffnX are [L, C] each; outputs `<name>_out`.
 */
import type { RwkvWeights } from "../rwkv/weights.js";
import { GraphBuilder } from "./builder.js";
import {
  LOGITS,
  PROBE_NAMES,
  STATE_NAMES,
  type StateName,
  TOKEN,
  TOKENS,
  X0,
  probeOut,
  stateIn,
  stateOut,
  type ProbeName,
} from "./names.js";
import { DataType } from "./proto.js";

export interface RwkvGraphOptions {
  /** add per-layer introspection outputs (names.ts PROBES); default false */
  probes?: boolean;
  /** parallel graph only: logits for all T positions ("all", [T, V]) or the last one only ("last", [1, V]) */
  logits?: "all" | "last";
  /**
   * the matrices' storage: "fp32" (default) or "fp16" (half the bytes; each MatMul then casts its input to fp16
   * and its output back, so the WKV, LayerNorms and the state stay fp32). fp16 MatMuls on WebGPU need the adapter's
   * shader-f16; the wasm EP computes them in fp32 from the fp16 values.
   */
  weights?: "fp32" | "fp16";
}

/**
 * x @ W for a weight matrix in the graph's storage type (see RwkvGraphOptions.weights): one MatMul on fp32
 * weights, Cast -> MatMul -> Cast on fp16 ones.
 */
function linear(
  g: GraphBuilder,
  weights: "fp32" | "fp16",
  x: string,
  name: string,
  dims: number[],
  data: Float32Array,
  outName?: string,
): string {
  if (weights === "fp32") return g.op("MatMul", [x, g.floatInit(name, dims, data)], {}, outName);
  const x16 = g.op("Cast", [x], { to: DataType.FLOAT16 });
  const y16 = g.op("MatMul", [x16, g.halfInit(name, dims, data)]);
  return g.op("Cast", [y16], { to: DataType.FLOAT }, outName);
}

/**
 * Weights laid out for ONNX MatMul (x @ W^T): nn.Linear's (out, in) matrices transposed to (in, out) once,
 * shared by both graphs so that building both costs one transpose.
 */
export interface OnnxWeights {
  readonly source: RwkvWeights;
  readonly blocks: readonly {
    /** key, value, receptance weights stacked for one batched MatMul: [Wk^T; Wv^T; Wr^T] */
    WkvrT: Float32Array; // (3, C, C)
    /** token-shift mixes stacked in the same order: [mu_k; mu_v; mu_r] and 1 - mu */
    muKvr: Float32Array; // (3, 1, C)
    oneMinusMuKvr: Float32Array; // (3, 1, C)
    WoT: Float32Array; // (C, C)
    ffnWkT: Float32Array; // (C, F)
    ffnWvT: Float32Array; // (F, C)
    ffnWrT: Float32Array; // (C, C)
    /** channel-mix token-shift mixes stacked: [mu'_k; mu'_r] and 1 - mu' */
    ffnMuKr: Float32Array; // (2, 1, C)
    ffnOneMinusMuKr: Float32Array; // (2, 1, C)
    /** w clamped to >= -1e30 for the parallel form only (see buildParallelGraph) */
    wClamped: Float32Array; // (C)
  }[];
  readonly headT: Float32Array; // (C, V)
}

/** Transpose a row-major (rows, cols) matrix into (cols, rows). */
export function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  if (m.length !== rows * cols)
    throw new Error(`transpose: expected ${rows}x${cols}, got ${m.length} values`);
  const out = new Float32Array(rows * cols);
  const B = 64; // cache blocking
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = m[base + c];
      }
    }
  }
  return out;
}

function stack(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function oneMinus(mu: Float32Array): Float32Array {
  return Float32Array.from(mu, (x) => 1 - x);
}

/** The most negative decay the parallel form uses: keeps (t-1-i) * w finite and 0 * w = 0 (never NaN). */
export const W_MIN = -1e30;
/** Log-weight given to future positions (i > t) before they are masked to exactly 0; below any real one. */
export const MASKED = -1e30;
/**
 * Exponents below this are raised to it before exp in the parallel WKV: e^-80 = 1.8e-35 relative weight, far below
 * fp32 resolution next to the weight-1 maximum, and it keeps exp off wasm's ~5x slower underflow path.
 */
export const EXP_FLOOR = -80;

export function prepareOnnxWeights(weights: RwkvWeights): OnnxWeights {
  const { nEmbd: C, ffnSize: F, vocabSize: V, nLayer: L } = weights.config;
  if (weights.blocks.length !== L)
    throw new Error(`weights: ${weights.blocks.length} blocks, config says ${L}`);
  const blocks = weights.blocks.map((b) => ({
    WkvrT: stack([transpose(b.att.Wk, C, C), transpose(b.att.Wv, C, C), transpose(b.att.Wr, C, C)]),
    muKvr: stack([b.att.muK, b.att.muV, b.att.muR]),
    oneMinusMuKvr: stack([oneMinus(b.att.muK), oneMinus(b.att.muV), oneMinus(b.att.muR)]),
    WoT: transpose(b.att.Wo, C, C),
    ffnWkT: transpose(b.ffn.Wk, F, C),
    ffnWvT: transpose(b.ffn.Wv, C, F),
    ffnWrT: transpose(b.ffn.Wr, C, C),
    ffnMuKr: stack([b.ffn.muK, b.ffn.muR]),
    ffnOneMinusMuKr: stack([oneMinus(b.ffn.muK), oneMinus(b.ffn.muR)]),
    wClamped: Float32Array.from(b.att.w, (w) => (w < W_MIN ? W_MIN : w)),
  }));
  return { source: weights, blocks, headT: transpose(weights.head, V, C) };
}

export type Probe = ((name: ProbeName, value: string, width: number) => void) & { enabled: boolean };

export interface BlockIO {
  /** residual stream in, [N, C] */
  x: string;
  /**
   * The token-shift terms (1 - mu) * x_{t-1} of time mixing (stacked (3, N, C) for k, v, r) and channel mixing
   * ((2, N, C) for k', r'), given the LayerNorm output and the (1 - mu) initializer (made on demand: the RNN step
   * precomputes these terms for all layers at once from its state inputs)
   */
  shiftTermAtt: (xx: string, oneMinusMu: () => string) => string;
  shiftTermFfn: (xx: string, oneMinusMu: () => string) => string;
  /** the WKV given k, v (rows of the stacked projections, see `rows`) */
  wkv: (k: string, v: string) => string;
  /**
   * The n rows of a stacked (n, N, C) tensor: the RNN step takes one Split node (rows stay (1, 1, C)), the
   * parallel graph n Gathers (rows become (T, C), the rank its WKV is written for).
   */
  rows: (t: string, n: number) => string[];
}

/**
 * One RWKV block on N positions (N = 1 for the RNN step, T for the parallel graph); returns the new residual
 * stream and the two LayerNorm outputs (the next token-shift states).
 */
export function block(
  g: GraphBuilder,
  ow: OnnxWeights,
  l: number,
  io: BlockIO,
  probe: Probe,
  weights: "fp32" | "fp16" = "fp32",
): { x: string; xxAtt: string; xxFfn: string } {
  const { config } = ow.source;
  const C = config.nEmbd;
  const F = config.ffnSize;
  const bw = ow.source.blocks[l];
  const tw = ow.blocks[l];
  const eps = { float: config.layerNormEps };
  const init = (name: string, dims: number[], data: Float32Array) =>
    g.floatInit(`blocks.${l}.${name}`, dims, data);
  // token shift (Eq. 11-15 v4): mu * x_t + (1 - mu) * x_{t-1}, the (1 - mu) precomputed

  // ---- time mixing
  const xx = g.op(
    "LayerNormalization",
    [io.x, init("ln1.weight", [C], bw.ln1.weight), init("ln1.bias", [C], bw.ln1.bias)],
    {
      axis: -1,
      epsilon: eps,
    },
  ); // (N, C)
  // the three token-shift mixes and projections of Eq. 11-13 as one stacked Mul/Add and one batched MatMul
  // (fewer nodes: each node costs a dispatch on WebGPU)
  const xs = g.op("Add", [
    g.op("Mul", [xx, init("att.time_mix_kvr", [3, 1, C], tw.muKvr)]),
    io.shiftTermAtt(xx, () => init("att.time_mix_kvr.one_minus", [3, 1, C], tw.oneMinusMuKvr)),
  ]); // (3, N, C): x_k, x_v, x_r
  const lin = (x: string, name: string, dims: number[], data: Float32Array) =>
    linear(g, weights, x, `blocks.${l}.${name}`, dims, data);
  const kvr = lin(xs, "att.key_value_receptance.weight_T", [3, C, C], tw.WkvrT); // (3, N, C)
  const [k, v, r] = io.rows(kvr, 3); // Eq. 12, 13, 11
  const wkv = io.wkv(k, v); // (N, C)
  const gated = g.op("Mul", [g.op("Sigmoid", [r]), wkv]); // sigma(r_t) * wkv_t
  const att = lin(gated, "att.output.weight_T", [C, C], tw.WoT); // Eq. 17
  const x1 = g.op("Add", [io.x, att]);
  if (probe.enabled) {
    const [pxk, pxv, pxr] = io.rows(xs, 3);
    probe("att_xr", pxr, C);
    probe("att_xk", pxk, C);
    probe("att_xv", pxv, C);
  }
  probe("att_r", r, C);
  probe("att_k", k, C);
  probe("att_v", v, C);
  probe("att_wkv", wkv, C);

  // ---- channel mixing (Eq. 14-15, 18 v4)
  const xx2 = g.op(
    "LayerNormalization",
    [x1, init("ln2.weight", [C], bw.ln2.weight), init("ln2.bias", [C], bw.ln2.bias)],
    {
      axis: -1,
      epsilon: eps,
    },
  ); // (N, C)
  // both token-shift mixes of Eq. 14-15 as one stacked Mul/Add, as in time mixing
  const fxs = g.op("Add", [
    g.op("Mul", [xx2, init("ffn.time_mix_kr", [2, 1, C], tw.ffnMuKr)]),
    io.shiftTermFfn(xx2, () => init("ffn.time_mix_kr.one_minus", [2, 1, C], tw.ffnOneMinusMuKr)),
  ]); // (2, N, C): x'_k, x'_r
  const [fxk, fxr] = io.rows(fxs, 2);
  const fr = lin(fxr, "ffn.receptance.weight_T", [C, C], tw.ffnWrT); // (N, C) Eq. 14
  const fk = lin(fxk, "ffn.key.weight_T", [C, F], tw.ffnWkT); // (N, F) Eq. 15
  const kRelu = g.op("Relu", [fk]);
  const act = g.op("Mul", [kRelu, kRelu]); // max(k', 0)^2
  const kv = lin(act, "ffn.value.weight_T", [F, C], tw.ffnWvT); // (N, C)
  const ffnOut = g.op("Mul", [g.op("Sigmoid", [fr]), kv]); // Eq. 18
  const x2 = g.op("Add", [x1, ffnOut]);
  probe("att_o", att, C);
  probe("x_att", x1, C);
  probe("ffn_o", ffnOut, C);
  probe("x_block", x2, C);
  probe("ffn_xr", fxr, C);
  probe("ffn_xk", fxk, C);
  probe("ffn_r", fr, C);
  probe("ffn_k", fk, F);
  probe("ffn_act", act, F);
  return { x: x2, xxAtt: xx, xxFfn: xx2 };
}

/** Split each [L, C] state input into L rows [1, C]. */
function splitStates(g: GraphBuilder, L: number, C: number): Record<(typeof STATE_NAMES)[number], string[]> {
  const out = {} as Record<(typeof STATE_NAMES)[number], string[]>;
  for (const s of STATE_NAMES) {
    const inp = g.input(stateIn(s), DataType.FLOAT, [L, C], `${s} per layer before`);
    out[s] = L === 1 ? [inp] : g.opN("Split", [inp, g.constI(new Array<number>(L).fill(1))], L, { axis: 0 });
  }
  return out;
}

/** One [L, C] state output from L rows [1, C] (Concat, named as the output: no Identity node). */
function concatState(g: GraphBuilder, L: number, C: number, s: StateName, rows: string[]): void {
  if (L === 1) g.output(stateOut(s), rows[0], DataType.FLOAT, [L, C], `${s} per layer after`);
  else {
    g.op("Concat", rows, { axis: 0 }, stateOut(s));
    g.output(stateOut(s), stateOut(s), DataType.FLOAT, [L, C], `${s} per layer after`);
  }
}

/** The embedding row(s) of `ids` after ln0; `emb` dims [V, C] (rows (N, C)) or [V, 1, C] (rows (N, 1, C)). */
function embed(g: GraphBuilder, ow: OnnxWeights, ids: string, dims: readonly number[]): string {
  const { nEmbd: C, layerNormEps } = ow.source.config;
  const e = g.op("Gather", [g.floatInit("emb.weight", dims, ow.source.emb), ids], { axis: 0 });
  return g.op(
    "LayerNormalization",
    [
      e,
      g.floatInit("blocks.0.ln0.weight", [C], ow.source.ln0.weight),
      g.floatInit("blocks.0.ln0.bias", [C], ow.source.ln0.bias),
    ],
    { axis: -1, epsilon: { float: layerNormEps } },
  );
}

function head(
  g: GraphBuilder,
  ow: OnnxWeights,
  x: string,
  outName?: string,
  flat = false,
  weights: "fp32" | "fp16" = "fp32",
): string {
  const { vocabSize: V, nEmbd: C, layerNormEps } = ow.source.config;
  const ln = g.op(
    "LayerNormalization",
    [
      x,
      g.floatInit("ln_out.weight", [C], ow.source.lnOut.weight),
      g.floatInit("ln_out.bias", [C], ow.source.lnOut.bias),
    ],
    { axis: -1, epsilon: { float: layerNormEps } },
  );
  // flat: (C) @ (C, V) = (V) (the Reshape comes before the MatMul, so that a kernel writes the output)
  const xo = flat ? g.op("Reshape", [ln, g.constI([C])]) : ln;
  return linear(g, weights, xo, "head.weight_T", [C, V], ow.headT, outName); // (..., V)
}

/** Probe outputs [n, width]; `reshape` for the RNN step, whose values are (1, 1, width). */
function probeFn(g: GraphBuilder, enabled: boolean, l: number, n: number | string, reshape = false): Probe {
  const fn = (name: ProbeName, value: string, width: number) => {
    if (!enabled) return;
    const v = reshape ? g.op("Reshape", [value, g.constI([1, width])]) : value;
    g.output(probeOut(l, name), v, DataType.FLOAT, [n, width]);
  };
  return Object.assign(fn, { enabled });
}

function metadata(ow: OnnxWeights, kind: string, opts: RwkvGraphOptions): Record<string, string> {
  const c = ow.source.config;
  return {
    "rwkv.graph": kind,
    "rwkv.config": JSON.stringify(c),
    "rwkv.probes": String(!!opts.probes),
    "rwkv.weights": opts.weights ?? "fp32",
    "rwkv.probe_names": opts.probes ? PROBE_NAMES.join(",") : "",
  };
}

/**
 * RNN-step graph: token int64 [1] + states [L, C] -> logits [V] + states_out [L, C].
 * WKV: the stable recurrence of Appendix D (v4) with the running maximum exponent p:
 *   q = max(p, u + k);  wkv = (e^{p-q} a + e^{u+k-q} v) / (e^{p-q} b + e^{u+k-q})
 *   q' = max(p + w, k); a' = e^{p+w-q'} a + e^{k-q'} v;  b' = e^{p+w-q'} b + e^{k-q'};  p' = q'
 *
 * Every node is a GPU dispatch with ORT's WebGPU EP (~50 us of CPU each, measured), so the graph is written for
 * few nodes: the residual stream is (1, 1, C) (the embedding is stored [V, 1, C]), so the stacked projections
 * split into rows with one Split; what depends on the state inputs alone is computed for all layers at once
 * (rnnStates); the WKV's output and state update run as one (1, 2, C) computation whose rows 1 are kept per
 * layer and gathered for all layers at once at the end (one Concat + one Gather per state).
 */
/**
 * The RNN step's state inputs, per layer. Everything that depends on the state alone is computed for all layers
 * in one node before the layers run (one node instead of L): the token-shift terms (1 - mu) * x_{t-1} (stacked as
 * the blocks use them) and x1 = [p; p + w] of the WKV; a and b are split into rows.
 */
function rnnStates(
  g: GraphBuilder,
  ow: OnnxWeights,
): { attTerm: string[]; a: string[]; b: string[]; x1: string[]; ffnTerm: string[] } {
  const { nLayer: L, nEmbd: C } = ow.source.config;
  const inp = {} as Record<StateName, string>;
  for (const s of STATE_NAMES) inp[s] = g.input(stateIn(s), DataType.FLOAT, [L, C], `${s} per layer before`);
  const split = (t: string, n: number) =>
    L === 1 ? [t] : g.opN("Split", [t, g.constI(new Array<number>(L).fill(n))], L, { axis: 0 });
  const rowsOf = (t: string) => split(t, 1); // (1, C) each
  // (L, C) state times (L, n, C) per-layer rows, as L tensors (n, 1, C)
  const perLayer = (s: StateName, n: number, name: string, row: (l: number) => Float32Array) => {
    const all = new Float32Array(L * n * C);
    for (let l = 0; l < L; l++) all.set(row(l), l * n * C);
    const prod = g.op("Mul", [g.op("Unsqueeze", [inp[s], g.constI([1])]), g.floatInit(name, [L, n, C], all)]);
    return split(g.op("Reshape", [prod, g.constI([L * n, 1, C])]), n); // (n, 1, C) each
  };
  const zw = new Float32Array(L * 2 * C); // per layer [0; w]
  for (let l = 0; l < L; l++) zw.set(ow.source.blocks[l].att.w, (2 * l + 1) * C);
  const x1All = g.op("Add", [
    g.op("Unsqueeze", [inp.p, g.constI([1])]),
    g.floatInit("att.zero_w", [L, 2, C], zw),
  ]); // (L, 2, C): [p; p + w] per layer
  return {
    attTerm: perLayer("attX", 3, "att.time_mix_kvr.one_minus", (l) => ow.blocks[l].oneMinusMuKvr),
    a: rowsOf(inp.a),
    b: rowsOf(inp.b),
    x1: split(x1All, 1), // (1, 2, C) each
    ffnTerm: perLayer("ffnX", 2, "ffn.time_mix_kr.one_minus", (l) => ow.blocks[l].ffnOneMinusMuKr),
  };
}

export function buildRnnStepGraph(ow: OnnxWeights, opts: RwkvGraphOptions = {}): Uint8Array {
  const { nLayer: L, nEmbd: C, vocabSize: V } = ow.source.config;
  const g = new GraphBuilder();
  const token = g.input(TOKEN, DataType.INT64, [1], "token id");
  const st = rnnStates(g, ow); // per layer
  let x = embed(g, ow, token, [V, 1, C]); // (1, 1, C)
  if (opts.probes) g.output(X0, g.op("Reshape", [x, g.constI([1, C])]), DataType.FLOAT, [1, C]);
  const nums: string[] = [];
  const dens: string[] = [];
  const qs: string[] = [];
  const attX: string[] = [];
  const ffnX: string[] = [];
  const rows = (t: string, n: number) => (n === 1 ? [t] : g.opN("Split", [t], n, { axis: 0 })); // (1, 1, C)
  for (let l = 0; l < L; l++) {
    const bw = ow.source.blocks[l];
    const a = st.a[l];
    const b = st.b[l];
    const x1 = st.x1[l];
    const probe = probeFn(g, !!opts.probes, l, 1, true);
    const out = block(
      g,
      ow,
      l,
      {
        x,
        shiftTermAtt: () => st.attTerm[l],
        shiftTermFfn: () => st.ffnTerm[l],
        rows,
        wkv: (k, v) => {
          // the output (row 0) and the state update (row 1) have the same form, so both run stacked:
          //   x1 = [p; p + w], x2 = [u + k; k], q = max(x1, x2), num = e^{x1-q} a + e^{x2-q} v, den = e^{x1-q} b + e^{x2-q}
          // row 0: wkv = num / den;  row 1: a' = num, b' = den, p' = q
          const uz = new Float32Array(2 * C);
          uz.set(bw.att.u, 0);
          const x2 = g.op("Add", [k, g.floatInit(`blocks.${l}.att.u_zero`, [2, C], uz)]); // (1, 2, C)
          const q = g.op("Max", [x1, x2]); // (1, 2, C)
          const e1 = g.op("Exp", [g.op("Sub", [x1, q])]);
          const e2 = g.op("Exp", [g.op("Sub", [x2, q])]);
          const num = g.op("Add", [g.op("Mul", [e1, a]), g.op("Mul", [e2, v])]); // (1, 2, C)
          const den = g.op("Add", [g.op("Mul", [e1, b]), e2]); // (1, 2, C)
          nums.push(num);
          dens.push(den);
          qs.push(q);
          if (probe.enabled) {
            const row1 = (t: string) => g.op("Gather", [t, g.constI(1, true)], { axis: 1 }); // (1, C)
            probe("att_a", row1(num), C);
            probe("att_b", row1(den), C);
            probe("att_p", row1(q), C);
          }
          return g.op("Gather", [g.op("Div", [num, den]), g.constI(0, true)], { axis: 1 }); // (1, C): row 0
        },
      },
      probe,
      opts.weights,
    );
    x = out.x;
    attX.push(out.xxAtt);
    ffnX.push(out.xxFfn);
  }
  head(g, ow, x, LOGITS, true, opts.weights); // (V)
  g.output(LOGITS, LOGITS, DataType.FLOAT, [V]);
  // states: the LayerNorm outputs (1, 1, C) and rows 1 of the (1, 2, C) WKV tensors, all layers at once
  const stacked = (parts: string[]) => (L === 1 ? parts[0] : g.op("Concat", parts, { axis: 0 }));
  // every output is written by a kernel (Gather), never by a Reshape: ORT would copy a Reshape's input into
  // the output buffer outside the dispatches, which graph capture does not record (replayed steps then kept
  // stale outputs, seen in Chromium)
  const flat = (s: StateName, parts: string[]) => {
    g.op("Gather", [stacked(parts), g.constI(0, true)], { axis: 1 }, stateOut(s)); // (L, 1, C) -> (L, C)
    g.output(stateOut(s), stateOut(s), DataType.FLOAT, [L, C], `${s} per layer after`);
  };
  const row1 = (s: StateName, parts: string[]) => {
    g.op("Gather", [stacked(parts), g.constI(1, true)], { axis: 1 }, stateOut(s)); // (L, 2, C) -> (L, C)
    g.output(stateOut(s), stateOut(s), DataType.FLOAT, [L, C], `${s} per layer after`);
  };
  flat("attX", attX);
  row1("a", nums);
  row1("b", dens);
  row1("p", qs);
  flat("ffnX", ffnX);
  return g.encode("rwkv4_rnn_step", "RWKV-4 RNN step (arXiv 2305.13048 v4)", metadata(ow, "rnn", opts));
}

/**
 * Parallel graph: tokens int64 [T] + states [L, C] -> logits [T, V] (or [1, V]) + states_out [L, C].
 *
 * WKV, stable parallel form. With the incoming state (a0, b0, p0) (a0, b0 scaled by e^{-p0}) the RNN's
 * numerator at position t (0-based) is  e^{p0 + t w} a0 + sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t
 * (Eq. 16 v4 plus the state's contribution), and the denominator the same with a0 -> b0, v_i -> 1. Let
 *   s[t, i] = (t-1-i) w + k_i (i < t),  u + k_t (i = t),  MASKED (i > t)    (T, T, C)
 *   sp[t]   = p0 + t w                                                    (T, C)
 *   m[t]    = max(max_i s[t, i], sp[t])   (finite: the diagonal term is)
 *   E[t, i] = e^{max(s[t,i] - m, EXP_FLOOR)} * [i <= t]
 *   wkv_t   = (sum_i E[t, i] v_i + e^{sp - m} a0) / (sum_i E[t, i] + e^{sp - m} b0).
 * Every exponent is <= 0 and the maximum term has weight 1, so nothing overflows and the denominator is >= 1
 * (no 0/0) for any decay or key magnitude. The bias part of s (everything but k_i) is one MatMul per layer,
 * (T, T, 3) @ (3, C), of the per-(t, i) coefficients [t-1-i if i < t else 0, [i = t], [i > t]] and the rows
 * [w; u; MASKED]: products with a 0 coefficient are exactly 0, so each entry is exactly (t-1-i) w, u or MASKED.
 * w is clamped to W_MIN = -1e30 (e^{-1e30} = 0 too) so that 0 * w is never 0 * inf = NaN.
 * EXP_FLOOR = -80 changes a weight by at most e^{-80} = 1.8e-35 (relative to the maximum's 1): invisible in
 * fp32, and it keeps ORT wasm's exp off its ~5x slower underflow path (measured 63 vs 12 ns per element).
 *
 * The final state is the same sums at t = T without the bonus term:
 *   p_T = max(max_i (T-1-i) w + k_i, p0 + T w),  a_T = sum_i e^{(T-1-i) w + k_i - p_T} v_i + e^{p0 + T w - p_T} a0,
 * which is exactly the p the recurrence max(p + w, k) reaches (max distributes over +). So the graph computes
 * rows t = 0..T (one extra row, whose coefficients are all "past": i < T): rows 0..T-1 give wkv, row T gives
 * (a_T, b_T, p_T) = (numerator, denominator, m) with no separate final-state computation (13 nodes fewer per
 * layer; each node is a GPU dispatch).
 *
 * Memory: the (T, T, C) intermediates take 4 T^2 C bytes each (T = 32, C = 768: 3.1 MB; T = 64: 12.6 MB;
 * T = 1024: 3.2 GB), hence the runtime's chunking of long prompts.
 */
export function buildParallelGraph(ow: OnnxWeights, opts: RwkvGraphOptions = {}): Uint8Array {
  const { nLayer: L, nEmbd: C, vocabSize: V } = ow.source.config;
  const g = new GraphBuilder();
  const tokens = g.input(TOKENS, DataType.INT64, ["T"], "token ids");
  const st = splitStates(g, L, C);

  // ---- position tensors shared by all layers (T dynamic)
  // positions from the tokens themselves (no Shape/Cast, which ORT would place on the CPU): a ones vector
  // gathered by token id, its running sum 1..T and its total T, all float and exact below 2^24
  const ones = g.op("Gather", [g.floatInit("ones_v", [V], new Float32Array(V).fill(1)), tokens], { axis: 0 }); // (T)
  const tf = g.op("Sub", [g.op("CumSum", [ones, g.constI(0, true)]), g.constF(1)]); // (T): 0..T-1
  const Tf = g.op("ReduceSum", [ones, g.constI([0])], { keepdims: 1 }); // [1]: T
  // rows t = 0..T: rows 0..T-1 give wkv_t, the extra row t = T the final state (see buildParallelGraph)
  const ti = g.op("Unsqueeze", [g.op("Concat", [tf, Tf], { axis: 0 }), g.constI([1])]); // (T+1, 1) row t
  const tj = g.op("Unsqueeze", [tf, g.constI([0])]); // (1, T) column i
  // per (t, i) coefficients of the WKV log-weights, float only (no bool masks: Where is slow on wasm):
  //   dPast = t-1-i for i < t else 0,  diag = [i = t],  future = [i > t]
  const dti = g.op("Sub", [ti, tj]); // (T+1, T): t - i
  const dPast = g.op("Relu", [g.op("Sub", [dti, g.constF(1)])]); // (T+1, T)
  const diag = g.op("Relu", [g.op("Sub", [g.constF(1), g.op("Abs", [dti])])]); // (T+1, T)
  const future = g.op("Clip", [g.op("Neg", [dti]), g.constF(0), g.constF(1)]); // (T+1, T)
  const unsq2 = (x: string) => g.op("Unsqueeze", [x, g.constI([2])]);
  // (T, T, 3) @ (3, C) per layer gives the bias of every log-weight in one MatMul (see buildParallelGraph)
  const coef = g.op("Concat", [unsq2(dPast), unsq2(diag), unsq2(g.op("Mul", [future, g.constF(MASKED)]))], {
    axis: 2,
  });
  const causal = unsq2(g.op("Sub", [g.constF(1), future])); // (T+1, T, 1): [i <= t]

  let x = embed(g, ow, tokens, [V, C]); // (T, C)
  if (opts.probes) g.output(X0, x, DataType.FLOAT, ["T", C]);
  const stateProbe = opts.probes ? stateProbeTensors(g, dPast, diag, future) : undefined;
  const next = {
    attX: [] as string[],
    a: [] as string[],
    b: [] as string[],
    p: [] as string[],
    ffnX: [] as string[],
  };
  const shift = (xx: string, prev: string) =>
    g.op("Concat", [prev, g.op("Slice", [xx, g.constI([0]), g.constI([-1]), g.constI([0])])], { axis: 0 }); // (T, C)
  const lastRow = (xx: string) =>
    g.op("Slice", [xx, g.constI([-1]), g.constI([Number.MAX_SAFE_INTEGER]), g.constI([0])]); // (1, C)

  for (let l = 0; l < L; l++) {
    const bw = ow.source.blocks[l];
    const a0 = st.a[l];
    const b0 = st.b[l];
    const p0 = st.p[l];
    const probe = probeFn(g, !!opts.probes, l, "T");
    const out = block(
      g,
      ow,
      l,
      {
        x,
        shiftTermAtt: (xx, omm) => g.op("Mul", [shift(xx, st.attX[l]), omm()]),
        shiftTermFfn: (xx, omm) => g.op("Mul", [shift(xx, st.ffnX[l]), omm()]),
        rows: (t, n) =>
          Array.from({ length: n }, (_, i) => g.op("Gather", [t, g.constI(i, true)], { axis: 0 })), // (T, C)
        wkv: (k, v) => {
          const wc = ow.blocks[l].wClamped;
          const w = g.floatInit(`blocks.${l}.att.w_clamped`, [C], wc);
          // (3, C): rows w, u, 1 (coefficients of dPast, diag, future)
          const wu1 = new Float32Array(3 * C);
          wu1.set(wc, 0);
          wu1.set(bw.att.u, C);
          wu1.fill(1, 2 * C);
          const bias = g.op("MatMul", [coef, g.floatInit(`blocks.${l}.att.wkv_bias_coef`, [3, C], wu1)]); // (T+1, T, C)
          const s = g.op("Add", [k, bias]); // (T+1, T, C): k (T, C) broadcasts over t as k_i
          const sp = g.op("Add", [p0, g.op("Mul", [ti, w])]); // (T+1, C): p0 + t w
          const m = g.op("Max", [g.op("ReduceMax", [s], { axes: [1], keepdims: 0 }), sp]); // (T+1, C)
          const diff = g.op("Sub", [s, g.op("Unsqueeze", [m, g.constI([1])])]); // (T+1, T, C), <= 0
          const e = g.op("Mul", [g.op("Exp", [g.op("Max", [diff, g.constF(EXP_FLOOR)])]), causal]); // (T+1, T, C)
          const es = g.op("Exp", [g.op("Sub", [sp, m])]); // (T+1, C)
          const num = g.op("Add", [
            g.op("ReduceSum", [g.op("Mul", [e, v]), g.constI([1])], { keepdims: 0 }), // v (T, C) as v_i
            g.op("Mul", [es, a0]),
          ]); // (T+1, C)
          const den = g.op("Add", [
            g.op("ReduceSum", [e, g.constI([1])], { keepdims: 0 }),
            g.op("Mul", [es, b0]),
          ]); // (T+1, C)
          const wkv = g.op("Slice", [g.op("Div", [num, den]), g.constI([0]), g.constI([-1]), g.constI([0])]); // (T, C)
          // final state: row T (no bonus term, every i < T), m = p_T
          next.a.push(lastRow(num));
          next.b.push(lastRow(den));
          const pT = lastRow(m);
          next.p.push(pT);
          if (stateProbe) {
            const sa = statesAfterEachToken(g, stateProbe, l, wc, k, v, sp, a0, b0);
            probe("att_a", sa.a, C);
            probe("att_b", sa.b, C);
            probe("att_p", sa.p, C);
          }
          return wkv;
        },
      },
      probe,
      opts.weights,
    );
    x = out.x;
    next.attX.push(lastRow(out.xxAtt));
    next.ffnX.push(lastRow(out.xxFfn));
  }
  const last = opts.logits === "last";
  head(g, ow, last ? lastRow(x) : x, LOGITS, false, opts.weights);
  g.output(LOGITS, LOGITS, DataType.FLOAT, [last ? 1 : "T", V]);
  for (const s of STATE_NAMES) concatState(g, L, C, s, next[s]);
  return g.encode("rwkv4_parallel", "RWKV-4 parallel (arXiv 2305.13048 v4)", metadata(ow, "parallel", opts));
}

/** Per-(t, i) tensors shared by every layer's state probes (see statesAfterEachToken). */
interface StateProbeTensors {
  /** (T, T, 2): [t - i if i <= t else 0, MASKED if i > t else 0] */
  coef: string;
  /** (T, T, 1): [i <= t] */
  causal: string;
}

/**
 * The coefficients of the state after token t (rows t = 0..T-1), from the WKV's (T+1, T) tensors: row t+1 of
 * dPast is t - i for i <= t, and the state has no bonus term, so the diagonal of row t+1 (i = t+1) is masked
 * like the future.
 */
function stateProbeTensors(g: GraphBuilder, dPast: string, diag: string, future: string): StateProbeTensors {
  const rowsFrom1 = (x: string) =>
    g.op("Slice", [x, g.constI([1]), g.constI([Number.MAX_SAFE_INTEGER]), g.constI([0])]); // (T, T)
  const later = rowsFrom1(g.op("Add", [diag, future])); // (T, T): [i > t]
  const unsq2 = (x: string) => g.op("Unsqueeze", [x, g.constI([2])]);
  return {
    coef: g.op("Concat", [unsq2(rowsFrom1(dPast)), unsq2(g.op("Mul", [later, g.constF(MASKED)]))], {
      axis: 2,
    }),
    causal: unsq2(g.op("Sub", [g.constF(1), later])),
  };
}

/**
 * Introspection only (probes): the WKV state (a_t, b_t, p_t) after every token t = 0..T-1, as the RNN's
 * recurrence q' = max(p + w, k), a' = e^{p+w-q'} a + e^{k-q'} v, b' = e^{p+w-q'} b + e^{k-q'} leaves it (Appendix D),
 * in the same stable parallel form as the WKV (see buildParallelGraph) without the bonus term:
 *   p_t = max(max_{i<=t} (t-i) w + k_i, p0 + (t+1) w),  a_t = sum_{i<=t} e^{(t-i) w + k_i - p_t} v_i + e^{p0 + (t+1) w - p_t} a0
 * (b_t the same with v_i -> 1, a0 -> b0). `sp` is the WKV's (T+1, C) tensor p0 + t w, whose rows 1..T are
 * p0 + (t+1) w. One more (T, T, C) computation per layer, so only graphs built with probes have it.
 */
function statesAfterEachToken(
  g: GraphBuilder,
  t: StateProbeTensors,
  l: number,
  wClamped: Float32Array,
  k: string,
  v: string,
  sp: string,
  a0: string,
  b0: string,
): { a: string; b: string; p: string } {
  const C = wClamped.length;
  const w1 = new Float32Array(2 * C); // rows w, 1 (coefficients of t - i and of the mask)
  w1.set(wClamped, 0);
  w1.fill(1, C);
  const bias = g.op("MatMul", [t.coef, g.floatInit(`blocks.${l}.att.state_probe_coef`, [2, C], w1)]); // (T, T, C)
  const s = g.op("Add", [k, bias]); // (T, T, C): (t - i) w + k_i, or MASKED
  const spNext = g.op("Slice", [sp, g.constI([1]), g.constI([Number.MAX_SAFE_INTEGER]), g.constI([0])]); // (T, C)
  const m = g.op("Max", [g.op("ReduceMax", [s], { axes: [1], keepdims: 0 }), spNext]); // (T, C): p_t
  const diff = g.op("Sub", [s, g.op("Unsqueeze", [m, g.constI([1])])]);
  const e = g.op("Mul", [g.op("Exp", [g.op("Max", [diff, g.constF(EXP_FLOOR)])]), t.causal]); // (T, T, C)
  const es = g.op("Exp", [g.op("Sub", [spNext, m])]); // (T, C)
  const a = g.op("Add", [
    g.op("ReduceSum", [g.op("Mul", [e, v]), g.constI([1])], { keepdims: 0 }),
    g.op("Mul", [es, a0]),
  ]);
  const b = g.op("Add", [g.op("ReduceSum", [e, g.constI([1])], { keepdims: 0 }), g.op("Mul", [es, b0])]);
  return { a, b, p: m };
}
