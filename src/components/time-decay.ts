/**
 * Chapter 4's figures (arXiv 2305.13048 v4: Eq. 16 and Figure 10). The numbers and the captions come from
 * src/chapters/time-decay.ts (captions written with the symbols of src/chapters/notation.ts).
 *
 *   decayOverview(series, {width}) -> <figure data-figure="time-decay">
 *       series: DecaySeries (decaySeries of the layers' {w, u}): three panels, one line per layer, channels
 *       sorted from largest to smallest as in the paper's Fig. 10: e^{-w}, the half-life (log scale), the bonus u
 *   decayKernel({labels, t, original, modified}, {width}) -> <figure data-figure="decay-kernel">
 *       the weights Eq. 16 gives each position i <= t for output t, with the learned w and with the slider's w
 *   wkvCompare({labels, original, modified, v, t}, {width}) -> <figure data-figure="wkv-change">
 *       one channel's wkv_t over the prompt, learned w against the slider's w
 *   decayReadout(rows, bonus) -> <div data-readout="decay">      the learned and the slider's w, e^{-w}, half-life
 *   wkvCheck({maxError, text}) -> <p data-check="wkv" data-max-error>   the recomputation's agreement, in words
 */
import { axisBottom, axisLeft, create, extent, line, max, min, scaleBand, scaleLinear, scaleLog } from "d3";
import type { DecayReadoutRow, DecaySeries, KernelData, WkvCompareData } from "../chapters/time-decay.js";
import {
  labelStep,
  textWidth,
  frame,
  layerColor,
  layerLegend,
  layerLegendRows,
  panelGrid,
  usableWidth,
} from "./frame.js";

export function decayOverview(
  series: DecaySeries,
  { width, height = 240 }: { width: number; height?: number },
): HTMLElement {
  const { decay, halfLife, bonus } = series;
  if (decay.length === 0) throw new RangeError("decayOverview: no layers");
  width = usableWidth(width);
  const margin = { top: 44, right: 12, bottom: 36, left: 54 };
  const legendH = 28 + 20 * (layerLegendRows(decay.length, width, margin.left) - 1);
  const grid = panelGrid(3, width, {
    gap: 24,
    panelHeight: margin.top + height + margin.bottom,
    columns: [
      [900, 3],
      [560, 2],
    ],
  });
  const panelW = grid.panelWidth;
  const C = decay[0].length;
  const finite = halfLife.flatMap((h) => Array.from(h).filter(Number.isFinite));
  const hMin = min(finite) ?? Infinity;
  const hMax = max(finite) ?? 0;
  const [uLo, uHi] = extent(bonus.flatMap((b) => Array.from(b))) as [number, number];
  const n3 = (v: number) => String(+v.toPrecision(3));
  const f = frame("time-decay", {
    width,
    height: grid.height,
    margin: { top: legendH, right: 0, bottom: 0, left: 0 },
    label:
      `Per-layer decay e^-w, half-life and bonus u of every channel, sorted (${decay.length} layers of ${C}): ` +
      `half-lives from ${n3(hMin)} to ${n3(hMax)} tokens, u from ${n3(uLo)} to ${n3(uHi)}`,
  });
  const { svg } = f;
  layerLegend(svg, decay.length, { x: margin.left, y: 16, width });
  const panels = [
    {
      title: "decay per step e⁻ʷ (Fig. 10)",
      sym: "w",
      data: decay,
      y: scaleLinear().domain([0, 1]),
      ticks: 5,
      fmt: undefined as undefined | string,
    },
    {
      title: "half-life in tokens, ln 2 / w",
      sym: "halflife",
      data: halfLife.map((h) => h.map((x) => Math.min(x, hMax))),
      y: scaleLog().domain([Math.max(1e-3, hMin * 0.8), Math.max(hMax * 1.25, 2)]),
      ticks: 5,
      fmt: "~g",
    },
    {
      title: "bonus u of the current token",
      sym: "u",
      data: bonus,
      y: scaleLinear()
        .domain([Math.min(uLo, 0), Math.max(uHi, 0)])
        .nice(),
      ticks: 5,
      fmt: undefined,
    },
  ];
  panels.forEach((p, i) => {
    const g = svg
      .append("g")
      .attr("class", "panel")
      .attr("data-sym", p.sym)
      .attr("transform", `translate(${grid.x(i)},${legendH + grid.y(i)})`);
    const x = scaleLinear()
      .domain([0, C - 1])
      .range([margin.left, panelW - margin.right]);
    const y = p.y.range([margin.top + height, margin.top]);
    g.append("text")
      .attr("x", margin.left)
      .attr("y", 20)
      .attr("font-weight", 700)
      .attr("font-size", 16)
      .attr("fill", "currentColor")
      .attr("data-sym", p.sym)
      .text(p.title);
    g.append("g")
      .attr("transform", `translate(0,${margin.top + height})`)
      .call(axisBottom(x).ticks(3))
      .call((a) =>
        a
          .append("text")
          .attr("x", panelW - margin.right)
          .attr("y", 32)
          .attr("text-anchor", "end")
          .attr("fill", "currentColor")
          .text("channels, sorted →"),
      );
    g.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(y).ticks(p.ticks, p.fmt));
    p.data.forEach((vals, l) => {
      g.append("path")
        .attr("fill", "none")
        .attr("stroke", layerColor(l))
        .attr("stroke-width", 2.5)
        .attr(
          "d",
          line<number>()
            .x((_, c) => x(c))
            .y((v) => y(v))(Array.from(vals)),
        );
    });
  });
  svg.selectAll(".tick text").attr("font-size", 13);
  return f.done(series.caption);
}

export function decayKernel(
  d: KernelData,
  { width, height = 220 }: { width: number; height?: number },
): HTMLElement {
  const margin = { top: 40, right: 12, bottom: 48, left: 54 };
  const f = frame("decay-kernel", {
    width,
    height,
    margin,
    label: `Weights of Eq. 16 over positions 0..${d.t} for output token ${d.t}`,
  });
  const { svg } = f;
  width = f.width;
  const pos = Array.from({ length: d.t + 1 }, (_, i) => i);
  const x = scaleBand<number>()
    .domain(pos)
    .range([margin.left, width - margin.right])
    .padding(0.15);
  let yMax = 0;
  for (let i = 0; i <= d.t; i++) yMax = Math.max(yMax, d.original[i], d.modified[i]);
  const y = scaleLinear()
    .domain([0, Math.max(yMax, 1e-6)])
    .nice()
    .range([margin.top + height, margin.top]);
  svg.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(y).ticks(5, "%"));
  // every character when they fit side by side (14 px monospace), else every k-th, and always the output token
  const every = labelStep(x.step(), textWidth("m", 14, { mono: true }));
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + height})`)
    .call(
      axisBottom(x)
        .tickValues(pos.filter((i) => i % every === 0 || i === d.t))
        .tickFormat((i) => d.labels[i as number] ?? ""),
    )
    .call((a) =>
      a
        .append("text")
        .attr("x", width - margin.right)
        .attr("y", 40)
        .attr("text-anchor", "end")
        .attr("fill", "currentColor")
        .text("earlier tokens i … current token t →"),
    );
  svg.selectAll(".tick text").attr("font-size", 14).attr("font-family", "var(--monospace)");
  const bw = x.bandwidth();
  for (const i of pos) {
    const g = svg.append("g").attr("data-pos", i);
    g.append("title").text(
      `“${d.labels[i]}” (position ${i}): weight ${(d.original[i] * 100).toFixed(2)}% with the learned w, ` +
        `${(d.modified[i] * 100).toFixed(2)}% with the slider's w`,
    );
    g.append("rect")
      .attr("x", x(i)!)
      .attr("width", bw / 2)
      .attr("y", y(d.original[i]))
      .attr("height", y(0) - y(d.original[i]))
      .attr("fill", "#868e96");
    g.append("rect")
      .attr("class", "modified")
      .attr("x", x(i)! + bw / 2)
      .attr("width", bw / 2)
      .attr("y", y(d.modified[i]))
      .attr("height", y(0) - y(d.modified[i]))
      .attr("fill", i === d.t ? "#ae3ec9" : "var(--color-rwkv, #3b6fd9)")
      .attr("data-sym", i === d.t ? "u" : "w");
  }
  const legend = svg.append("g").attr("transform", `translate(${margin.left},16)`).attr("font-size", 15);
  legend.append("rect").attr("width", 14).attr("height", 14).attr("y", -11).attr("fill", "#868e96");
  legend.append("text").attr("x", 20).attr("fill", "currentColor").text("learned w");
  legend
    .append("rect")
    .attr("x", 120)
    .attr("width", 14)
    .attr("height", 14)
    .attr("y", -11)
    .attr("fill", "var(--color-rwkv, #3b6fd9)");
  legend.append("text").attr("x", 140).attr("fill", "currentColor").text("slider's w");
  legend
    .append("rect")
    .attr("x", 240)
    .attr("width", 14)
    .attr("height", 14)
    .attr("y", -11)
    .attr("fill", "#ae3ec9");
  legend.append("text").attr("x", 260).attr("fill", "currentColor").text("current token (bonus u)");
  return f.done(d.caption);
}

export function wkvCompare(
  d: WkvCompareData,
  { width, height = 200 }: { width: number; height?: number },
): HTMLElement {
  const margin = { top: 40, right: 12, bottom: 48, left: 54 };
  const T = d.labels.length;
  const f = frame("wkv-change", {
    width,
    height,
    margin,
    label:
      `This channel's wkv over the prompt with the learned w and with the slider's w: at token ${d.t}, ` +
      `${d.original[d.t]?.toFixed(3)} and ${d.modified[d.t]?.toFixed(3)}`,
  });
  const { svg } = f;
  width = f.width;
  const x = scaleLinear()
    .domain([0, Math.max(1, T - 1)])
    .range([margin.left + 6, width - margin.right - 6]);
  const [lo, hi] = extent([...d.original, ...d.modified, ...d.v]) as [number, number];
  const y = scaleLinear()
    .domain([Math.min(lo, 0), Math.max(hi, 0)])
    .nice()
    .range([margin.top + height, margin.top]);
  svg.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(y).ticks(5));
  const every = labelStep(x(1) - x(0) || 1, textWidth("m", 14, { mono: true }));
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + height})`)
    .call(
      axisBottom(x)
        .tickValues(Array.from({ length: T }, (_, i) => i).filter((i) => i % every === 0))
        .tickFormat((i) => d.labels[i as number] ?? ""),
    );
  svg.selectAll(".tick text").attr("font-size", 14).attr("font-family", "var(--monospace)");
  svg
    .append("line")
    .attr("x1", x(d.t))
    .attr("x2", x(d.t))
    .attr("y1", margin.top)
    .attr("y2", margin.top + height)
    .attr("stroke", "currentColor")
    .attr("stroke-dasharray", "3 3")
    .attr("opacity", 0.5);
  const path = (vals: Float32Array): string =>
    line<number>()
      .x((_, i) => x(i))
      .y((v) => y(v))(Array.from(vals)) ?? "";
  for (let i = 0; i < T; i++) {
    svg
      .append("circle")
      .attr("cx", x(i))
      .attr("cy", y(d.v[i]))
      .attr("r", 3)
      .attr("fill", "#868e96")
      .attr("data-sym", "v");
  }
  svg
    .append("path")
    .attr("d", path(d.original))
    .attr("fill", "none")
    .attr("stroke", "#868e96")
    .attr("stroke-width", 3);
  svg
    .append("path")
    .attr("class", "modified")
    .attr("d", path(d.modified))
    .attr("fill", "none")
    .attr("stroke", "var(--color-rwkv, #3b6fd9)")
    .attr("stroke-width", 3)
    .attr("data-sym", "wkv");
  const legend = svg.append("g").attr("transform", `translate(${margin.left},16)`).attr("font-size", 15);
  legend
    .append("line")
    .attr("x2", 22)
    .attr("y1", -4)
    .attr("y2", -4)
    .attr("stroke", "#868e96")
    .attr("stroke-width", 3);
  legend.append("text").attr("x", 28).attr("fill", "currentColor").text("wkv, learned w");
  legend
    .append("line")
    .attr("x1", 160)
    .attr("x2", 182)
    .attr("y1", -4)
    .attr("y2", -4)
    .attr("stroke", "var(--color-rwkv, #3b6fd9)")
    .attr("stroke-width", 3);
  legend.append("text").attr("x", 188).attr("fill", "currentColor").text("wkv, slider's w");
  legend.append("circle").attr("cx", 330).attr("cy", -4).attr("r", 4).attr("fill", "#868e96");
  legend.append("text").attr("x", 340).attr("fill", "currentColor").text("vₜ");
  return f.done(d.caption);
}

/** One line per row ("learned: w = 0.1234, e^{−w} = 0.8839, half-life 5.61 tokens"), then the bonus u. */
export function decayReadout(rows: readonly DecayReadoutRow[], bonus: string): HTMLElement {
  const root = create("div").attr("class", "explainer-controls explainer-mono").attr("data-readout", "decay");
  for (const r of rows) {
    const span = root.append("span").text(`${r.label}: w = ${r.w}, e`);
    span.append("sup").text("−w");
    span.node()!.append(` = ${r.decay}, half-life ${r.halfLife} tokens`);
  }
  root.append("span").text(`bonus u = ${bonus}`);
  return root.node() as HTMLElement;
}

/** The agreement of a recomputation with the model's own numbers: a badge line carrying its maximum error. */
export function wkvCheck({ maxError, text }: { maxError: number; text: string }): HTMLElement {
  return create("p")
    .attr("class", "explainer-badge")
    .attr("data-check", "wkv")
    .attr("data-max-error", maxError)
    .text(text)
    .node() as HTMLElement;
}
