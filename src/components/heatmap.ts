/**
 * A channels × time heatmap (canvas for the cells, SVG for axes and marks), for any (T, C) tensor of a trace.
 * Rows are channels (optionally reordered), columns are token positions; columns at and after `revealed` are
 * drawn empty (the "filling in as tokens stream" effect).
 *
 *   heatmapScale(values, kind) -> {domain, color}   "diverging" (symmetric around 0) or "sequential"
 *   heatmap(m, opts) -> <figure data-figure=opts.name>
 *     m: {rows: T, cols: C, data (T, C) row-major}
 *     opts: {width, name, title, sym?, labels (T), revealed?, rowOrder?, highlightRow?, highlightCol?,
 *            kind?, rowHeight?, format?, domain?}
 * The figure's element carries data-sym (hover linking) and dataset.min / dataset.max of what it shows.
 *   heatmapGrid(panels, {width}) -> <div>   heatmaps in a grid: two columns from 900 px, else one
 */
import {
  create,
  format as d3format,
  rgb,
  interpolateRdBu,
  interpolateViridis,
  scaleLinear,
  scaleSequential,
} from "d3";

export type HeatmapKind = "diverging" | "sequential";

export interface HeatmapScale {
  domain: [number, number];
  color: (v: number) => string;
}

/** Robust colour domain: the 1st-99th percentile of the finite values (symmetric for diverging). */
export function heatmapScale(
  values: ArrayLike<number>,
  kind: HeatmapKind,
  domain?: [number, number],
): HeatmapScale {
  let lo: number;
  let hi: number;
  if (domain) [lo, hi] = domain;
  else {
    // percentiles of a strided sample of at most ~4096 values (fast enough to redraw on every keystroke)
    const stride = Math.max(1, Math.floor(values.length / 4096));
    let n = 0;
    const finite = new Float32Array(Math.ceil(values.length / stride));
    for (let i = 0; i < values.length; i += stride) if (Number.isFinite(values[i])) finite[n++] = values[i];
    const sorted = finite.subarray(0, n).sort(); // typed-array sort: numeric and native
    if (n === 0) [lo, hi] = [0, 1];
    else {
      lo = sorted[Math.floor(0.01 * (n - 1))];
      hi = sorted[Math.ceil(0.99 * (n - 1))];
    }
    if (kind === "diverging") {
      const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
      [lo, hi] = [-m, m];
    } else if (lo === hi) hi = lo + 1;
  }
  if (kind === "diverging") {
    const s = scaleSequential((t) => interpolateRdBu(1 - t)).domain([lo, hi]);
    return { domain: [lo, hi], color: (v) => s(v) };
  }
  const s = scaleSequential(interpolateViridis).domain([lo, hi]);
  return { domain: [lo, hi], color: (v) => s(v) };
}

/** 256 RGB triples sampling the scale's colours over its domain. */
function colorTable(scale: HeatmapScale): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = rgb(scale.color(scale.domain[0] + ((scale.domain[1] - scale.domain[0]) * i) / 255));
    lut[i * 3] = c.r;
    lut[i * 3 + 1] = c.g;
    lut[i * 3 + 2] = c.b;
  }
  return lut;
}

export interface Matrix {
  rows: number;
  cols: number;
  data: Float32Array;
}

export interface HeatmapOptions {
  width: number;
  name: string;
  title: string;
  sym?: string;
  /** one label per time step */
  labels: string[];
  /** number of time steps drawn (default all) */
  revealed?: number;
  /** channel order top to bottom (default 0..C-1) */
  rowOrder?: number[];
  highlightRow?: number;
  highlightCol?: number;
  kind?: HeatmapKind;
  /** pixels per channel row (default: fit ~260 px) */
  rowHeight?: number;
  format?: string;
  domain?: [number, number];
  caption?: string;
}

export function heatmap(m: Matrix, o: HeatmapOptions): HTMLElement {
  const T = m.rows;
  const C = m.cols;
  if (T < 1 || C < 1 || m.data.length !== T * C)
    throw new RangeError("heatmap: data does not match rows × cols");
  const revealed = Math.max(0, Math.min(T, o.revealed ?? T));
  const order = o.rowOrder ?? Array.from({ length: C }, (_, c) => c);
  const rowH = o.rowHeight ?? Math.max(0.5, Math.min(4, 260 / C));
  const margin = { top: 30, right: 16, bottom: 40, left: 50 };
  const legendW = 70;
  const plotW = Math.max(60, o.width - margin.left - margin.right - legendW);
  const plotH = Math.round(C * rowH);
  const H = margin.top + plotH + margin.bottom;
  const colW = plotW / T;
  const shown = new Float32Array(revealed * C);
  shown.set(m.data.subarray(0, revealed * C));
  const scale = heatmapScale(shown.length ? shown : m.data, o.kind ?? "diverging", o.domain);

  const figure = create("figure")
    .attr("data-figure", o.name)
    .attr("data-revealed", revealed)
    .style("position", "relative");
  if (o.sym) figure.attr("data-sym", o.sym);
  const node = figure.node() as HTMLElement;
  let mn = Infinity;
  let mx = -Infinity;
  for (const v of shown)
    if (Number.isFinite(v)) {
      mn = Math.min(mn, v);
      mx = Math.max(mx, v);
    }
  node.dataset.min = String(mn);
  node.dataset.max = String(mx);

  const wrap = figure
    .append("div")
    .style("position", "relative")
    .style("width", `${o.width}px`)
    .style("height", `${H}px`);
  const dpr = typeof window !== "undefined" ? Math.min(2, window.devicePixelRatio || 1) : 1;
  const canvas = wrap
    .append("canvas")
    .attr("width", Math.round(plotW * dpr))
    .attr("height", Math.round(plotH * dpr))
    .style("position", "absolute")
    .style("left", `${margin.left}px`)
    .style("top", `${margin.top}px`)
    .style("width", `${plotW}px`)
    .style("height", `${plotH}px`)
    .style("image-rendering", "pixelated");
  const ctx = (canvas.node() as HTMLCanvasElement).getContext("2d");
  if (ctx) {
    ctx.fillStyle = "rgba(128,128,128,0.12)";
    ctx.fillRect(0, 0, plotW * dpr, plotH * dpr);
    if (revealed > 0) {
      // one pixel per cell in an offscreen bitmap (time across, channels down), then scaled up unsmoothed
      const lut = colorTable(scale);
      const lo = scale.domain[0];
      const span = scale.domain[1] - scale.domain[0] || 1;
      const img = new ImageData(revealed, C);
      const px = img.data;
      for (let r = 0; r < C; r++) {
        const c = order[r];
        for (let t = 0; t < revealed; t++) {
          const v = m.data[t * C + c];
          const o = (r * revealed + t) * 4;
          if (!Number.isFinite(v)) {
            px[o + 3] = 255; // black
            continue;
          }
          const i = Math.max(0, Math.min(255, Math.round(((v - lo) / span) * 255)));
          px[o] = lut[i * 3];
          px[o + 1] = lut[i * 3 + 1];
          px[o + 2] = lut[i * 3 + 2];
          px[o + 3] = 255;
        }
      }
      const off = document.createElement("canvas");
      off.width = revealed;
      off.height = C;
      off.getContext("2d")!.putImageData(img, 0, 0);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(off, 0, 0, revealed * colW * dpr, plotH * dpr);
    }
  }
  const svg = wrap
    .append("svg")
    .attr("width", o.width)
    .attr("height", H)
    .style("position", "absolute")
    .style("left", 0)
    .style("top", 0)
    .attr("role", "img")
    .attr("aria-label", `${o.title}: ${C} channels over ${T} tokens, ${revealed} shown`);
  svg
    .append("text")
    .attr("x", margin.left)
    .attr("y", 20)
    .attr("font-weight", 700)
    .attr("font-size", 16)
    .attr("fill", "currentColor")
    .attr("data-sym", o.sym ?? null)
    .text(o.title);
  svg
    .append("text")
    .attr("transform", `translate(12,${margin.top + plotH / 2}) rotate(-90)`)
    .attr("text-anchor", "middle")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text(o.rowOrder ? "channels (sorted)" : "channels");
  const every = Math.ceil(T / Math.max(1, Math.floor(plotW / 16)));
  const xl = svg.append("g").attr("font-family", "var(--monospace)").attr("font-size", 14);
  for (let t = 0; t < T; t += every) {
    xl.append("text")
      .attr("x", margin.left + (t + 0.5) * colW)
      .attr("y", margin.top + plotH + 16)
      .attr("text-anchor", "middle")
      .attr("fill", "currentColor")
      .attr("opacity", t < revealed ? 1 : 0.35)
      .text(o.labels[t] ?? "");
  }
  svg
    .append("text")
    .attr("x", margin.left + plotW)
    .attr("y", margin.top + plotH + 34)
    .attr("text-anchor", "end")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text("tokens →");
  if (o.highlightRow !== undefined) {
    const r = order.indexOf(o.highlightRow);
    if (r >= 0) {
      svg
        .append("rect")
        .attr("class", "highlight-row")
        .attr("x", margin.left - 6)
        .attr("y", margin.top + r * rowH - 1)
        .attr("width", plotW + 12)
        .attr("height", rowH + 2)
        .attr("fill", "none")
        .attr("stroke", "currentColor")
        .attr("stroke-width", 1.5);
      svg
        .append("path")
        .attr("d", `M${margin.left - 12},${margin.top + (r + 0.5) * rowH - 5}l6,5l-6,5z`)
        .attr("fill", "currentColor");
    }
  }
  if (o.highlightCol !== undefined && o.highlightCol >= 0 && o.highlightCol < T) {
    svg
      .append("rect")
      .attr("class", "highlight-col")
      .attr("x", margin.left + o.highlightCol * colW)
      .attr("y", margin.top - 2)
      .attr("width", Math.max(2, colW))
      .attr("height", plotH + 4)
      .attr("fill", "none")
      .attr("stroke", "currentColor")
      .attr("stroke-width", 2);
  }
  // colour legend
  const lx = margin.left + plotW + 22;
  const lh = Math.min(plotH, 200);
  const grad = svg.append("g").attr("transform", `translate(${lx},${margin.top})`);
  const steps = 40;
  for (let i = 0; i < steps; i++) {
    const v = scale.domain[1] - ((scale.domain[1] - scale.domain[0]) * (i + 0.5)) / steps;
    grad
      .append("rect")
      .attr("y", (i * lh) / steps)
      .attr("width", 12)
      .attr("height", lh / steps + 0.5)
      .attr("fill", scale.color(v));
  }
  const ly = scaleLinear().domain(scale.domain).range([lh, 0]);
  const fmt = d3format(o.format ?? ".2~g");
  for (const v of ly.ticks(4)) {
    grad
      .append("text")
      .attr("x", 16)
      .attr("y", ly(v) + 4)
      .attr("font-size", 12)
      .attr("fill", "currentColor")
      .text(fmt(v));
  }
  if (o.caption) figure.append("figcaption").text(o.caption);
  return node;
}

/** Heatmaps in a grid, two columns when the page is at least 900 px wide, each panel its matrix and options. */
export function heatmapGrid(
  panels: readonly ({ matrix: Matrix } & Omit<HeatmapOptions, "width">)[],
  { width }: { width: number },
): HTMLElement {
  const cols = width >= 900 ? 2 : 1;
  const w = cols === 2 ? (width - 24) / 2 : width;
  const grid = create("div")
    .style("display", "grid")
    .style("grid-template-columns", `repeat(${cols}, 1fr)`)
    .style("gap", "0 24px");
  for (const { matrix, ...options } of panels) grid.append(() => heatmap(matrix, { ...options, width: w }));
  return grid.node() as HTMLElement;
}
