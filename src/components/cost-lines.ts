/**
 * The full-size page's cost charts (arXiv 2305.13048 v4, Sect. 6 and the inference-cost figure of its Appendix):
 * one line per series of measured (or computed) points, x against y, linear or log axes.
 *
 *   costLines(series, {width, name, title, xLabel, yLabel, yLog?, xLog?, note?}) -> <figure data-figure=name>
 *     series: {label, color, points: [x, y][], dashed?}[]; a series with no points is listed, not drawn
 *   A chart with no points at all shows its `empty` text instead of axes (the figure is never blank).
 */
import { axisBottom, axisLeft, create, line, max, min, scaleLinear, scaleLog } from "d3";
import { legible, wrapLines } from "./frame.js";

export interface CostSeries {
  label: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

export interface CostLinesOptions {
  width: number;
  height?: number;
  /** the figure's data-figure name */
  name: string;
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  /** a line of small text under the title (what ran where) */
  note?: string;
  /** shown when there are no points yet */
  empty?: string;
}

export function costLines(input: CostSeries[], o: CostLinesOptions): HTMLElement {
  const { width, height = 260, name, title, xLabel, yLabel } = o;
  // points with a missing or non-finite coordinate are left out
  const series = input.map((s) => ({
    ...s,
    points: s.points.filter(
      (p): p is [number, number] => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]),
    ),
  }));
  const figure = create("figure").attr("data-figure", name);
  figure.attr(
    "data-points",
    JSON.stringify(
      series.map((s) => ({ label: s.label, points: s.points.map(([x, y]) => [x, +y.toPrecision(6)]) })),
    ),
  );
  // the title, the note and the legend wrap to the figure's width (a phone's 350 px as well as a wide page)
  const titleLines = wrapLines(title, width - 8, 15);
  const noteLines = o.note ? wrapLines(o.note, width - 8, 13) : [];
  const cols = width >= 560 ? 2 : 1;
  const colW = (width - 8) / cols;
  const labels = series.map((s) =>
    wrapLines(s.points.length ? s.label : `${s.label} (not run)`, colW - 36, 13),
  );
  const rowHeights: number[] = [];
  labels.forEach((l, i) => {
    const r = Math.floor(i / cols);
    rowHeights[r] = Math.max(rowHeights[r] ?? 0, 6 + 16 * l.length);
  });
  const headH = 20 * titleLines.length + 18 * noteLines.length;
  const legendH = rowHeights.reduce((a, b) => a + b, 0);
  const margin = { top: 12 + headH + legendH + 8, right: 18, bottom: 44, left: 72 };
  const H = margin.top + height + margin.bottom;
  const svg = figure
    .append("svg")
    .attr("width", width)
    .attr("height", H)
    .attr("viewBox", `0 0 ${width} ${H}`)
    .attr("role", "img")
    .attr("aria-label", costLinesLabel(title, series))
    .style("max-width", "100%")
    .style("height", "auto");
  const head = svg.append("text").attr("font-weight", 600).attr("fill", "currentColor");
  titleLines.forEach((line, i) =>
    head
      .append("tspan")
      .attr("x", 4)
      .attr("y", 18 + 20 * i)
      .text(line),
  );
  noteLines.forEach((line, i) =>
    svg
      .append("text")
      .attr("x", 4)
      .attr("y", 20 * titleLines.length + 16 + 18 * i)
      .attr("font-size", 13)
      .attr("fill", "currentColor")
      .attr("fill-opacity", 0.8)
      .text(line),
  );
  const legendTop = 12 + headH;
  series.forEach((s, i) => {
    const r = Math.floor(i / cols);
    const gx = 4 + (i % cols) * colW;
    const gy = legendTop + 4 + rowHeights.slice(0, r).reduce((a, b) => a + b, 0);
    const g = svg.append("g").attr("transform", `translate(${gx},${gy})`);
    g.append("line")
      .attr("x1", 0)
      .attr("x2", 22)
      .attr("y1", 6)
      .attr("y2", 6)
      .attr("stroke", s.color)
      .attr("stroke-width", 3)
      .attr("stroke-dasharray", s.dashed ? "6 4" : null);
    const text = g.append("text").attr("font-size", 13).attr("fill", "currentColor");
    labels[i].forEach((line, j) =>
      text
        .append("tspan")
        .attr("x", 28)
        .attr("y", 6 + 16 * j)
        .attr("dy", "0.35em")
        .text(line),
    );
  });
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) {
    svg
      .append("text")
      .attr("x", margin.left)
      .attr("y", margin.top + height / 2)
      .attr("fill", "currentColor")
      .text(o.empty ?? "No measurements yet.");
    legible(svg);
    return figure.node() as HTMLElement;
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const xLo = o.xLog ? Math.max(1e-9, min(xs.filter((v) => v > 0)) ?? 1) : Math.min(0, min(xs)!);
  const x = (o.xLog ? scaleLog() : scaleLinear())
    .domain([xLo, Math.max(max(xs)!, xLo * 1.0001 + 1e-9)])
    .range([margin.left, width - margin.right]);
  const yPos = ys.filter((v) => v > 0);
  const yLo = o.yLog ? Math.max(1e-9, (min(yPos) ?? 1) / 1.5) : 0;
  const yHi = Math.max((max(ys) ?? 1) * (o.yLog ? 1.5 : 1.08), yLo * 10, 1e-9);
  const y = (o.yLog ? scaleLog() : scaleLinear()).domain([yLo, yHi]).range([margin.top + height, margin.top]);
  if (!o.yLog) (y as ReturnType<typeof scaleLinear>).nice();
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + height})`)
    .call(axisBottom(x).ticks(Math.max(2, Math.floor(width / 90)), o.xLog ? "~s" : undefined))
    .attr("font-size", 12);
  svg
    .append("g")
    .attr("transform", `translate(${margin.left},0)`)
    .call(axisLeft(y).ticks(5, o.yLog ? "~g" : undefined))
    .attr("font-size", 12);
  svg
    .append("text")
    .attr("x", width - margin.right)
    .attr("y", margin.top + height + 36)
    .attr("text-anchor", "end")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text(xLabel);
  svg
    .append("text")
    .attr("transform", `translate(16,${margin.top + height / 2}) rotate(-90)`)
    .attr("text-anchor", "middle")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text(yLabel);
  const path = line<[number, number]>()
    .defined(([a, b]) => Number.isFinite(a) && Number.isFinite(b) && (!o.yLog || b > 0) && (!o.xLog || a > 0))
    .x(([a]) => x(a))
    .y(([, b]) => y(b));
  for (const s of series) {
    if (!s.points.length) continue;
    svg
      .append("path")
      .attr("d", path(s.points))
      .attr("fill", "none")
      .attr("stroke", s.color)
      .attr("stroke-width", 2.5)
      .attr("stroke-dasharray", s.dashed ? "6 4" : null);
    if (s.points.length <= 40) {
      const g = svg.append("g").attr("fill", s.color);
      for (const [a, b] of s.points) {
        if (!Number.isFinite(b) || (o.yLog && b <= 0)) continue;
        g.append("circle")
          .attr("cx", x(a))
          .attr("cy", y(b))
          .attr("r", 3.5)
          .append("title")
          .text(`${s.label}: ${xLabel} ${a}: ${+b.toPrecision(4)} ${yLabel}`);
      }
    }
  }
  legible(svg);
  return figure.node() as HTMLElement;
}

/** The text alternative: the title and each series' last measured point (its key number). */
export function costLinesLabel(
  title: string,
  series: readonly { label: string; points: readonly (readonly [number, number])[] }[],
): string {
  const n = (v: number) =>
    Math.abs(v) >= 1000 ? Math.round(v).toLocaleString("en-US") : String(+v.toPrecision(3));
  const parts = series.map((s) => {
    const last = s.points[s.points.length - 1];
    return last ? `${s.label}: ${n(last[1])} at ${n(last[0])}` : `${s.label}: not run`;
  });
  const measured = series.filter((s) => s.points.length).length;
  return `${title}. ${parts.join("; ")} (${measured} of ${series.length} series measured)`;
}
