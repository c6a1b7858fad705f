/**
 * A channels × time heatmap (one SVG: the cells a canvas in it, axes and marks around it), for any (T, C) tensor of a
 * trace.
 * Rows are channels (optionally reordered), columns are token positions; columns at and after `revealed` are
 * drawn empty (the "filling in as tokens stream" effect).
 *
 *   heatmapScale(values, kind) -> {domain, color}   "diverging" (symmetric around 0) or "sequential"
 *   heatmap(m, opts) -> <figure data-figure=opts.name>
 *     m: {rows: T, cols: C, data (T, C) row-major}
 *     opts: {width, name, title, sym?, labels (T), revealed?, rowOrder?, highlightRow?, highlightCol?,
 *            kind?, rowHeight?, format?, domain?}
 * The figure's element carries data-sym (hover linking) and dataset.min / dataset.max of what it shows.
 *   heatmapGrid(panels, {width}) -> <div>   heatmaps in a grid: four columns from 960 px, two from 640, else one
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
import { frame, panelGrid, usableWidth, wrapLines } from "./frame.js";

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
  /** pixels per channel row (default: fit ~260 px); a panel narrower than 300 px takes at most 2/3 of its width */
  rowHeight?: number;
  format?: string;
  domain?: [number, number];
  caption?: string;
}

/** A heatmap panel is drawn at least this wide (four fit a 960 px row). */
const HEATMAP_MIN_WIDTH = 200;

/** Colour tables of recent scales (a redraw on every keystroke often keeps a panel's domain). */
const lutCache = new Map<string, Uint8Array>();

function cachedColorTable(scale: HeatmapScale, kind: HeatmapKind): Uint8Array {
  const key = `${kind} ${scale.domain[0]} ${scale.domain[1]}`;
  let lut = lutCache.get(key);
  if (!lut) {
    if (lutCache.size >= 16) lutCache.delete(lutCache.keys().next().value as string);
    lutCache.set(key, (lut = colorTable(scale)));
  }
  return lut;
}

const XHTML = "http://www.w3.org/1999/xhtml";

/** Whether this platform stores a 32-bit word's lowest byte first (every browser's platform, in practice). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** An opaque RGB colour as a 32-bit word whose bytes in memory are R, G, B, A (ImageData's order). */
function pack(r: number, g: number, b: number): number {
  return LITTLE_ENDIAN
    ? ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0
    : ((r << 24) | (g << 16) | (b << 8) | 255) >>> 0;
}

const packedCache = new WeakMap<Uint8Array, Uint32Array>();
/** The 256 colours of a colour table (RGB triples), packed for one write a pixel. */
function packedColors(lut: Uint8Array): Uint32Array {
  let packed = packedCache.get(lut);
  if (!packed) {
    packed = new Uint32Array(256);
    for (let i = 0; i < 256; i++) packed[i] = pack(lut[i * 3], lut[i * 3 + 1], lut[i * 3 + 2]);
    packedCache.set(lut, packed);
  }
  return packed;
}

/**
 * Paints the cells into `canvas`, one pixel per cell (time across, channels down), in place: the canvas sits in
 * the SVG (a foreignObject over the plot) and is scaled pixelated with it, so a redraw costs a putImageData, not
 * an image encode and decode (the figure tools turn it into an <image> when exporting, src/ui/export.ts).
 * Row r shows channel order[r]; a value's colour is the table's entry round((v - lo) / (hi - lo) * 255), clamped
 * to 0..255; NaN and ±Infinity are black. False when there is no 2D context. (@internal: exported for its test.)
 */
export function paintCells(
  canvas: HTMLCanvasElement,
  m: Matrix,
  revealed: number,
  order: readonly number[],
  scale: HeatmapScale,
  lut: Uint8Array,
): boolean {
  const ctx = canvas.getContext("2d");
  if (!ctx) return false;
  const C = m.cols;
  const data = m.data;
  if (canvas.width !== revealed) canvas.width = revealed;
  if (canvas.height !== C) canvas.height = C;
  const lo = scale.domain[0];
  const span = scale.domain[1] - scale.domain[0] || 1;
  const img = ctx.createImageData(revealed, C);
  // one 32-bit write a pixel: the colours packed as the platform stores RGBA bytes in a 32-bit word
  const px = new Uint32Array(img.data.buffer, img.data.byteOffset, revealed * C);
  const colors = packedColors(lut);
  const black = pack(0, 0, 0);
  for (let r = 0; r < C; r++) {
    const c = order[r];
    const row = r * revealed;
    for (let t = 0, at = c; t < revealed; t++, at += C) {
      const v = data[at];
      if (v - v !== 0) {
        px[row + t] = black; // NaN or ±Infinity
        continue;
      }
      const i = Math.round(((v - lo) / span) * 255);
      px[row + t] = i >= 0 ? colors[i > 255 ? 255 : i] : i < 0 ? colors[0] : black; // NaN (a NaN domain): black
    }
  }
  ctx.putImageData(img, 0, 0);
  return true;
}

/** The live parts of a drawn heatmap (see updateHeatmap): what its fixed parts were drawn for, and how to repaint. */
const liveParts = new WeakMap<
  Element,
  { fixed: string; paint: (m: Matrix, o: HeatmapOptions, layout: FixedLayout) => void }
>();

type FixedLayout = ReturnType<typeof fixedLayout>;

/** What a heatmap's parts drawn once depend on (its frame, title, row marks, colour bar) for data m and options o. */
function fixedLayout(m: Matrix, o: HeatmapOptions) {
  const T = m.rows;
  const C = m.cols;
  if (T < 1 || C < 1 || m.data.length !== T * C)
    throw new RangeError("heatmap: data does not match rows × cols");
  const revealed = Math.max(0, Math.min(T, o.revealed ?? T));
  const order = o.rowOrder ?? Array.from({ length: C }, (_, c) => c);
  const width = usableWidth(o.width, HEATMAP_MIN_WIDTH);
  // about 260 px of rows; a narrow panel (four in a row: a wide page, presenter mode) shorter, at most 2/3 of its
  // width, so that the row and the controls above it share one screen, whatever rowHeight asked for
  const narrow = width < 300;
  const fit = Math.max(0.5, Math.min(4, Math.max(150, Math.min(260, 0.66 * width)) / C));
  const rowH = narrow ? Math.min(o.rowHeight ?? fit, fit) : (o.rowHeight ?? fit);
  const shown = m.data.subarray(0, revealed * C);
  const kind = o.kind ?? "diverging";
  const scale = heatmapScale(shown.length ? shown : m.data, kind, o.domain);
  const ly = scaleLinear().domain(scale.domain).range([1, 0]);
  const fmt = d3format(o.format ?? ".2~g");
  const ticks = ly.ticks(4).map((v) => ({ v, label: fmt(v) }));
  // colour bar: 12 px bar, 4 px gap, then its labels (13 px text, about 0.62 em a character)
  const legendW = 22 + 16 + Math.ceil(Math.max(3, ...ticks.map((t) => t.label.length)) * 13 * 0.62) + 4;
  const titleLines = wrapLines(o.title, width - 8, 16);
  // a narrow panel leaves out the "tokens →" line: its token labels say as much
  const margin = { top: 12 + 20 * titleLines.length, right: legendW, bottom: narrow ? 24 : 40, left: 36 };
  const plotH = Math.round(C * rowH);
  const fixed = JSON.stringify([
    width,
    C,
    rowH,
    margin,
    o.name,
    o.title,
    o.sym ?? null,
    kind,
    o.highlightRow ?? null,
    o.caption ?? null,
    o.rowOrder ? order.join(",") : null,
  ]);
  return {
    T,
    C,
    revealed,
    order,
    width,
    narrow,
    rowH,
    shown,
    kind,
    scale,
    ly,
    fmt,
    ticks,
    margin,
    plotH,
    titleLines,
    fixed,
  };
}

/**
 * One SVG (the cells a canvas drawn pixelated in it), so the figure scales as a whole: full screen, presenter mode,
 * export. The title wraps to the panel's width; the colour bar's labels get the room their longest one needs.
 * The parts that change when a token is added (the cells, the token labels, the token mark, the colour bar's
 * labels, the figure's data attributes and text alternative) are drawn by one function, which updateHeatmap
 * calls again on the same figure.
 */
export function heatmap(m: Matrix, o: HeatmapOptions): HTMLElement {
  const L = fixedLayout(m, o);
  const { C, order, width, narrow, rowH, margin, plotH } = L;
  const f = frame(o.name, {
    width,
    minWidth: HEATMAP_MIN_WIDTH,
    height: plotH,
    margin,
    label: "",
    data: { revealed: L.revealed },
  });
  const plotW = f.right - f.left;
  const node = f.figure.node() as HTMLElement;
  if (o.sym) f.figure.attr("data-sym", o.sym);
  const svg = f.svg;
  svg
    .append("rect")
    .attr("x", f.left)
    .attr("y", f.top)
    .attr("width", plotW)
    .attr("height", plotH)
    .attr("fill", "rgba(128,128,128,0.12)");
  const cells = svg.append("g").attr("class", "cells-live");
  const title = svg
    .append("text")
    .attr("class", "title")
    .attr("x", 4)
    .attr("font-weight", 700)
    .attr("font-size", 16)
    .attr("fill", "currentColor")
    .attr("data-sym", o.sym ?? null);
  L.titleLines.forEach((line, i) =>
    title
      .append("tspan")
      .attr("x", 4)
      .attr("y", 20 + 20 * i)
      .text(line),
  );
  svg
    .append("text")
    .attr("transform", `translate(14,${f.top + plotH / 2}) rotate(-90)`)
    .attr("text-anchor", "middle")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text(o.rowOrder ? "channels (sorted)" : "channels");
  if (!narrow)
    svg
      .append("text")
      .attr("x", f.right)
      .attr("y", f.bottom + 34)
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
        .attr("x", f.left - 4)
        .attr("y", f.top + r * rowH - 1)
        .attr("width", plotW + 8)
        .attr("height", rowH + 2)
        .attr("fill", "none")
        .attr("stroke", "currentColor")
        .attr("stroke-width", 1.5);
      svg
        .append("path")
        .attr("d", `M${f.left - 10},${f.top + (r + 0.5) * rowH - 5}l6,5l-6,5z`)
        .attr("fill", "currentColor");
    }
  }
  // colour legend: the bar's colours span the domain whatever it is; its labels are live
  const lh = Math.min(plotH, 200);
  const grad = svg
    .append("g")
    .attr("class", "color-bar")
    .attr("transform", `translate(${f.right + 22},${f.top})`);
  const steps = 40;
  // the bar's colours at their fraction of the domain (the same for every domain: a redraw keeps them)
  const unit = heatmapScale([], L.kind, [0, 1]);
  for (let i = 0; i < steps; i++) {
    grad
      .append("rect")
      .attr("y", (i * lh) / steps)
      .attr("width", 12)
      .attr("height", lh / steps + 0.5)
      .attr("fill", unit.color(1 - (i + 0.5) / steps));
  }
  const marks = svg.append("g").attr("class", "marks-live");
  const paint = (pm: Matrix, po: HeatmapOptions, P: FixedLayout): void => {
    const { T, revealed, scale, fmt } = P;
    const colW = plotW / T;
    svg.attr(
      "aria-label",
      `${po.title}: ${C} channels over ${T} tokens, ${revealed} shown, values ${fmt(scale.domain[0])} to ${fmt(scale.domain[1])}`,
    );
    node.dataset.revealed = String(revealed);
    let mn = Infinity;
    let mx = -Infinity;
    const shown = P.shown;
    for (let i = 0; i < shown.length; i++) {
      const v = shown[i];
      if (v - v !== 0) continue; // NaN or ±Infinity
      if (v < mn) mn = v;
      if (v > mx) mx = v;
    }
    node.dataset.min = String(mn);
    node.dataset.max = String(mx);
    // the cells: one canvas, kept across redraws (see paintCells); none without a DOM or before the first token
    if (typeof document === "undefined" || revealed < 1) cells.selectChildren().remove();
    else {
      let box = cells.select<SVGForeignObjectElement>("foreignObject");
      if (box.empty()) {
        box = cells.append("foreignObject");
        const canvas = document.createElementNS(XHTML, "canvas") as HTMLCanvasElement;
        canvas.setAttribute("class", "cells");
        canvas.style.cssText = "display:block;width:100%;height:100%;image-rendering:pixelated";
        box.node()!.appendChild(canvas);
      }
      box
        .attr("x", f.left)
        .attr("y", f.top)
        .attr("width", revealed * colW)
        .attr("height", plotH);
      const canvas = box.node()!.firstElementChild as HTMLCanvasElement;
      if (!paintCells(canvas, pm, revealed, P.order, scale, cachedColorTable(scale, P.kind))) box.remove();
    }
    marks.selectChildren().remove();
    const every = Math.ceil(T / Math.max(1, Math.floor(plotW / 16)));
    const xl = marks.append("g").attr("font-family", "var(--monospace)").attr("font-size", 14);
    for (let t = 0; t < T; t += every) {
      xl.append("text")
        .attr("x", f.left + (t + 0.5) * colW)
        .attr("y", f.bottom + 16)
        .attr("text-anchor", "middle")
        .attr("fill", "currentColor")
        .attr("opacity", t < revealed ? 1 : 0.35)
        .text(po.labels[t] ?? "");
    }
    if (po.highlightCol !== undefined && po.highlightCol >= 0 && po.highlightCol < T) {
      marks
        .append("rect")
        .attr("class", "highlight-col")
        .attr("x", f.left + po.highlightCol * colW)
        .attr("y", f.top - 2)
        .attr("width", Math.max(2, colW))
        .attr("height", plotH + 4)
        .attr("fill", "none")
        .attr("stroke", "currentColor")
        .attr("stroke-width", 2);
    }
    const tl = marks.append("g").attr("transform", `translate(${f.right + 22},${f.top})`);
    for (const { v, label } of P.ticks) {
      tl.append("text")
        .attr("x", 16)
        .attr("y", P.ly(v) * lh + 4)
        .attr("font-size", 13)
        .attr("fill", "currentColor")
        .text(label);
    }
  };
  paint(m, o, L);
  liveParts.set(node, { fixed: L.fixed, paint });
  return f.done(o.caption);
}

/**
 * Redraws a figure made by heatmap() for new data and options in place when only its live parts change (a token
 * added or removed, another token marked, a new colour domain whose labels fit the same room): true when it did,
 * false when the figure must be drawn anew.
 */
export function updateHeatmap(figure: Element, m: Matrix, o: HeatmapOptions): boolean {
  const live = liveParts.get(figure);
  if (!live) return false;
  const L = fixedLayout(m, o);
  if (L.fixed !== live.fixed) return false;
  live.paint(m, o, L);
  return true;
}

/**
 * Heatmaps in a grid, each panel its matrix and options: four in a row from 960 px (a wide page, presenter mode:
 * one screen holds them all), two from 640 px, else one. Given the grid it drew before (`previous`), it redraws
 * that grid's panels in place where only their live parts change (updateHeatmap) and returns it.
 */
export function heatmapGrid(
  panels: readonly ({ matrix: Matrix } & Omit<HeatmapOptions, "width">)[],
  { width, previous }: { width: number; previous?: Element | null },
): HTMLElement {
  const gap = 16;
  const { cols, panelWidth } = panelGrid(panels.length, usableWidth(width), {
    gap,
    panelHeight: 0,
    columns: [
      [960, 4],
      [640, 2],
    ],
  });
  const columns = `repeat(${cols}, ${panelWidth}px)`;
  if (
    typeof HTMLElement !== "undefined" &&
    previous instanceof HTMLElement &&
    previous.classList.contains("heatmap-grid") &&
    previous.style.gridTemplateColumns === columns &&
    previous.children.length === panels.length
  ) {
    panels.forEach(({ matrix, ...options }, i) => {
      const old = previous.children[i];
      if (!updateHeatmap(old, matrix, { ...options, width: panelWidth }))
        old.replaceWith(heatmap(matrix, { ...options, width: panelWidth }));
    });
    return previous;
  }
  const grid = create("div")
    .attr("class", "heatmap-grid")
    .style("display", "grid")
    .style("grid-template-columns", columns)
    .style("gap", `0 ${gap}px`);
  for (const { matrix, ...options } of panels)
    grid.append(() => heatmap(matrix, { ...options, width: panelWidth }));
  return grid.node() as HTMLElement;
}
