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

/** "— layer 0  — layer 1 ..." in the layers' colours, from (x, y) of `parent`. */
export function layerLegend<E extends SVGElement>(
  parent: Selection<E, undefined, null, undefined>,
  nLayers: number,
  { x, y }: { x: number; y: number },
): void {
  const legend = parent.append("g").attr("class", "layer-legend").attr("transform", `translate(${x},${y})`);
  for (let l = 0; l < nLayers; l++) {
    const g = legend.append("g").attr("transform", `translate(${l * 92},0)`);
    g.append("line").attr("x2", 22).attr("stroke", layerColor(l)).attr("stroke-width", 4);
    g.append("text").attr("x", 28).attr("y", 5).attr("fill", "currentColor").text(`layer ${l}`);
  }
}
