/**
 * The RWKV-4 reference model (arXiv 2305.13048, equation numbers of v4), in two modes that must agree:
 * - RNN mode, `step`: one token at a time, matrix-vector products, the stable WKV step (Appendix D);
 * - parallel ("GPT") mode, `forward`: all T tokens at once, matrix-matrix products, token shift over
 *   the whole sequence and the WKV as a sequential scan or the stable chunked parallel form.
 *
 * Block (pre-LN, residual):  x = x + TimeMix(LN1(x));  x = x + ChannelMix(LN2(x))
 * with ln0 applied to the embedding before block 0, and logits = head . LN_out(x).
 */
import { layerNorm, layerNormRow, matMul, matVec, sigmoid } from "./ops.js";
import type { BlockWeights, LayerState, RwkvConfig, RwkvState, RwkvWeights } from "./weights.js";
import { P_EMPTY, wkvChunked, wkvScan, wkvStep } from "./wkv.js";

export type WkvMode = "chunked" | "scan";

export interface ForwardOptions {
  /** which sequence form of the WKV to use (default "chunked", the stable parallel form) */
  wkv?: WkvMode;
  /** chunk length of the chunked WKV (default 32) */
  chunk?: number;
  /** record per-layer intermediate tensors for the figures (slower; default false) */
  trace?: boolean;
  /** return logits of the last position only (prompt ingestion; default false) */
  lastOnly?: boolean;
  /** interventions on the residual stream (causal tracing, chapter 9); absent, nothing changes */
  hooks?: BlockHooks;
}

/**
 * Optional interventions for causal tracing (Meng et al. 2022, as the paper's Appendix I applies it). Rows are
 * this call's positions: n = 1 for `step`, T for `forward`. Without hooks the model runs exactly as before.
 */
export interface BlockHooks {
  /** the raw embeddings emb[token], (n, C) row-major, before ln0: may be changed in place (noise) */
  embedding?: (e: Float32Array) => void;
  /** the residual stream after block l, (n, C): may be changed in place; the next block and the head read it */
  blockOutput?: (l: number, x: Float32Array) => void;
  /**
   * Enter at block `layer` (0..L; L runs the head only) with `x`, (n, C), as the residual stream entering it,
   * instead of the embedding: blocks below are skipped and their state is passed through unchanged.
   */
  enter?: { layer: number; x: Float32Array };
}

/** Per-layer intermediate tensors of one forward pass, each (T, C) unless noted. Named after the paper. */
export interface LayerTrace {
  /** token-shift mixed inputs of time mixing (Eq. 11-13): mu*x_t + (1-mu)*x_{t-1} */
  xr: Float32Array;
  xk: Float32Array;
  xv: Float32Array;
  /** receptance r_t, key k_t, value v_t (Eq. 11-13) */
  r: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** per-channel decay factor e^{w} per step (C) */
  decay: Float32Array;
  /** wkv_t (Eq. 16) */
  wkv: Float32Array;
  /** WKV state after each token (Appendix D): A = e^p a, B = e^p b */
  a: Float32Array;
  b: Float32Array;
  p: Float32Array;
  /** time-mixing output o_t = W_o (sigmoid(r_t) * wkv_t) (Eq. 17) */
  att: Float32Array;
  /** residual stream after time mixing */
  xAfterAtt: Float32Array;
  /** channel mixing: receptance r'_t (C) and key k'_t (F, pre-activation) (Eq. 14-15) */
  ffnR: Float32Array;
  ffnK: Float32Array;
  /** max(k'_t, 0)^2, (T, F): the squared-ReLU activations (Eq. 18) */
  ffnAct: Float32Array;
  /** channel-mixing output o'_t (Eq. 18) */
  ffn: Float32Array;
  /** residual stream after the block */
  xOut: Float32Array;
}

export interface Trace {
  T: number;
  C: number;
  F: number;
  /** embedding after ln0, (T, C) */
  x0: Float32Array;
  layers: LayerTrace[];
}

export interface ForwardResult {
  /** (T, V) row-major, or (1, V) with lastOnly */
  logits: Float32Array;
  state: RwkvState;
  trace?: Trace;
}

export function initialState(config: RwkvConfig): RwkvState {
  const C = config.nEmbd;
  return Array.from({ length: config.nLayer }, () => ({
    attX: new Float32Array(C),
    a: new Float32Array(C),
    b: new Float32Array(C),
    p: new Float32Array(C).fill(P_EMPTY),
    ffnX: new Float32Array(C),
  }));
}

export function cloneState(state: RwkvState): RwkvState {
  return state.map((s) => ({
    attX: s.attX.slice(),
    a: s.a.slice(),
    b: s.b.slice(),
    p: s.p.slice(),
    ffnX: s.ffnX.slice(),
  }));
}

export class RwkvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RwkvError";
  }
}

export class RwkvModel {
  readonly config: RwkvConfig;
  readonly weights: RwkvWeights;

  constructor(weights: RwkvWeights) {
    this.weights = weights;
    this.config = weights.config;
  }

  initialState(): RwkvState {
    return initialState(this.config);
  }

  private checkToken(token: number): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.config.vocabSize) {
      throw new RwkvError(
        `token id ${token} is out of range: this model's vocabulary has ids 0..${this.config.vocabSize - 1}`,
      );
    }
  }

  private checkState(state: RwkvState): void {
    const { nLayer, nEmbd } = this.config;
    if (state.length !== nLayer || state.some((s) => s.attX.length !== nEmbd || s.a.length !== nEmbd)) {
      throw new RwkvError(`state does not fit this model (expected ${nLayer} layers of ${nEmbd} channels)`);
    }
  }

  /**
   * RNN mode: one token, returns the logits (V) and the next state. The input state is not modified.
   * `hooks` (optional) intervene on this token's residual stream (causal tracing).
   */
  step(token: number, state?: RwkvState, hooks?: BlockHooks): { logits: Float32Array; state: RwkvState } {
    this.checkToken(token);
    if (state) this.checkState(state);
    const { nEmbd: C, ffnSize: F, vocabSize: V, layerNormEps: eps } = this.config;
    const W = this.weights;
    const next = state ? cloneState(state) : this.initialState();

    const x = new Float32Array(C);
    const l0 = this.enterLayer(hooks, 1);
    if (hooks?.enter) x.set(hooks.enter.x);
    else if (hooks?.embedding) {
      const e = W.emb.slice(token * C, (token + 1) * C);
      hooks.embedding(e);
      layerNormRow(e, 0, C, W.ln0, eps, x, 0);
    } else layerNormRow(W.emb, token * C, C, W.ln0, eps, x, 0); // ln0 on the embedding
    const xx = new Float32Array(C);
    const mixed = new Float32Array(C);
    const wkv = new Float32Array(C);

    for (let l = l0; l < W.blocks.length; l++) {
      const blk = W.blocks[l];
      const s = next[l];
      // --- time mixing ---
      layerNormRow(x, 0, C, blk.ln1, eps, xx, 0);
      const att = blk.att;
      // token shift (Eq. 11-13): mu*x_t + (1-mu)*x_{t-1}, x_{t-1} is the state attX
      const k = matVec(att.Wk, mix(xx, s.attX, att.muK, mixed), C, C);
      const v = matVec(att.Wv, mix(xx, s.attX, att.muV, mixed), C, C);
      const r = matVec(att.Wr, mix(xx, s.attX, att.muR, mixed), C, C);
      s.attX.set(xx);
      wkvStep(att.w, att.u, k, v, s, wkv); // Eq. 16 in its stable recurrent form (Appendix D)
      for (let c = 0; c < C; c++) r[c] = sigmoid(r[c]) * wkv[c]; // output gate (Eq. 17)
      const o = matVec(att.Wo, r, C, C);
      for (let c = 0; c < C; c++) x[c] += o[c];
      // --- channel mixing ---
      layerNormRow(x, 0, C, blk.ln2, eps, xx, 0);
      const ffn = blk.ffn;
      const kk = matVec(ffn.Wk, mix(xx, s.ffnX, ffn.muK, mixed), F, C); // Eq. 15
      const rr = matVec(ffn.Wr, mix(xx, s.ffnX, ffn.muR, mixed), C, C); // Eq. 14
      s.ffnX.set(xx);
      for (let j = 0; j < F; j++) {
        const h = kk[j] > 0 ? kk[j] : 0;
        kk[j] = h * h; // squared ReLU (Eq. 18)
      }
      const vv = matVec(ffn.Wv, kk, C, F);
      for (let c = 0; c < C; c++) x[c] += sigmoid(rr[c]) * vv[c]; // Eq. 18
      hooks?.blockOutput?.(l, x);
    }
    layerNormRow(x, 0, C, W.lnOut, eps, xx, 0);
    return { logits: matVec(W.head, xx, V, C), state: next };
  }

  /**
   * Parallel mode: all tokens at once (every matmul over T positions; token shift over the sequence).
   * Returns logits (T, V) and the state after the last token; `state` (if given) is not modified.
   * `opts.hooks` (optional) intervene on the residual stream (causal tracing).
   */
  forward(tokens: ArrayLike<number>, state?: RwkvState, opts: ForwardOptions = {}): ForwardResult {
    const T = tokens.length;
    if (T === 0) throw new RwkvError("forward needs at least one token");
    for (let t = 0; t < T; t++) this.checkToken(tokens[t]);
    if (state) this.checkState(state);
    const { nEmbd: C, ffnSize: F, vocabSize: V, layerNormEps: eps } = this.config;
    const W = this.weights;
    const next = state ? cloneState(state) : this.initialState();
    const wkvMode = opts.wkv ?? "chunked";
    const hooks = opts.hooks;
    const l0 = this.enterLayer(hooks, T);
    if (hooks?.enter && opts.trace)
      throw new RwkvError("a trace needs every block: `trace` and `enter` conflict");

    // embedding + ln0, (T, C)
    let x: Float32Array = new Float32Array(T * C);
    if (hooks?.enter) x.set(hooks.enter.x);
    else if (hooks?.embedding) {
      const e = new Float32Array(T * C);
      for (let t = 0; t < T; t++) e.set(W.emb.subarray(tokens[t] * C, (tokens[t] + 1) * C), t * C);
      hooks.embedding(e);
      for (let t = 0; t < T; t++) layerNormRow(e, t * C, C, W.ln0, eps, x, t * C);
    } else for (let t = 0; t < T; t++) layerNormRow(W.emb, tokens[t] * C, C, W.ln0, eps, x, t * C);
    const trace: Trace | undefined = opts.trace ? { T, C, F, x0: x.slice(), layers: [] } : undefined;

    for (let l = l0; l < W.blocks.length; l++) {
      const lt = this.block(W.blocks[l], next[l], x, T, wkvMode, opts.chunk ?? 32, !!trace);
      x = lt.xOut;
      hooks?.blockOutput?.(l, x);
      if (trace) trace.layers.push(lt as LayerTrace);
    }

    const rows = opts.lastOnly ? 1 : T;
    const xl = layerNorm(x.subarray((T - rows) * C), rows, C, W.lnOut, eps);
    const logits = matMul(xl, rows, W.head, V, C);
    return trace ? { logits, state: next, trace } : { logits, state: next };
  }

  /** The first block to run under `hooks` (0 unless `enter`), after checking `enter` fits n positions. */
  private enterLayer(hooks: BlockHooks | undefined, n: number): number {
    const enter = hooks?.enter;
    if (!enter) return 0;
    const L = this.config.nLayer;
    if (!Number.isInteger(enter.layer) || enter.layer < 0 || enter.layer > L) {
      throw new RwkvError(`enter.layer ${enter.layer} is out of range 0..${L}`);
    }
    if (enter.x.length !== n * this.config.nEmbd) {
      throw new RwkvError(`enter.x has ${enter.x.length} values, expected ${n} x ${this.config.nEmbd}`);
    }
    return enter.layer;
  }

  /** One block over T positions (parallel mode). Updates `s` to the state after the last token. */
  private block(
    blk: BlockWeights,
    s: LayerState,
    x: Float32Array,
    T: number,
    wkvMode: WkvMode,
    chunk: number,
    keep: boolean,
  ): Partial<LayerTrace> & { xOut: Float32Array } {
    const { nEmbd: C, ffnSize: F, layerNormEps: eps } = this.config;
    const att = blk.att;
    // --- time mixing ---
    const xa = layerNorm(x, T, C, blk.ln1, eps); // (T, C)
    const xr = shiftMix(xa, s.attX, att.muR, T, C);
    const xk = shiftMix(xa, s.attX, att.muK, T, C);
    const xv = shiftMix(xa, s.attX, att.muV, T, C);
    s.attX.set(xa.subarray((T - 1) * C));
    const r = matMul(xr, T, att.Wr, C, C); // Eq. 11
    const k = matMul(xk, T, att.Wk, C, C); // Eq. 12
    const v = matMul(xv, T, att.Wv, C, C); // Eq. 13
    let states: { a: Float32Array; b: Float32Array; p: Float32Array } | undefined;
    let wkv: Float32Array;
    if (keep) {
      // the figures want the state after every token: the scan gives it
      states = { a: new Float32Array(T * C), b: new Float32Array(T * C), p: new Float32Array(T * C) };
      wkv = wkvScan(att.w, att.u, k, v, T, s, states);
    } else if (wkvMode === "scan") {
      wkv = wkvScan(att.w, att.u, k, v, T, s);
    } else {
      wkv = wkvChunked(att.w, att.u, k, v, T, s, chunk);
    }
    const gated = new Float32Array(T * C);
    for (let i = 0; i < T * C; i++) gated[i] = sigmoid(r[i]) * wkv[i]; // Eq. 17
    const o = matMul(gated, T, att.Wo, C, C);
    const xAfterAtt = new Float32Array(T * C);
    for (let i = 0; i < T * C; i++) xAfterAtt[i] = x[i] + o[i];
    // --- channel mixing ---
    const ffn = blk.ffn;
    const xf = layerNorm(xAfterAtt, T, C, blk.ln2, eps);
    const fxk = shiftMix(xf, s.ffnX, ffn.muK, T, C);
    const fxr = shiftMix(xf, s.ffnX, ffn.muR, T, C);
    s.ffnX.set(xf.subarray((T - 1) * C));
    const kk = matMul(fxk, T, ffn.Wk, F, C); // Eq. 15, (T, F)
    const rr = matMul(fxr, T, ffn.Wr, C, C); // Eq. 14, (T, C)
    const act = new Float32Array(T * F);
    for (let i = 0; i < T * F; i++) {
      const h = kk[i] > 0 ? kk[i] : 0;
      act[i] = h * h; // squared ReLU (Eq. 18)
    }
    const vv = matMul(act, T, ffn.Wv, C, F);
    const ffnOut = new Float32Array(T * C);
    const xOut = new Float32Array(T * C);
    for (let i = 0; i < T * C; i++) {
      ffnOut[i] = sigmoid(rr[i]) * vv[i]; // Eq. 18
      xOut[i] = xAfterAtt[i] + ffnOut[i];
    }
    if (!keep) return { xOut };
    const decay = new Float32Array(C);
    for (let c = 0; c < C; c++) decay[c] = Math.exp(att.w[c]);
    return {
      xr,
      xk,
      xv,
      r,
      k,
      v,
      decay,
      wkv,
      a: states!.a,
      b: states!.b,
      p: states!.p,
      att: o,
      xAfterAtt,
      ffnR: rr,
      ffnK: kk,
      ffnAct: act,
      ffn: ffnOut,
      xOut,
    };
  }
}

/** Token shift for one token (Eq. 11-15): out = mu * x_t + (1 - mu) * x_{t-1}. */
function mix(x: Float32Array, prev: Float32Array, mu: Float32Array, out: Float32Array): Float32Array {
  for (let c = 0; c < x.length; c++) out[c] = mu[c] * x[c] + (1 - mu[c]) * prev[c];
  return out;
}

/** Token shift over a sequence (Eq. 11-15): row t mixes x_t with x_{t-1}; row 0 with the carried `prev`. */
function shiftMix(x: Float32Array, prev: Float32Array, mu: Float32Array, T: number, C: number): Float32Array {
  const out = new Float32Array(T * C);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      const before = t === 0 ? prev[c] : x[(t - 1) * C + c];
      out[t * C + c] = mu[c] * x[t * C + c] + (1 - mu[c]) * before;
    }
  }
  return out;
}
