/**
 * The fused RNN step of RWKV-4 as hand-written WGSL (arXiv 2305.13048 v4: Eq. 11-18, Appendix D), four kernels
 * a block plus the embedding, the head and a sampler. Every shape is baked into the source as constants
 * (one module set per model shape), fp32 throughout.
 *
 * Buffers (all fp32 unless noted; vectors of C are read as vec4):
 *   x      (C)        the residual stream of the token being processed
 *   xln    (C)        the last LayerNorm output (ln1 or ln2), kept for the token shift of the next token
 *   rkv    (3C)       k_t, v_t, r_t of the current block (Eq. 11-13), stacked in that order
 *   kk     (F)        max(k'_t, 0)^2 of channel mixing (Eq. 15, 18)
 *   rr     (C)        r'_t of channel mixing (Eq. 14), before the sigmoid
 *   state  (L, 5, C)  per block: attX, a, b, p, ffnX (the names of src/rwkv/weights.ts LayerState)
 *   vecs   (11, C)    per block: ln1.w, ln1.b, ln2.w, ln2.b, att.muK, muV, muR, w, u, ffn.muK, muR (VEC)
 *   logits (V), probs (V) scratch of the sampler
 *   parts  (u32 x 2)  per head workgroup: its largest logit (f32 bits) and that logit's row, for the argmax
 *   tokens (u32)      the token of every position of the current run; ctl (u32): [position, rng state]
 *
 * A block is four dispatches; each workgroup (256 threads) computes a few output rows (ROWS_OF: 8 of the stacked
 * matrices, 4 of the C-row ones, 16 of the head, the fastest of a sweep on an H100, docs/benchmarks.md; 256 / rows
 * threads a row, summed by a tree in workgroup memory), and every workgroup recomputes what its rows need from
 * vectors (the LayerNorm of x, the WKV of all channels), so no dispatch waits on a reduction from another. Each
 * workgroup first loads its share of its rows into registers (up to PREFETCH vec4 a thread), then computes that
 * prologue while the loads are in flight: a dispatch then costs the longer of the two, not their sum. A state field
 * is written only by a dispatch in which no other workgroup reads it (workgroup 0 writes it), so the state needs no
 * double buffer:
 *
 *   timeMixIn   LayerNorm ln1 + token shift with attX (Eq. 11-13) + [W_k; W_v; W_r] x (3C rows)      -> rkv, xln
 *   timeMixOut  WKV with the bonus u and Appendix D's running maximum p (Eq. 16), gate sigmoid(r) (Eq. 17),
 *               W_o (C rows) + residual; workgroup 0: attX <- xln                                      -> x
 *   chanMixIn   LayerNorm ln2 + token shift with ffnX + [W'_k; W'_r] x (F + C rows), squared ReLU (Eq. 18);
 *               workgroup 0: the WKV state update a, b, p (Appendix D)                                 -> kk, rr, xln
 *   chanMixOut  W'_v kk (C rows) gated by sigmoid(r') + residual (Eq. 18); workgroup 0: ffnX <- xln     -> x
 *
 * Block 0's timeMixIn also does the embedding (embedMixIn: every workgroup takes ln0 of the embedding row of
 * tokens[position], workgroup 0 writes it to x), and block 0's timeMixOut advances the position; head (ln_out + the
 * V-row head, and each workgroup's argmax) and sample (greedy, or temperature + top-p with a seeded mulberry32,
 * written to tokens[position]) complete a step: 4L + 1 dispatches with the head, + 1 with the sampler.
 */

/** Offsets (in C-vectors) of the per-block vectors in `vecs`. */
export const VEC = {
  ln1w: 0,
  ln1b: 1,
  ln2w: 2,
  ln2b: 3,
  attMuK: 4,
  attMuV: 5,
  attMuR: 6,
  attW: 7,
  attU: 8,
  ffnMuK: 9,
  ffnMuR: 10,
} as const;
export const N_VEC = 11;
/** Fields of one block's state, in order (C each). */
export const STATE_FIELDS = ["attX", "a", "b", "p", "ffnX"] as const;

export const WG = 256;
/** output rows per workgroup of each matrix-vector kernel (WG / rows threads share a row) */
export const ROWS_OF: RowsOf = { rkvIn: 8, rkvOut: 4, ffnIn: 8, ffnOut: 4, head: 16 };
export interface RowsOf {
  rkvIn: number;
  rkvOut: number;
  ffnIn: number;
  ffnOut: number;
  head: number;
}
/** the most rows a workgroup of a block's kernels takes (timeMixIn's must divide C, chanMixIn's F) */
export const ROWS = 16;
/** the most rows a workgroup of the head takes (its last workgroup may have fewer: V need not be a multiple) */
export const HEAD_ROWS = 128;
/** vec4 of each lane's share of its row loaded before the prologue, at most (the rest is streamed after it) */
export const PREFETCH = 12;
/** the same for the head, whose prologue is its LayerNorm alone */
export const HEAD_PREFETCH = 8;
/** sampler: bins of each of its two histogram levels, and the log-probability range its keys cover */
export const SAMPLE_BINS = 1024;
export const SAMPLE_RANGE = 64;

export interface Shape {
  C: number;
  F: number;
  V: number;
  eps: number;
}

const f = (x: number): string => {
  const s = String(x);
  return /[.e]/.test(s) ? s : `${s}.0`;
};

/** Constants and helpers every kernel shares. */
function prelude({ C, F, V, eps }: Shape, rows = ROWS): string {
  return /* wgsl */ `
const C: u32 = ${C}u;
const C4: u32 = ${C / 4}u;
const F: u32 = ${F}u;
const F4: u32 = ${F / 4}u;
const V: u32 = ${V}u;
const EPS: f32 = ${f(eps)};
const WG: u32 = ${WG}u;
const LANES: u32 = ${WG / rows}u;
const ROWS: u32 = ${rows}u;

var<workgroup> red: array<f32, ${WG}>;

// sum of v over the workgroup, the same (uniform) value in every thread; uniform control flow only
fn reduce_sum(tid: u32, v: f32) -> f32 {
  red[tid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (tid < s) { red[tid] += red[tid + s]; }
    workgroupBarrier();
  }
  return workgroupUniformLoad(&red[0]);
}

fn sigmoid4(x: vec4<f32>) -> vec4<f32> { return 1.0 / (1.0 + exp(-x)); }
fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
`;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, k) => k);

/** vec4 of a C-vector each thread holds (vec4 k of thread tid is tid + k * WG), for a shape */
const sharesOf = (shape: Shape): number => Math.ceil(shape.C / 4 / WG);

/**
 * The thread's share of a C-vector: index i<k> of vec4 k, clamped (a thread past C4 reads a copy it does not use),
 * and on<k> whether it is the thread's own.
 */
function shareIndex(n: number): string {
  return range(n)
    .map((k) => {
      const t = k === 0 ? "tid" : `tid + ${k * WG}u`;
      return `
  let i${k} = min(${t}, C4 - 1u);
  let on${k} = ${t} < C4;`;
    })
    .join("");
}

/** `mean` and `inv` (1 / standard deviation) of the C-vector whose shares are v0, v1, ... (two passes) */
function lnStats(n: number, v: string, mean: string, inv: string): string {
  const sum = range(n)
    .map((k) => `select(0.0, dot(${v}${k}, vec4<f32>(1.0)), on${k})`)
    .join(" + ");
  const sq = range(n)
    .map((k) => `select(0.0, dot(${v}${k} - vec4<f32>(${mean}), ${v}${k} - vec4<f32>(${mean})), on${k})`)
    .join(" + ");
  return /* wgsl */ `
  let ${mean} = reduce_sum(tid, ${sum}) / f32(C);
  let ${inv} = inverseSqrt(reduce_sum(tid, ${sq}) / f32(C) + EPS);`;
}

/**
 * LayerNorm of x into xs, mixed with the state's previous LayerNorm output (token shift, Eq. 11-15:
 * mu * x_t + (1 - mu) * x_{t-1}); workgroup 0 also writes the LayerNorm output to xln. x is the thread's shares
 * x0, x1, ... (loaded here unless `loaded`); every vector is loaded before the first reduction, so the prologue
 * waits for memory once. `vec` is how the block's vectors are read (`vecs[` or an offset into another binding).
 */
function lnShift(
  n: number,
  lnW: number,
  lnB: number,
  muOf: string,
  prevField: number,
  { loaded = false, vec = "vecs[" }: { loaded?: boolean; vec?: string } = {},
): string {
  const loads = range(n)
    .map(
      (k) => `${loaded ? "" : `\n  let x${k} = x[i${k}];`}
  let g${k} = ${vec}${lnW}u * C4 + i${k}];
  let h${k} = ${vec}${lnB}u * C4 + i${k}];
  let m${k} = ${vec}mu * C4 + i${k}];
  let p${k} = state[st + ${prevField}u * C4 + i${k}];`,
    )
    .join("");
  const mix = range(n)
    .map(
      (k) => `
  if (on${k}) {
    let xl = (x${k} - vec4<f32>(mean)) * inv * g${k} + h${k};
    if (wg.x == 0u) { xln[i${k}] = xl; }
    xs[i${k}] = xl * m${k} + p${k} * (vec4<f32>(1.0) - m${k});
  }`,
    )
    .join("");
  return /* wgsl */ `
  let st = P.layer * 5u * C4;
  let mu = ${muOf};${loads}${lnStats(n, "x", "mean", "inv")}${mix}
  workgroupBarrier();`;
}

/** A matrix-vector product in two parts (see matvec). */
interface Matvec {
  load: string;
  dot: string;
}

/**
 * The product of the workgroup's ROWS rows (row-major, nIn4 vec4 a row; rows past nRows read the last row and
 * their sums are not written) with a vector read by `input(j)` (vec4 j), in two parts:
 *  - `load`, first in main: the first `pre` vec4 of the lane's share of its row (at most PREFETCH), read into
 *    registers before anything the product waits for, so that the weights' memory latency overlaps the prologue
 *    (the LayerNorm, the WKV) instead of following it;
 *  - `dot`: the sum (the rest of the row streamed), leaving `total` (the row's sum) in thread tid < ROWS for row
 *    `row` = row0 + tid.
 */
function matvec(
  nIn4: number,
  nRows: string,
  rows: number,
  input: (j: string) => string,
  pre = PREFETCH,
): Matvec {
  const lanes = WG / rows;
  const held = Math.min(Math.ceil(nIn4 / lanes), pre);
  let load = /* wgsl */ `
  let row0 = wg.x * ROWS;
  let lane = tid % LANES;
  let base = min(row0 + tid / LANES, ${nRows} - 1u) * ${nIn4}u;`;
  let dot = /* wgsl */ `
  var acc = 0.0;`;
  for (let k = 0; k < held; k++) {
    const j = k === 0 ? "lane" : `lane + ${k * lanes}u`;
    if ((k + 1) * lanes <= nIn4) {
      load += `\n  let w${k} = W[base + ${j}];`;
      dot += `\n  acc += dot(w${k}, ${input(j)});`;
    } else {
      load += `\n  let w${k} = W[base + min(${j}, ${nIn4 - 1}u)];`;
      dot += `\n  if (${j} < ${nIn4}u) { acc += dot(w${k}, ${input(j)}); }`;
    }
  }
  if (held * lanes < nIn4)
    dot += `
  for (var j = lane + ${held * lanes}u; j < ${nIn4}u; j += LANES) { acc += dot(W[base + j], ${input("j")}); }`;
  dot += /* wgsl */ `
  red[tid] = acc;
  workgroupBarrier();
  for (var s2 = LANES / 2u; s2 > 0u; s2 = s2 >> 1u) {
    if (lane < s2) { red[tid] += red[tid + s2]; }
    workgroupBarrier();
  }
  let row = row0 + tid;
  var total = 0.0;
  if (tid < ROWS) { total = red[tid * LANES]; }`;
  return { load, dot };
}

const PARAMS = /* wgsl */ `struct Params { layer: u32 }
@group(0) @binding(0) var<uniform> P: Params;`;

const xs = (j: string): string => `xs[${j}]`;

/**
 * timeMixIn; with `first` (block 0) the embedding too: every workgroup takes ln0 of the embedding row of
 * tokens[position] (the embed step folded in, one dispatch fewer), and workgroup 0 writes it to x.
 */
export function timeMixIn(shape: Shape, first = false, rows = ROWS_OF.rkvIn): string {
  const n = sharesOf(shape);
  const mv = matvec(shape.C / 4, "3u * C", rows, xs);
  const mu = `${VEC.attMuK}u + (wg.x * ROWS) / C`;
  const ln = lnShift(n, VEC.ln1w, VEC.ln1b, mu, 0, { loaded: first, vec: "W[VOFF + " });
  const shares = shareIndex(n);
  const xBind = first
    ? `@group(0) @binding(2) var<storage, read_write> x: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> emb: array<vec4<f32>>;      // (V, C), then ln0's weight and bias
@group(0) @binding(7) var<storage, read> tokens: array<u32>;
@group(0) @binding(8) var<storage, read> ctl: array<u32>;            // [position, rng]`
    : `@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;`;
  const embedPart = first
    ? /* wgsl */ `
  // ln0 of the embedding row of tokens[position] (the position advances in block 0's timeMixOut)
  let eb = min(tokens[ctl[0]], V - 1u) * C4;${range(n)
    .map(
      (k) => `
  let e${k} = emb[eb + i${k}];
  let ew${k} = emb[V * C4 + i${k}];
  let ebias${k} = emb[(V + 1u) * C4 + i${k}];`,
    )
    .join("")}${lnStats(n, "e", "mean0", "inv0")}${range(n)
    .map(
      (k) => `
  let x${k} = (e${k} - vec4<f32>(mean0)) * inv0 * ew${k} + ebias${k};
  if (wg.x == 0u && on${k}) { x[i${k}] = x${k}; }`,
    )
    .join("")}`
    : "";
  return /* wgsl */ `${prelude(shape, rows)}
${PARAMS}
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;        // [W_k; W_v; W_r] (3C, C), then VEC (11, C)
${xBind}
@group(0) @binding(3) var<storage, read> state: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> rkv: array<f32>;
@group(0) @binding(5) var<storage, read_write> xln: array<vec4<f32>>;
const VOFF: u32 = 3u * C * C4; // the block's vectors, behind the matrices
var<workgroup> xs: array<vec4<f32>, C4>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {${mv.load}${shares}${embedPart}
  // rows 0..C-1 are k (mixed with mu_k), C..2C-1 v (mu_v), 2C..3C-1 r (mu_r): a workgroup's rows share one${ln}
  ${mv.dot}
  if (tid < ROWS && row < 3u * C) { rkv[row] = total; }
}
`;
}

export function timeMixOut(shape: Shape, rows = ROWS_OF.rkvOut): string {
  const mv = matvec(shape.C / 4, "C", rows, xs);
  return /* wgsl */ `${prelude(shape, rows)}
${PARAMS}
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;        // W_o (C, C)
@group(0) @binding(2) var<storage, read> vecs: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> rkv: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> xln: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> ctl: array<u32>;      // [position, rng]
var<workgroup> xs: array<vec4<f32>, C4>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {${mv.load}
  let st = P.layer * 5u * C4;
  // block 0: the position advances (no other workgroup of this dispatch reads it)
  if (P.layer == 0u && wg.x == 0u && tid == 0u) { ctl[0] = ctl[0] + 1u; }
  for (var i = tid; i < C4; i += WG) {
    let k = rkv[i];
    let v = rkv[C4 + i];
    let r = rkv[2u * C4 + i];
    let a = state[st + C4 + i];
    let b = state[st + 2u * C4 + i];
    let p = state[st + 3u * C4 + i];
    // Eq. 16 with the running maximum of Appendix D: the state (a, b) is scaled by e^{-p}
    let uk = vecs[${VEC.attU}u * C4 + i] + k;
    let m = max(p, uk);
    let e1 = exp(p - m);
    let e2 = exp(uk - m);
    let wkv = (e1 * a + e2 * v) / (e1 * b + e2);
    xs[i] = sigmoid4(r) * wkv; // the receptance gate (Eq. 17)
    if (wg.x == 0u) { state[st + i] = xln[i]; } // attX: this token's ln1 output, for the next token's shift
  }
  workgroupBarrier();
  ${mv.dot}
  if (tid < ROWS && row < C) { x[row] = x[row] + total; } // residual
}
`;
}

export function chanMixIn(shape: Shape, rows = ROWS_OF.ffnIn): string {
  const n = sharesOf(shape);
  const mv = matvec(shape.C / 4, "F + C", rows, xs);
  const ln = lnShift(n, VEC.ln2w, VEC.ln2b, `select(${VEC.ffnMuK}u, ${VEC.ffnMuR}u, wg.x * ROWS >= F)`, 4);
  return /* wgsl */ `${prelude(shape, rows)}
${PARAMS}
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;        // [W'_k; W'_r] (F + C, C)
@group(0) @binding(2) var<storage, read> vecs: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> rkv: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> kk: array<f32>;
@group(0) @binding(7) var<storage, read_write> rr: array<f32>;
@group(0) @binding(8) var<storage, read_write> xln: array<vec4<f32>>;
var<workgroup> xs: array<vec4<f32>, C4>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {${mv.load}${shareIndex(n)}
  // rows 0..F-1 are k' (mixed with mu'_k), F..F+C-1 r' (mu'_r)${ln}
  if (wg.x == 0u) {
    // the WKV state update (Appendix D): decay once by e^{w}, add this token with weight e^{k}; no other
    // workgroup of this dispatch reads a, b or p
    for (var i = tid; i < C4; i += WG) {
      let k = rkv[i];
      let v = rkv[C4 + i];
      let a = state[st + C4 + i];
      let b = state[st + 2u * C4 + i];
      let pw = state[st + 3u * C4 + i] + vecs[${VEC.attW}u * C4 + i];
      let m = max(pw, k);
      let f1 = exp(pw - m);
      let f2 = exp(k - m);
      state[st + C4 + i] = f1 * a + f2 * v;
      state[st + 2u * C4 + i] = f1 * b + f2;
      state[st + 3u * C4 + i] = m;
    }
  }
  ${mv.dot}
  if (tid < ROWS && row < F) {
    let h = max(total, 0.0);
    kk[row] = h * h; // squared ReLU (Eq. 18)
  } else if (tid < ROWS && row < F + C) {
    rr[row - F] = total;
  }
}
`;
}

export function chanMixOut(shape: Shape, rows = ROWS_OF.ffnOut): string {
  const mv = matvec(shape.F / 4, "C", rows, (j) => `kk[${j}]`);
  return /* wgsl */ `${prelude(shape, rows)}
${PARAMS}
@group(0) @binding(1) var<storage, read> W: array<vec4<f32>>;        // W'_v (C, F)
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> kk: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> rr: array<f32>;
@group(0) @binding(6) var<storage, read> xln: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {${mv.load}
  if (wg.x == 0u) {
    let st = P.layer * 5u * C4;
    for (var i = tid; i < C4; i += WG) { state[st + 4u * C4 + i] = xln[i]; } // ffnX: this token's ln2 output
  }
  ${mv.dot}
  if (tid < ROWS && row < C) { x[row] = x[row] + sigmoid(rr[row]) * total; } // Eq. 18 + residual
}
`;
}

/**
 * The argmax of n candidates (red: values, redi: their indices; n a power of 2) into red[0] and redi[0] by a tree:
 * the larger value wins, the smaller index among equal ones. Uniform control flow only.
 */
const argmaxTree = (n: string): string => /* wgsl */ `
  for (var s = ${n} / 2u; s > 0u; s = s >> 1u) {
    if (tid < s) {
      let o = red[tid + s];
      let oi = redi[tid + s];
      if (o > red[tid] || (o == red[tid] && oi < redi[tid])) { red[tid] = o; redi[tid] = oi; }
    }
    workgroupBarrier();
  }`;

/** Workgroups of the head, and (argmax) pairs in `parts`: one per `rows` rows of the logits. */
export const headParts = (V: number, rows: number): number => Math.ceil(V / rows);

/**
 * ln_out and the head: logits[row] for the workgroup's rows, and parts[workgroup] = (the largest of them as u32
 * bits, its row; the first of equal ones), so that the sampler's argmax reads one pair a workgroup instead of V
 * logits. The first HEAD_PREFETCH vec4 of each lane's share of its row are loaded before the LayerNorm.
 */
export function head(shape: Shape, rows = ROWS_OF.head): string {
  const n = sharesOf(shape);
  const mv = matvec(shape.C / 4, "V", rows, xs, HEAD_PREFETCH);
  // ln_out of x into xs, its vectors loaded before the first reduction
  const loads = range(n).map(
    (k) => `
  let x${k} = x[i${k}];
  let g${k} = lnOut[i${k}];
  let h${k} = lnOut[C4 + i${k}];`,
  );
  const norm = range(n).map(
    (k) => `
  if (on${k}) { xs[i${k}] = (x${k} - vec4<f32>(mean)) * inv * g${k} + h${k}; }`,
  );
  const ln = `${loads.join("")}${lnStats(n, "x", "mean", "inv")}${norm.join("")}`;
  return /* wgsl */ `${prelude(shape, rows)}
@group(0) @binding(0) var<storage, read> W: array<vec4<f32>>;        // head (V, C)
@group(0) @binding(1) var<storage, read> lnOut: array<vec4<f32>>;    // weight (C), bias (C)
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;
@group(0) @binding(4) var<storage, read_write> parts: array<vec2<u32>>;
var<workgroup> xs: array<vec4<f32>, C4>;
var<workgroup> redi: array<u32, ROWS>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32, @builtin(workgroup_id) wg: vec3<u32>) {${mv.load}${shareIndex(n)}${ln}
  workgroupBarrier();
  ${mv.dot}
  if (tid < ROWS && row < V) { logits[row] = total; }
  // the workgroup's argmax (a NaN never wins, as in the sampler's scan before)
  workgroupBarrier();
  if (tid < ROWS) {
    var v = -3.4e38;
    var vi = 0xffffffffu;
    if (row < V && total > v) { v = total; vi = row; }
    red[tid] = v;
    redi[tid] = vi;
  }
  workgroupBarrier();${argmaxTree("ROWS")}
  if (tid == 0u) { parts[wg.x] = vec2<u32>(bitcast<u32>(red[0]), redi[0]); }
}
`;
}

/** parts (as the head writes them) from logits written by the CPU (FusedRwkv.setLogits): one thread a part. */
export function argmaxParts(shape: Shape, rows = ROWS_OF.head): string {
  return /* wgsl */ `
const V: u32 = ${shape.V}u;
const ROWS: u32 = ${rows}u;
const NPARTS: u32 = ${headParts(shape.V, rows)}u;
@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> parts: array<vec2<u32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  let p = g.x;
  if (p >= NPARTS) { return; }
  var v = -3.4e38;
  var vi = 0xffffffffu;
  for (var r = p * ROWS; r < min(V, p * ROWS + ROWS); r++) {
    let l = logits[r];
    if (l > v) { v = l; vi = r; }
  }
  parts[p] = vec2<u32>(bitcast<u32>(v), vi);
}
`;
}

/**
 * The next token from logits, on the GPU, written to tokens[position] (one workgroup):
 * temperature 0: argmax (the first of equal maxima, as src/rwkv/sampling.ts argmax), from the head's `parts`;
 * else p_i = exp(z_i), z_i = (l_i - max) / T <= 0, and the nucleus found with two histogram passes instead of a
 * sort: every token gets the key floor(-z_i * 2^20 / 64) (0 for the most probable; SAMPLE_BINS^2 keys over
 * SAMPLE_RANGE of log-probability, the last one holding everything below), the first pass sums the mass of each
 * key's top 10 bits, the second, inside the bin where the cumulative mass from the top reaches top_p, the mass of
 * each of its low 10 bits; the nucleus is every token whose key is at most the key where the cumulative mass
 * reaches top_p. Bin masses are fixed-point (p_i / sum * 2^31, summed with workgroup atomics, so within
 * V / 2^32 of the mass), and tokens whose log-probabilities are within 64 / 2^20 = 6.1e-5 of the boundary
 * token's share its key and are kept with it. Then the token where u * (nucleus mass) falls in the cumulative
 * sum in index order, u from mulberry32 (ctl[1]; 24 bits): the same distribution as Sampler.sample (which walks
 * the nucleus in descending order), any token of the nucleus with probability proportional to p_i.
 */
export function sample(shape: Shape, headRows = ROWS_OF.head): string {
  const chunk = Math.ceil(shape.V / WG);
  const nKeys = SAMPLE_BINS * SAMPLE_BINS;
  return /* wgsl */ `${prelude(shape)}
struct Sampling { temperature: f32, topP: f32 }
@group(0) @binding(0) var<uniform> S: Sampling;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> tokens: array<u32>;
@group(0) @binding(4) var<storage, read_write> ctl: array<u32>;
@group(0) @binding(5) var<storage, read> parts: array<vec2<u32>>;   // the head's argmax of each workgroup
const CHUNK: u32 = ${chunk}u;
const NPARTS: u32 = ${headParts(shape.V, headRows)}u;
const BINS: u32 = ${SAMPLE_BINS}u;
const BITS: u32 = ${Math.log2(SAMPLE_BINS)}u;
var<workgroup> redi: array<u32, ${WG}>;
var<workgroup> hist: array<atomic<u32>, ${SAMPLE_BINS}>;
var<workgroup> pick: u32;
var<workgroup> selBin: u32;
var<workgroup> selMass: u32;

// mulberry32 (src/rwkv/random.ts), advancing ctl[1]; 24 bits so that u < 1 in f32
fn uniform01() -> f32 {
  let a = ctl[1] + 0x6d2b79f5u;
  ctl[1] = a;
  var t = a;
  t = (t ^ (t >> 15u)) * (t | 1u);
  t = t ^ (t + (t ^ (t >> 7u)) * (t | 61u));
  t = t ^ (t >> 14u);
  return f32(t >> 8u) / 16777216.0;
}

// the nucleus key of logit l: 0 for the largest, larger for less probable tokens
fn zkey(l: f32, m: f32) -> u32 {
  let z = (l - m) / S.temperature;
  return u32(clamp(-z * ${f(nKeys / SAMPLE_RANGE)}, 0.0, ${f(nKeys - 1)}));
}

// thread 0: the first bin (from the most probable) where the cumulative mass from c0 reaches goal
fn scanBins(tid: u32, c0: u32, goal: u32) {
  // each thread sums 4 bins, thread 0 walks the 256 sums, then the 4 bins of the one that crosses
  let per = BINS / WG;
  var own = 0u;
  for (var j = 0u; j < per; j++) { own += atomicLoad(&hist[tid * per + j]); }
  redi[tid] = own;
  workgroupBarrier();
  if (tid == 0u) {
    var c = c0;
    var b = BINS - 1u;
    var found = false;
    for (var t = 0u; t < WG && !found; t++) {
      if (c + redi[t] >= goal) {
        for (var j = 0u; j < per; j++) {
          let h = atomicLoad(&hist[t * per + j]);
          if (c + h >= goal) { b = t * per + j; found = true; break; }
          c += h;
        }
      } else { c += redi[t]; }
    }
    selBin = b;
    selMass = c;
  }
  workgroupBarrier();
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32) {
  let lo0 = tid * CHUNK;
  let hi0 = min(V, lo0 + CHUNK);
  // argmax with the first index among equal values, from the head's argmax of each of its workgroups
  var best = -3.4e38;
  var bi = 0xffffffffu;
  for (var i = tid; i < NPARTS; i += WG) {
    let e = parts[i];
    let l = bitcast<f32>(e.x);
    if (l > best || (l == best && e.y < bi)) { best = l; bi = e.y; }
  }
  red[tid] = best;
  redi[tid] = bi;
  workgroupBarrier();${argmaxTree("WG")}
  let m = red[0];
  let argmax = redi[0];
  workgroupBarrier();
  if (S.temperature <= 0.0) {
    if (tid == 0u) { tokens[ctl[0]] = argmax; }
    return;
  }
  // unnormalised probabilities p_i = exp(z_i), z_i = (l_i - max) / T <= 0
  var total = 0.0;
  for (var i = lo0; i < hi0; i++) {
    let p = exp((logits[i] - m) / S.temperature);
    probs[i] = p;
    total += p;
  }
  let Z = reduce_sum(tid, total);
  // the nucleus: keys 0..kth
  var kth = ${nKeys - 1}u;
  if (S.topP < 1.0) {
    let scale = 2147483648.0 / Z;
    let goal = u32(S.topP * 2147483648.0);
    for (var j = tid; j < BINS; j += WG) { atomicStore(&hist[j], 0u); }
    workgroupBarrier();
    for (var i = lo0; i < hi0; i++) {
      atomicAdd(&hist[zkey(logits[i], m) >> BITS], u32(probs[i] * scale + 0.5));
    }
    workgroupBarrier();
    scanBins(tid, 0u, goal);
    let hi = selBin;
    let above = selMass;
    for (var j = tid; j < BINS; j += WG) { atomicStore(&hist[j], 0u); }
    workgroupBarrier();
    for (var i = lo0; i < hi0; i++) {
      let k = zkey(logits[i], m);
      if ((k >> BITS) == hi) { atomicAdd(&hist[k & (BINS - 1u)], u32(probs[i] * scale + 0.5)); }
    }
    workgroupBarrier();
    scanBins(tid, above, goal);
    kth = (hi << BITS) | selBin;
  }
  // this thread's share of the nucleus mass, then an exclusive prefix over the threads
  var mine = 0.0;
  var last = 0xffffffffu;
  for (var i = lo0; i < hi0; i++) { if (zkey(logits[i], m) <= kth) { mine += probs[i]; last = i; } }
  red[tid] = mine;
  redi[tid] = last;
  workgroupBarrier();
  if (tid == 0u) {
    var acc = 0.0;
    var lastAll = argmax;
    for (var t = 0u; t < WG; t++) {
      let c = red[t];
      red[t] = acc;
      acc += c;
      if (redi[t] != 0xffffffffu) { lastAll = redi[t]; }
    }
    // the point u * (nucleus mass) where the cumulative sum picks the token; the last nucleus token if rounding
    // leaves it past the end
    pick = lastAll;
    redi[0] = bitcast<u32>(uniform01() * acc);
  }
  workgroupBarrier();
  let xt = bitcast<f32>(redi[0]);
  let start = red[tid];
  if (xt >= start && xt < start + mine) {
    var c = start;
    var chosen = last;
    for (var i = lo0; i < hi0; i++) {
      if (zkey(logits[i], m) <= kth) {
        c += probs[i];
        if (xt < c) { chosen = i; break; }
      }
    }
    pick = chosen;
  }
  workgroupBarrier();
  if (tid == 0u) { tokens[ctl[0]] = pick; }
}
`;
}
