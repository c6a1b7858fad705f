/**
 * Chapter 7's calculator of parameters and FLOPs (arXiv 2305.13048 v4, Table 2): preset buttons, inputs L, D, V,
 * F, and the table for the shape entered. D3 only: the presets and the table's numbers come from
 * src/chapters/flops.ts (`calculatorInputs`), which holds the formulas.
 */
import { create, format } from "d3";
import type { CalculatorTable, LoadedModelInfo, Preset, RwkvShape } from "../chapters/flops.js";

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
  /** the buttons, in order (the loaded model first, then Table 2's models) */
  presets: Preset[];
  /** the loaded model: its preset shows the counts of its tensors beside the formulas */
  loaded?: LoadedModelInfo;
  /** the table for a shape (throws a RangeError for a shape that is not positive whole numbers) */
  rows: (
    shape: Required<RwkvShape>,
    extra: { loaded?: LoadedModelInfo; table2?: Preset["table2"] },
  ) => CalculatorTable;
}

/**
 * The calculator: preset buttons (the loaded model first, then Table 2's models), inputs L, D, V (and F), and a
 * table: parameters by formula, FLOPs per token by Table 2's formula, 2 x parameters; for the loaded model the
 * counts from its tensors beside the formulas; for Table 2's models the printed values beside ours.
 * Returns <figure data-figure="flops-calculator"> whose `.value` is the current shape; dispatches "input".
 */
export function flopsCalculator({
  width,
  presets,
  loaded,
  rows,
}: FlopsCalculatorOptions): HTMLElement & { value: RwkvShape } {
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
    const isLoaded = loaded && current && current.name === loaded.name;
    let counted: CalculatorTable;
    try {
      counted = rows(shape, {
        ...(isLoaded ? { loaded } : {}),
        ...(current?.table2 ? { table2: current.table2 } : {}),
      });
    } catch (e) {
      message.text(`Enter positive whole numbers: ${(e as Error).message}.`);
      return;
    }
    const head = table.append("thead").append("tr");
    head.append("th").text("");
    head.append("th").text("from the formula");
    if (isLoaded) head.append("th").text("from the loaded tensors");
    if (current?.table2) head.append("th").text("printed in Table 2");
    const body = table.append("tbody");
    for (const { label, formula, ours, actual, printed } of counted.rows) {
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
    }
    const n = counted.stateNumbers;
    foot.text(
      `A transformer's attention adds about 4·L·T·D FLOPs per token at context T on top of its matrices ` +
        `(q·kᵢ and Σ αᵢvᵢ over T earlier tokens); ` +
        `RWKV's per-token cost is the same at T = 10 and T = 10,000. The state is 5·L·D = ${int(n)} ` +
        `numbers (${sci(n * 4)} bytes in fp32).`,
    );
    node.value = { L: shape.L, D: shape.D, V: shape.V, F: shape.F };
    node.dispatchEvent(new Event("input", { bubbles: true }));
  }

  setPreset(presets[0]);
  return node;
}
