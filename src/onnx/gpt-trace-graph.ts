/**
 * The transformer baseline's KV-cache step for causal tracing (chapter 9; Meng et al. 2022): B runs advance one
 * position each, all at the same position P, so the L restored runs that start at one position (one per block) go
 * through one session call. The arithmetic is ./gpt-graph.ts's for one query (no mask: it sees all P + 1 keys),
 * written so that the cache is read once and never copied whole: the scores are q . k summed over each head's
 * channels (Mul + ReduceSum on the cache's own layout, no Transpose, no Concat of the cache), the new key's score
 * joins them before the softmax, and only this step's keys and values come out (the caller appends them).
 *
 *   inputs   x_emb [B, C]          the token embedding rows wte[token] (+ the noise on the subject), before wpe
 *            position int64 [1]    P, the position of this step
 *            past_k, past_v        [L, B, P, C] each run's cached keys and values
 *            restore_mask [L, B]   1 where block l's output of run b is replaced, else 0
 *            restore_x [L, B, C]   the replacement values
 *   outputs  logits [B, V], new_k, new_v [L, B, C] (this step's keys and values), block_x [L, B, C] (block
 *            outputs after the restore)
 *
 * The restore is x <- x (1 - m) + r m with m in {0, 1}: exactly x or exactly r for finite values; block l's keys
 * and values at P come from its unrestored input, as the reference model's blockOutput hook leaves them.
 */
import type { GptWeights } from "../transformer/gpt.js";
import { GraphBuilder } from "./builder.js";
import { GPT_NAMES, gptOps } from "./gpt-graph.js";
import { TRACE } from "./names.js";
import { DataType } from "./proto.js";
import { transpose } from "./rwkv-graph.js";

export function buildGptTraceStepGraph(w: GptWeights): Uint8Array {
  const { nLayer: L, nEmbd: C, nHead: H, ffnSize: F, vocabSize: V, blockSize, layerNormEps, gelu } = w.config;
  const D = C / H;
  const g = new GraphBuilder();
  const xEmb = g.input(TRACE.xEmb, DataType.FLOAT, ["B", C], "token embedding rows (+ noise)");
  const position = g.input(TRACE.position, DataType.INT64, [1], "the position P of this step");
  const pastK = g.input(GPT_NAMES.pastK, DataType.FLOAT, [L, "B", "P", C], "cached keys per run");
  const pastV = g.input(GPT_NAMES.pastV, DataType.FLOAT, [L, "B", "P", C], "cached values per run");
  const mask = g.input(TRACE.restoreMask, DataType.FLOAT, [L, "B"], "1: restore block l of run b");
  const restoreX = g.input(TRACE.restoreX, DataType.FLOAT, [L, "B", C], "values restored");
  const { init, ln, linear, gelu: geluOp } = gptOps(g, C, layerNormEps);
  const layer = (t: string, l: number) => g.op("Gather", [t, g.constI(l, true)], { axis: 0 });
  const keep = g.op("Unsqueeze", [g.op("Sub", [g.constF(1), mask]), g.constI([2])]); // (L, B, 1)
  const put = g.op("Unsqueeze", [mask, g.constI([2])]); // (L, B, 1)

  // x = wte[token] (+ noise) + wpe[P], (B, C)
  let x = g.op("Add", [
    xEmb,
    g.op("Gather", [init("wpe.weight", [blockSize, C], w.wpe), position], { axis: 0 }),
  ]);
  const scale = g.constF(1 / Math.sqrt(D));
  const newK: string[] = [];
  const newV: string[] = [];
  const blockX: string[] = [];
  for (let l = 0; l < L; l++) {
    const b = w.blocks[l];
    const p = `blocks.${l}`;
    const h = ln(x, `${p}.ln1`, b.ln1);
    const qkv = linear(h, `${p}.attn.qkv`, b.qkv, 3 * C, C); // (B, 3C)
    const [q, k, v] = g.opN("Split", [qkv, g.constI([C, C, C])], 3, { axis: 1 }); // (B, C) each
    newK.push(g.op("Unsqueeze", [k, g.constI([0])]));
    newV.push(g.op("Unsqueeze", [v, g.constI([0])]));
    const heads4 = (t: string) => g.op("Reshape", [t, g.constI([0, -1, H, D])]); // (B, n, H, D)
    const q4 = heads4(q); // (B, 1, H, D)
    const dot = (kk: string) =>
      g.op("ReduceSum", [g.op("Mul", [q4, heads4(kk)]), g.constI([3])], { keepdims: 0 });
    const scores = g.op("Concat", [dot(layer(pastK, l)), dot(k)], { axis: 1 }); // (B, S, H)
    const att = g.op("Softmax", [g.op("Mul", [scores, scale])], { axis: 1 }); // (B, S, H)
    const attPast = g.op("Slice", [att, g.constI([0]), g.constI([-1]), g.constI([1])]); // (B, P, H)
    const attNew = g.op("Slice", [att, g.constI([-1]), g.constI([Number.MAX_SAFE_INTEGER]), g.constI([1])]); // (B, 1, H)
    const weighted = (a: string, vv: string) =>
      g.op("ReduceSum", [g.op("Mul", [g.op("Unsqueeze", [a, g.constI([3])]), heads4(vv)]), g.constI([1])], {
        keepdims: 0,
      }); // (B, H, D)
    const y = g.op("Reshape", [
      g.op("Add", [weighted(attPast, layer(pastV, l)), weighted(attNew, v)]),
      g.constI([-1, C]),
    ]); // (B, C)
    x = g.op("Add", [x, linear(y, `${p}.attn.proj`, b.proj, C, C)]);
    const a = linear(ln(x, `${p}.ln2`, b.ln2), `${p}.mlp.fc`, b.fc, F, C); // (B, F)
    const act = geluOp(a, gelu);
    const out = g.op("Add", [x, linear(act, `${p}.mlp.proj`, b.fcOut, C, F)]);
    // x <- x (1 - m) + r m: exactly x where m = 0, exactly r where m = 1
    x = g.op("Add", [g.op("Mul", [out, layer(keep, l)]), g.op("Mul", [layer(restoreX, l), layer(put, l)])]);
    blockX.push(g.op("Unsqueeze", [x, g.constI([0])]));
  }
  const xf = ln(x, "ln_f", w.lnF);
  g.output(
    GPT_NAMES.logits,
    g.op("MatMul", [xf, init("head.weight_T", [C, V], transpose(w.head, V, C))]),
    DataType.FLOAT,
    ["B", V],
  );
  const cat = (parts: string[]) => g.op("Concat", parts, { axis: 0 });
  g.output(TRACE.newK, cat(newK), DataType.FLOAT, [L, "B", C], "this step's keys");
  g.output(TRACE.newV, cat(newV), DataType.FLOAT, [L, "B", C], "this step's values");
  g.output(TRACE.blockX, cat(blockX), DataType.FLOAT, [L, "B", C], "block outputs after the restore");
  return g.encode("gpt_trace_step", "transformer KV-cache step with restore inputs (causal tracing)", {
    "gpt.config": JSON.stringify(w.config),
  });
}
