/**
 * The cost of mixing tokens, softmax attention against RWKV's WKV, as the context grows (home page figure).
 * The counts (multiply-adds of one layer's token mixing: 2td per softmax token, 5d per RWKV step) are
 * attentionCostData of src/chapters/attention.ts, which says what is counted.
 *
 *   attentionCost(attentionCostData(T, {d}), {width, height?, d?}) -> <figure data-figure="attention-cost">
 */
import { axisBottom, axisLeft, create, format, line, scaleLinear } from "d3";
import type { AttentionCostRow } from "../chapters/attention.js";
import { usableWidth } from "./frame.js";

export interface AttentionCostOptions {
  /** Width in pixels of the whole figure (Framework's `width`). */
  width: number;
  /** Height in pixels of each panel's plot. */
  height?: number;
  /** Channels the data was computed for (shown in the caption). */
  d?: number;
}

const formatCount = format(".3~s");
const formatInt = format(",d");
const formatTick = format("~s");

function formatRatio(x: number): string {
  return x >= 10 ? `${formatInt(Math.round(x))}×` : `${x.toFixed(1)}×`;
}

type Key = "softmaxTotal" | "rwkvTotal" | "softmaxToken" | "rwkvToken";

/**
 * Two panels: the cost of a whole sequence of length t (T^2 against T), and the cost of generating token t (T
 * against a constant), for t up to T = the last row's t, with the values at T marked.
 * Returns a <figure data-figure="attention-cost"> holding one SVG.
 */
export function attentionCost(
  data: AttentionCostRow[],
  { width, height = 260, d = 768 }: AttentionCostOptions,
): HTMLElement {
  if (data.length < 1) throw new RangeError("attentionCost: data is empty");
  width = usableWidth(width);
  const last = data[data.length - 1];
  const T = last.t;

  const sideBySide = width >= 720;
  const gap = sideBySide ? 40 : 0;
  const panelWidth = sideBySide ? (width - gap) / 2 : width;
  // Narrow panels (phones) put the readout's ratio on a line of its own.
  const twoLineReadout = panelWidth < 560;
  const margin = { top: twoLineReadout ? 90 : 72, right: 24, bottom: 44, left: 64 };
  const panelHeight = margin.top + height + margin.bottom;
  const totalHeight = sideBySide ? panelHeight : 2 * panelHeight;

  const figure = create("figure").attr("data-figure", "attention-cost").attr("data-t", T);
  const svg = figure
    .append("svg")
    .attr("width", width)
    .attr("height", totalHeight)
    .attr("viewBox", `0 0 ${width} ${totalHeight}`)
    .attr("role", "img")
    .attr(
      "aria-label",
      `At context length ${formatInt(T)}: a whole sequence costs ${formatCount(last.softmaxTotal)} multiply-adds ` +
        `with softmax attention and ${formatCount(last.rwkvTotal)} with RWKV; generating token ${formatInt(T)} costs ` +
        `${formatCount(last.softmaxToken)} against ${formatCount(last.rwkvToken)}.`,
    );

  const panels: { title: string; softmax: Key; rwkv: Key; softmaxLabel: string; rwkvLabel: string }[] = [
    {
      title: "A whole sequence of t tokens",
      softmax: "softmaxTotal",
      rwkv: "rwkvTotal",
      softmaxLabel: "softmax ~ t²",
      rwkvLabel: "RWKV ~ t",
    },
    {
      title: "Generating token t",
      softmax: "softmaxToken",
      rwkv: "rwkvToken",
      softmaxLabel: "softmax ~ t",
      rwkvLabel: "RWKV: constant",
    },
  ];

  panels.forEach((panel, i) => {
    const g = svg
      .append("g")
      .attr("class", "panel")
      .attr(
        "transform",
        sideBySide ? `translate(${i * (panelWidth + gap)},0)` : `translate(0,${i * panelHeight})`,
      );
    const x = scaleLinear()
      .domain([1, Math.max(T, 2)])
      .range([margin.left, panelWidth - margin.right]);
    let yMax = 0;
    for (const r of data) yMax = Math.max(yMax, r[panel.softmax], r[panel.rwkv]);
    const y = scaleLinear()
      .domain([0, yMax])
      .nice()
      .range([margin.top + height, margin.top]);

    g.append("text")
      .attr("x", margin.left)
      .attr("y", 18)
      .attr("font-weight", 600)
      .attr("fill", "currentColor")
      .text(panel.title);
    const ratio = last[panel.softmax] / last[panel.rwkv];
    const values = `t = ${formatInt(T)}: softmax ${formatCount(last[panel.softmax])}, RWKV ${formatCount(last[panel.rwkv])}`;
    const comparison =
      ratio >= 1 ? `softmax costs ${formatRatio(ratio)}` : `RWKV costs ${formatRatio(1 / ratio)}`;
    const readout = g.append("text").attr("class", "readout").attr("y", 40).attr("fill", "currentColor");
    if (twoLineReadout) {
      readout.append("tspan").attr("x", margin.left).text(values);
      readout.append("tspan").attr("x", margin.left).attr("dy", 18).text(`(${comparison})`);
    } else {
      readout.attr("x", margin.left).text(`${values} (${comparison})`);
    }

    g.append("g")
      .attr("transform", `translate(0,${margin.top + height})`)
      .call(axisBottom(x).ticks(Math.max(2, Math.floor(panelWidth / 90)), "~s"))
      .attr("font-size", 13)
      .call((axis) =>
        axis
          .append("text")
          .attr("x", panelWidth - margin.right)
          .attr("y", 36)
          .attr("text-anchor", "end")
          .attr("fill", "currentColor")
          .text("t (tokens) →"),
      );
    g.append("g")
      .attr("transform", `translate(${margin.left},0)`)
      .call(
        axisLeft(y)
          .ticks(5)
          .tickFormat((v) => (+v === 0 ? "0" : formatTick(+v))),
      )
      .attr("font-size", 13)
      .call((axis) =>
        axis
          .append("text")
          .attr("x", -margin.left + 4)
          .attr("y", margin.top - 8)
          .attr("text-anchor", "start")
          .attr("fill", "currentColor")
          .text("↑ multiply-adds"),
      );

    for (const [key, color, cls] of [
      [panel.softmax, "var(--color-softmax, #e8590c)", "softmax"],
      [panel.rwkv, "var(--color-rwkv, #3b6fd9)", "rwkv"],
    ] as const) {
      g.append("path")
        .datum(data)
        .attr("class", `curve ${cls}`)
        .attr("fill", "none")
        .attr("stroke", color)
        .attr("stroke-width", 3)
        .attr(
          "d",
          line<AttentionCostRow>()
            .x((r) => x(r.t))
            .y((r) => y(r[key])),
        );
      g.append("circle").attr("cx", x(T)).attr("cy", y(last[key])).attr("r", 5).attr("fill", color);
    }

    // Legend in the upper left, which both panels' rising curves leave empty.
    const legend = g
      .append("g")
      .attr("class", "legend")
      .attr("transform", `translate(${margin.left + 12},${margin.top + 8})`);
    [
      ["var(--color-softmax, #e8590c)", panel.softmaxLabel],
      ["var(--color-rwkv, #3b6fd9)", panel.rwkvLabel],
    ].forEach(([color, label], j) => {
      const item = legend.append("g").attr("transform", `translate(0,${j * 22})`);
      item.append("line").attr("x2", 22).attr("stroke", color).attr("stroke-width", 3);
      item
        .append("text")
        .attr("x", 30)
        .attr("dy", "0.35em")
        .attr("fill", color)
        .attr("font-weight", 600)
        .text(label);
    });
  });

  figure
    .append("figcaption")
    .text(
      `Multiply-adds in the token-mixing step of one layer with d = ${formatInt(d)} channels: softmax attention ` +
        `computes q·kᵢ and Σ αᵢvᵢ over all earlier tokens (2td per token, T(T+1)d per sequence); RWKV's WKV ` +
        `updates a fixed state (5d per token, 5Td per sequence). Projections, exponentials and divisions are left out.`,
    );
  return figure.node() as HTMLElement;
}
