/**
 * The WKV operator of RWKV-4 (arXiv 2305.13048, numbering of v4; Eq. 16 and Appendix D).
 *
 * Conventions: `w` is the loaded decay, w = -exp(time_decay) < 0, so one step multiplies a
 * channel's memory by e^{w} (the paper writes e^{-w} with w > 0). `u` is the bonus time_first.
 * Per channel c and position t (1-based in the paper, 0-based here):
 *
 *   wkv_t = ( sum_{i<t} e^{(t-1-i) w + k_i} v_i + e^{u + k_t} v_t )
 *         / ( sum_{i<t} e^{(t-1-i) w + k_i}     + e^{u + k_t} )                 (Eq. 16)
 *
 * State: true accumulators A_t = sum_{i<=t} e^{(t-i) w + k_i} v_i and B_t (same without v) are
 * stored as (a, b, p) with A = e^{p} a, B = e^{p} b, so that no exponential ever overflows
 * (Appendix D). An empty state is a = b = 0, p = -1e38 (a stand-in for -inf).
 */

/** Exponent of the empty state: e^{p} = 0 for every practical purpose, and p + t*w stays finite. */
export const P_EMPTY = -1e38;

export interface WkvState {
  a: Float32Array; // (C)
  b: Float32Array; // (C)
  p: Float32Array; // (C)
}

export function emptyWkvState(C: number): WkvState {
  return { a: new Float32Array(C), b: new Float32Array(C), p: new Float32Array(C).fill(P_EMPTY) };
}

/**
 * n steps of decay in log space, n * w, with 0 * w = 0 also when w = -Infinity: a token that is not yet
 * decayed keeps its weight e^{k}. (time_decay >= ~88.7 makes w = -exp(time_decay) overflow to -Infinity in
 * fp32, i.e. e^{w} = 0, "forget at once"; IEEE 754 would give 0 * -Infinity = NaN.)
 */
export function decayExponent(n: number, w: number): number {
  return n === 0 ? 0 : n * w;
}

/**
 * The paper's direct form (Eq. 16), evaluated literally in fp32 arithmetic (every exponential,
 * product and sum rounded to fp32, as a GPU kernel would): it overflows once u + k_t or k_i
 * exceed ~88.7, where e^{k} is no longer a finite fp32 number, and then returns Infinity/NaN.
 * k, v: (T, C) row-major. Returns wkv (T, C). Starts from an empty state. O(T^2 C).
 */
export function wkvDirect(
  w: Float32Array,
  u: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  C: number,
): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(T * C);
  for (let c = 0; c < C; c++) {
    for (let t = 0; t < T; t++) {
      let num = 0;
      let den = 0;
      for (let i = 0; i < t; i++) {
        const e = f(Math.exp(f(f(decayExponent(t - 1 - i, w[c])) + k[i * C + c])));
        num = f(num + f(e * v[i * C + c]));
        den = f(den + e);
      }
      const eu = f(Math.exp(f(u[c] + k[t * C + c])));
      num = f(num + f(eu * v[t * C + c]));
      den = f(den + eu);
      out[t * C + c] = f(num / den);
    }
  }
  return out;
}

/**
 * One RNN step of the stable WKV (Appendix D) for all channels: reads and updates `s` in place.
 * k, v: this token's key and value (C). Writes wkv_t into `out` (C).
 */
export function wkvStep(
  w: Float32Array,
  u: Float32Array,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  s: WkvState,
  out: Float32Array,
  kOff = 0,
): void {
  const { a, b, p } = s;
  const C = w.length;
  for (let c = 0; c < C; c++) {
    const kc = k[kOff + c];
    const vc = v[kOff + c];
    // output: the state (decayed t-1-i steps) plus the current token with its bonus u
    const uk = u[c] + kc;
    const q = Math.max(p[c], uk);
    const e1 = Math.exp(p[c] - q);
    const e2 = Math.exp(uk - q);
    out[kOff + c] = (e1 * a[c] + e2 * vc) / (e1 * b[c] + e2);
    // update: decay the state once (e^{w}) and add the current token with weight e^{k}.
    // w = -Infinity (instant forgetting) gives pw = -Infinity, f1 = 0. Storing q2 rounds p + w to fp32, as
    // Hugging Face's CPU path and the CUDA kernel do, so the states stay equal to theirs; that rounding is
    // also what limits RNN mode on extreme keys (docs/hostile-inputs.md, "WKV").
    const pw = p[c] + w[c];
    const q2 = Math.max(pw, kc);
    const f1 = Math.exp(pw - q2);
    const f2 = Math.exp(kc - q2);
    a[c] = f1 * a[c] + f2 * vc;
    b[c] = f1 * b[c] + f2;
    p[c] = q2;
  }
}

/**
 * The sequential scan over a sequence, as the official CUDA kernel does: wkvStep for t = 0..T-1.
 * Updates `s` in place to the state after the last token. If `states` is given, the state after
 * every token is recorded there ((T, C) each), for the figures.
 */
export function wkvScan(
  w: Float32Array,
  u: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  s: WkvState,
  states?: { a: Float32Array; b: Float32Array; p: Float32Array },
): Float32Array {
  const C = w.length;
  const out = new Float32Array(T * C);
  for (let t = 0; t < T; t++) {
    wkvStep(w, u, k, v, s, out, t * C);
    if (states) {
      states.a.set(s.a, t * C);
      states.b.set(s.b, t * C);
      states.p.set(s.p, t * C);
    }
  }
  return out;
}

/**
 * The stable parallel (chunked) form: what the explainer teaches and the ONNX parallel graph uses.
 * Split the sequence into chunks of L tokens. Inside a chunk, for position t (0-based in the chunk)
 * the log-weights of every contribution are known in closed form:
 *
 *   carried state:      p + t*w                       (weights a, b)
 *   token i < t:        (t-1-i)*w + k_i               (weights v_i, 1)
 *   token i = t:        u + k_t                       (weights v_t, 1)
 *
 * i.e. a (L x L) lower-triangular matrix of relative decays per channel. Subtracting the row
 * maximum m_t before exponentiating keeps every term in [0, 1], so the result is finite for any
 * decay and key magnitude, including w = -Infinity (n*w is taken as 0 for n = 0: decayExponent).
 * The state after the chunk has exponents p + L*w and (L-1-i)*w + k_i, normalised by their maximum
 * rounded to fp32 (the precision p is stored in), so that a and b are exact relative to the stored p.
 * All positions of a chunk are computed at once (no dependence between t's inside a chunk).
 * Updates `s` in place; returns wkv (T, C).
 */
export function wkvChunked(
  w: Float32Array,
  u: Float32Array,
  k: Float32Array,
  v: Float32Array,
  T: number,
  s: WkvState,
  chunk = 32,
): Float32Array {
  const C = w.length;
  const out = new Float32Array(T * C);
  const logits = new Float64Array(chunk + 1); // one row of the (L x L) relative-decay matrix, plus the state
  for (let t0 = 0; t0 < T; t0 += chunk) {
    const L = Math.min(chunk, T - t0);
    for (let c = 0; c < C; c++) {
      const wc = w[c];
      const pc = s.p[c];
      const ac = s.a[c];
      const bc = s.b[c];
      for (let t = 0; t < L; t++) {
        // row t of the relative-decay matrix and its maximum
        let m = pc + decayExponent(t, wc);
        logits[chunk] = m;
        for (let i = 0; i < t; i++) {
          const x = decayExponent(t - 1 - i, wc) + k[(t0 + i) * C + c];
          logits[i] = x;
          if (x > m) m = x;
        }
        const xt = u[c] + k[(t0 + t) * C + c];
        logits[t] = xt;
        if (xt > m) m = xt;
        const es = Math.exp(logits[chunk] - m);
        let num = es * ac;
        let den = es * bc;
        for (let i = 0; i <= t; i++) {
          const e = Math.exp(logits[i] - m);
          num += e * v[(t0 + i) * C + c];
          den += e;
        }
        out[(t0 + t) * C + c] = num / den;
      }
      // carry: the state after the chunk's last token
      const ps = pc + L * wc; // L >= 1
      let m = ps;
      for (let i = 0; i < L; i++) {
        const x = decayExponent(L - 1 - i, wc) + k[(t0 + i) * C + c];
        if (x > m) m = x;
      }
      m = Math.fround(m); // the stored p; a and b are scaled to exactly this exponent
      const es = Math.exp(ps - m);
      let na = es * ac;
      let nb = es * bc;
      for (let i = 0; i < L; i++) {
        const e = Math.exp(decayExponent(L - 1 - i, wc) + k[(t0 + i) * C + c] - m);
        na += e * v[(t0 + i) * C + c];
        nb += e;
      }
      s.a[c] = na;
      s.b[c] = nb;
      s.p[c] = m;
    }
  }
  return out;
}
