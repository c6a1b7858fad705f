/**
 * Dense kernels of the reference model. Plain loops over Float32Array, accumulating in float64
 * (JavaScript numbers); results are stored as fp32. Matrices use nn.Linear's (out, in) layout.
 */
import type { LayerNormWeights } from "./weights.js";

/** y = LayerNorm(x) * weight + bias over one row of C values (ln0, ln1, ln2, ln_out). */
export function layerNormRow(
  x: Float32Array,
  xOff: number,
  C: number,
  ln: LayerNormWeights,
  eps: number,
  out: Float32Array,
  outOff: number,
): void {
  let mean = 0;
  for (let i = 0; i < C; i++) mean += x[xOff + i];
  mean /= C;
  let variance = 0;
  for (let i = 0; i < C; i++) {
    const d = x[xOff + i] - mean;
    variance += d * d;
  }
  variance /= C; // biased variance, as torch.nn.functional.layer_norm
  const inv = 1 / Math.sqrt(variance + eps);
  const { weight, bias } = ln;
  for (let i = 0; i < C; i++) out[outOff + i] = (x[xOff + i] - mean) * inv * weight[i] + bias[i];
}

/** LayerNorm over each of the T rows of a (T, C) matrix. */
export function layerNorm(
  x: Float32Array,
  T: number,
  C: number,
  ln: LayerNormWeights,
  eps: number,
): Float32Array {
  const out = new Float32Array(T * C);
  for (let t = 0; t < T; t++) layerNormRow(x, t * C, C, ln, eps, out, t * C);
  return out;
}

/** y (out) = W (out, in) . x (in): the single-token matvec of RNN mode. */
export function matVec(W: Float32Array, x: Float32Array, nOut: number, nIn: number): Float32Array {
  const y = new Float32Array(nOut);
  for (let o = 0; o < nOut; o++) {
    const base = o * nIn;
    let s0 = 0,
      s1 = 0,
      s2 = 0,
      s3 = 0;
    let i = 0;
    for (; i + 3 < nIn; i += 4) {
      s0 += W[base + i] * x[i];
      s1 += W[base + i + 1] * x[i + 1];
      s2 += W[base + i + 2] * x[i + 2];
      s3 += W[base + i + 3] * x[i + 3];
    }
    for (; i < nIn; i++) s0 += W[base + i] * x[i];
    y[o] = s0 + s1 + s2 + s3;
  }
  return y;
}

/**
 * Y (T, out) = X (T, in) . W^T: every position at once (parallel mode). Rows of W are read
 * once per block of positions, so the weights stream through the cache once per block, not once per token.
 */
export function matMul(X: Float32Array, T: number, W: Float32Array, nOut: number, nIn: number): Float32Array {
  const Y = new Float32Array(T * nOut);
  const TB = 16;
  for (let t0 = 0; t0 < T; t0 += TB) {
    const t1 = Math.min(T, t0 + TB);
    for (let o = 0; o < nOut; o++) {
      const wb = o * nIn;
      for (let t = t0; t < t1; t++) {
        const xb = t * nIn;
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0;
        let i = 0;
        for (; i + 3 < nIn; i += 4) {
          s0 += W[wb + i] * X[xb + i];
          s1 += W[wb + i + 1] * X[xb + i + 1];
          s2 += W[wb + i + 2] * X[xb + i + 2];
          s3 += W[wb + i + 3] * X[xb + i + 3];
        }
        for (; i < nIn; i++) s0 += W[wb + i] * X[xb + i];
        Y[t * nOut + o] = s0 + s1 + s2 + s3;
      }
    }
  }
  return Y;
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}
