/**
 * Chapter 5's parallel form (the data: src/chapters/wkv.ts parallelView): Eq. 16 for every position at once as a
 * T x T matrix of weights exp(s_{t,i} - m_t), each row's maximum m_t subtracted, the chunks the ONNX graphs
 * compute at once outlined on the diagonal, and m_t along the prompt below.
 *
 *   wkvParallel(view, {width, token?}) -> <figure data-figure="wkv-parallel" data-err-parallel data-err-chunked>
 */
import { axisBottom, axisLeft, format, line, scaleLinear } from "d3";
import type { ParallelView } from "../chapters/wkv.js";
import { frame, usableWidth } from "./frame.js";

const RWKV = "var(--color-rwkv, #3b6fd9)";

export function wkvParallel(
  view: ParallelView,
  { width, token }: { width: number; token?: number },
): HTMLElement {
  const { T } = view;
  if (T < 1) throw new RangeError("wkvParallel: no tokens");
  const margin = { top: 56, right: 16, bottom: 44, left: 48 };
  const mH = 110;
  const side = Math.max(120, Math.min(460, usableWidth(width, 320) - margin.left - margin.right));
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
  const cells = g.append("g").attr("class", "cells").attr("fill", RWKV);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i <= t; i++) {
      const e = view.E[t * T + i];
      if (!(e > 1e-4)) continue;
      cells
        .append("rect")
        .attr("x", i * cell)
        .attr("y", t * cell)
        .attr("width", cell + 0.3)
        .attr("height", cell + 0.3)
        .attr("fill-opacity", (0.08 + 0.92 * Math.min(1, Math.max(0, 1 + Math.log10(e) / 4))).toFixed(3))
        .attr("data-sym", i === t ? "u" : "w");
    }
  }
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
