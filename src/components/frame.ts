/**
 * The scaffolding every figure repeats, written once: a <figure data-figure="NAME"> holding one <svg> drawn at
 * Framework's reactive `width` (raised to a minimum: `width` can be 0 for a moment before the page has laid out,
 * and negative sizes are console errors), a plot area inside margins, small multiples laid out in a grid, one
 * colour per layer with its legend, and the caption. Components import this, d3 and types only.
 *
 * API:
 *   usableWidth(width, min = MIN_FIGURE_WIDTH) -> number     a width to draw at (min for 0, negative or NaN)
 *   frameSize({width, height, margin?, minWidth?}) -> FrameSize
 *       pure: the svg's size (height is the plot area's; the margins come on top) and the plot area's edges
 *   frame(name, {width, height, label, margin?, minWidth?, fluid?, data?}) -> Frame
 *       <figure data-figure=NAME data-*=...><svg width height viewBox role="img" aria-label=LABEL>; `fluid`: the
 *       svg shrinks with its container (max-width 100%, height auto); Frame.done(caption?) adds the
 *       <figcaption> (when given) and returns the figure element
 *   panelGrid(n, width, {gap, panelHeight, columns}) -> PanelGrid
 *       pure: n panels in rows; `columns` [[minWidth, cols], ...] widest first (1 column below them all)
 *   layerColor(l), layerLegend(parent, nLayers, {x, y})     one colour per layer, and the "layer l" legend
 *   textWidth(text, fontSize, {mono?}) -> number              an estimate of a label's width (no DOM needed)
 *   labelStep(spacing, labelWidth, gap?) -> k                 label every k-th position so labels never touch
 *   legible(svg)                                              raise every font size below MIN_TEXT to it (d3's
 *                                                             axes draw at 10 px); Frame.done() calls it
 *   wrapLines(text, width, fontSize) -> string[]              a title broken into lines that fit `width`
 *
 * Text: figures draw text at 13 px or more (MIN_TEXT): presenter mode zooms the page by 1.25, so it is read at
 * 16 px or more on a 1280 × 720 projector (src/ui/presenter.ts), and full screen scales it further.
 */
import { create, type Selection } from "d3";

/** Below this, a figure draws at this width and the next `width` redraws it at the real size. */
export const MIN_FIGURE_WIDTH = 280;

export function usableWidth(width: number, min = MIN_FIGURE_WIDTH): number {
  return Number.isFinite(width) ? Math.max(width, min) : min;
}

export interface Margin {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

const NO_MARGIN: Margin = { top: 0, right: 0, bottom: 0, left: 0 };

export interface FrameSize {
  /** the svg's width and height in pixels */
  width: number;
  height: number;
  margin: Margin;
  /** the plot area's edges in the svg's coordinates: x from left to right, y from top (small) to bottom */
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface SizeOptions {
  /** Framework's `width` (or any wanted width): raised to `minWidth` */
  width: number;
  /** the plot area's height: the svg is margin.top + height + margin.bottom tall */
  height: number;
  margin?: Margin;
  minWidth?: number;
}

export function frameSize({ width, height, margin = NO_MARGIN, minWidth }: SizeOptions): FrameSize {
  const w = usableWidth(width, minWidth);
  return {
    width: w,
    height: margin.top + height + margin.bottom,
    margin,
    left: margin.left,
    right: w - margin.right,
    top: margin.top,
    bottom: margin.top + height,
  };
}

export interface FrameOptions extends SizeOptions {
  /** the svg's aria-label: what the figure shows, in words */
  label: string;
  /** shrink with the container (max-width: 100%; height: auto) instead of overflowing it */
  fluid?: boolean;
  /** more attributes of the <figure>, each written as data-KEY (for tests and the page's readers) */
  data?: Record<string, string | number>;
}

/** Every font-size attribute of the svg (and its axes') below MIN_TEXT raised to MIN_TEXT. */
export function legible(svg: Selection<SVGSVGElement, undefined, null, undefined> | SVGSVGElement): void {
  const node = "node" in svg ? svg.node() : svg;
  const walk = (el: Element): void => {
    const size = parseFloat(el.getAttribute("font-size") ?? "");
    if (size < MIN_TEXT) el.setAttribute("font-size", String(MIN_TEXT));
    for (const child of Array.from(el.children)) if (typeof child === "object") walk(child);
  };
  if (node) walk(node);
}

/** Label every k-th of positions `spacing` px apart when a label is `labelWidth` px wide (at least 1). */
export function labelStep(spacing: number, labelWidth: number, gap = 2): number {
  if (!(spacing > 0)) return 1;
  return Math.max(1, Math.ceil((labelWidth + gap) / spacing));
}

export interface Frame extends FrameSize {
  figure: Selection<HTMLElement, undefined, null, undefined>;
  svg: Selection<SVGSVGElement, undefined, null, undefined>;
  /** append the <figcaption> (when given) and return the figure element */
  done(caption?: string): HTMLElement;
}

export function frame(name: string, { label, fluid = false, data = {}, ...size }: FrameOptions): Frame {
  const s = frameSize(size);
  const figure = create("figure").attr("data-figure", name);
  for (const [key, value] of Object.entries(data)) figure.attr(`data-${key}`, value);
  const svg = figure
    .append("svg")
    .attr("width", s.width)
    .attr("height", s.height)
    .attr("viewBox", `0 0 ${s.width} ${s.height}`)
    .attr("role", "img")
    .attr("aria-label", label);
  if (fluid) svg.style("max-width", "100%").style("height", "auto");
  return {
    ...s,
    figure,
    svg,
    done(caption) {
      legible(svg);
      if (caption !== undefined) figure.append("figcaption").text(caption);
      return figure.node() as HTMLElement;
    },
  };
}

export interface PanelGrid {
  cols: number;
  rows: number;
  /** each panel's width: the columns and the gaps between them fill `width` */
  panelWidth: number;
  /** rows × panelHeight */
  height: number;
  /** the top-left corner of panel i (row-major) */
  x(i: number): number;
  y(i: number): number;
}

export function panelGrid(
  n: number,
  width: number,
  {
    gap,
    panelHeight,
    columns,
  }: { gap: number; panelHeight: number; columns: readonly (readonly [number, number])[] },
): PanelGrid {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`panelGrid: need at least one panel, got ${n}`);
  const cols = Math.min(n, columns.find(([min]) => width >= min)?.[1] ?? 1);
  const rows = Math.ceil(n / cols);
  const panelWidth = (width - gap * (cols - 1)) / cols;
  return {
    cols,
    rows,
    panelWidth,
    height: rows * panelHeight,
    x: (i) => (i % cols) * (panelWidth + gap),
    y: (i) => Math.floor(i / cols) * panelHeight,
  };
}

const LAYER_COLORS = ["#3b6fd9", "#2f9e44", "#e8590c", "#ae3ec9", "#1098ad", "#f08c00", "#c2255c", "#5c7cfa"];

export function layerColor(l: number): string {
  return LAYER_COLORS[l % LAYER_COLORS.length];
}

const LEGEND_ITEM = 92;
const LEGEND_ROW = 20;

/** How many rows the layer legend takes when it starts at x of a figure `width` wide (one row without a width). */
export function layerLegendRows(nLayers: number, width?: number, x = 0): number {
  if (width === undefined) return 1;
  return Math.ceil(nLayers / Math.max(1, Math.floor((width - x) / LEGEND_ITEM)));
}

/**
 * "— layer 0  — layer 1 ..." in the layers' colours, from (x, y) of `parent`; given the figure's `width`, it wraps
 * into rows of LEGEND_ROW px (layerLegendRows says how many) instead of running out of the figure.
 */
export function layerLegend<E extends SVGElement>(
  parent: Selection<E, undefined, null, undefined>,
  nLayers: number,
  { x, y, width }: { x: number; y: number; width?: number },
): void {
  const legend = parent.append("g").attr("class", "layer-legend").attr("transform", `translate(${x},${y})`);
  const perRow = Math.ceil(nLayers / layerLegendRows(nLayers, width, x));
  for (let l = 0; l < nLayers; l++) {
    const g = legend
      .append("g")
      .attr("transform", `translate(${(l % perRow) * LEGEND_ITEM},${Math.floor(l / perRow) * LEGEND_ROW})`);
    g.append("line").attr("x2", 22).attr("stroke", layerColor(l)).attr("stroke-width", 4);
    g.append("text").attr("x", 28).attr("y", 5).attr("fill", "currentColor").text(`layer ${l}`);
  }
}

/** The smallest font size a figure draws text at (see the top of this file). */
export const MIN_TEXT = 13;

/**
 * An estimate of how wide `text` is drawn at `fontSize` (no DOM: components are pure and tested in Node): 0.6 em a
 * character for the sans-serif stacks the site uses (a little over their average), 0.62 em for monospace.
 */
export function textWidth(text: string, fontSize: number, { mono = false }: { mono?: boolean } = {}): number {
  return [...text].length * fontSize * (mono ? 0.62 : 0.6);
}

/** `text` broken at spaces into lines no wider than `width` (by textWidth); a longer word stays whole. */
export function wrapLines(text: string, width: number, fontSize: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const next = line ? `${line} ${word}` : word;
    if (line && textWidth(next, fontSize) > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [""];
}
