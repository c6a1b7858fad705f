/**
 * Chapter 9's line charts (recall against distance, context use, prompt order): small multiples that share one
 * y scale, each a set of lines with ±1 standard-error whiskers, vertical marks (where the GPT's positions end)
 * and horizontal rules (a uniform guess). A legend above the panels names every series once.
 *
 *   lineFacets(facets, {width, name, xLabel, yLabel, xScale?, caption?}) -> <figure data-figure=name>
 *   facetDomains(facets) -> {x: [lo, hi], y: [lo, hi]}      the shared extents (exported for the tests)
 *   symlogTicks([lo, hi]) -> number[]                        the ticks of the "log" and "symlog" axes
 * xScale: "linear" (default), "log" (x > 0) or "symlog" (x >= 0, e.g. distances that start at 0).
 */
import { create, line, scaleLinear, scaleLog, scaleSymlog } from "d3";
import type { LineFacet } from "../chapters/memory/figures.js";
import { usableWidth } from "./frame.js";

export interface LineFacetsOptions {
  width: number;
  name: string;
  xLabel: string;
  yLabel: string;
  xScale?: "linear" | "log" | "symlog";
  caption?: string;
  /** panel height in px (default 240) */
  height?: number;
}

export function facetDomains(facets: readonly LineFacet[]): { x: [number, number]; y: [number, number] } {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const f of facets) {
    for (const s of f.series) {
      for (const p of s.points) {
        x0 = Math.min(x0, p.x);
        x1 = Math.max(x1, p.x);
        y0 = Math.min(y0, p.y - (p.err ?? 0));
        y1 = Math.max(y1, p.y + (p.err ?? 0));
      }
    }
    for (const r of f.rules ?? []) {
      y0 = Math.min(y0, r.y);
      y1 = Math.max(y1, r.y);
    }
    for (const m of f.marks ?? []) x1 = Math.max(x1, m.x);
  }
  if (!Number.isFinite(x0)) [x0, x1] = [0, 1];
  if (!Number.isFinite(y0)) [y0, y1] = [0, 1];
  if (x0 === x1) x1 = x0 + 1;
  const pad = (y1 - y0) * 0.06 || 0.5;
  return { x: [x0, x1], y: [Math.max(0, y0 - pad), y1 + pad] };
}

export function lineFacets(facets: readonly LineFacet[], o: LineFacetsOptions): HTMLElement {
  const width = usableWidth(o.width);
  const figure = create("figure").attr("data-figure", o.name);
  const { x: xd, y: yd } = facetDomains(facets);
  // one legend entry per name; a name drawn in several colours (one per model) gets a neutral swatch
  const names = new Map<string, { color: string; dashed: boolean }>();
  for (const f of facets) {
    for (const s of f.series) {
      const had = names.get(s.name);
      names.set(s.name, {
        color: had && had.color !== s.color ? "currentColor" : s.color,
        dashed: !!s.dashed,
      });
    }
  }
  const legend = figure
    .append("div")
    .style("display", "flex")
    .style("flex-wrap", "wrap")
    .style("gap", "4px 16px")
    .style("font-size", "14px");
  for (const [name, { color, dashed }] of names) {
    const item = legend.append("span").style("white-space", "nowrap");
    const sw = item.append("svg").attr("width", 26).attr("height", 12).style("display", "inline");
    sw.append("line")
      .attr("x1", 1)
      .attr("x2", 25)
      .attr("y1", 6)
      .attr("y2", 6)
      .attr("stroke", color)
      .attr("stroke-width", 2.5)
      .attr("stroke-dasharray", dashed ? "5 3" : null);
    item.append("span").text(` ${name}`);
  }
  const per = facets.length <= 1 ? 1 : Math.max(1, Math.min(facets.length, Math.floor(width / 260)));
  const panelW = Math.floor((width - (per - 1) * 12) / per);
  const H = o.height ?? 240;
  const m = { top: 24, right: 30, bottom: 42, left: 50 };
  const grid = figure.append("div").style("display", "flex").style("flex-wrap", "wrap").style("gap", "12px");
  for (const f of facets) {
    const svg = grid
      .append("svg")
      .attr("width", panelW)
      .attr("height", H)
      .attr("role", "img")
      .attr(
        "aria-label",
        // each series with its last point: the text alternative carries the numbers the lines show
        `${f.title}: ${f.series
          .map((s) => {
            const last = s.points[s.points.length - 1];
            return last ? `${s.name} ${+last.y.toPrecision(3)} at ${+last.x.toPrecision(3)}` : s.name;
          })
          .join(", ")}`,
      );
    const x =
      o.xScale === "log"
        ? scaleLog()
            .domain([Math.max(1e-9, xd[0]), xd[1]])
            .range([m.left, panelW - m.right])
        : o.xScale === "symlog"
          ? scaleSymlog()
              .constant(8)
              .domain(xd)
              .range([m.left, panelW - m.right])
          : scaleLinear()
              .domain(xd)
              .range([m.left, panelW - m.right]);
    const y = scaleLinear()
      .domain(yd)
      .nice()
      .range([H - m.bottom, m.top]);
    svg.append("text").attr("x", m.left).attr("y", 14).attr("font-weight", 600).text(f.title);
    const axis = svg.append("g").attr("fill", "currentColor").style("font-size", "13px");
    const xticks = o.xScale === "linear" || !o.xScale ? x.ticks(5) : symlogTicks(xd);
    for (const v of xticks) {
      axis
        .append("line")
        .attr("x1", x(v))
        .attr("x2", x(v))
        .attr("y1", m.top)
        .attr("y2", H - m.bottom)
        .attr("stroke", "currentColor")
        .attr("stroke-opacity", 0.12);
      axis
        .append("text")
        .attr("x", x(v))
        .attr("y", H - m.bottom + 16)
        .attr("text-anchor", "middle")
        .text(String(v));
    }
    for (const v of y.ticks(5)) {
      axis
        .append("line")
        .attr("x1", m.left)
        .attr("x2", panelW - m.right)
        .attr("y1", y(v))
        .attr("y2", y(v))
        .attr("stroke", "currentColor")
        .attr("stroke-opacity", 0.12);
      axis
        .append("text")
        .attr("x", m.left - 6)
        .attr("y", y(v))
        .attr("dy", "0.35em")
        .attr("text-anchor", "end")
        .text(String(v));
    }
    axis
      .append("text")
      .attr("x", (m.left + panelW - m.right) / 2)
      .attr("y", H - 6)
      .attr("text-anchor", "middle")
      .text(o.xLabel);
    axis
      .append("text")
      .attr("transform", `translate(12,${(m.top + H - m.bottom) / 2}) rotate(-90)`)
      .attr("text-anchor", "middle")
      .text(o.yLabel);
    for (const r of f.rules ?? []) {
      svg
        .append("line")
        .attr("x1", m.left)
        .attr("x2", panelW - m.right)
        .attr("y1", y(r.y))
        .attr("y2", y(r.y))
        .attr("stroke", "var(--theme-foreground-muted)")
        .attr("stroke-dasharray", "2 3");
      svg
        .append("text")
        .attr("x", panelW - m.right)
        .attr("y", y(r.y) - 4)
        .attr("text-anchor", "end")
        .style("font-size", "13px")
        .attr("fill", "var(--theme-foreground-muted)")
        .text(r.label);
    }
    for (const mk of f.marks ?? []) {
      svg
        .append("line")
        .attr("x1", x(mk.x))
        .attr("x2", x(mk.x))
        .attr("y1", m.top)
        .attr("y2", H - m.bottom)
        .attr("stroke", "var(--color-softmax)")
        .attr("stroke-dasharray", "4 3");
      svg
        .append("text")
        .attr("x", x(mk.x) - 4)
        .attr("y", m.top + 12)
        .attr("text-anchor", "end")
        .style("font-size", "13px")
        .attr("fill", "var(--color-softmax)")
        .text(mk.label);
    }
    for (const s of f.series) {
      const pts = [...s.points].sort((a, b) => a.x - b.x);
      const path = line<{ x: number; y: number }>()
        .x((p) => x(p.x))
        .y((p) => y(p.y));
      svg
        .append("path")
        .attr("d", path(pts) ?? "")
        .attr("fill", "none")
        .attr("stroke", s.color)
        .attr("stroke-width", 2)
        .attr("stroke-dasharray", s.dashed ? "5 3" : null);
      for (const p of pts) {
        if (p.err) {
          svg
            .append("line")
            .attr("x1", x(p.x))
            .attr("x2", x(p.x))
            .attr("y1", y(p.y - p.err))
            .attr("y2", y(p.y + p.err))
            .attr("stroke", s.color)
            .attr("stroke-opacity", 0.6);
        }
        svg
          .append("circle")
          .attr("cx", x(p.x))
          .attr("cy", y(p.y))
          .attr("r", 3)
          .attr("fill", s.color)
          .append("title")
          .text(`${s.name}: x = ${p.x}, ${p.y.toFixed(3)}${p.err ? ` ± ${p.err.toFixed(3)}` : ""}`);
      }
    }
  }
  if (o.caption) figure.append("figcaption").text(o.caption);
  return figure.node() as HTMLElement;
}

/**
 * Ticks for a log-like axis: 0 (when in range) and powers of 2 or 4 inside the domain; next to 0, the powers
 * below 4 are left out (they would print on top of it).
 */
export function symlogTicks([lo, hi]: [number, number]): number[] {
  const out: number[] = [];
  if (lo <= 0) out.push(0);
  const base = hi / Math.max(lo, 1) > 64 ? 4 : 2;
  for (let v = 1; v <= hi; v *= base) if (v >= lo && !(lo <= 0 && v < 4)) out.push(v);
  return out.length > 7 ? out.filter((_, i) => i % 2 === 0) : out;
}
