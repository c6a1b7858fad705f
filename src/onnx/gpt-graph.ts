/**
 * ONNX graph of the transformer baseline (src/transformer/gpt.ts: pre-LN GPT, causal softmax attention,
 * arXiv 2305.13048 v4 Eq. 7-8), with a KV cache, standard operators only (opset 17), fp32 initializers.
 *
 * One graph serves prompt and decoding: T new tokens (dynamic) are appended to a cache of P earlier ones
 * (dynamic, P = 0 for a fresh prompt).
 *   inputs:  tokens int64 [T]; positions int64 [T] (P .. P+T-1); attn_mask float [T, P+T] (0 where token t may
 *            attend to key j, i.e. j <= P + t, and -1e30 elsewhere); past_k, past_v float [L, P, C]
 *   outputs: logits [T, V]; present_k, present_v [L, P+T, C]; with `attention: true` also
 *            `layer<l>.attention` [H, T, P+T] (softmax weights, the figures' attention maps)
 * The runtime makes positions and the mask (so the graph needs no Shape/Range, which ORT puts on the CPU).
 * Memory: the cache grows by 2 L C floats per token; attention scores take 4 H T (P+T) bytes per layer.
 */
import type { GptWeights } from "../transformer/gpt.js";
import { GraphBuilder } from "./builder.js";
import { DataType } from "./proto.js";
import { transpose } from "./rwkv-graph.js";

export const GPT_NAMES = {
  tokens: "tokens",
  positions: "positions",
  mask: "attn_mask",
  pastK: "past_k",
  pastV: "past_v",
  logits: "logits",
  presentK: "present_k",
  presentV: "present_v",
  attention: (layer: number) => `layer${layer}.attention`,
} as const;

export interface GptGraphOptions {
  /** output the attention weights of every layer (default false) */
  attention?: boolean;
}

/**
 * The GPT graphs' building blocks on `g` (shared by the step graph here and the trace-step graph): an fp32
 * initializer, LayerNorm over the C channels, and a linear layer `x W^T + b` with W stored transposed.
 */
export function gptOps(g: GraphBuilder, C: number, layerNormEps: number) {
  const eps = { float: layerNormEps };
  const init = (name: string, dims: number[], data: Float32Array) => g.floatInit(name, dims, data);
  const ln = (x: string, p: string, lw: { weight: Float32Array; bias: Float32Array }) =>
    g.op("LayerNormalization", [x, init(`${p}.weight`, [C], lw.weight), init(`${p}.bias`, [C], lw.bias)], {
      axis: -1,
      epsilon: eps,
    });
  const linear = (
    x: string,
    p: string,
    lin: { weight: Float32Array; bias?: Float32Array },
    out: number,
    inp: number,
  ) => {
    const y = g.op("MatMul", [x, init(`${p}.weight_T`, [inp, out], transpose(lin.weight, out, inp))]);
    return lin.bias ? g.op("Add", [y, init(`${p}.bias`, [out], lin.bias)]) : y;
  };
  /** The MLP's activation: the erf GELU or its tanh approximation, as the checkpoint's config says. */
  const gelu = (a: string, kind: "erf" | "tanh") => {
    if (kind === "erf") {
      // 0.5 x (1 + erf(x / sqrt 2)); opset 17 has no Gelu operator
      return g.op("Mul", [
        g.op("Mul", [a, g.constF(0.5)]),
        g.op("Add", [g.constF(1), g.op("Erf", [g.op("Mul", [a, g.constF(Math.SQRT1_2)])])]),
      ]);
    }
    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const cube = g.op("Mul", [g.op("Mul", [a, a]), a]);
    const inner = g.op("Mul", [
      g.op("Add", [a, g.op("Mul", [cube, g.constF(0.044715)])]),
      g.constF(Math.sqrt(2 / Math.PI)),
    ]);
    return g.op("Mul", [g.op("Mul", [a, g.constF(0.5)]), g.op("Add", [g.constF(1), g.op("Tanh", [inner])])]);
  };
  return { init, ln, linear, gelu };
}

export function buildGptGraph(w: GptWeights, opts: GptGraphOptions = {}): Uint8Array {
  const { nLayer: L, nEmbd: C, nHead: H, ffnSize: F, vocabSize: V, blockSize, layerNormEps, gelu } = w.config;
  const D = C / H;
  const g = new GraphBuilder();
  const tokens = g.input(GPT_NAMES.tokens, DataType.INT64, ["T"], "new token ids");
  const positions = g.input(GPT_NAMES.positions, DataType.INT64, ["T"], "their positions P .. P+T-1");
  const mask = g.input(GPT_NAMES.mask, DataType.FLOAT, ["T", "S"], "additive causal mask, S = P + T");
  const pastK = g.input(GPT_NAMES.pastK, DataType.FLOAT, [L, "P", C], "cached keys");
  const pastV = g.input(GPT_NAMES.pastV, DataType.FLOAT, [L, "P", C], "cached values");
  const { init, ln, linear, gelu: geluOp } = gptOps(g, C, layerNormEps);
  const heads = (x: string) =>
    g.op("Transpose", [g.op("Reshape", [x, g.constI([-1, H, D])])], { perm: [1, 0, 2] }); // (H, N, D)

  // x = wte[token] + wpe[position], (T, C)
  let x = g.op("Add", [
    g.op("Gather", [init("wte.weight", [V, C], w.wte), tokens], { axis: 0 }),
    g.op("Gather", [init("wpe.weight", [blockSize, C], w.wpe), positions], { axis: 0 }),
  ]);
  const pk =
    L === 1 ? [pastK] : g.opN("Split", [pastK, g.constI(new Array<number>(L).fill(1))], L, { axis: 0 });
  const pv =
    L === 1 ? [pastV] : g.opN("Split", [pastV, g.constI(new Array<number>(L).fill(1))], L, { axis: 0 });
  const presentK: string[] = [];
  const presentV: string[] = [];
  const scale = g.constF(1 / Math.sqrt(D));
  for (let l = 0; l < L; l++) {
    const b = w.blocks[l];
    const p = `blocks.${l}`;
    // ---- attention (Eq. 7-8): softmax(Q K^T / sqrt(D) + mask) V per head
    const h = ln(x, `${p}.ln1`, b.ln1);
    const qkv = linear(h, `${p}.attn.qkv`, b.qkv, 3 * C, C); // (T, 3C)
    const [q, k, v] = g.opN("Split", [qkv, g.constI([C, C, C])], 3, { axis: 1 }); // (T, C) each
    const kAll = g.op("Concat", [g.op("Squeeze", [pk[l], g.constI([0])]), k], { axis: 0 }); // (S, C)
    const vAll = g.op("Concat", [g.op("Squeeze", [pv[l], g.constI([0])]), v], { axis: 0 }); // (S, C)
    presentK.push(g.op("Unsqueeze", [kAll, g.constI([0])]));
    presentV.push(g.op("Unsqueeze", [vAll, g.constI([0])]));
    const kT = g.op("Transpose", [g.op("Reshape", [kAll, g.constI([-1, H, D])])], { perm: [1, 2, 0] }); // (H, D, S)
    const scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [heads(q), kT]), scale]), mask]); // (H, T, S)
    const att = g.op("Softmax", [scores], { axis: -1 }); // (H, T, S)
    if (opts.attention) g.output(GPT_NAMES.attention(l), att, DataType.FLOAT, [H, "T", "S"]);
    const y = g.op("Reshape", [
      g.op("Transpose", [g.op("MatMul", [att, heads(vAll)])], { perm: [1, 0, 2] }), // (T, H, D)
      g.constI([-1, C]),
    ]); // (T, C)
    x = g.op("Add", [x, linear(y, `${p}.attn.proj`, b.proj, C, C)]);
    // ---- MLP: W_proj GELU(W_fc h + b_fc) + b_proj
    const a = linear(ln(x, `${p}.ln2`, b.ln2), `${p}.mlp.fc`, b.fc, F, C); // (T, F)
    const act = geluOp(a, gelu);
    x = g.op("Add", [x, linear(act, `${p}.mlp.proj`, b.fcOut, C, F)]);
  }
  const xf = ln(x, "ln_f", w.lnF);
  g.output(
    GPT_NAMES.logits,
    g.op("MatMul", [xf, init("head.weight_T", [C, V], transpose(w.head, V, C))]),
    DataType.FLOAT,
    ["T", V],
  );
  g.output(
    GPT_NAMES.presentK,
    L === 1 ? presentK[0] : g.op("Concat", presentK, { axis: 0 }),
    DataType.FLOAT,
    [L, "S", C],
  );
  g.output(
    GPT_NAMES.presentV,
    L === 1 ? presentV[0] : g.op("Concat", presentV, { axis: 0 }),
    DataType.FLOAT,
    [L, "S", C],
  );
  return g.encode("gpt_kv_cache", "transformer baseline with a KV cache (arXiv 2305.13048 v4, Eq. 7-8)", {
    "gpt.config": JSON.stringify(w.config),
    "gpt.attention": String(!!opts.attention),
  });
}
