/**
 * Chapter 5's figures beside the state heatmaps (the data: src/chapters/wkv.ts).
 *
 *   wkvStepTable(step) -> <figure data-figure="wkv-step" data-max-error>   one step of Appendix D's recurrence
 *     with the model's own values, as a table
 *   outputGateTable(view) -> <figure data-figure="output-gate" data-max-error>   Eq. 17 with the model's numbers
 *   wkvOverflow(d, {width}) -> <figure data-figure="wkv-overflow" data-precision>   the direct form of Eq. 16
 *     (arXiv 2305.13048 v4) against the stable running-max form (Appendix D) in fp32 or fp16, keys multiplied by s.
 *     d: {labels (T), channel, direct (T), stable (T), scale, predictedScale, nonFiniteDirect, nonFiniteStable,
 *         total, maxDiff, sweep: [{scale, nonFiniteDirect, nonFiniteStable}]}
 *     Left: one channel's wkv_t along the prompt, both forms (non-finite direct values marked at the top).
 *     Right: the share of non-finite outputs over all channels and tokens as s grows (log axis).
 *   wkvParallel(view, {width, token?}) -> <figure data-figure="wkv-parallel" data-err-parallel data-err-chunked>
 *     Eq. 16 for every position at once (ParallelView): a T x T matrix of weights exp(s_{t,i} - m_t), each row's
 *     maximum m_t subtracted, the chunks the ONNX graphs compute at once outlined on the diagonal, m_t below.
 */
import { axisBottom, axisLeft, create, extent, format, line, scaleLinear, scaleLog } from "d3";
import type { OutputGateView, OverflowFigureData, ParallelView, WkvStep } from "../chapters/wkv.js";
import { frame, labelStep, legible, textWidth, usableWidth, wrapLines } from "./frame.js";

/** A readout table: what, value, and a note per row, under a header naming the layer, channel and token. */
function readoutTable(
  name: string,
  {
    title,
    rows,
    maxError,
    caption,
  }: { title: string; rows: [string, string, string][]; maxError: number; caption: string },
): HTMLElement {
  const figure = create("figure").attr("data-figure", name).attr("data-max-error", maxError);
  const table = figure.append("table").style("font", "16px var(--monospace)").style("max-width", "100%");
  const head = table.append("thead").append("tr");
  for (const h of [title, "value", ""]) head.append("th").text(h);
  const body = table.append("tbody");
  for (const [what, value, note] of rows) {
    const tr = body.append("tr");
    tr.append("td").text(what);
    tr.append("td").text(value);
    tr.append("td").style("color", "var(--theme-foreground-muted)").text(note);
  }
  figure.append("figcaption").text(caption);
  return figure.node() as HTMLElement;
}

/** The step table of Appendix D's recurrence with the model's own values. */
export function wkvStepTable(step: WkvStep): HTMLElement {
  return readoutTable("wkv-step", {
    ...step,
    caption:
      "The recurrence of Appendix D evaluated here in float64 from the model's stored state; it matches the " +
      `model's own values (fp32) to ${step.maxError.toExponential(1)}.`,
  });
}

/** Eq. 17 at one layer, channel and token, with the model's numbers (data-max-error: NaN until W_o is loaded). */
export function outputGateTable(view: OutputGateView): HTMLElement {
  return readoutTable("output-gate", view);
}

const DIRECT = "#e8590c";
const STABLE = "var(--color-rwkv, #3b6fd9)";

export function wkvOverflow(
  d: OverflowFigureData,
  { width, height = 230 }: { width: number; height?: number },
): HTMLElement {
  const figure = create("figure")
    .attr("data-figure", "wkv-overflow")
    .attr("data-precision", d.precision)
    .attr("data-nonfinite-direct", d.nonFiniteDirect)
    .attr("data-nonfinite-stable", d.nonFiniteStable);
  const side = width >= 760;
  const gap = 36;
  const pw = side ? (width - gap) / 2 : width;
  // titles and the legend wrap to the panel's width (a long line would run out of the svg or into the other panel)
  const titleW = pw - 8;
  const leftTitle = wrapLines(
    `Channel ${d.channel}: wkvₜ with keys × ${d.scale.toFixed(1)}, ${d.precision}`,
    titleW,
    16,
  );
  const rightTitle = wrapLines("All channels: share of outputs not finite", titleW, 16);
  const titleLines = Math.max(leftTitle.length, rightTitle.length);
  const legendRows = textWidth(`stable (App. D)${d.directLabel}`, 14) + 90 > pw - 8 ? 2 : 1;
  const margin = { top: 66 + 20 * (titleLines - 1) + 20 * (legendRows - 1), right: 14, bottom: 46, left: 56 };
  const head = 20 * (titleLines - 1); // the readout line moves down with the title
  const ph = margin.top + height + margin.bottom;
  const H = side ? ph : 2 * ph;
  const svg = figure
    .append("svg")
    .attr("width", width)
    .attr("height", H)
    .attr("viewBox", `0 0 ${width} ${H}`)
    .attr("role", "img")
    .attr(
      "aria-label",
      `Keys scaled by ${d.scale.toFixed(1)}: the direct form gives ${d.nonFiniteDirect} non-finite outputs of ` +
        `${d.total}, the stable form ${d.nonFiniteStable}`,
    );

  // --- left: one channel over time ---
  {
    const g = svg.append("g");
    const T = d.labels.length;
    const x = scaleLinear()
      .domain([0, Math.max(1, T - 1)])
      .range([margin.left + 6, pw - margin.right - 6]);
    const finite = [...d.stable, ...d.direct].filter(Number.isFinite);
    const [lo, hi] = (finite.length ? extent(finite) : [0, 1]) as [number, number];
    const y = scaleLinear()
      .domain([Math.min(lo, 0), Math.max(hi, 0)])
      .nice()
      .range([margin.top + height, margin.top + 14]);
    const title = g
      .append("text")
      .attr("class", "title")
      .attr("font-weight", 700)
      .attr("font-size", 16)
      .attr("fill", "currentColor");
    leftTitle.forEach((line, i) =>
      title
        .append("tspan")
        .attr("x", 4)
        .attr("y", 18 + 20 * i)
        .text(line),
    );
    const nfChannel = Array.from(d.direct).filter((v) => !Number.isFinite(v)).length;
    g.append("text")
      .attr("x", 4)
      .attr("y", 40 + head)
      .attr("font-size", 14)
      .attr("fill", nfChannel ? DIRECT : "currentColor")
      .text(
        nfChannel
          ? `direct form: ${nfChannel} of ${T} outputs are Infinity or NaN`
          : "both forms agree: every output finite",
      );
    g.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(y).ticks(5));
    const every = labelStep(x(1) - x(0) || 1, textWidth("m", 14, { mono: true }));
    g.append("g")
      .attr("transform", `translate(0,${margin.top + height})`)
      .call(
        axisBottom(x)
          .tickValues(Array.from({ length: T }, (_, i) => i).filter((i) => i % every === 0))
          .tickFormat((i) => d.labels[i as number] ?? ""),
      )
      .selectAll("text")
      .attr("font-family", "var(--monospace)")
      .attr("font-size", 14);
    const path = line<number>()
      .defined((v) => Number.isFinite(v))
      .x((_, i) => x(i))
      .y((v) => y(v));
    g.append("path")
      .attr("d", path(Array.from(d.stable)) ?? "")
      .attr("fill", "none")
      .attr("stroke", STABLE)
      .attr("stroke-width", 4)
      .attr("data-sym", "stable");
    g.append("path")
      .attr("d", path(Array.from(d.direct)) ?? "")
      .attr("fill", "none")
      .attr("stroke", DIRECT)
      .attr("stroke-width", 2)
      .attr("stroke-dasharray", "6 4")
      .attr("data-sym", "direct");
    d.direct.forEach((v, i) => {
      if (Number.isFinite(v)) return;
      g.append("text")
        .attr("class", "nonfinite")
        .attr("x", x(i))
        .attr("y", margin.top + 8)
        .attr("text-anchor", "middle")
        .attr("fill", DIRECT)
        .attr("font-weight", 700)
        .text("×")
        .append("title")
        .text(`position ${i}: direct form gives ${v}`);
    });
    const lg = g
      .append("g")
      .attr("transform", `translate(${margin.left},${margin.top - 6})`)
      .attr("font-size", 14);
    lg.append("line")
      .attr("x2", 22)
      .attr("y1", -4)
      .attr("y2", -4)
      .attr("stroke", STABLE)
      .attr("stroke-width", 4);
    lg.append("text").attr("x", 28).attr("fill", "currentColor").text("stable (App. D)");
    // the second entry beside the first, or under it when the panel is narrow
    const [dx, dy] = legendRows === 1 ? [150, 0] : [0, 20];
    const second = lg.append("g").attr("transform", `translate(${dx},${dy})`);
    lg.attr("transform", `translate(${margin.left},${margin.top - 6 - 20 * (legendRows - 1)})`);
    second
      .append("line")
      .attr("x2", 22)
      .attr("y1", -4)
      .attr("y2", -4)
      .attr("stroke", DIRECT)
      .attr("stroke-width", 2)
      .attr("stroke-dasharray", "6 4");
    second.append("text").attr("x", 28).attr("fill", "currentColor").text(d.directLabel);
  }

  // --- right: share of non-finite outputs vs scale ---
  {
    const g = svg.append("g").attr("transform", side ? `translate(${pw + gap},0)` : `translate(0,${ph})`);
    const scales = d.sweep.map((s) => s.scale);
    const x = scaleLog()
      .domain([Math.min(...scales, d.scale), Math.max(...scales, d.scale)])
      .range([margin.left, pw - margin.right]);
    const y = scaleLinear()
      .domain([0, 1])
      .range([margin.top + height, margin.top + 14]);
    const title = g
      .append("text")
      .attr("class", "title")
      .attr("font-weight", 700)
      .attr("font-size", 16)
      .attr("fill", "currentColor");
    rightTitle.forEach((line, i) =>
      title
        .append("tspan")
        .attr("x", 4)
        .attr("y", 18 + 20 * i)
        .text(line),
    );
    g.append("text")
      .attr("x", 4)
      .attr("y", 40 + head)
      .attr("font-size", 14)
      .attr("fill", "currentColor")
      .attr("class", "overflow-readout")
      .text(
        `at × ${d.scale.toFixed(1)}: direct ${d.nonFiniteDirect.toLocaleString("en")} of ${d.total.toLocaleString("en")}, ` +
          `stable ${d.nonFiniteStable}`,
      );
    g.append("g")
      .attr("transform", `translate(0,${margin.top + height})`)
      .call(axisBottom(x).ticks(5, "~g"))
      .call((a) =>
        a
          .append("text")
          .attr("x", pw - margin.right)
          .attr("y", 36)
          .attr("text-anchor", "end")
          .attr("fill", "currentColor")
          .text("scale s of the keys →"),
      );
    g.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(y).ticks(5, "%"));
    if (
      Number.isFinite(d.predictedScale) &&
      d.predictedScale >= x.domain()[0] &&
      d.predictedScale <= x.domain()[1]
    ) {
      g.append("line")
        .attr("x1", x(d.predictedScale))
        .attr("x2", x(d.predictedScale))
        .attr("y1", margin.top + 14)
        .attr("y2", margin.top + height)
        .attr("stroke", "currentColor")
        .attr("stroke-dasharray", "3 3")
        .attr("opacity", 0.6);
      // above the plot area, where no curve and no scale line runs, kept inside the panel
      const text = d.limitLabel;
      const w = textWidth(text, 13);
      const at = Math.max(margin.left, Math.min(pw - margin.right - w, x(d.predictedScale) - w / 2));
      g.append("text")
        .attr("class", "predicted-label")
        .attr("x", at)
        .attr("y", margin.top + 8)
        .attr("font-size", 13)
        .attr("fill", "currentColor")
        .text(text);
    }
    for (const [key, color, width_] of [
      ["nonFiniteDirect", DIRECT, 3],
      ["nonFiniteStable", STABLE, 4],
    ] as const) {
      g.append("path")
        .attr("fill", "none")
        .attr("stroke", color)
        .attr("stroke-width", width_)
        .attr(
          "d",
          line<{ scale: number; nonFiniteDirect: number; nonFiniteStable: number }>()
            .x((s) => x(s.scale))
            .y((s) => y(s[key] / d.total))(d.sweep) ?? "",
        );
    }
    g.append("line")
      .attr("x1", x(d.scale))
      .attr("x2", x(d.scale))
      .attr("y1", margin.top + 14)
      .attr("y2", margin.top + height)
      .attr("stroke", "currentColor")
      .attr("stroke-width", 2);
  }
  svg.selectAll(".tick text").attr("font-size", 13);
  legible(svg);
  figure.append("figcaption").text(d.caption);
  return figure.node() as HTMLElement;
}

const RWKV = "var(--color-rwkv, #3b6fd9)";

export function wkvParallel(
  view: ParallelView,
  { width, token }: { width: number; token?: number },
): HTMLElement {
  const { T } = view;
  if (T < 1) throw new RangeError("wkvParallel: no tokens");
  const margin = { top: 56, right: 16, bottom: 44, left: 48 };
  const mH = 110;
  // on a wide page (presenter mode) the matrix stays short enough for the figure to fit a 1280 × 720 screen
  const wide = usableWidth(width, 320) >= 960 ? 0.28 * usableWidth(width, 320) : Infinity;
  const side = Math.max(120, Math.min(460, wide, usableWidth(width, 320) - margin.left - margin.right));
  const cell = side / T;
  const f = frame("wkv-parallel", {
    width,
    minWidth: 320,
    height: side + 36 + mH,
    margin,
    fluid: true,
    data: {
      "err-parallel": view.errParallel,
      "err-chunked": view.errChunked,
      chunks: view.chunkStarts.length,
    },
    label:
      `The ${T} by ${T} weights of Eq. 16 for channel ${view.channel}, each row's maximum subtracted, with the ` +
      `${view.chunkStarts.length} chunks of ${view.chunk} tokens outlined`,
  });
  const { svg } = f;
  const fmt = format(".1e");
  svg
    .append("text")
    .attr("x", 4)
    .attr("y", 18)
    .attr("font-weight", 700)
    .attr("font-size", 15)
    .attr("fill", "currentColor")
    .text(`Channel ${view.channel}: weights exp(s − mₜ), row t = output, column i = earlier token`);
  svg
    .append("text")
    .attr("x", 4)
    .attr("y", 40)
    .attr("font-size", 14)
    .attr("fill", "currentColor")
    .attr("class", "parallel-readout")
    .text(
      `vs the model's wkvₜ: full ${T}×${T} form ${fmt(view.errParallel)}, chunks of ${view.chunk} ` +
        `${fmt(view.errChunked)}; largest mₜ ${view.maxExponent.toFixed(2)}`,
    );
  const g = svg.append("g").attr("transform", `translate(${margin.left},${margin.top})`);
  g.append("rect")
    .attr("width", side)
    .attr("height", side)
    .attr("fill", "none")
    .attr("stroke", "currentColor")
    .attr("stroke-opacity", 0.35);
  // one path per (opacity level, symbol): T² / 2 cells as a few dozen elements, so a redraw on every keystroke stays
  // cheap (a rect per cell was ~8,000 elements at T = 128); 64 levels of fill-opacity are indistinguishable
  const cells = g.append("g").attr("class", "cells").attr("fill", RWKV);
  const LEVELS = 64;
  const paths = new Map<string, string[]>();
  const w = (cell + 0.3).toFixed(2);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i <= t; i++) {
      const e = view.E[t * T + i];
      if (!(e > 1e-4)) continue;
      const level = Math.round(LEVELS * Math.min(1, Math.max(0, 1 + Math.log10(e) / 4)));
      const key = `${i === t ? "u" : "w"}${level}`;
      let d = paths.get(key);
      if (!d) paths.set(key, (d = []));
      d.push(`M${(i * cell).toFixed(2)},${(t * cell).toFixed(2)}h${w}v${w}h-${w}z`);
    }
  }
  for (const [key, d] of paths)
    cells
      .append("path")
      .attr("d", d.join(""))
      .attr("fill-opacity", (0.08 + (0.92 * Number(key.slice(1))) / LEVELS).toFixed(3))
      .attr("data-sym", key[0]);
  // the chunks the graphs compute at once: squares on the diagonal
  for (const t0 of view.chunkStarts) {
    const n = Math.min(view.chunk, T - t0);
    g.append("rect")
      .attr("class", "chunk")
      .attr("x", t0 * cell)
      .attr("y", t0 * cell)
      .attr("width", n * cell)
      .attr("height", n * cell)
      .attr("fill", "none")
      .attr("stroke", "#e8590c")
      .attr("stroke-width", 2);
  }
  if (token !== undefined && token >= 0 && token < T) {
    g.append("rect")
      .attr("x", 0)
      .attr("y", token * cell)
      .attr("width", (token + 1) * cell)
      .attr("height", Math.max(cell, 1.5))
      .attr("fill", "none")
      .attr("stroke", "currentColor")
      .attr("stroke-width", 1.5);
  }
  const step = cell >= 12 ? 1 : Math.ceil(14 / cell);
  const labels = g.append("g").attr("font-family", "var(--monospace)").attr("font-size", 13);
  for (let i = 0; i < T; i += step) {
    labels
      .append("text")
      .attr("x", i * cell + cell / 2)
      .attr("y", side + 16)
      .attr("text-anchor", "middle")
      .attr("fill", "currentColor")
      .text(view.labels[i]);
    labels
      .append("text")
      .attr("x", -6)
      .attr("y", i * cell + cell / 2 + 4)
      .attr("text-anchor", "end")
      .attr("fill", "currentColor")
      .text(view.labels[i]);
  }
  // m_t along the prompt
  const top = margin.top + side + 36;
  const x = scaleLinear()
    .domain([0, Math.max(1, T - 1)])
    .range([margin.left + cell / 2, margin.left + side - cell / 2]);
  const mlo = Math.min(...view.m);
  const mhi = Math.max(...view.m);
  const y = scaleLinear()
    .domain([Math.min(0, mlo), Math.max(0, mhi)])
    .nice()
    .range([top + mH, top + 14]);
  svg
    .append("text")
    .attr("x", margin.left)
    .attr("y", top + 4)
    .attr("font-size", 14)
    .attr("fill", "currentColor")
    .text("mₜ, the row maximum subtracted before exp");
  svg
    .append("g")
    .attr("transform", `translate(${margin.left - 4},0)`)
    .call(axisLeft(y).ticks(3));
  svg
    .append("g")
    .attr("transform", `translate(0,${top + mH})`)
    .call(axisBottom(x).ticks(Math.min(T, 8)));
  svg
    .append("path")
    .attr(
      "d",
      line<number>()
        .x((_, t) => x(t))
        .y((v) => y(v))(Array.from(view.m)) ?? "",
    )
    .attr("fill", "none")
    .attr("stroke", RWKV)
    .attr("stroke-width", 2.5)
    .attr("data-sym", "p");
  svg.selectAll(".tick text").attr("font-size", 13);
  return f.done(view.caption);
}
