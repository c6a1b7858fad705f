/**
 * Chapter 7: parameters and FLOPs of RWKV-4 (arXiv 2305.13048 v4, Table 2 and its notes).
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
 */
import { create, format } from "d3";
import type { RwkvWeights } from "../rwkv/weights.js";

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

const sci = (x: number) => {
  if (x < 1e6) return x.toLocaleString("en-US");
  const e = Math.floor(Math.log10(x));
  return `${(x / 10 ** e).toFixed(3)} × 10${superscript(e)}`;
};
function superscript(n: number): string {
  const map: Record<string, string> = {
    "0": "⁰",
    "1": "¹",
    "2": "²",
    "3": "³",
    "4": "⁴",
    "5": "⁵",
    "6": "⁶",
    "7": "⁷",
    "8": "⁸",
    "9": "⁹",
    "-": "⁻",
  };
  return String(n)
    .split("")
    .map((c) => map[c] ?? c)
    .join("");
}
const int = format(",d");

const CALCULATOR_CSS = `
.flops-calculator { font: 16px var(--sans-serif); }
.flops-calculator .preset-bar { display: flex; flex-wrap: wrap; gap: .4rem; margin-bottom: .75rem; }
.flops-calculator .preset-bar button { font: 15px var(--sans-serif); padding: .3rem .75rem; border-radius: 999px;
  border: 1px solid var(--theme-foreground-faint); background: var(--theme-background); color: var(--theme-foreground); cursor: pointer; }
.flops-calculator .preset-bar button[aria-pressed="true"] { background: var(--color-rwkv, #3b6fd9); border-color: var(--color-rwkv, #3b6fd9);
  color: white; font-weight: 600; }
.flops-calculator .shape-inputs { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; margin-bottom: .75rem; }
.flops-calculator .shape-inputs label { display: inline-flex; align-items: center; gap: .4rem; }
.flops-calculator .shape-inputs input { width: 7.5em; font: 16px var(--monospace); padding: .2rem .35rem;
  color: var(--theme-foreground); background: var(--theme-background-alt); border: 1px solid var(--theme-foreground-faint); border-radius: 4px; }
.flops-calculator .calc-table { border-collapse: collapse; width: 100%; max-width: 860px; font-variant-numeric: tabular-nums; }
.flops-calculator .calc-table th, .flops-calculator .calc-table td { text-align: left; vertical-align: top; padding: .4rem .75rem .4rem 0;
  border-bottom: 1px solid var(--theme-foreground-faintest); }
.flops-calculator .calc-table thead th { font-size: 14px; color: var(--theme-foreground-muted); font-weight: 600; }
.flops-calculator .calc-table tbody th { font-weight: 600; }
.flops-calculator .formula, .flops-calculator .sci { font-weight: 400; font-size: 14px; color: var(--theme-foreground-muted); }
.flops-calculator .match { color: #2f9e44; font-weight: 600; font-size: 14px; }
.flops-calculator .mismatch { color: #c92a2a; font-weight: 600; font-size: 14px; }
.flops-calculator .calc-message { color: #c92a2a; margin: 0; }
.flops-calculator .calc-message:empty { display: none; }
`;

export interface FlopsCalculatorOptions {
  width: number;
  loaded?: LoadedModelInfo;
}

/**
 * The calculator: preset buttons (the loaded model first, then Table 2's models), inputs L, D, V (and F), and a
 * table: parameters by formula, FLOPs per token by Table 2's formula, 2 x parameters; for the loaded model the
 * counts from its tensors beside the formulas; for Table 2's models the printed values beside ours.
 * Returns <figure data-figure="flops-calculator"> whose `.value` is the current shape; dispatches "input".
 */
export function flopsCalculator({
  width,
  loaded,
}: FlopsCalculatorOptions): HTMLElement & { value: RwkvShape } {
  const presets: Preset[] = [...(loaded ? [{ name: loaded.name, ...loaded.shape }] : []), ...TABLE2_PRESETS];
  const figure = create("figure").attr("data-figure", "flops-calculator").attr("class", "flops-calculator");
  const node = figure.node() as HTMLElement & { value: RwkvShape };
  node.style.maxWidth = `${width}px`;
  figure.append("style").text(CALCULATOR_CSS);

  const bar = figure
    .append("div")
    .attr("class", "preset-bar")
    .attr("role", "group")
    .attr("aria-label", "Presets");
  const form = figure
    .append("form")
    .attr("class", "shape-inputs")
    .on("submit", (e: Event) => e.preventDefault());
  const inputs: Record<"L" | "D" | "V" | "F", HTMLInputElement> = {} as never;
  for (const [key, label, max] of [
    ["L", "layers L", 200],
    ["D", "width D", 65536],
    ["V", "vocabulary V", 1_000_000],
    ["F", "hidden F", 262144],
  ] as const) {
    const lab = form.append("label");
    lab.append("span").text(label);
    inputs[key] = lab
      .append("input")
      .attr("type", "number")
      .attr("min", 1)
      .attr("max", max)
      .attr("step", 1)
      .attr("name", key)
      .on("input", () => update(undefined))
      .node() as HTMLInputElement;
  }
  const message = figure.append("p").attr("class", "calc-message").attr("role", "alert");
  const table = figure.append("table").attr("class", "calc-table");
  const foot = figure.append("figcaption");

  const buttons = presets.map(
    (p) =>
      bar
        .append("button")
        .attr("type", "button")
        .text(p.name)
        .on("click", () => setPreset(p))
        .node() as HTMLButtonElement,
  );

  let current: Preset | undefined;
  function setPreset(p: Preset): void {
    inputs.L.value = String(p.L);
    inputs.D.value = String(p.D);
    inputs.V.value = String(p.V);
    inputs.F.value = String(p.F ?? 4 * p.D);
    update(p);
  }

  function update(p: Preset | undefined): void {
    const shape = {
      L: Number(inputs.L.value),
      D: Number(inputs.D.value),
      V: Number(inputs.V.value),
      F: Number(inputs.F.value),
    };
    // a preset stays "current" only while its numbers are unchanged
    current =
      p ??
      presets.find(
        (q) => q.L === shape.L && q.D === shape.D && q.V === shape.V && (q.F ?? 4 * q.D) === shape.F,
      );
    buttons.forEach((b, i) => b.setAttribute("aria-pressed", String(presets[i] === current)));
    table.selectAll("*").remove();
    message.text("");
    let params: number, paper: number, flops: number;
    try {
      params = exactParams(shape);
      paper = paperParams(shape);
      flops = table2Flops(shape);
    } catch (e) {
      message.text(`Enter positive whole numbers: ${(e as Error).message}.`);
      return;
    }
    const isLoaded = loaded && current && current.name === loaded.name;
    const head = table.append("thead").append("tr");
    head.append("th").text("");
    head.append("th").text("from the formula");
    if (isLoaded) head.append("th").text("from the loaded tensors");
    if (current?.table2) head.append("th").text("printed in Table 2");
    const body = table.append("tbody");
    const row = (label: string, formula: string, ours: number, actual?: number, printed?: number) => {
      const tr = body.append("tr");
      const th = tr.append("th").attr("scope", "row");
      th.append("div").text(label);
      th.append("div").attr("class", "formula").text(formula);
      tr.append("td")
        .text(`${int(ours)}`)
        .append("div")
        .attr("class", "sci")
        .text(sci(ours));
      if (isLoaded) {
        const td = tr.append("td");
        if (actual === undefined) td.text("—");
        else {
          td.text(int(actual));
          td.append("div")
            .attr("class", actual === ours ? "match" : "mismatch")
            .text(actual === ours ? "✓ equal" : `differs by ${int(actual - ours)}`);
        }
      }
      if (current?.table2) tr.append("td").text(printed !== undefined ? sci(printed) : "—");
    };
    const F4 = shape.F === 4 * shape.D;
    row(
      "Parameters",
      F4 ? "2VD + 13D²L + D(11L + 4)" : "2VD + L(5D² + 2DF) + D(11L + 4)",
      params,
      isLoaded ? loaded!.actualParams : undefined,
      current?.table2?.params,
    );
    if (!F4) row("Parameters, the paper's formula (assumes F = 4D)", "2VD + 13D²L + D(11L + 4)", paper);
    row(
      "FLOPs per token, forward",
      F4 ? "2(VD + 13D²L)" : "2(VD + L(5D² + 2DF))",
      flops,
      isLoaded ? loaded!.actualFlops : undefined,
      current?.table2?.flops,
    );
    row("FLOPs per token, training (3 × forward)", F4 ? "6(VD + 13D²L)" : "3 × forward", 3 * flops);
    row("The cruder estimate: 2 × parameters", "2 · #params", 2 * params);
    foot.text(
      `A transformer's attention adds about 4·L·T·D FLOPs per token at context T on top of its matrices ` +
        `(q·kᵢ and Σ αᵢvᵢ over T earlier tokens); ` +
        `RWKV's per-token cost is the same at T = 10 and T = 10,000. The state is 5·L·D = ${int(5 * shape.L * shape.D)} ` +
        `numbers (${sci(5 * shape.L * shape.D * 4)} bytes in fp32).`,
    );
    node.value = { L: shape.L, D: shape.D, V: shape.V, F: shape.F };
    node.dispatchEvent(new Event("input", { bubbles: true }));
  }

  setPreset(presets[0]);
  return node;
}
