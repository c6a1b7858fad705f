/**
 * The RWKV-4 RNN step for causal tracing (chapter 9; Meng et al. 2022 as arXiv 2305.13048 v4 Appendix I applies
 * it): B independent runs advance one position each, so the L restored runs that start at the same position (one
 * per block) go through one session call.
 *
 *   inputs   x_emb [B, C]         the raw embedding rows emb[token] (+ the noise on the subject), before ln0
 *            attX, a, b, p, ffnX  [L, B, C] the state of each run before the step
 *            restore_mask [L, B]  1 where block l's output of run b is replaced, else 0
 *            restore_x [L, B, C]  the replacement values
 *   outputs  logits [B, V], attX_out ... ffnX_out [L, B, C], block_x [L, B, C] (each block's output after the
 *            restore: a clean run's block_x gives the values to restore)
 *
 * The restore is x <- x (1 - m) + r m with m in {0, 1}: exactly x or exactly r for finite values. Block l's own
 * state after the step is computed from its (unrestored) input, as the reference model's blockOutput hook leaves it.
 * The WKV is the stable recurrence of Appendix D, elementwise on [B, C]:
 *   q = max(p, u + k);   wkv = (e^{p-q} a + e^{u+k-q} v) / (e^{p-q} b + e^{u+k-q})
 *   q' = max(p + w, k);  a' = e^{p+w-q'} a + e^{k-q'} v;  b' = e^{p+w-q'} b + e^{k-q'};  p' = q'
 */
import { GraphBuilder } from "./builder.js";
import { LOGITS, STATE_NAMES, TRACE, stateIn, stateOut, type StateName } from "./names.js";
import { DataType } from "./proto.js";
import { block, type OnnxWeights, type Probe } from "./rwkv-graph.js";

export function buildRwkvTraceStepGraph(ow: OnnxWeights): Uint8Array {
  const { nLayer: L, nEmbd: C, vocabSize: V, layerNormEps } = ow.source.config;
  const g = new GraphBuilder();
  const eps = { float: layerNormEps };
  const xEmb = g.input(TRACE.xEmb, DataType.FLOAT, ["B", C], "raw embedding rows (+ noise)");
  const inp = {} as Record<StateName, string>;
  for (const s of STATE_NAMES)
    inp[s] = g.input(stateIn(s), DataType.FLOAT, [L, "B", C], `${s} per layer and run before`);
  const mask = g.input(TRACE.restoreMask, DataType.FLOAT, [L, "B"], "1: restore block l of run b");
  const restoreX = g.input(TRACE.restoreX, DataType.FLOAT, [L, "B", C], "values restored");
  const layer = (t: string, l: number) => g.op("Gather", [t, g.constI(l, true)], { axis: 0 });
  const keep = g.op("Unsqueeze", [g.op("Sub", [g.constF(1), mask]), g.constI([2])]); // (L, B, 1)
  const put = g.op("Unsqueeze", [mask, g.constI([2])]); // (L, B, 1)
  const noProbe: Probe = Object.assign(() => {}, { enabled: false });

  let x = g.op(
    "LayerNormalization",
    [
      xEmb,
      g.floatInit("blocks.0.ln0.weight", [C], ow.source.ln0.weight),
      g.floatInit("blocks.0.ln0.bias", [C], ow.source.ln0.bias),
    ],
    { axis: -1, epsilon: eps },
  ); // (B, C)
  const next: Record<StateName, string[]> = { attX: [], a: [], b: [], p: [], ffnX: [] };
  const blockX: string[] = [];
  for (let l = 0; l < L; l++) {
    const bw = ow.source.blocks[l];
    const [attX, a, b, p, ffnX] = STATE_NAMES.map((s) => layer(inp[s], l)); // (B, C) each
    const out = block(
      g,
      ow,
      l,
      {
        x,
        shiftTermAtt: (_xx, omm) => g.op("Mul", [attX, omm()]), // (3, B, C)
        shiftTermFfn: (_xx, omm) => g.op("Mul", [ffnX, omm()]), // (2, B, C)
        rows: (t, n) => Array.from({ length: n }, (_, i) => layer(t, i)), // (B, C) each
        wkv: (k, v) => {
          const uk = g.op("Add", [k, g.floatInit(`blocks.${l}.att.time_first`, [C], bw.att.u)]);
          const q = g.op("Max", [p, uk]);
          const e1 = g.op("Exp", [g.op("Sub", [p, q])]);
          const e2 = g.op("Exp", [g.op("Sub", [uk, q])]);
          const wkv = g.op("Div", [
            g.op("Add", [g.op("Mul", [e1, a]), g.op("Mul", [e2, v])]),
            g.op("Add", [g.op("Mul", [e1, b]), e2]),
          ]);
          const pw = g.op("Add", [p, g.floatInit(`blocks.${l}.att.time_decay`, [C], bw.att.w)]);
          const q2 = g.op("Max", [pw, k]);
          const f1 = g.op("Exp", [g.op("Sub", [pw, q2])]);
          const f2 = g.op("Exp", [g.op("Sub", [k, q2])]);
          next.a.push(g.op("Add", [g.op("Mul", [f1, a]), g.op("Mul", [f2, v])]));
          next.b.push(g.op("Add", [g.op("Mul", [f1, b]), f2]));
          next.p.push(q2);
          return wkv;
        },
      },
      noProbe,
    );
    next.attX.push(out.xxAtt);
    next.ffnX.push(out.xxFfn);
    // x <- x (1 - m) + r m: exactly x where m = 0, exactly r where m = 1
    x = g.op("Add", [g.op("Mul", [out.x, layer(keep, l)]), g.op("Mul", [layer(restoreX, l), layer(put, l)])]); // (B, C)
    blockX.push(x);
  }
  const ln = g.op(
    "LayerNormalization",
    [
      x,
      g.floatInit("ln_out.weight", [C], ow.source.lnOut.weight),
      g.floatInit("ln_out.bias", [C], ow.source.lnOut.bias),
    ],
    { axis: -1, epsilon: eps },
  );
  g.op("MatMul", [ln, g.floatInit("head.weight_T", [C, V], ow.headT)], {}, LOGITS);
  g.output(LOGITS, LOGITS, DataType.FLOAT, ["B", V]);
  const stack = (parts: string[], name: string) =>
    g.op(
      "Concat",
      parts.map((t) => g.op("Unsqueeze", [t, g.constI([0])])),
      { axis: 0 },
      name,
    ); // (L, B, C)
  for (const s of STATE_NAMES) {
    stack(next[s], stateOut(s));
    g.output(stateOut(s), stateOut(s), DataType.FLOAT, [L, "B", C], `${s} per layer and run after`);
  }
  stack(blockX, TRACE.blockX);
  g.output(TRACE.blockX, TRACE.blockX, DataType.FLOAT, [L, "B", C], "block outputs after the restore");
  return g.encode("rwkv4_trace_step", "RWKV-4 RNN step with restore inputs (causal tracing)", {
    "rwkv.graph": "trace-step",
    "rwkv.config": JSON.stringify(ow.source.config),
  });
}
