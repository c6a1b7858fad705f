/**
 * Chapter 2's figure: T x T attention heatmaps side by side (the weights RWKV's WKV implies for one channel
 * beside a transformer's softmax attention, src/chapters/attention.ts computes both), same tokens on both axes.
 *
 *   attentionComparison(panels, tokens, {width, scale?, maxSide?, selected?, data?})
 *     -> <figure data-figure="attention-comparison">, `.value` the selected cell [t, i]
 *   cellOpacity(a, scale)      the opacity of a cell of weight a ("log" or "linear")
 *   tokenLabel(s)              a character as drawn on an axis (spaces and line breaks made visible)
 */
import { create, format, type Selection } from "d3";
import type { AttentionPanel } from "../chapters/attention.js";
import { labelStep, legible, MIN_TEXT, textWidth } from "./frame.js";

/** How a character is drawn on an axis (spaces and control characters made visible). */
export function tokenLabel(s: string): string {
  if (s === " ") return "␣";
  if (s === "\n") return "↵"; // as src/trace/trace.ts labels it
  if (s === "\t") return "⇥";
  return s;
}

const DEFAULT_RGB: [number, number, number] = [0x3b, 0x6f, 0xd9];

/** A T x T PNG data URL of the weights (alpha = cellOpacity), or undefined where there is no canvas. */
function cellImage(
  A: Float32Array,
  T: number,
  [r, g, b]: [number, number, number],
  scale: "log" | "linear",
): string | undefined {
  if (typeof document === "undefined") return undefined;
  const canvas = document.createElement("canvas");
  canvas.width = T;
  canvas.height = T;
  const ctx = canvas.getContext("2d");
  if (!ctx) return undefined;
  const img = ctx.createImageData(T, T);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i <= t; i++) {
      const o = (t * T + i) * 4;
      img.data[o] = r;
      img.data[o + 1] = g;
      img.data[o + 2] = b;
      img.data[o + 3] = Math.round(255 * cellOpacity(A[t * T + i], scale));
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas.toDataURL("image/png");
}

export interface AttentionComparisonOptions {
  width: number;
  /** how weight maps to opacity: "log" (default, 1e-3..1) shows small weights; "linear" shows the big ones */
  scale?: "log" | "linear";
  /** largest panel side in pixels (default 460) */
  maxSide?: number;
  /** cell selected at first, [t, i] */
  selected?: [number, number];
  /** data attributes of the figure (e.g. {wkvBackend: "wasm"} -> data-wkv-backend="wasm") */
  data?: Record<string, string>;
}

const LOG_FLOOR = 1e-3;
const fmt = format(".4~g");

/** Opacity of a cell with weight a (0 for exactly 0). */
export function cellOpacity(a: number, scale: "log" | "linear"): number {
  if (!(a > 0)) return 0;
  if (scale === "linear") return Math.min(1, 0.04 + 0.96 * a);
  const x = (Math.log10(Math.max(a, LOG_FLOOR)) - Math.log10(LOG_FLOOR)) / -Math.log10(LOG_FLOOR);
  return 0.04 + 0.96 * Math.min(1, Math.max(0, x));
}

/**
 * Heatmaps side by side (stacked when narrow), same tokens on both axes, one shared hover readout: pointing at
 * (or moving with the arrow keys to) cell (t, i) in one panel highlights it in every panel and prints each
 * panel's weight. Returns <figure data-figure="attention-comparison">; its `.value` is the selected [t, i], and
 * it dispatches "input" when the selection changes.
 */
export function attentionComparison(
  panels: AttentionPanel[],
  tokens: string[],
  { width, scale = "log", maxSide = 460, selected, data = {} }: AttentionComparisonOptions,
): HTMLElement & { value: [number, number] } {
  const T = tokens.length;
  if (T < 1) throw new RangeError("attentionComparison: no tokens");
  if (panels.length < 1) throw new RangeError("attentionComparison: no panels");
  for (const p of panels) {
    if (p.matrix.length !== T * T) {
      throw new RangeError(
        `attentionComparison: panel "${p.title}" has ${p.matrix.length} weights, expected ${T}² = ${T * T}`,
      );
    }
  }
  const margin = { top: 50, right: 12, bottom: 44, left: 44 };
  const gap = 28;
  const n = panels.length;
  const sideBySide = width >= n * (220 + margin.left + margin.right) + (n - 1) * gap;
  const avail = sideBySide ? (width - (n - 1) * gap) / n : width;
  // on a wide page (presenter mode) the panels stay short enough for the figure and its controls to share a
  // 1280 × 720 screen; a quarter of the width is still larger than the panels of a normal page
  const wide = sideBySide && width >= 960 ? Math.max(220, 0.25 * width) : Infinity;
  const side = Math.max(120, Math.min(maxSide, wide, avail - margin.left - margin.right));
  const cell = side / T;
  const panelW = side + margin.left + margin.right;
  const panelH = side + margin.top + margin.bottom;
  const panelsW = sideBySide ? n * panelW + (n - 1) * gap : panelW;
  // the weight scale beside the panels when there is room (a wide page), else under the figure
  const legendInside = width - panelsW >= 260;
  const totalW = legendInside ? panelsW + 260 : panelsW;
  const totalH = sideBySide ? panelH : n * panelH;
  let [selT, selI] = selected ?? [T - 1, Math.max(0, T - 2)];
  selT = Math.min(Math.max(0, selT), T - 1);
  selI = Math.min(Math.max(0, selI), selT);

  const figure = create("figure").attr("data-figure", "attention-comparison").attr("data-t", T);
  const readout = figure
    .append("div")
    .attr("class", "heatmap-readout")
    .attr("aria-live", "polite")
    .style("font", "16px var(--sans-serif)")
    .style("min-height", "1.5em")
    .style("margin-bottom", "0.25rem");
  const svg = figure
    .append("svg")
    .attr("width", totalW)
    .attr("height", totalH)
    .attr("viewBox", `0 0 ${totalW} ${totalH}`)
    .attr("tabindex", 0)
    .attr("role", "img")
    .attr(
      "aria-label",
      `${panels.map((p) => p.title).join(" beside ")}: ${T} by ${T} attention weights. ` +
        "Arrow keys move the highlighted cell.",
    )
    .style("max-width", "100%")
    .style("height", "auto");

  // the characters at 13 px, every stepX-th along the bottom and every stepY-th down the side, so none touch
  const fontSize = MIN_TEXT;
  const stepX = labelStep(cell, textWidth("m", fontSize, { mono: true }));
  const stepY = labelStep(cell, fontSize);
  const highlights: Selection<SVGRectElement, undefined, null, undefined>[] = [];
  const rowMarks: Selection<SVGRectElement, undefined, null, undefined>[] = [];

  panels.forEach((panel, pi) => {
    const ox = sideBySide ? pi * (panelW + gap) : 0;
    const oy = sideBySide ? 0 : pi * panelH;
    const g = svg.append("g").attr("transform", `translate(${ox + margin.left},${oy + margin.top})`);
    g.append("text")
      .attr("x", -margin.left + 4)
      .attr("y", -margin.top + 16)
      .attr("font-weight", 600)
      .attr("fill", panel.color)
      .attr("data-sym", panel.sym ?? null)
      .text(panel.title);
    if (panel.subtitle) {
      g.append("text")
        .attr("x", -margin.left + 4)
        .attr("y", -margin.top + 34)
        .attr("fill", "currentColor")
        .attr("font-size", 13)
        .text(panel.subtitle);
    }
    // frame and the masked (future) triangle
    g.append("rect")
      .attr("width", side)
      .attr("height", side)
      .attr("fill", "none")
      .attr("stroke", "currentColor")
      .attr("stroke-opacity", 0.35);
    g.append("path")
      .attr("d", `M${cell},0H${side}V${side - cell}Z`)
      .attr("fill", "currentColor")
      .attr("fill-opacity", 0.06)
      .append("title")
      .text("future tokens: masked (weight 0)");
    // the cells: one T x T image (one pixel per cell, scaled up without smoothing) instead of T²/2 SVG rects,
    // so a 128-token prompt redraws in milliseconds; transparent pixels let the theme's background through
    const href = cellImage(panel.matrix, T, panel.rgb ?? DEFAULT_RGB, scale);
    if (href) {
      g.append("image")
        .attr("class", "cells")
        .attr("href", href)
        .attr("width", side)
        .attr("height", side)
        .attr("preserveAspectRatio", "none")
        .style("image-rendering", "pixelated");
    } else {
      // no canvas (not a browser): SVG rects
      const cells = g.append("g").attr("class", "cells").attr("fill", panel.color);
      for (let t = 0; t < T; t++) {
        for (let i = 0; i <= t; i++) {
          const op = cellOpacity(panel.matrix[t * T + i], scale);
          if (op === 0) continue;
          cells
            .append("rect")
            .attr("x", i * cell)
            .attr("y", t * cell)
            .attr("width", cell + 0.3)
            .attr("height", cell + 0.3)
            .attr("fill-opacity", op.toFixed(3));
        }
      }
    }
    // token labels: keys i along the bottom, queries t down the left
    const lab = g
      .append("g")
      .attr("font-size", fontSize)
      .attr("font-family", "var(--monospace)")
      .attr("fill", "currentColor");
    for (let j = 0; j < T; j += stepX)
      lab
        .append("text")
        .attr("x", j * cell + cell / 2)
        .attr("y", side + fontSize + 3)
        .attr("text-anchor", "middle")
        .text(tokenLabel(tokens[j]));
    for (let j = 0; j < T; j += stepY)
      lab
        .append("text")
        .attr("x", -4)
        .attr("y", j * cell + cell / 2)
        .attr("dy", "0.35em")
        .attr("text-anchor", "end")
        .text(tokenLabel(tokens[j]));
    g.append("text")
      .attr("x", side)
      .attr("y", side + 38)
      .attr("text-anchor", "end")
      .attr("font-size", 13)
      .attr("fill", "currentColor")
      .text("key position i (earlier tokens) →");
    g.append("text")
      .attr("transform", `translate(${-margin.left + 14},${side}) rotate(-90)`)
      .attr("font-size", 13)
      .attr("fill", "currentColor")
      .text("query position t →");
    rowMarks.push(
      g
        .append("rect")
        .attr("class", "row-mark")
        .attr("x", 0)
        .attr("width", side)
        .attr("height", cell)
        .attr("fill", "none")
        .attr("stroke", "currentColor")
        .attr("stroke-opacity", 0.5)
        .attr("stroke-dasharray", "3 2"),
    );
    highlights.push(
      g
        .append("rect")
        .attr("class", "cell-mark")
        .attr("width", Math.max(cell, 4))
        .attr("height", Math.max(cell, 4))
        .attr("fill", "none")
        .attr("stroke", "currentColor")
        .attr("stroke-width", 2),
    );
    // pointer: one overlay per panel
    g.append("rect")
      .attr("width", side)
      .attr("height", side)
      .attr("fill", "transparent")
      .style("cursor", "crosshair")
      .on("pointermove", (event: PointerEvent) => {
        const rect = (event.currentTarget as SVGRectElement).getBoundingClientRect();
        const t = Math.floor(((event.clientY - rect.top) / rect.height) * T);
        const i = Math.floor(((event.clientX - rect.left) / rect.width) * T);
        if (t >= 0 && t < T && i >= 0 && i < T) select(t, Math.min(i, t));
      });
  });

  const node = figure.node() as HTMLElement & { value: [number, number] };

  function render(): void {
    for (const h of highlights)
      h.attr("x", selI * cell - (cell < 4 ? (4 - cell) / 2 : 0)).attr(
        "y",
        selT * cell - (cell < 4 ? (4 - cell) / 2 : 0),
      );
    for (const r of rowMarks) r.attr("y", selT * cell);
    // the exact values of the selected cell, for tests and for anyone inspecting the page
    node.dataset.selected = `${selT},${selI}`;
    node.dataset.values = JSON.stringify(panels.map((p) => p.matrix[selT * T + selI]));
    readout.selectAll("*").remove();
    readout
      .append("span")
      .text(
        `query t = ${selT} “${tokenLabel(tokens[selT])}” ← key i = ${selI} “${tokenLabel(tokens[selI])}”: `,
      );
    panels.forEach((p, pi) => {
      if (pi > 0) readout.append("span").text(" · ");
      readout
        .append("b")
        .style("color", p.color)
        .text(`${p.name} ${fmt(p.matrix[selT * T + selI])}`);
    });
  }
  function select(t: number, i: number): void {
    if (t === selT && i === selI) return;
    selT = t;
    selI = i;
    node.value = [selT, selI];
    render();
    node.dispatchEvent(new Event("input", { bubbles: true }));
  }
  svg.on("keydown", (event: KeyboardEvent) => {
    const moves: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
    };
    const m = moves[event.key];
    if (!m) return;
    event.preventDefault();
    event.stopPropagation(); // arrows here move the cell, not the chapter
    const t = Math.min(T - 1, Math.max(0, selT + m[0]));
    const i = Math.min(t, Math.max(0, selI + m[1]));
    select(t, i);
  });

  // legend: opacity scale
  const ticks = scale === "log" ? [0.001, 0.01, 0.1, 1] : [0, 0.25, 0.5, 0.75, 1];
  const title = scale === "log" ? "weight (log scale)" : "weight (linear scale)";
  const drawScale = (g: Selection<SVGGElement, undefined, null, undefined>) => {
    for (let x = 0; x < 200; x += 2) {
      const a = scale === "log" ? 10 ** (-3 + (3 * x) / 200) : x / 200;
      g.append("rect")
        .attr("x", 20 + x)
        .attr("y", 2)
        .attr("width", 2.2)
        .attr("height", 12)
        .attr("fill", "currentColor")
        .attr("fill-opacity", cellOpacity(a, scale));
    }
    for (const tk of ticks) {
      const x = scale === "log" ? ((Math.log10(tk) + 3) / 3) * 200 : tk * 200;
      g.append("text")
        .attr("x", 20 + x)
        .attr("y", 29)
        .attr("text-anchor", "middle")
        .attr("font-size", MIN_TEXT)
        .attr("fill", "currentColor")
        .text(scale === "log" ? (tk === 1 ? "1" : `${tk}`) : `${tk}`);
    }
  };
  if (legendInside) {
    const g = svg
      .append("g")
      .attr("class", "heatmap-legend")
      .attr("transform", `translate(${panelsW + 16},${margin.top})`);
    g.append("text")
      .attr("x", 20)
      .attr("y", -8)
      .attr("font-size", 14)
      .attr("fill", "currentColor")
      .text(title);
    drawScale(g.append("g"));
  } else {
    const legend = figure
      .append("div")
      .attr("class", "heatmap-legend")
      .style("font", "14px var(--sans-serif)")
      .style("color", "var(--theme-foreground-muted)");
    legend.append("span").text(`${title} `);
    const lsvg = legend
      .append("svg")
      .attr("width", 240)
      .attr("height", 32)
      .attr("role", "img")
      .attr("aria-label", `${title}: ${ticks.join(", ")}`)
      .style("vertical-align", "middle");
    drawScale(lsvg.append("g"));
  }
  legible(svg);
  Object.assign(node.dataset, data);
  node.value = [selT, selI];
  render();
  return node;
}
