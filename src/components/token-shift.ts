/**
 * Chapter 3's figures: token shift (arXiv 2305.13048 v4, Eq. 11-15), the per-channel interpolation
 *   x'_t = mu ⊙ x_t + (1 - mu) ⊙ x_{t-1}
 * with a learned mu for each input of time mixing (mu_r, mu_k, mu_v) and of channel mixing (mu'_r, mu'_k).
 *
 *   muProfiles(series, {width}) -> <figure data-figure="mu-profiles">
 *       series: MuSeries[] (src/chapters/token-shift.ts): one panel per mu, one line per layer, sorted
 *   tokenBlend(rows, {width, muLabel, token}) -> <figure data-figure="token-blend">   rows: BlendRow[] (same module)
 */
import { axisBottom, axisLeft, extent, format, line, scaleLinear, scalePoint } from "d3";
import type { BlendRow, MuSeries } from "../chapters/token-shift.js";
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
  { width, height = width >= 960 ? 130 : 200 }: { width: number; height?: number },
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
  return f.done(
    "Each line is one layer's learned mix for every channel, sorted from smallest to largest. Inside the grey band " +
      "(0 ≤ μ ≤ 1) the input is a blend of the current and the previous token: μ = 1 takes only x_t, μ = 0 only " +
      "x_{t-1}. Red dots mark channels outside [0, 1], where the mix extrapolates instead of interpolating.",
  );
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
  }: {
    width: number;
    height?: number;
    muLabel?: string;
    mixedLabel?: string;
    mixedSym?: string;
    token?: string;
    previousToken?: string;
  },
): HTMLElement {
  if (rows.length === 0) throw new RangeError("tokenBlend: no channels");
  // the legend's items in rows that fit the width, then the check line (wrapped too): the plot starts below them
  const items: [string, string, string][] = [
    ["prev", `x_{t-1}${previousToken ? ` (“${previousToken}”)` : ""}`, "xprev"],
    ["cur", `x_t${token ? ` (“${token}”)` : ""}`, "xcur"],
    ["mix", `${mixedLabel} = ${muLabel}·x_t + (1−${muLabel})·x_{t-1}`, mixedSym],
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
    label: `Token shift for ${rows.length} channels: x_t, x_{t-1} and their learned blend`,
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
        `channel ${r.channel}: ${muLabel} = ${r.mu.toFixed(3)}\nx_t = ${r.current.toFixed(4)}, x_{t-1} = ` +
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
  return f.done(
    `${rows.length} channels of the chosen layer, ordered by their learned ${muLabel}. Each grey segment runs from ` +
      `the previous token's input (hollow) to the current token's (filled); the diamond is what the model feeds to ` +
      `its projection. Where ${muLabel} is near 1 the diamond sits on x_t, near 0 on x_{t-1}.`,
  );
}
