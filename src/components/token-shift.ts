/**
 * Chapter 3's figures: token shift (arXiv 2305.13048 v4, Eq. 11-15), the per-channel interpolation
 *   x'_t = mu ⊙ x_t + (1 - mu) ⊙ x_{t-1}
 * with a learned mu for each input of time mixing (mu_r, mu_k, mu_v) and of channel mixing (mu'_r, mu'_k).
 * Labels and captions come from src/chapters/token-shift.ts (the symbols of src/chapters/notation.ts).
 *
 *   muProfiles(series, {width, caption}) -> <figure data-figure="mu-profiles">
 *       series: MuSeries[] (src/chapters/token-shift.ts): one panel per mu, one line per layer, sorted
 *   tokenBlend(rows, {width, muLabel, token, current, previous, caption}) -> <figure data-figure="token-blend">
 *       rows: BlendRow[] (same module)
 *   tokenConv(view, {width}) -> <figure data-figure="token-conv" data-max-error>   token shift as a convolution
 *       over time (ConvView of the same module): each channel's kernel, its input and the model's mixed input
 */
import { axisBottom, axisLeft, extent, format, line, scaleLinear, scalePoint } from "d3";
import type { BlendRow, ConvView, MuSeries } from "../chapters/token-shift.js";
import {
  frame,
  layerColor,
  layerLegend,
  layerLegendRows,
  panelGrid,
  textWidth,
  usableWidth,
  wrapLines,
} from "./frame.js";

export function muProfiles(
  series: MuSeries[],
  // on a wide page (presenter mode) shorter panels, so both rows fit one screen
  { width, height = width >= 960 ? 130 : 200, caption }: { width: number; height?: number; caption?: string },
): HTMLElement {
  if (series.length === 0) throw new RangeError("muProfiles: no series");
  width = usableWidth(width); // a panel's [0, 1] band would otherwise get a negative width
  const columns = [
    [1400, 5],
    [640, 3],
    [420, 2],
  ] as const;
  // panel titles wrap to the panel's width (five panels in a row on a wide page)
  const titleWidth = panelGrid(series.length, width, { gap: 18, panelHeight: 0, columns }).panelWidth - 44;
  const titleLines = series.map((s) => wrapLines(s.label, titleWidth, 16));
  const extra = 18 * (Math.max(...titleLines.map((l) => l.length)) - 1);
  const margin = { top: 46 + extra, right: 10, bottom: 34, left: 40 };
  const legendH = 30 + 20 * (layerLegendRows(series[0].layers.length, width, margin.left) - 1);
  const grid = panelGrid(series.length, width, {
    gap: 18,
    panelHeight: margin.top + height + margin.bottom,
    columns,
  });
  const panelW = grid.panelWidth;
  let lo = 0;
  let hi = 1;
  for (const s of series) {
    for (const v of s.layers) {
      const [a, b] = extent(v) as [number, number];
      lo = Math.min(lo, a);
      hi = Math.max(hi, b);
    }
  }
  const pad = (hi - lo) * 0.04;
  const f = frame("mu-profiles", {
    width,
    height: grid.height,
    margin: { top: legendH, right: 0, bottom: 0, left: 0 },
    label:
      "Learned token-shift mixes per channel, sorted, one line per layer: " +
      `${series.reduce((n, s) => n + s.profiles.reduce((m, p) => m + p.below + p.above, 0), 0)} of ` +
      `${series.reduce((n, s) => n + s.layers.length * (s.layers[0]?.length ?? 0), 0)} outside [0, 1]`,
  });
  const svg = f.svg;
  layerLegend(svg, series[0].layers.length, { x: margin.left, y: 18, width });
  series.forEach((s, i) => {
    const g = svg
      .append("g")
      .attr("class", "panel")
      .attr("data-sym", s.sym)
      .attr("transform", `translate(${grid.x(i)},${legendH + grid.y(i)})`);
    const C = s.layers[0].length;
    const x = scaleLinear()
      .domain([0, C - 1])
      .range([margin.left, panelW - margin.right]);
    const y = scaleLinear()
      .domain([lo - pad, hi + pad])
      .range([margin.top + height, margin.top]);
    // the interpolation range [0, 1]
    g.append("rect")
      .attr("x", margin.left)
      .attr("width", panelW - margin.left - margin.right)
      .attr("y", y(1))
      .attr("height", y(0) - y(1))
      .attr("fill", "currentColor")
      .attr("opacity", 0.07);
    g.append("g")
      .attr("transform", `translate(0,${margin.top + height})`)
      .call(axisBottom(x).ticks(3))
      .call((a) =>
        a
          .append("text")
          .attr("x", panelW - margin.right)
          .attr("y", 30)
          .attr("text-anchor", "end")
          .attr("fill", "currentColor")
          .text("channels, sorted →"),
      );
    g.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(y).ticks(5));
    let below = 0;
    let above = 0;
    s.profiles.forEach((prof, l) => {
      below += prof.below;
      above += prof.above;
      g.append("path")
        .attr("fill", "none")
        .attr("stroke", layerColor(l))
        .attr("stroke-width", 2.5)
        .attr(
          "d",
          line<number>()
            .x((_, c) => x(c))
            .y((v) => y(v))(Array.from(prof.sorted)),
        );
      prof.sorted.forEach((v, c) => {
        if (v < 0 || v > 1) {
          g.append("circle")
            .attr("class", "outside")
            .attr("cx", x(c))
            .attr("cy", y(v))
            .attr("r", 2.5)
            .attr("fill", "#c92a2a");
        }
      });
    });
    const title = g
      .append("text")
      .attr("font-weight", 700)
      .attr("font-size", 16)
      .attr("fill", "currentColor")
      .attr("data-sym", s.sym);
    titleLines[i].forEach((line, j) =>
      title
        .append("tspan")
        .attr("x", margin.left)
        .attr("y", 16 + 18 * j)
        .text(line),
    );
    g.append("text")
      .attr("x", margin.left)
      .attr("y", 34 + extra)
      .attr("font-size", 13)
      .attr("fill", below + above ? "#c92a2a" : "currentColor")
      .attr("class", "outside-count")
      .text(`${below + above} of ${C * s.layers.length} outside [0, 1]`);
  });
  svg.selectAll(".tick text").attr("font-size", 13);
  return f.done(caption);
}

const fmt2 = format(".2f");

export function tokenBlend(
  rows: BlendRow[],
  {
    width,
    height = width >= 960 ? 200 : 300,
    muLabel = "μ",
    mixedLabel = "mixed",
    mixedSym = "xk",
    token = "",
    previousToken = "",
    current = "xₜ",
    previous = "xₜ₋₁",
    caption,
  }: {
    width: number;
    height?: number;
    muLabel?: string;
    mixedLabel?: string;
    mixedSym?: string;
    token?: string;
    previousToken?: string;
    /** the current and the previous token's inputs, as the captions write them */
    current?: string;
    previous?: string;
    caption?: string;
  },
): HTMLElement {
  if (rows.length === 0) throw new RangeError("tokenBlend: no channels");
  // the legend's items in rows that fit the width, then the check line (wrapped too): the plot starts below them
  const items: [string, string, string][] = [
    ["prev", `${previous}${previousToken ? ` (“${previousToken}”)` : ""}`, "xprev"],
    ["cur", `${current}${token ? ` (“${token}”)` : ""}`, "xcur"],
    ["mix", `${mixedLabel} = ${muLabel}·${current} + (1−${muLabel})·${previous}`, mixedSym],
  ];
  const usable = usableWidth(width) - 48 - 8;
  const placed: { item: [string, string, string]; x: number; row: number }[] = [];
  let lx = 0;
  let row = 0;
  for (const item of items) {
    const w = 24 + textWidth(item[1], 15);
    if (lx > 0 && lx + w > usable) {
      lx = 0;
      row++;
    }
    placed.push({ item, x: lx, row });
    lx += w + 8;
  }
  let maxErr = 0;
  for (const r of rows) maxErr = Math.max(maxErr, Math.abs(r.mixed - r.formula));
  const check = wrapLines(
    `model's ${mixedLabel} vs the formula: max difference ${maxErr.toExponential(1)} over ${rows.length} channels`,
    usable,
    13,
  );
  const headH = 22 * (row + 1) + 18 * check.length;
  const margin = { top: 30 + headH, right: 16, bottom: 52, left: 48 };
  const f = frame("token-blend", {
    width,
    height,
    margin,
    label: `Token shift for ${rows.length} channels: ${current}, ${previous} and their learned blend`,
  });
  const { svg } = f;
  width = f.width;
  const x = scalePoint<number>()
    .domain(rows.map((r) => r.channel))
    .range([margin.left + 8, width - margin.right - 8]);
  const vals = rows.flatMap((r) => [r.current, r.previous, r.mixed]);
  const [lo, hi] = extent(vals) as [number, number];
  const y = scaleLinear()
    .domain([Math.min(lo, 0), Math.max(hi, 0)])
    .nice()
    .range([margin.top + height, margin.top]);
  svg
    .append("line")
    .attr("x1", margin.left)
    .attr("x2", width - margin.right)
    .attr("y1", y(0))
    .attr("y2", y(0))
    .attr("stroke", "currentColor")
    .attr("opacity", 0.25);
  svg.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(y).ticks(6));
  const every = Math.ceil(rows.length / Math.max(2, Math.floor((width - margin.left) / 44)));
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + height})`)
    .call(
      axisBottom(x)
        .tickValues(rows.filter((_, i) => i % every === 0).map((r) => r.channel))
        .tickFormat((c) => fmt2(rows.find((r) => r.channel === c)!.mu)),
    )
    .call((a) =>
      a
        .append("text")
        .attr("x", width - margin.right)
        .attr("y", 40)
        .attr("text-anchor", "end")
        .attr("fill", "currentColor")
        .text(`${muLabel} of each channel (sorted) →`),
    );
  svg.selectAll(".tick text").attr("font-size", 13);
  const g = svg.append("g");
  for (const r of rows) {
    const cx = x(r.channel)!;
    const cell = g.append("g").attr("class", "channel").attr("data-channel", r.channel);
    cell
      .append("title")
      .text(
        `channel ${r.channel}: ${muLabel} = ${r.mu.toFixed(3)}\n${current} = ${r.current.toFixed(4)}, ${previous} = ` +
          `${r.previous.toFixed(4)}\n${mixedLabel} (model) = ${r.mixed.toFixed(4)}, formula = ${r.formula.toFixed(4)}`,
      );
    cell
      .append("line")
      .attr("x1", cx)
      .attr("x2", cx)
      .attr("y1", y(r.previous))
      .attr("y2", y(r.current))
      .attr("stroke", "currentColor")
      .attr("opacity", 0.35)
      .attr("stroke-width", 2);
    cell
      .append("circle")
      .attr("cx", cx)
      .attr("cy", y(r.previous))
      .attr("r", 4.5)
      .attr("fill", "var(--theme-background, white)")
      .attr("stroke", "#868e96")
      .attr("stroke-width", 2)
      .attr("data-sym", "xprev");
    cell
      .append("circle")
      .attr("cx", cx)
      .attr("cy", y(r.current))
      .attr("r", 4.5)
      .attr("fill", "var(--color-rwkv, #3b6fd9)")
      .attr("data-sym", "xcur");
    cell
      .append("path")
      .attr("d", `M${cx},${y(r.mixed) - 6}l6,6l-6,6l-6,-6z`)
      .attr("fill", "#e8590c")
      .attr("data-sym", mixedSym);
  }
  const legend = svg.append("g").attr("transform", `translate(${margin.left},18)`).attr("font-size", 15);
  for (const { item, x: ix, row: r } of placed) {
    const [kind, text, sym] = item;
    const it = legend
      .append("g")
      .attr("transform", `translate(${ix},${22 * r})`)
      .attr("data-sym", sym);
    if (kind === "prev")
      it.append("circle").attr("r", 5).attr("fill", "none").attr("stroke", "#868e96").attr("stroke-width", 2);
    else if (kind === "cur") it.append("circle").attr("r", 5).attr("fill", "var(--color-rwkv, #3b6fd9)");
    else it.append("path").attr("d", "M0,-6l6,6l-6,6l-6,-6z").attr("fill", "#e8590c");
    it.append("text")
      .attr("x", 12)
      .attr("y", 5)
      .attr("fill", "currentColor")
      .attr("data-sym", sym)
      .text(text);
  }
  const checkText = svg
    .append("text")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .attr("opacity", 0.8)
    .attr("class", "blend-check");
  check.forEach((line, i) =>
    checkText
      .append("tspan")
      .attr("x", margin.left)
      .attr("y", 18 + 22 * (row + 1) + 8 + 18 * i)
      .text(line),
  );
  return f.done(caption);
}

/**
 * Token shift as a causal convolution over time: one row per channel, its two-tap kernel [K_1, K_0] at lags 1 and
 * 0 on the left, and along the prompt the channel's input (grey) and the model's mixed input (colour) that the
 * kernel slid along the input gives; the figure carries the layer-wide check as data-max-error.
 */
export function tokenConv(
  view: ConvView,
  { width, rowHeight = 110 }: { width: number; rowHeight?: number },
): HTMLElement {
  if (view.channels.length === 0) throw new RangeError("tokenConv: no channels");
  const n = view.channels.length;
  const margin = { top: 30, right: 14, bottom: 40, left: 0 };
  const f = frame("token-conv", {
    width,
    minWidth: 420,
    height: n * rowHeight,
    margin,
    fluid: true,
    data: { "max-error": view.maxError, channels: view.channels.map((c) => c.channel).join(" ") },
    label: `Token shift as a width-2 convolution over time for ${n} channels`,
  });
  const { svg, width: w } = f;
  const kernelW = 150;
  const left = kernelW + 56;
  const T = view.T;
  const x = scaleLinear()
    .domain([0, Math.max(1, T - 1)])
    .range([left, w - margin.right]);
  svg
    .append("text")
    .attr("x", 8)
    .attr("y", 18)
    .attr("font-weight", 700)
    .attr("fill", "currentColor")
    .text("kernel per channel");
  svg
    .append("text")
    .attr("x", left)
    .attr("y", 18)
    .attr("font-weight", 700)
    .attr("fill", "currentColor")
    .text("along the prompt: input (grey) → mixed input (colour)");
  view.channels.forEach((ch, row) => {
    const top = margin.top + row * rowHeight;
    const g = svg.append("g").attr("class", "conv-channel").attr("data-channel", ch.channel);
    // the kernel: two stems at lag 1 (x_{t-1}) and lag 0 (x_t)
    const kmin = Math.min(0, ...ch.kernel);
    const kmax = Math.max(1, ...ch.kernel);
    const ky = scaleLinear()
      .domain([kmin, kmax])
      .range([top + rowHeight - 34, top + 24]);
    const taps: [string, number, string][] = [
      ["t−1", ch.kernel[1], "xprev"],
      ["t", ch.kernel[0], "xcur"],
    ];
    taps.forEach(([lag, k, s], i) => {
      const cx = 40 + i * 64;
      g.append("line")
        .attr("x1", cx)
        .attr("x2", cx)
        .attr("y1", ky(0))
        .attr("y2", ky(k))
        .attr("stroke", i ? "var(--color-rwkv, #3b6fd9)" : "#868e96")
        .attr("stroke-width", 6)
        .attr("data-sym", s);
      g.append("text")
        .attr("x", cx)
        .attr("y", top + rowHeight - 16)
        .attr("text-anchor", "middle")
        .attr("font-size", 13)
        .attr("fill", "currentColor")
        .text(lag);
      g.append("text")
        .attr("x", cx + 8)
        .attr("y", ky(k) + (k >= 0 ? 4 : 12))
        .attr("font-size", 13)
        .attr("fill", "currentColor")
        .text(fmt2(k));
    });
    g.append("line")
      .attr("x1", 20)
      .attr("x2", kernelW)
      .attr("y1", ky(0))
      .attr("y2", ky(0))
      .attr("stroke", "currentColor")
      .attr("opacity", 0.3);
    g.append("text")
      .attr("x", 8)
      .attr("y", top + 4)
      .attr("font-size", 13)
      .attr("fill", "currentColor")
      .text(`channel ${ch.channel}, μ = ${fmt2(ch.mu)}`);
    // the series along the prompt
    const vals = [...ch.x, ...ch.mixed];
    const [lo, hi] = extent(vals) as [number, number];
    const y = scaleLinear()
      .domain([Math.min(lo, 0), Math.max(hi, 0)])
      .nice()
      .range([top + rowHeight - 24, top + 6]);
    g.append("g").attr("transform", `translate(${left},0)`).call(axisLeft(y).ticks(3));
    const path = (a: ArrayLike<number>) =>
      line<number>()
        .x((_, t) => x(t))
        .y((v) => y(v))(Array.from(a)) ?? "";
    g.append("path")
      .attr("d", path(ch.x))
      .attr("fill", "none")
      .attr("stroke", "#868e96")
      .attr("stroke-width", 2)
      .attr("data-sym", "xcur");
    g.append("path")
      .attr("class", "mixed")
      .attr("d", path(ch.mixed))
      .attr("fill", "none")
      .attr("stroke", "#e8590c")
      .attr("stroke-width", 2.5);
    for (let t = 0; t < T; t++) {
      g.append("circle")
        .attr("cx", x(t))
        .attr("cy", y(ch.conv[t]))
        .attr("r", 2.5)
        .attr("fill", "#e8590c")
        .append("title")
        .text(
          `“${view.labels[t]}”: input ${ch.x[t].toFixed(4)}, convolution ${ch.conv[t].toFixed(4)}, model ${ch.mixed[t].toFixed(4)}`,
        );
    }
  });
  const every = Math.ceil(T / Math.max(1, Math.floor((w - left) / 16)));
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + n * rowHeight - 18})`)
    .call(
      axisBottom(x)
        .tickValues(Array.from({ length: T }, (_, i) => i).filter((i) => i % every === 0))
        .tickFormat((i) => view.labels[i as number] ?? ""),
    )
    .selectAll("text")
    .attr("font-family", "var(--monospace)");
  svg.selectAll(".tick text").attr("font-size", 13);
  return f.done(view.caption);
}
