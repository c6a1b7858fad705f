/**
 * Deterministic random RWKV-4 weights made in process (nothing downloaded), for benchmarks and
 * tests that need the exact shapes of a real model. They are NOT a trained model: anything shown
 * from them must be labelled "synthetic".
 *
 * The values follow the shape of RWKV-LM's v4 initialisation so activations stay in a realistic
 * range: decays spread from fast to slow across channels, time_first near log(0.3), token-shift
 * mixes in (0, 1), matrices ~ U(-1, 1) / sqrt(fan_in).
 */
import { mulberry32 } from "./random.js";
import type { BlockWeights, LayerNormWeights, RwkvConfig, RwkvWeights } from "./weights.js";

export const SHAPES = {
  /** RWKV-4-Pile-169M: 12 x 768, FFN 3072, vocab 50,277 */
  pile169m: { nLayer: 12, nEmbd: 768, ffnSize: 3072, vocabSize: 50277, layerNormEps: 1e-5 },
  /** RWKV-4-Pile-430M: 24 x 1024, FFN 4096 */
  pile430m: { nLayer: 24, nEmbd: 1024, ffnSize: 4096, vocabSize: 50277, layerNormEps: 1e-5 },
  /** the shape of the project's tiny character model */
  tiny: { nLayer: 4, nEmbd: 256, ffnSize: 1024, vocabSize: 65, layerNormEps: 1e-5 },
} as const satisfies Record<string, RwkvConfig>;

export function syntheticWeights(config: RwkvConfig, seed = 0): RwkvWeights {
  const rand = mulberry32(seed);
  const { nLayer: L, nEmbd: C, ffnSize: F, vocabSize: V } = config;
  const uniform = (n: number, scale: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
    return a;
  };
  const ln = (): LayerNormWeights => ({
    weight: Float32Array.from({ length: C }, () => 1 + (rand() - 0.5) * 0.2),
    bias: uniform(C, 0.05),
  });
  const blocks: BlockWeights[] = [];
  for (let l = 0; l < L; l++) {
    const r01 = L > 1 ? l / (L - 1) : 0;
    const r1to0 = 1 - l / L;
    const w = new Float32Array(C);
    const u = new Float32Array(C);
    const muK = new Float32Array(C);
    const muV = new Float32Array(C);
    const muR = new Float32Array(C);
    for (let c = 0; c < C; c++) {
      const h = C > 1 ? c / (C - 1) : 0;
      const timeDecay = -5 + 8 * h ** (0.7 + 1.3 * r01);
      w[c] = -Math.exp(timeDecay); // load transform w = -exp(time_decay)
      u[c] = Math.log(0.3) + (((c + 1) % 3) - 1) * 0.5;
      const x = c / C;
      muK[c] = x ** r1to0;
      muV[c] = x ** r1to0 + 0.3 * r01;
      muR[c] = x ** (0.5 * r1to0);
    }
    const s = 1 / Math.sqrt(C);
    blocks.push({
      ln1: ln(),
      ln2: ln(),
      att: {
        muK,
        muV,
        muR,
        w,
        u,
        Wk: uniform(C * C, s),
        Wv: uniform(C * C, s),
        Wr: uniform(C * C, s),
        Wo: uniform(C * C, s),
      },
      ffn: {
        muK: muK.slice(),
        muR: muR.slice(),
        Wk: uniform(F * C, s),
        Wv: uniform(C * F, 1 / Math.sqrt(F)),
        Wr: uniform(C * C, s),
      },
    });
  }
  return {
    config,
    emb: uniform(V * C, 0.5),
    ln0: ln(),
    blocks,
    lnOut: ln(),
    head: uniform(V * C, 1 / Math.sqrt(C)),
  };
}

/** The paper's parameter count (Sect. 5 / Table 2): 2VD + 13D^2 L + D(11L + 4), for FFN = 4D. */
export function paperParameterCount(config: RwkvConfig): number {
  const { vocabSize: V, nEmbd: D, nLayer: L } = config;
  return 2 * V * D + 13 * D * D * L + D * (11 * L + 4);
}

/** Parameters actually held by a weights object (every tensor, as in the checkpoint). */
export function countParameters(w: RwkvWeights): number {
  let n = w.emb.length + w.head.length + w.ln0.weight.length * 2 + w.lnOut.weight.length * 2;
  for (const b of w.blocks) {
    n += b.ln1.weight.length * 2 + b.ln2.weight.length * 2;
    const a = b.att;
    n += a.muK.length + a.muV.length + a.muR.length + a.w.length + a.u.length;
    n += a.Wk.length + a.Wv.length + a.Wr.length + a.Wo.length;
    const f = b.ffn;
    n += f.muK.length + f.muR.length + f.Wk.length + f.Wv.length + f.Wr.length;
  }
  return n;
}
