/**
 * Chapter 7, the whole model: parameters and FLOPs of RWKV-4 (arXiv 2305.13048 v4, Table 2 and its notes), the
 * pre-LN block and the counts of the loaded model's own tensors. Pure: the page and the calculator (a D3
 * component fed by `calculatorInputs`) render what these return.
 *
 * Parameters (the paper's formula, V vocabulary, D width, L layers, channel-mix hidden size 4D):
 *   #params = 2VD + 13 D^2 L + D(11L + 4)
 *     2VD        emb.weight (V, D) and head.weight (V, D)
 *     13 D^2 L   per layer: time mixing W_k, W_v, W_r, W_o (4 D^2); channel mixing W'_k (4D x D),
 *                W'_v (D x 4D), W'_r (D x D): 9 D^2
 *     11 D L     per layer: ln1, ln2 (4D), mu_k, mu_v, mu_r, w, u (5D), mu'_k, mu'_r (2D)
 *     4D         ln0 and ln_out (weight and bias each)
 * For a hidden size F other than 4D the same count is 2VD + L(5D^2 + 2DF) + D(11L + 4) (`exactParams`).
 *
 * FLOPs per token, forward: Table 2's column equals 2(VD + 13 D^2 L) exactly for all six models: two FLOPs
 * (a multiply and an add) per weight of every matrix a token is multiplied by, i.e. the 13 D^2 per layer and the
 * head's VD; the embedding is a table lookup, not a product. Element-wise work (token shift, WKV, LayerNorm,
 * activations) is O(LD) and left out. The notes also mention the cruder "2 x parameters" (30% high for 169M).
 * Unlike a transformer's, none of these depends on the context length.
 *
 * API:
 *   TEX.block, TEX.params, TEX.flops                  the pre-LN block (Fig. 2), Table 2's two formulas
 *   TABLE2_PRESETS                                    the six RWKV-4 Pile models of Table 2, with its printed values
 *   paperParams(shape) / exactParams(shape)           2VD + 13D²L + D(11L+4), and the same for any hidden size F
 *   table2Flops(shape)                                2(VD + 13D²L): Table 2's FLOPs per token
 *   printedFlops(shape) -> {v4, v1}                   the formulas printed under the table (they miss it)
 *   sciTex(x)                                         "2.613 \times 10^{8}", as Table 2 prints numbers
 *   rwkvMatrices(weights) -> MatrixInfo[]             the matrices of loaded weights, lookup or matmul
 *   matmulFlops(matrices)                             2 per weight of every multiplied matrix
 *   modelCounts(weights) -> ModelCounts               chapter 7's counts on the loaded tensors (build time and page)
 *   calculatorRows(shape, {loaded?, table2?})         the calculator's table for a shape
 *   calculatorInputs(loaded) -> {presets, loaded, rows}   what the calculator component is fed
 *   wholeModelFacts(shape, counts) -> {...}           the numbers chapter 7's prose quotes
 *   decodeCounts(json) -> Precounted                  the build-time counts (data/traces/whole-model.json)
 *   shownCounts(live, precounted, synthetic)          the live counts once the model is loaded, else the build's
 *   DIAGRAM_LINKS, diagramLinks(pages)                the block diagram's links to the chapters in this build
 */
import { countParameters } from "../rwkv/synthetic.js";
import type { RwkvWeights } from "../rwkv/weights.js";

export const TEX = {
  /** the pre-LN residual block (Fig. 2) */
  block: String.raw`\begin{aligned}
x &\leftarrow x + \mathrm{TimeMixing}(\mathrm{LN}_1(x)) \\
x &\leftarrow x + \mathrm{ChannelMixing}(\mathrm{LN}_2(x))
\end{aligned}`,
  /** Table 2's parameter count */
  params: String.raw`\#\text{params} = 2VD + 13D^2L + D(11L + 4)`,
  /** Table 2's FLOP column */
  flops: String.raw`\text{FLOPs}_\text{forward} = 2\,(VD + 13D^2L)`,
  /** the formulas printed in the notes under Table 2, which do not give its numbers */
  printed: String.raw`\text{v4: } 2\,(2VD + 13D^2L) \qquad\qquad \text{v1 (Appendix C): } 6\,(VD + 13D^2L)`,
} as const;

export interface RwkvShape {
  /** layers */
  L: number;
  /** width (model dimension) */
  D: number;
  /** vocabulary */
  V: number;
  /** channel-mix hidden size; 4D when absent */
  F?: number;
}

export interface Preset extends RwkvShape {
  name: string;
  /** Table 2's printed values, where the paper lists the model */
  table2?: { params: number; flops: number };
}

/** The six RWKV-4 Pile models of Table 2 (V = 50,277). */
export const TABLE2_PRESETS: Preset[] = [
  { name: "169M", L: 12, D: 768, V: 50277, table2: { params: 1.693e8, flops: 2.613e8 } },
  { name: "430M", L: 24, D: 1024, V: 50277, table2: { params: 4.304e8, flops: 7.573e8 } },
  { name: "1.5B", L: 24, D: 2048, V: 50277, table2: { params: 1.515e9, flops: 2.823e9 } },
  { name: "3B", L: 32, D: 2560, V: 50277, table2: { params: 2.985e9, flops: 5.71e9 } },
  { name: "7B", L: 32, D: 4096, V: 50277, table2: { params: 7.393e9, flops: 1.437e10 } },
  { name: "14B", L: 40, D: 5120, V: 50277, table2: { params: 1.415e10, flops: 2.778e10 } },
];

function check(s: RwkvShape): void {
  for (const [k, v] of Object.entries(s)) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
      throw new RangeError(`${k} must be a positive integer, got ${v}`);
    }
  }
}

/** The paper's formula: 2VD + 13 D^2 L + D(11L + 4). */
export function paperParams(s: RwkvShape): number {
  check(s);
  const { L, D, V } = s;
  return 2 * V * D + 13 * D * D * L + D * (11 * L + 4);
}

/** The same count for any hidden size F: 2VD + L(5D^2 + 2DF) + D(11L + 4). */
export function exactParams(s: RwkvShape): number {
  check(s);
  const { L, D, V } = s;
  const F = s.F ?? 4 * D;
  return 2 * V * D + L * (5 * D * D + 2 * D * F) + D * (11 * L + 4);
}

/** Forward FLOPs per token as Table 2 prints them: 2(VD + 13 D^2 L) (for hidden size F: 2(VD + L(5D^2 + 2DF))). */
export function table2Flops(s: RwkvShape): number {
  check(s);
  const { L, D, V } = s;
  const F = s.F ?? 4 * D;
  return 2 * (V * D + L * (5 * D * D + 2 * D * F));
}

/**
 * The FLOP formulas the paper's notes print beside Table 2, neither of which gives the table's numbers: v4 writes
 * 2(2VD + 13D^2L) (which counts the embedding as a product too), v1's Appendix C 6(VD + 13D^2L) (forward and
 * backward, "3x fw FLOPs", though its text calls it the forward pass).
 */
export function printedFlops(s: RwkvShape): { v4: number; v1: number } {
  check(s);
  const { L, D, V } = s;
  return { v4: 2 * (2 * V * D + 13 * D * D * L), v1: 6 * (V * D + 13 * D * D * L) };
}

/** A number as the paper prints Table 2, in TeX: 2.613 \times 10^{8}. */
export function sciTex(x: number): string {
  const e = Math.floor(Math.log10(Math.abs(x)));
  return String.raw`${(x / 10 ** e).toFixed(3)} \times 10^{${e}}`;
}

/** Matrix shapes a model holds, e.g. from its weights: [rows, cols] per matrix, with how it is used. */
export interface MatrixInfo {
  name: string;
  rows: number;
  cols: number;
  /** "lookup" for the embedding (a row is read, nothing multiplied), "matmul" for the rest */
  use: "lookup" | "matmul";
}

/** The matrices of loaded RWKV weights, shaped as in the checkpoint (nn.Linear (out, in)). */
export function rwkvMatrices(w: RwkvWeights): MatrixInfo[] {
  const D = w.config.nEmbd;
  const out: MatrixInfo[] = [{ name: "emb.weight", rows: w.emb.length / D, cols: D, use: "lookup" }];
  w.blocks.forEach((b, l) => {
    const p = `blocks.${l}.`;
    out.push(
      { name: `${p}att.key.weight`, rows: b.att.Wk.length / D, cols: D, use: "matmul" },
      { name: `${p}att.value.weight`, rows: b.att.Wv.length / D, cols: D, use: "matmul" },
      { name: `${p}att.receptance.weight`, rows: b.att.Wr.length / D, cols: D, use: "matmul" },
      { name: `${p}att.output.weight`, rows: b.att.Wo.length / D, cols: D, use: "matmul" },
      { name: `${p}ffn.key.weight`, rows: b.ffn.Wk.length / D, cols: D, use: "matmul" },
      { name: `${p}ffn.value.weight`, rows: D, cols: b.ffn.Wv.length / D, use: "matmul" },
      { name: `${p}ffn.receptance.weight`, rows: b.ffn.Wr.length / D, cols: D, use: "matmul" },
    );
  });
  out.push({ name: "head.weight", rows: w.head.length / D, cols: D, use: "matmul" });
  return out;
}

/** 2 FLOPs per weight of every matrix multiplied per token (the same rule as Table 2, applied to real tensors). */
export function matmulFlops(matrices: MatrixInfo[]): number {
  let n = 0;
  for (const m of matrices) if (m.use === "matmul") n += 2 * m.rows * m.cols;
  return n;
}

export interface LoadedModelInfo {
  /** label, e.g. "tiny-rwkv (loaded)" */
  name: string;
  shape: RwkvShape;
  /** every value of every tensor in the loaded weights */
  actualParams: number;
  /** matmulFlops of the loaded weights' matrices */
  actualFlops: number;
}

/** Chapter 7's counts of loaded weights (the build-time loader and the page compute them the same way). */
export interface ModelCounts {
  shape: Required<RwkvShape>;
  /** every value of every tensor */
  actualParams: number;
  /** 2 per weight of every matrix multiplied per token */
  actualFlops: number;
}

export function modelCounts(weights: RwkvWeights): ModelCounts {
  const { nLayer, nEmbd, vocabSize, ffnSize } = weights.config;
  return {
    shape: { L: nLayer, D: nEmbd, V: vocabSize, F: ffnSize },
    actualParams: countParameters(weights),
    actualFlops: matmulFlops(rwkvMatrices(weights)),
  };
}

/** One row of the calculator's table: a quantity by formula, and beside it what was counted or printed. */
export interface CalculatorRow {
  label: string;
  /** the formula in words, e.g. "2VD + 13D²L + D(11L + 4)" */
  formula: string;
  /** from the formula, for the shape entered */
  ours: number;
  /** counted on the loaded tensors (only with `loaded`) */
  actual?: number;
  /** printed in Table 2 (only with `table2`) */
  printed?: number;
}

export interface CalculatorTable {
  rows: CalculatorRow[];
  /** the numbers the state holds, 5·L·D (the caption quotes it with its fp32 bytes) */
  stateNumbers: number;
}

/**
 * The calculator's table for a shape (RangeError for a shape that is not positive whole numbers): parameters by
 * the general formula (and by the paper's when F is not 4D), forward FLOPs per token, training (3 x forward) and
 * the cruder 2 x parameters; `loaded` adds the counts of the loaded tensors, `table2` the printed values.
 */
export function calculatorRows(
  shape: Required<RwkvShape>,
  { loaded, table2 }: { loaded?: Omit<ModelCounts, "shape">; table2?: Preset["table2"] } = {},
): CalculatorTable {
  const params = exactParams(shape);
  const paper = paperParams(shape);
  const flops = table2Flops(shape);
  const F4 = shape.F === 4 * shape.D;
  const rows: CalculatorRow[] = [
    {
      label: "Parameters",
      formula: F4 ? "2VD + 13D²L + D(11L + 4)" : "2VD + L(5D² + 2DF) + D(11L + 4)",
      ours: params,
      ...(loaded ? { actual: loaded.actualParams } : {}),
      ...(table2 ? { printed: table2.params } : {}),
    },
  ];
  if (!F4)
    rows.push({
      label: "Parameters, the paper's formula (assumes F = 4D)",
      formula: "2VD + 13D²L + D(11L + 4)",
      ours: paper,
    });
  rows.push(
    {
      label: "FLOPs per token, forward",
      formula: F4 ? "2(VD + 13D²L)" : "2(VD + L(5D² + 2DF))",
      ours: flops,
      ...(loaded ? { actual: loaded.actualFlops } : {}),
      ...(table2 ? { printed: table2.flops } : {}),
    },
    {
      label: "FLOPs per token, training (3 × forward)",
      formula: F4 ? "6(VD + 13D²L)" : "3 × forward",
      ours: 3 * flops,
    },
    { label: "The cruder estimate: 2 × parameters", formula: "2 · #params", ours: 2 * params },
  );
  return { rows, stateNumbers: 5 * shape.L * shape.D };
}

/** What the calculator component is fed: the presets (the loaded model first, then Table 2's), and the table. */
export function calculatorInputs(loaded?: LoadedModelInfo): {
  presets: Preset[];
  loaded?: LoadedModelInfo;
  rows: typeof calculatorRows;
} {
  return {
    presets: [...(loaded ? [{ name: loaded.name, ...loaded.shape }] : []), ...TABLE2_PRESETS],
    ...(loaded ? { loaded } : {}),
    rows: calculatorRows,
  };
}

/**
 * The numbers chapter 7's prose quotes: the paper's formula for the loaded shape and whether the tensors count
 * exactly that; MFLOPs per token of the tiny model and of RWKV-4 169M (Table 2); and the 4·L·T·D FLOPs of
 * attention a 169M-sized transformer adds per token at T = 1024.
 */
export function wholeModelFacts(shape: Required<RwkvShape>, counts: Pick<ModelCounts, "actualParams">) {
  const formulaParams = paperParams(shape);
  const { L, D, V, table2 } = TABLE2_PRESETS[0]; // RWKV-4 169M
  const printed = printedFlops({ L, D, V });
  return {
    /** Table 2's formula worked out for 169M, and the two printed formulas, as TeX */
    flops169M: String.raw`2\,(${V} \cdot ${D} + 13 \cdot ${D}^2 \cdot ${L}) = ${sciTex(table2Flops({ L, D, V }))}`,
    table169M: sciTex(table2!.flops),
    v4Printed169M: sciTex(printed.v4),
    v1Printed169M: sciTex(printed.v1),
    /** how far 2 x #params overshoots Table 2's FLOPs for 169M, in % (v1 Appendix C: "a 30% discrepancy") */
    crudeOver169M: Math.round(100 * ((2 * paperParams({ L, D, V })) / table2Flops({ L, D, V }) - 1)),
    formulaParams,
    exact: counts.actualParams === formulaParams,
    mflops: table2Flops(shape) / 1e6,
    mflops169M: table2Flops({ L, D, V }) / 1e6,
    attentionMflops169M: (4 * L * 1024 * D) / 1e6,
    stateNumbers: 5 * shape.L * shape.D,
  };
}

/**
 * The chapter that explains each part of the block diagram (src/components/block-diagram.ts part ids). The page
 * files themselves (`.html`), so the links work on a plain static server (README, "Host it").
 */
export const DIAGRAM_LINKS: Readonly<Record<string, string>> = {
  tokenShift: "./03-token-shift.html",
  tokenShift2: "./03-token-shift.html",
  rkv: "./02-attention.html",
  wkv: "./05-wkv.html",
  decay: "./04-time-decay.html",
  gate: "./05-wkv.html",
  timeMix: "./02-attention.html",
  channelMix: "./06-channel-mixing.html",
  sqrelu: "./06-channel-mixing.html",
  gate2: "./06-channel-mixing.html",
  rk2: "./06-channel-mixing.html",
  modes: "./08-rnn-and-parallel.html",
};

/** The diagram's links to the chapters present in this build (`pages`: data/site-pages.json, page -> present). */
export function diagramLinks(pages: Readonly<Record<string, unknown>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(DIAGRAM_LINKS).filter(([, href]) => pages[href.replace(/^\.\/|\.html$/g, "")]),
  );
}

/** The build-time counts (src/data/traces/whole-model.json.ts writes modelCounts plus the card's name). */
export interface Precounted extends ModelCounts {
  name: string;
  synthetic: boolean;
}

export function decodeCounts(json: unknown): Precounted {
  const e = json as Precounted;
  const { L, D, V, F } = e?.shape ?? {};
  if (![L, D, V, F, e?.actualParams, e?.actualFlops].every((n) => Number.isInteger(n) && (n as number) > 0))
    throw new RangeError("not chapter 7's counts (shape {L, D, V, F}, actualParams, actualFlops)");
  return e;
}

/** What chapter 7 shows: the tensors of the loaded model counted in this browser, else the build-time counts. */
export interface ShownCounts extends ModelCounts {
  /** the calculator's preset name for the loaded model */
  name: string;
  /** "live" (counted in this browser) or "precomputed" (at build time), for the badge */
  source: "live" | "precomputed";
  backend: "reference (JS)";
  /** where the counts come from, in words */
  where: string;
}

export function shownCounts(
  live: { weights: RwkvWeights } | null,
  precounted: Precounted,
  synthetic: boolean,
): ShownCounts {
  const name = `this site's model (${synthetic ? "synthetic" : "tiny-rwkv"})`;
  const { shape, actualParams, actualFlops } = live ? modelCounts(live.weights) : precounted;
  return {
    shape,
    actualParams,
    actualFlops,
    name,
    backend: "reference (JS)",
    ...(live
      ? { source: "live", where: "counted in this browser from the tensors of the loaded file" }
      : { source: "precomputed", where: "counted at build time from the tensors of the same file" }),
  };
}
