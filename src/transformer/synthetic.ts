/**
 * Deterministic random GPT tensors, under the checkpoint's own key names, so a synthetic model goes through the
 * same loader as the trained one (gptWeightsFromTensors). NOT a trained model: anything drawn from it must be
 * labelled "synthetic".
 */
import { mulberry32 } from "../rwkv/random.js";
import type { Tensor, TensorMap } from "../rwkv/tensor.js";

export interface SyntheticGptShape {
  nLayer: number;
  nEmbd: number;
  nHead: number;
  vocabSize: number;
  blockSize: number;
  /** default 4 * nEmbd */
  ffnSize?: number;
  /** write separate attn.q/k/v instead of the fused attn.qkv (default false) */
  splitQkv?: boolean;
  /** write biases on the linear layers (default true) */
  bias?: boolean;
  /** write head.weight (default true; false = tied to wte) */
  head?: boolean;
}

/** The shape of the project's tiny GPT baseline, until its trained file lands. */
export const TINY_GPT_SHAPE: SyntheticGptShape = {
  nLayer: 4,
  nEmbd: 192,
  nHead: 6,
  vocabSize: 65,
  blockSize: 256,
};

export function syntheticGptTensors(shape: SyntheticGptShape, seed = 0): TensorMap {
  const rand = mulberry32(seed);
  const { nLayer: L, nEmbd: C, vocabSize: V, blockSize } = shape;
  const F = shape.ffnSize ?? 4 * C;
  const bias = shape.bias ?? true;
  const map: TensorMap = new Map();
  const put = (name: string, dims: number[], scale: number, offset = 0): void => {
    let n = 1;
    for (const d of dims) n *= d;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + (rand() * 2 - 1) * scale;
    const t: Tensor = { shape: dims, data };
    map.set(name, t);
  };
  put("wte.weight", [V, C], 0.5);
  put("wpe.weight", [blockSize, C], 0.1);
  const s = 1 / Math.sqrt(C);
  for (let l = 0; l < L; l++) {
    const p = `blocks.${l}.`;
    put(`${p}ln1.weight`, [C], 0.1, 1);
    put(`${p}ln1.bias`, [C], 0.05);
    if (shape.splitQkv) {
      for (const q of ["q", "k", "v"]) {
        // larger q/k scale: peaked attention, so the figures have structure
        put(`${p}attn.${q}.weight`, [C, C], q === "v" ? s : 3 * s);
        if (bias) put(`${p}attn.${q}.bias`, [C], 0.05);
      }
    } else {
      put(`${p}attn.qkv.weight`, [3 * C, C], 2 * s);
      if (bias) put(`${p}attn.qkv.bias`, [3 * C], 0.05);
    }
    put(`${p}attn.proj.weight`, [C, C], s);
    if (bias) put(`${p}attn.proj.bias`, [C], 0.02);
    put(`${p}ln2.weight`, [C], 0.1, 1);
    put(`${p}ln2.bias`, [C], 0.05);
    put(`${p}mlp.fc.weight`, [F, C], s);
    if (bias) put(`${p}mlp.fc.bias`, [F], 0.05);
    put(`${p}mlp.proj.weight`, [C, F], 1 / Math.sqrt(F));
    if (bias) put(`${p}mlp.proj.bias`, [C], 0.02);
  }
  put("ln_f.weight", [C], 0.1, 1);
  put("ln_f.bias", [C], 0.05);
  if (shape.head ?? true) put("head.weight", [V, C], s);
  return map;
}
