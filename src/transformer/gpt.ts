/**
 * The transformer baseline: a GPT-style decoder (pre-LN, causal softmax attention, learned positions, GELU MLP),
 * the model the explainer compares RWKV's WKV against (arXiv 2305.13048 v4, Eq. 7-8).
 *
 * Block (pre-LN, residual, as nanoGPT / GPT-2):
 *   x = wte[token] + wpe[position]
 *   x = x + Attn(LN1(x))            Attn(Q, K, V) = softmax(Q K^T / sqrt(d_head) + causal mask) V   (Eq. 7-8)
 *   x = x + MLP(LN2(x))             MLP(h) = W_proj GELU(W_fc h + b_fc) + b_proj
 *   logits = head . LN_f(x)
 *
 * DOM-free and runtime-free (Node and browser). Two ways to run it, which must agree:
 *   - `forward(tokens)`: every position at once, optionally returning the attention weights (T x T per head);
 *   - `step(token, cache)`: one token at a time with a KV cache (the cache grows by one row per token and layer,
 *     which is exactly what RWKV's constant-size state avoids).
 * Matrices keep nn.Linear's (out, in) layout, row-major, as in the checkpoint.
 */
import { layerNorm, layerNormRow, matMul, matVec } from "../rwkv/ops.js";
import type { Tensor, TensorMap } from "../rwkv/tensor.js";
import type { BlockHooks } from "../rwkv/model.js";
import type { LayerNormWeights } from "../rwkv/weights.js";

/**
 * Optional interventions for causal tracing (chapter 9), the same shape as RWKV's: `embedding` sees the token
 * embeddings wte[token] (n, C) before the positions wpe are added (where Meng et al. 2022 add their noise);
 * `blockOutput(l, x)` the residual stream after block l; `enter` starts at block `layer` (0..L) with `x` as the
 * residual stream entering it (in `step`, the KV cache rows of the skipped blocks at this position are left as
 * they are). Without hooks the model runs exactly as before.
 */
export type GptHooks = BlockHooks;

export type GeluKind = "erf" | "tanh";

export interface GptConfig {
  /** number of blocks L */
  readonly nLayer: number;
  /** model width C */
  readonly nEmbd: number;
  /** attention heads H (C = H * d_head); not recoverable from tensor shapes, so it comes from the model card */
  readonly nHead: number;
  /** MLP hidden size (4C for GPT-2) */
  readonly ffnSize: number;
  /** vocabulary size V */
  readonly vocabSize: number;
  /** context length: the rows of the learned position table wpe */
  readonly blockSize: number;
  /** LayerNorm epsilon (1e-5 as torch.nn.LayerNorm) */
  readonly layerNormEps: number;
  /** nn.GELU() is the exact erf form; GPT-2's original code used the tanh approximation */
  readonly gelu: GeluKind;
}

export interface Linear {
  readonly weight: Float32Array; // (out, in)
  readonly bias?: Float32Array; // (out)
}

export interface GptBlockWeights {
  readonly ln1: LayerNormWeights;
  /** fused query/key/value projection (3C, C): rows [0, C) are q, [C, 2C) k, [2C, 3C) v */
  readonly qkv: Linear;
  readonly proj: Linear; // (C, C)
  readonly ln2: LayerNormWeights;
  readonly fc: Linear; // (F, C)
  readonly fcOut: Linear; // (C, F), mlp.proj
}

export interface GptWeights {
  readonly config: GptConfig;
  readonly wte: Float32Array; // (V, C)
  readonly wpe: Float32Array; // (blockSize, C)
  readonly blocks: readonly GptBlockWeights[];
  readonly lnF: LayerNormWeights;
  /** (V, C); the same array as wte when the checkpoint ties them (no head.weight) */
  readonly head: Float32Array;
}

export class GptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GptError";
  }
}

// ---------------------------------------------------------------------------------------------------------
// Loading: config inferred from tensor shapes (plus nHead), a few common key spellings accepted.
// ---------------------------------------------------------------------------------------------------------

export interface GptLoadOptions {
  /** attention heads; required (shapes do not determine it) */
  nHead: number;
  layerNormEps?: number;
  gelu?: GeluKind;
}

/** Key spellings accepted for each tensor, tried in order (ours first, then nanoGPT / GPT-2 style). */
const ALIASES = {
  wte: ["wte.weight", "transformer.wte.weight", "tok_emb.weight"],
  wpe: ["wpe.weight", "transformer.wpe.weight", "pos_emb.weight"],
  lnF: ["ln_f", "transformer.ln_f"],
  head: ["head.weight", "lm_head.weight"],
} as const;

function blockPrefixes(n: number): string[] {
  return [`blocks.${n}.`, `transformer.h.${n}.`, `h.${n}.`];
}

function blockKeys(sub: string): string[] {
  const table: Record<string, string[]> = {
    ln1: ["ln1", "ln_1"],
    ln2: ["ln2", "ln_2"],
    qkv: ["attn.qkv", "attn.c_attn"],
    q: ["attn.q", "attn.query"],
    k: ["attn.k", "attn.key"],
    v: ["attn.v", "attn.value"],
    proj: ["attn.proj", "attn.c_proj", "attn.out"],
    fc: ["mlp.fc", "mlp.c_fc"],
    fcOut: ["mlp.proj", "mlp.c_proj"],
  };
  return table[sub];
}

function shapeStr(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

/**
 * Build GPT weights from a checkpoint's tensors. Infers L from the block indices, C and V from wte, the context
 * length from wpe, F from mlp.fc; checks every other shape against them. Throws GptError naming the key.
 */
export function gptWeightsFromTensors(tensors: TensorMap, opts: GptLoadOptions): GptWeights {
  const used = new Set<string>();
  const find = (names: readonly string[]): [string, Tensor] | undefined => {
    for (const n of names) {
      const t = tensors.get(n);
      if (t) return [n, t];
    }
    return undefined;
  };
  const need = (names: readonly string[], what: string): Tensor => {
    const hit = find(names);
    if (!hit) throw new GptError(`GPT checkpoint: missing ${what} (looked for ${names.join(" or ")})`);
    used.add(hit[0]);
    return hit[1];
  };
  const expectShape = (t: Tensor, shape: number[], what: string): Float32Array => {
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new GptError(`GPT checkpoint: ${what} has shape ${shapeStr(t)}, expected [${shape.join(", ")}]`);
    }
    return t.data;
  };

  const wteT = need(ALIASES.wte, "the token embedding wte");
  if (wteT.shape.length !== 2)
    throw new GptError(`GPT checkpoint: wte has shape ${shapeStr(wteT)}, expected (V, C)`);
  const [V, C] = wteT.shape;
  const wpeT = need(ALIASES.wpe, "the position embedding wpe");
  if (wpeT.shape.length !== 2 || wpeT.shape[1] !== C) {
    throw new GptError(`GPT checkpoint: wpe has shape ${shapeStr(wpeT)}, expected (blockSize, ${C})`);
  }
  const blockSize = wpeT.shape[0];
  const { nHead } = opts;
  if (!Number.isInteger(nHead) || nHead < 1 || C % nHead !== 0) {
    throw new GptError(`GPT config: nHead = ${nHead} must be a positive integer dividing the width ${C}`);
  }

  // L: the number of consecutive block indices present
  let L = 0;
  while ([...tensors.keys()].some((k) => blockPrefixes(L).some((p) => k.startsWith(p)))) L++;
  if (L === 0) throw new GptError("GPT checkpoint: no transformer blocks found (keys blocks.0.*)");

  const ln = (names: string[], what: string): LayerNormWeights => ({
    weight: expectShape(
      need(
        names.map((n) => `${n}.weight`),
        `${what}.weight`,
      ),
      [C],
      `${what}.weight`,
    ),
    bias: expectShape(
      need(
        names.map((n) => `${n}.bias`),
        `${what}.bias`,
      ),
      [C],
      `${what}.bias`,
    ),
  });
  const linear = (names: string[], out: number, inp: number, what: string): Linear => {
    const weight = expectShape(
      need(
        names.map((n) => `${n}.weight`),
        `${what}.weight`,
      ),
      [out, inp],
      `${what}.weight`,
    );
    const b = find(names.map((n) => `${n}.bias`));
    if (!b) return { weight };
    used.add(b[0]);
    return { weight, bias: expectShape(b[1], [out], `${what}.bias`) };
  };

  let F = 0;
  const blocks: GptBlockWeights[] = [];
  for (let l = 0; l < L; l++) {
    const keys = (sub: string) => blockPrefixes(l).flatMap((p) => blockKeys(sub).map((s) => p + s));
    const fcT = find(keys("fc").map((n) => `${n}.weight`));
    if (!fcT) throw new GptError(`GPT checkpoint: missing blocks.${l}.mlp.fc.weight`);
    if (l === 0) F = fcT[1].shape[0];
    let qkv: Linear;
    if (find(keys("qkv").map((n) => `${n}.weight`))) {
      qkv = linear(keys("qkv"), 3 * C, C, `blocks.${l}.attn.qkv`);
    } else {
      const q = linear(keys("q"), C, C, `blocks.${l}.attn.q`);
      const k = linear(keys("k"), C, C, `blocks.${l}.attn.k`);
      const v = linear(keys("v"), C, C, `blocks.${l}.attn.v`);
      const weight = new Float32Array(3 * C * C);
      weight.set(q.weight, 0);
      weight.set(k.weight, C * C);
      weight.set(v.weight, 2 * C * C);
      let bias: Float32Array | undefined;
      if (q.bias || k.bias || v.bias) {
        bias = new Float32Array(3 * C);
        if (q.bias) bias.set(q.bias, 0);
        if (k.bias) bias.set(k.bias, C);
        if (v.bias) bias.set(v.bias, 2 * C);
      }
      qkv = bias ? { weight, bias } : { weight };
    }
    blocks.push({
      ln1: ln(keys("ln1"), `blocks.${l}.ln1`),
      qkv,
      proj: linear(keys("proj"), C, C, `blocks.${l}.attn.proj`),
      ln2: ln(keys("ln2"), `blocks.${l}.ln2`),
      fc: linear(keys("fc"), F, C, `blocks.${l}.mlp.fc`),
      fcOut: linear(keys("fcOut"), C, F, `blocks.${l}.mlp.proj`),
    });
  }
  const lnF = ln([...ALIASES.lnF], "ln_f");
  const headHit = find(ALIASES.head);
  let head = wteT.data; // weight tying when the checkpoint has no separate head
  if (headHit) {
    used.add(headHit[0]);
    head = expectShape(headHit[1], [V, C], "head.weight");
  }
  used.add(ALIASES.wte.find((n) => tensors.has(n))!);
  const extra = [...tensors.keys()].filter(
    (k) => !used.has(k) && !k.endsWith(".attn.bias") && !k.endsWith(".attn.mask"),
  );
  if (extra.length > 0) {
    throw new GptError(
      `GPT checkpoint: unexpected tensors ${extra.slice(0, 5).join(", ")}${extra.length > 5 ? ", ..." : ""}`,
    );
  }
  const config: GptConfig = {
    nLayer: L,
    nEmbd: C,
    nHead,
    ffnSize: F,
    vocabSize: V,
    blockSize,
    layerNormEps: opts.layerNormEps ?? 1e-5,
    gelu: opts.gelu ?? "erf",
  };
  return { config, wte: wteT.data, wpe: wpeT.data, blocks, lnF, head };
}

/** Parameters held by the weights (a tied head counted once). */
export function countGptParameters(w: GptWeights): number {
  const lin = (x: Linear) => x.weight.length + (x.bias?.length ?? 0);
  let n = w.wte.length + w.wpe.length + 2 * w.lnF.weight.length + (w.head === w.wte ? 0 : w.head.length);
  for (const b of w.blocks) {
    n += 4 * b.ln1.weight.length + lin(b.qkv) + lin(b.proj) + lin(b.fc) + lin(b.fcOut);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Kernels
// ---------------------------------------------------------------------------------------------------------

/**
 * erf(x) to ~1e-15 in double precision: Taylor series for |x| < 2.5 (alternating terms, worst cancellation
 * ~10^2), continued fraction for erfc beyond (Lentz), erf = +-1 beyond |x| = 6.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
  const tiny = 1e-300;
  let f = ax;
  let Cc = ax;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    D = ax + a * D;
    D = Math.abs(D) < tiny ? tiny : D;
    Cc = ax + a / Cc;
    Cc = Math.abs(Cc) < tiny ? tiny : Cc;
    D = 1 / D;
    const delta = Cc * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** GELU(x) = x * Phi(x) (exact, nn.GELU()) or its tanh approximation (nn.GELU(approximate="tanh")). */
export function gelu(x: number, kind: GeluKind): number {
  if (kind === "erf") return 0.5 * x * (1 + erf(x / Math.SQRT2));
  const c = Math.sqrt(2 / Math.PI);
  return 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x * x * x)));
}

function addBias(y: Float32Array, rows: number, bias: Float32Array | undefined): Float32Array {
  if (!bias) return y;
  const n = bias.length;
  for (let r = 0; r < rows; r++) for (let i = 0; i < n; i++) y[r * n + i] += bias[i];
  return y;
}

// ---------------------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------------------

export interface GptForwardOptions {
  /** also return the attention weights, [layer][head] -> (T, T) row-major (row t: query t, column i: key i) */
  attention?: boolean;
  /** interventions on the residual stream (causal tracing, chapter 9); absent, nothing changes */
  hooks?: GptHooks;
}

export interface GptForwardResult {
  /** (T, V) row-major */
  logits: Float32Array;
  /** [layer][head] (T, T), present with `attention: true`; entries above the diagonal are 0 */
  attention?: Float32Array[][];
}

/** Keys and values of every earlier token, per layer: grows by one row per token (what RWKV does not need). */
export interface KvCache {
  /** tokens held */
  length: number;
  /** per layer (blockSize, C) each; rows [0, length) are filled */
  readonly k: Float32Array[];
  readonly v: Float32Array[];
}

export class GptModel {
  readonly config: GptConfig;
  readonly weights: GptWeights;

  constructor(weights: GptWeights) {
    this.weights = weights;
    this.config = weights.config;
  }

  newCache(): KvCache {
    const { nLayer, nEmbd, blockSize } = this.config;
    return {
      length: 0,
      k: Array.from({ length: nLayer }, () => new Float32Array(blockSize * nEmbd)),
      v: Array.from({ length: nLayer }, () => new Float32Array(blockSize * nEmbd)),
    };
  }

  /** Bytes a KV cache of n tokens holds in fp32: 2 (K and V) * L * C * n * 4. */
  kvCacheBytes(n: number): number {
    return 2 * this.config.nLayer * this.config.nEmbd * n * 4;
  }

  private checkToken(token: number): void {
    if (!Number.isInteger(token) || token < 0 || token >= this.config.vocabSize) {
      throw new GptError(
        `token id ${token} is out of range: this model's vocabulary has ids 0..${this.config.vocabSize - 1}`,
      );
    }
  }

  /** Embedding: wte[token] + wpe[position], into out[off..off+C). */
  private embed(token: number, pos: number, out: Float32Array, off: number): void {
    const C = this.config.nEmbd;
    const { wte, wpe } = this.weights;
    for (let c = 0; c < C; c++) out[off + c] = wte[token * C + c] + wpe[pos * C + c];
  }

  /**
   * Embedding under a hook: the rows wte[token] (n, C) go through `hook`, then wpe[pos0 + i] is added; into `out`.
   */
  private embedWithHook(
    tokens: ArrayLike<number>,
    pos0: number,
    out: Float32Array,
    hook: (e: Float32Array) => void,
  ): void {
    const C = this.config.nEmbd;
    const { wte, wpe } = this.weights;
    const n = tokens.length;
    const e = new Float32Array(n * C);
    for (let i = 0; i < n; i++) e.set(wte.subarray(tokens[i] * C, (tokens[i] + 1) * C), i * C);
    hook(e);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < C; c++) out[i * C + c] = e[i * C + c] + wpe[(pos0 + i) * C + c];
    }
  }

  /** The first block to run under `hooks` (0 unless `enter`), after checking `enter` fits n positions. */
  private enterLayer(hooks: GptHooks | undefined, n: number): number {
    const enter = hooks?.enter;
    if (!enter) return 0;
    const L = this.config.nLayer;
    if (!Number.isInteger(enter.layer) || enter.layer < 0 || enter.layer > L) {
      throw new GptError(`enter.layer ${enter.layer} is out of range 0..${L}`);
    }
    if (enter.x.length !== n * this.config.nEmbd) {
      throw new GptError(`enter.x has ${enter.x.length} values, expected ${n} x ${this.config.nEmbd}`);
    }
    return enter.layer;
  }

  /** All positions at once (causal). `opts.hooks` (optional): causal tracing. */
  forward(tokens: ArrayLike<number>, opts: GptForwardOptions = {}): GptForwardResult {
    const T = tokens.length;
    const {
      nEmbd: C,
      nHead: H,
      ffnSize: F,
      vocabSize: V,
      blockSize,
      layerNormEps: eps,
      gelu: geluKind,
    } = this.config;
    if (T === 0) throw new GptError("forward needs at least one token");
    if (T > blockSize)
      throw new GptError(`${T} tokens exceed this model's context of ${blockSize} positions`);
    for (let t = 0; t < T; t++) this.checkToken(tokens[t]);
    const D = C / H;
    const scale = 1 / Math.sqrt(D);
    const W = this.weights;

    const hooks = opts.hooks;
    const l0 = this.enterLayer(hooks, T);
    let x = new Float32Array(T * C); // (T, C)
    if (hooks?.enter) x.set(hooks.enter.x);
    else if (hooks?.embedding) this.embedWithHook(tokens, 0, x, hooks.embedding);
    else for (let t = 0; t < T; t++) this.embed(tokens[t], t, x, t * C);
    const attention: Float32Array[][] | undefined = opts.attention ? [] : undefined;

    for (let l = l0; l < W.blocks.length; l++) {
      const blk = W.blocks[l];
      // --- attention (Eq. 7-8 with the causal mask and 1/sqrt(d_head)) ---
      const h = layerNorm(x, T, C, blk.ln1, eps);
      const qkv = addBias(matMul(h, T, blk.qkv.weight, 3 * C, C), T, blk.qkv.bias); // (T, 3C)
      const y = new Float32Array(T * C); // (T, C), heads concatenated
      const layerAtt: Float32Array[] = [];
      const row = new Float64Array(T);
      for (let hd = 0; hd < H; hd++) {
        const att = attention ? new Float32Array(T * T) : undefined;
        for (let t = 0; t < T; t++) {
          // scores s_i = q_t . k_i / sqrt(D), i <= t
          let max = -Infinity;
          for (let i = 0; i <= t; i++) {
            let s = 0;
            for (let d = 0; d < D; d++) s += qkv[t * 3 * C + hd * D + d] * qkv[i * 3 * C + C + hd * D + d];
            s *= scale;
            row[i] = s;
            if (s > max) max = s;
          }
          let sum = 0;
          for (let i = 0; i <= t; i++) {
            row[i] = Math.exp(row[i] - max);
            sum += row[i];
          }
          for (let i = 0; i <= t; i++) {
            const a = row[i] / sum;
            if (att) att[t * T + i] = a;
            for (let d = 0; d < D; d++) y[t * C + hd * D + d] += a * qkv[i * 3 * C + 2 * C + hd * D + d];
          }
        }
        if (att) layerAtt.push(att);
      }
      if (attention) attention.push(layerAtt);
      const o = addBias(matMul(y, T, blk.proj.weight, C, C), T, blk.proj.bias);
      for (let i = 0; i < T * C; i++) x[i] += o[i];
      // --- MLP ---
      const h2 = layerNorm(x, T, C, blk.ln2, eps);
      const a = addBias(matMul(h2, T, blk.fc.weight, F, C), T, blk.fc.bias); // (T, F)
      for (let i = 0; i < T * F; i++) a[i] = gelu(a[i], geluKind);
      const m = addBias(matMul(a, T, blk.fcOut.weight, C, F), T, blk.fcOut.bias);
      const next = new Float32Array(T * C);
      for (let i = 0; i < T * C; i++) next[i] = x[i] + m[i];
      x = next;
      hooks?.blockOutput?.(l, x);
    }
    const xf = layerNorm(x, T, C, W.lnF, eps);
    const logits = matMul(xf, T, W.head, V, C);
    return attention ? { logits, attention } : { logits };
  }

  /**
   * One token with a KV cache: appends this token's keys and values to `cache` (mutated) and returns the
   * logits (V) for the next token. The position is cache.length. `hooks` (optional): causal tracing.
   */
  step(token: number, cache: KvCache, hooks?: GptHooks): Float32Array {
    return this.decode(token, cache, false, hooks).logits;
  }

  /**
   * `step`, also returning this token's attention row per layer and head: [layer][head] -> (pos + 1) weights over
   * the positions 0..pos. Row pos of the full forward's (T, T) matrix, computed from the cache.
   */
  stepWithAttention(token: number, cache: KvCache): { logits: Float32Array; attention: Float32Array[][] } {
    const r = this.decode(token, cache, true);
    return { logits: r.logits, attention: r.attention! };
  }

  private decode(
    token: number,
    cache: KvCache,
    keep: boolean,
    hooks?: GptHooks,
  ): { logits: Float32Array; attention?: Float32Array[][] } {
    this.checkToken(token);
    const {
      nEmbd: C,
      nHead: H,
      ffnSize: F,
      vocabSize: V,
      blockSize,
      layerNormEps: eps,
      gelu: geluKind,
    } = this.config;
    if (cache.k.length !== this.config.nLayer || cache.k[0].length !== blockSize * C) {
      throw new GptError("this KV cache was made for a different model");
    }
    const pos = cache.length;
    if (pos >= blockSize)
      throw new GptError(`the KV cache is full: this model's context is ${blockSize} positions`);
    const D = C / H;
    const scale = 1 / Math.sqrt(D);
    const W = this.weights;
    const l0 = this.enterLayer(hooks, 1);
    const x = new Float32Array(C);
    if (hooks?.enter) x.set(hooks.enter.x);
    else if (hooks?.embedding) this.embedWithHook([token], pos, x, hooks.embedding);
    else this.embed(token, pos, x, 0);
    const h = new Float32Array(C);
    const scores = new Float64Array(pos + 1);
    const attention: Float32Array[][] | undefined = keep ? [] : undefined;
    for (let l = l0; l < W.blocks.length; l++) {
      const rows: Float32Array[] = [];
      const blk = W.blocks[l];
      layerNormRow(x, 0, C, blk.ln1, eps, h, 0);
      const qkv = addBias(matVec(blk.qkv.weight, h, 3 * C, C), 1, blk.qkv.bias);
      const K = cache.k[l];
      const Vc = cache.v[l];
      K.set(qkv.subarray(C, 2 * C), pos * C);
      Vc.set(qkv.subarray(2 * C, 3 * C), pos * C);
      const y = new Float32Array(C);
      for (let hd = 0; hd < H; hd++) {
        let max = -Infinity;
        for (let i = 0; i <= pos; i++) {
          let s = 0;
          for (let d = 0; d < D; d++) s += qkv[hd * D + d] * K[i * C + hd * D + d];
          s *= scale;
          scores[i] = s;
          if (s > max) max = s;
        }
        let sum = 0;
        for (let i = 0; i <= pos; i++) {
          scores[i] = Math.exp(scores[i] - max);
          sum += scores[i];
        }
        const row = keep ? new Float32Array(pos + 1) : undefined;
        for (let i = 0; i <= pos; i++) {
          const a = scores[i] / sum;
          if (row) row[i] = a;
          for (let d = 0; d < D; d++) y[hd * D + d] += a * Vc[i * C + hd * D + d];
        }
        if (row) rows.push(row);
      }
      if (attention) attention.push(rows);
      const o = addBias(matVec(blk.proj.weight, y, C, C), 1, blk.proj.bias);
      for (let c = 0; c < C; c++) x[c] += o[c];
      layerNormRow(x, 0, C, blk.ln2, eps, h, 0);
      const a = addBias(matVec(blk.fc.weight, h, F, C), 1, blk.fc.bias);
      for (let j = 0; j < F; j++) a[j] = gelu(a[j], geluKind);
      const m = addBias(matVec(blk.fcOut.weight, a, C, F), 1, blk.fcOut.bias);
      for (let c = 0; c < C; c++) x[c] += m[c];
      hooks?.blockOutput?.(l, x);
    }
    cache.length = pos + 1;
    layerNormRow(x, 0, C, W.lnF, eps, h, 0);
    const logits = matVec(W.head, h, V, C);
    return attention ? { logits, attention } : { logits };
  }
}
