/**
 * Chapter 8's figures: how far apart RWKV's two modes are at each position, and how long each took (the data
 * comes from src/chapters/modes.ts modeDiffData: the reference model's modes, or the two ONNX graphs), and the
 * list of checks under it. D3 only.
 */
import { axisLeft, create, format, scaleBand, scaleLinear, scaleLog } from "d3";
import { labelStep, legible, MIN_TEXT, textWidth } from "./frame.js";
import type { CheckLine, ModeDiffData } from "../chapters/modes.js";

const sci = format(".1e");
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));

export interface ModeDiffOptions {
  width: number;
  /** agreement tolerance drawn as a line (default 1e-4, the parity tolerance of the tests) */
  tolerance?: number;
  height?: number;
  /** the figure's data-figure name (default "mode-diff") */
  name?: string;
}

/**
 * Two panels: max |Δ logit| per position on a log axis (exact zeros drawn at the floor and labelled), with the
 * tolerance line; and the median time of each mode. Returns <figure data-figure="mode-diff"> with data-max-diff,
 * data-ep (the ONNX graphs' execution provider) and data-stale="true" (faded) while it shows the previous prompt.
 */
export function modeDiffChart(
  { T, labels: tokens, diffs, worst, sameArgmax, runs, stale, ep }: ModeDiffData,
  { width, tolerance = 1e-4, height = 220, name = "mode-diff" }: ModeDiffOptions,
): HTMLElement {
  const floor = 1e-9;
  const margin = { top: 48, right: 16, bottom: 40, left: 72 };
  const timeH = 32 * runs.length + 50;
  const H = margin.top + height + margin.bottom + timeH;
  const figure = create("figure")
    .attr("data-figure", name)
    .attr("data-max-diff", worst)
    .attr("data-ep", ep ?? null)
    .attr("data-stale", stale ? "true" : null)
    .style("opacity", stale ? 0.45 : 1);
  const svg = figure
    .append("svg")
    .attr("width", width)
    .attr("height", H)
    .attr("viewBox", `0 0 ${width} ${H}`)
    .attr("role", "img")
    .attr(
      "aria-label",
      `Largest logit difference between ${runs[0].label} and ${runs[1].label} over ${T} positions: ${sci(worst)}; ` +
        `times ${ms(runs[0].ms)} ms and ${ms(runs[1].ms)} ms.`,
    )
    .style("max-width", "100%")
    .style("height", "auto");
  const x = scaleBand<number>()
    .domain(Array.from({ length: T }, (_, t) => t))
    .range([margin.left, width - margin.right])
    .padding(0.15);
  const top = Math.max(1e-3, tolerance * 10, worst * 3);
  const y = scaleLog()
    .domain([floor, top])
    .range([margin.top + height, margin.top]);
  svg
    .append("text")
    .attr("x", margin.left)
    .attr("y", 18)
    .attr("font-weight", 600)
    .attr("fill", "currentColor")
    .text(
      `${stale ? "Previous prompt (updating): " : ""}` +
        `Largest |logit difference| at each position: ${worst === 0 ? "0 everywhere" : `at most ${sci(worst)}`}`,
    );
  svg
    .append("text")
    .attr("x", margin.left)
    .attr("y", 38)
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text(
      `same most likely next character at ${sameArgmax} of ${T} positions; dashed line: tolerance ${sci(tolerance)}`,
    );
  svg
    .append("g")
    .attr("transform", `translate(${margin.left},0)`)
    .call(axisLeft(y).ticks(5, ".0e"))
    .attr("font-size", 12);
  const bars = svg.append("g").attr("fill", "var(--color-rwkv, #3b6fd9)");
  for (let t = 0; t < T; t++) {
    const d = diffs[t];
    const yy = y(Math.max(floor, Math.min(top, d)));
    bars
      .append("rect")
      .attr("x", x(t)!)
      .attr("y", yy)
      .attr("width", x.bandwidth())
      .attr("height", Math.max(1, y(floor) - yy))
      .attr("fill-opacity", d === 0 ? 0.3 : 0.85)
      .append("title")
      .text(`position ${t} “${tokens[t]}”: max |Δ logit| = ${d === 0 ? "0 (identical)" : sci(d)}`);
  }
  svg
    .append("line")
    .attr("x1", margin.left)
    .attr("x2", width - margin.right)
    .attr("y1", y(tolerance))
    .attr("y2", y(tolerance))
    .attr("stroke", "var(--color-softmax, #e8590c)")
    .attr("stroke-width", 2)
    .attr("stroke-dasharray", "6 4");
  const step = labelStep(x.step(), textWidth("m", MIN_TEXT, { mono: true }));
  const lab = svg
    .append("g")
    .attr("font-family", "var(--monospace)")
    .attr("font-size", MIN_TEXT)
    .attr("fill", "currentColor");
  for (let t = 0; t < T; t += step) {
    lab
      .append("text")
      .attr("x", x(t)! + x.bandwidth() / 2)
      .attr("y", margin.top + height + 16)
      .attr("text-anchor", "middle")
      .text(tokens[t]);
  }
  svg
    .append("text")
    .attr("x", width - margin.right)
    .attr("y", margin.top + height + 34)
    .attr("text-anchor", "end")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text("position in the prompt →");

  // timings
  const ty = margin.top + height + margin.bottom + 20;
  svg
    .append("text")
    .attr("x", margin.left)
    .attr("y", ty)
    .attr("font-weight", 600)
    .attr("fill", "currentColor")
    .text(`Time for all ${T} tokens (median of ${runs[0].times.length} runs, this browser)`);
  const tx = scaleLinear()
    .domain([0, Math.max(...runs.map((r) => r.ms)) * 1.15 || 1])
    .range([margin.left, width - margin.right - 110]);
  runs.forEach((r, i) => {
    const yy = ty + 12 + i * 32;
    svg
      .append("rect")
      .attr("x", tx(0))
      .attr("y", yy)
      .attr("width", Math.max(1, tx(r.ms) - tx(0)))
      .attr("height", 22)
      .attr("fill", i === 0 ? "var(--color-rwkv, #3b6fd9)" : "currentColor")
      .attr("fill-opacity", i === 0 ? 0.85 : 0.45);
    svg
      .append("text")
      .attr("x", tx(r.ms) + 8)
      .attr("y", yy + 11)
      .attr("dy", "0.35em")
      .attr("fill", "currentColor")
      .text(`${ms(r.ms)} ms  ${r.name === "rnn" ? "RNN" : r.name === "parallel" ? "parallel" : r.name}`);
  });
  legible(svg);
  return figure.node() as HTMLElement;
}

/**
 * A list of checks under a figure: one <li> per line, bold segments in <b>. Returns <ul class="checks">, with
 * data-checks=`name` and data-stale="true" (faded) while it reports the previous prompt.
 */
export function checkList(
  lines: CheckLine[],
  { name, stale = false }: { name: string; stale?: boolean },
): HTMLElement {
  const ul = create("ul")
    .attr("class", "checks")
    .attr("data-checks", name)
    .attr("data-stale", stale ? "true" : null)
    .style("opacity", stale ? 0.6 : 1);
  for (const line of lines) {
    const li = ul.append("li");
    for (const { text, bold } of line) {
      if (bold) li.append("b").text(text);
      else li.node()!.append(text);
    }
  }
  return ul.node() as HTMLElement;
}
