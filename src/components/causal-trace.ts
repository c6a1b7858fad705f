/**
 * Chapter 9's causal-trace figure: one heatmap per model, side by side, on ONE colour scale. As in Meng et al.
 * (2022) and the paper's Figure 11, tokens run down (the subject's marked with *) and blocks run across; a cell is
 * the share of the clean probability P[o] that restoring that block's output at that token brings back. Cells
 * not computed yet (NaN) show the grey background, so a live trace fills in. Under the panels, a colour legend.
 * Hover links: the subject's labels carry data-sym="subject", the legend data-sym="share" (chapters/memory/tex.ts).
 *
 *   causalTraceFigure(panels, {width, domain, readout?, name?}) -> <figure data-figure="causal-trace">
 *   traceColor(domain) -> (v) => css colour        the shared scale (exported for the tests)
 *   traceLayout(width, panels) -> {columns, cellW, cellH, ...}   side by side when they fit, else stacked
 */
import { create, interpolatePurples, scaleLinear, scaleSequential, type Selection } from "d3";
import type { TracePanel } from "../chapters/memory/figures.js";
import { labelStep, MIN_TEXT, usableWidth } from "./frame.js";

export interface CausalTraceFigureOptions {
  width: number;
  /** the shared colour domain, [0, max(1, largest share)] (sharedDomain in chapters/memory/figures.ts) */
  domain: [number, number];
  /** lines under each panel: the strongest cells */
  readout?: string[][];
  name?: string;
  caption?: string;
}

export function traceColor(domain: [number, number]): (v: number) => string {
  // start a little above white so a 0 cell still reads as a cell on a light background
  const s = scaleSequential((t) => interpolatePurples(0.08 + 0.92 * t)).domain(domain);
  return (v) => (Number.isFinite(v) ? s(Math.max(domain[0], Math.min(domain[1], v))) : "none");
}

export interface TraceLayout {
  /** panels per row: 2 side by side, or 1 (stacked) on a narrow page */
  columns: number;
  panelW: number;
  labelW: number;
  cellW: number;
  cellH: number;
}

export function traceLayout(width: number, panels: readonly TracePanel[]): TraceLayout {
  const w = usableWidth(width);
  const labelW = 44;
  const L = Math.max(1, ...panels.map((p) => p.L));
  const gap = 24;
  const columns = panels.length > 1 && (w - gap) / 2 - labelW >= L * 22 ? 2 : 1;
  const panelW = columns === 2 ? (w - gap) / 2 : w;
  const cellW = Math.min(64, (panelW - labelW - 8) / L);
  const T = Math.max(1, ...panels.map((p) => p.T));
  // on a wide page (presenter mode) the rows share about 170 px, so the panels, their readout and the controls fit
  // one 1280 × 720 screen (full screen, f, shows them larger)
  const cellH = w >= 960 ? Math.max(2.5, Math.min(14, 170 / T)) : T > 80 ? 10 : 14;
  return { columns, panelW, labelW, cellW, cellH };
}

export function causalTraceFigure(panels: readonly TracePanel[], o: CausalTraceFigureOptions): HTMLElement {
  const layout = traceLayout(o.width, panels);
  const color = traceColor(o.domain);
  const figure = create("figure").attr("data-figure", o.name ?? "causal-trace");
  const row = figure
    .append("div")
    .style("display", "flex")
    .style("flex-wrap", "wrap")
    .style("gap", "8px 24px")
    .style("align-items", "flex-start");
  panels.forEach((p, i) => {
    const { labelW, cellW, cellH } = layout;
    const top = 22;
    const plotH = p.T * cellH;
    const H = top + plotH + 30;
    const W = labelW + p.L * cellW + 4;
    const cell = row.append("div").style("width", `${layout.panelW}px`);
    // title and note as HTML, so that they wrap in a narrow panel
    cell.append("div").style("font-weight", "600").style("color", p.color).text(p.title);
    cell
      .append("div")
      .style("font-size", "13px")
      .style("color", "var(--theme-foreground-muted)")
      .style("min-height", "2.6em")
      .text(p.note);
    const svg = cell
      .append("svg")
      .attr("width", W)
      .attr("height", H)
      .attr("role", "img")
      .attr("aria-label", `${p.title}: ${p.T} tokens by ${p.L} blocks`)
      .attr("data-model", p.model);
    const g = svg.append("g").attr("transform", `translate(${labelW},${top})`);
    g.append("rect")
      .attr("width", p.L * cellW)
      .attr("height", plotH)
      .attr("fill", "rgba(128,128,128,0.15)");
    // token labels at 13 px: every row when rows are tall enough, else every step-th row and the subject's first
    const step = labelStep(cellH, MIN_TEXT, 0);
    let last = -Infinity;
    for (let t = 0; t < p.T; t++) {
      const inSubject = t >= p.subject[0] && t < p.subject[1];
      if ((t % step === 0 || t === p.subject[0]) && t - last >= step) {
        last = t;
        svg
          .append("text")
          .attr("x", labelW - 6)
          .attr("y", top + t * cellH + cellH / 2)
          .attr("dy", "0.35em")
          .attr("text-anchor", "end")
          .style("font", `${MIN_TEXT}px var(--monospace)`)
          .attr("font-weight", inSubject ? 700 : 400)
          .attr("fill", inSubject ? p.color : "currentColor")
          .attr("data-sym", inSubject ? "subject" : null)
          .text(`${p.labels[t] ?? ""}${inSubject ? "*" : ""}`);
      }
      for (let l = 0; l < p.L; l++) {
        const v = p.values[l * p.T + t];
        g.append("rect")
          .attr("x", l * cellW)
          .attr("y", t * cellH)
          .attr("width", Math.max(0, cellW - 1))
          .attr("height", cellH >= 6 ? cellH - 1 : cellH) // no gaps between rows too thin to show them
          .attr("fill", color(v))
          .attr("data-l", l)
          .attr("data-t", t)
          .attr("data-share", Number.isFinite(v) ? String(v) : null)
          .append("title")
          .text(
            Number.isFinite(v)
              ? `block ${l}, token ${t} (${JSON.stringify(p.labels[t])}): ${(100 * v).toFixed(1)}% of P[o]`
              : `block ${l}, token ${t}: not computed yet`,
          );
      }
    }
    const x = scaleLinear()
      .domain([0, p.L])
      .range([0, p.L * cellW]);
    for (let l = 0; l < p.L; l++) {
      g.append("text")
        .attr("x", x(l + 0.5))
        .attr("y", plotH + 16)
        .attr("text-anchor", "middle")
        .style("font-size", "13px")
        .attr("fill", "currentColor")
        .text(String(l));
    }
    g.append("text")
      .attr("x", (p.L * cellW) / 2)
      .attr("y", -6)
      .attr("text-anchor", "middle")
      .style("font-size", "13px")
      .attr("fill", "var(--theme-foreground-muted)")
      .text("block l →");
    const lines = o.readout?.[i] ?? [];
    if (lines.length > 0) {
      const box = cell.append("div").style("font-size", "14px");
      box.append("span").style("color", p.color).style("font-weight", "600").text("Strongest cells: ");
      box.append("span").text(lines.join("; "));
    }
  });
  legend(figure, color, o.domain, Math.min(360, usableWidth(o.width)));
  if (o.caption) figure.append("figcaption").text(o.caption);
  return figure.node() as HTMLElement;
}

function legend(
  figure: Selection<HTMLElement, undefined, null, undefined>,
  color: (v: number) => string,
  domain: [number, number],
  width: number,
): void {
  const svg = figure.append("svg").attr("width", width).attr("height", 52).attr("data-sym", "share");
  const id = `ct-grad-${Math.random().toString(36).slice(2, 8)}`;
  const grad = svg.append("defs").append("linearGradient").attr("id", id);
  for (let i = 0; i <= 10; i++) {
    grad
      .append("stop")
      .attr("offset", `${i * 10}%`)
      .attr("stop-color", color(domain[0] + ((domain[1] - domain[0]) * i) / 10));
  }
  // the bar inset by half a label's width, so "0%" and "100%" stay inside the svg
  const w = width - 48;
  svg
    .append("rect")
    .attr("x", 24)
    .attr("y", 4)
    .attr("width", w)
    .attr("height", 12)
    .attr("fill", `url(#${id})`);
  const x = scaleLinear()
    .domain(domain)
    .range([24, 24 + w]);
  for (const v of x.ticks(4)) {
    svg
      .append("text")
      .attr("x", x(v))
      .attr("y", 30)
      .attr("text-anchor", "middle")
      .style("font-size", "13px")
      .attr("fill", "currentColor")
      .text(`${Math.round(v * 100)}%`);
  }
  svg
    .append("text")
    .attr("x", 10)
    .attr("y", 44)
    .style("font-size", "13px")
    .attr("fill", "var(--theme-foreground-muted)")
    .text("share of the clean P[o] restored (both panels)");
}
