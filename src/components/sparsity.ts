/**
 * Chapter 6's figures: how sparse channel mixing's squared-ReLU activations are (arXiv 2305.13048 v4, Eq. 18,
 * o'_t = sigma(r'_t) * (W'_v max(k'_t, 0)^2)). The numbers come from src/chapters/channel-mixing.ts.
 *
 *   sparsityChart(layers, labels, {width, layer?}) -> <figure data-figure="ffn-sparsity">
 *       layers: SparsityLayer[] (ffnSparsity); labels: the tokens' display labels
 *   activationHistogram(h, {width, title}) -> <figure data-figure="ffn-histogram">   h: Histogram of k'
 *   activationCompare(d, {width}) -> <figure data-figure="activation-shapes">   ReLU², ReLU and GELU on the same k'
 *       (ActivationShapes of src/chapters/channel-mixing.ts): the curves over the histogram, and per activation
 *       the share of exact zeros and the share of a token's activation in its largest 10% of units
 */
import { axisBottom, axisLeft, format, line, max, scaleBand, scaleLinear } from "d3";
import type { ActivationShapes, Histogram, SparsityLayer } from "../chapters/channel-mixing.js";
import { frame, labelStep, MIN_TEXT, textWidth } from "./frame.js";

const pct = format(".1%");

export interface SparsityChartOptions {
  width: number;
  /** highlighted layer */
  layer?: number;
  color?: string;
}

/**
 * Per-layer fraction of zero activations (bars, labelled in %), and beside each bar the per-token fraction as a
 * strip of cells (one per token of the prompt). Returns <figure data-figure="ffn-sparsity">.
 */
export function sparsityChart(
  layers: SparsityLayer[],
  tokens: string[],
  { width, layer, color = "var(--color-rwkv, #3b6fd9)" }: SparsityChartOptions,
): HTMLElement {
  if (layers.length === 0) throw new RangeError("sparsityChart: no layers");
  const T = tokens.length;
  const rowH = 34;
  const margin = { top: 48, right: 16, bottom: 44, left: 76 };
  const f = frame("ffn-sparsity", {
    width,
    height: layers.length * rowH,
    margin,
    fluid: true,
    label:
      "Fraction of channel-mixing activations that are exactly zero, per layer: " +
      layers.map((l) => `layer ${l.layer} ${pct(l.fraction)}`).join(", "),
  });
  const { svg, height } = f;
  width = f.width;
  const barW = Math.min(260, Math.max(140, width * 0.3));
  const stripX = margin.left + barW + 70;
  const stripW = Math.max(120, width - stripX - margin.right);
  const cell = stripW / T;
  // the strips' shading spans the observed range of per-token fractions, so differences between tokens show
  let lo = 1;
  let hi = 0;
  for (const l of layers) {
    for (const fr of l.perToken) {
      lo = Math.min(lo, fr);
      hi = Math.max(hi, fr);
    }
  }
  if (!(hi > lo)) {
    lo = Math.max(0, lo - 0.01);
    hi = Math.min(1, hi + 0.01);
  }
  const shade = (fr: number) => (0.08 + (0.92 * (fr - lo)) / (hi - lo)).toFixed(3);
  const y = scaleBand<number>()
    .domain(layers.map((l) => l.layer))
    .range([margin.top, margin.top + layers.length * rowH])
    .padding(0.18);
  const x = scaleLinear()
    .domain([0, 1])
    .range([margin.left, margin.left + barW]);

  svg
    .append("text")
    .attr("x", margin.left)
    .attr("y", 18)
    .attr("font-weight", 600)
    .attr("fill", "currentColor")
    .attr("data-sym", "act") // hover-linked with max(k'_t, 0)^2 in the equations
    .text("Zero activations, whole prompt");
  svg
    .append("text")
    .attr("x", stripX)
    .attr("y", 18)
    .attr("font-weight", 600)
    .attr("fill", "currentColor")
    .text(`… per token (faint = ${pct(lo)}, strong = ${pct(hi)})`);

  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + layers.length * rowH})`)
    .call(axisBottom(x).ticks(4, "%"))
    .attr("font-size", 12);
  svg
    .append("g")
    .attr("transform", `translate(${margin.left},0)`)
    .call(axisLeft(y).tickFormat((d) => `layer ${d}`))
    .attr("font-size", 13);

  for (const l of layers) {
    const yy = y(l.layer)!;
    const hi = layer === undefined || l.layer === layer;
    svg
      .append("rect")
      .attr("x", x(0))
      .attr("y", yy)
      .attr("width", x(l.fraction) - x(0))
      .attr("height", y.bandwidth())
      .attr("fill", color)
      .attr("fill-opacity", hi ? 0.9 : 0.45)
      .append("title")
      .text(
        `layer ${l.layer}: ${l.zeros.toLocaleString("en-US")} of ${l.total.toLocaleString("en-US")} activations are 0`,
      );
    svg
      .append("text")
      .attr("x", x(l.fraction) + 6)
      .attr("y", yy + y.bandwidth() / 2)
      .attr("dy", "0.35em")
      .attr("font-weight", hi ? 600 : 400)
      .attr("fill", "currentColor")
      .text(pct(l.fraction));
    const strip = svg.append("g").attr("fill", color);
    for (let t = 0; t < T; t++) {
      strip
        .append("rect")
        .attr("x", stripX + t * cell)
        .attr("y", yy)
        .attr("width", cell + 0.3)
        .attr("height", y.bandwidth())
        .attr("fill-opacity", shade(l.perToken[t]))
        .append("title")
        .text(`layer ${l.layer}, token ${t} “${tokens[t]}”: ${pct(l.perToken[t])} of the activations are 0`);
    }
  }
  // the prompt's characters at 13 px: every one when they fit side by side, else every step-th
  const step = labelStep(cell, textWidth("m", MIN_TEXT, { mono: true }));
  const lab = svg
    .append("g")
    .attr("font-family", "var(--monospace)")
    .attr("font-size", MIN_TEXT)
    .attr("fill", "currentColor");
  for (let t = 0; t < T; t += step) {
    lab
      .append("text")
      .attr("x", stripX + t * cell + cell / 2)
      .attr("y", margin.top + layers.length * rowH + 14)
      .attr("text-anchor", "middle")
      .text(tokens[t]);
  }
  svg
    .append("text")
    .attr("x", stripX + stripW)
    .attr("y", height - 6)
    .attr("text-anchor", "end")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text("token of your prompt →");
  return f.done();
}

export interface HistogramChartOptions {
  width: number;
  height?: number;
  title: string;
  color?: string;
}

/** Histogram of the pre-activations k' with the part the ReLU cuts to 0 (k' <= 0) drawn grey. */
export function activationHistogram(
  h: Histogram,
  { width, height = 220, title, color = "var(--color-rwkv, #3b6fd9)" }: HistogramChartOptions,
): HTMLElement {
  const margin = { top: 44, right: 16, bottom: 44, left: 64 };
  const f = frame("ffn-histogram", {
    width,
    height,
    margin,
    fluid: true,
    label: `${title}: ${pct(h.nonPositive / h.total)} of the values are at most 0`,
  });
  const { svg } = f;
  width = f.width;
  const lo = h.edges[0];
  const hi = h.edges[h.edges.length - 1];
  const x = scaleLinear()
    .domain([lo, hi])
    .range([margin.left, width - margin.right]);
  const y = scaleLinear()
    .domain([0, Math.max(1, ...h.counts)])
    .nice()
    .range([margin.top + height, margin.top]);
  svg
    .append("text")
    .attr("x", margin.left)
    .attr("y", 18)
    .attr("font-weight", 600)
    .attr("fill", "currentColor")
    .attr("data-sym", "kp") // hover-linked with k'_t in the equations
    .text(title);
  svg
    .append("text")
    .attr("x", margin.left)
    .attr("y", 36)
    .attr("fill", "currentColor")
    .attr("font-size", 13)
    .text(
      `grey: k′ ≤ 0, cut to exactly 0 by max(k′, 0)² (${pct(h.nonPositive / h.total)} of ${h.total.toLocaleString("en-US")} values)`,
    );
  h.counts.forEach((c, b) => {
    const x0 = h.edges[b];
    const x1 = h.edges[b + 1];
    svg
      .append("rect")
      .attr("x", x(x0))
      .attr("y", y(c))
      .attr("width", Math.max(0.5, x(x1) - x(x0) - 0.5))
      .attr("height", y(0) - y(c))
      .attr("fill", x1 <= 0 ? "currentColor" : color)
      .attr("fill-opacity", x1 <= 0 ? 0.35 : 0.85)
      .append("title")
      .text(`k′ in [${x0.toFixed(2)}, ${x1.toFixed(2)}): ${c.toLocaleString("en-US")}`);
  });
  if (lo < 0 && hi > 0) {
    svg
      .append("line")
      .attr("x1", x(0))
      .attr("x2", x(0))
      .attr("y1", margin.top)
      .attr("y2", margin.top + height)
      .attr("stroke", "currentColor")
      .attr("stroke-dasharray", "4 3");
  }
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + height})`)
    .call(axisBottom(x).ticks(Math.max(3, Math.floor(width / 90))))
    .attr("font-size", 12)
    .call((g) =>
      g
        .append("text")
        .attr("x", width - margin.right)
        .attr("y", 36)
        .attr("text-anchor", "end")
        .attr("fill", "currentColor")
        .attr("font-size", 13)
        .text("k′ (pre-activation) →"),
    );
  svg
    .append("g")
    .attr("transform", `translate(${margin.left},0)`)
    .call(axisLeft(y).ticks(4, "~s"))
    .attr("font-size", 12);
  return f.done();
}

const SHAPE_COLORS: Record<string, string> = {
  "ReLU²": "var(--color-rwkv, #3b6fd9)",
  ReLU: "#868e96",
  GELU: "#e8590c",
};

export function activationCompare(d: ActivationShapes, { width }: { width: number }): HTMLElement {
  const height = 220;
  const margin = { top: 40, right: 16, bottom: 44, left: 52 };
  const f = frame("activation-shapes", {
    width,
    minWidth: 340,
    height,
    margin,
    fluid: true,
    data: Object.fromEntries(
      d.stats.flatMap((s) => [
        [`zeros-${s.name === "ReLU²" ? "relu2" : s.name.toLowerCase()}`, s.zeros],
        [`top10-${s.name === "ReLU²" ? "relu2" : s.name.toLowerCase()}`, s.top10],
      ]),
    ),
    label: d.stats
      .map((s) => `${s.name}: ${pct(s.zeros)} exact zeros, largest 10% carry ${pct(s.top10)}`)
      .join("; "),
  });
  const { svg, width: w } = f;
  const side = w >= 640;
  const leftW = side ? (w - 40) * 0.55 : w;
  // left: the curves over the histogram of k'
  const x = scaleLinear()
    .domain(d.range)
    .range([margin.left, leftW - margin.right]);
  const yMax = Math.max(1, ...d.curves.map((c) => max(c.y) ?? 0));
  const yMin = Math.min(0, ...d.curves.map((c) => Math.min(...c.y)));
  const y = scaleLinear()
    .domain([yMin, yMax])
    .nice()
    .range([margin.top + height, margin.top]);
  const hMax = Math.max(1, ...d.histogram.counts);
  const hy = scaleLinear()
    .domain([0, hMax])
    .range([margin.top + height, margin.top + height * 0.35]);
  d.histogram.counts.forEach((c, b) => {
    const x0 = x(d.histogram.edges[b]);
    const x1 = x(d.histogram.edges[b + 1]);
    svg
      .append("rect")
      .attr("x", x0)
      .attr("width", Math.max(0.5, x1 - x0 - 0.5))
      .attr("y", hy(c))
      .attr("height", margin.top + height - hy(c))
      .attr("fill", "currentColor")
      .attr("opacity", 0.1);
  });
  svg.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(y).ticks(5));
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + height})`)
    .call(axisBottom(x).ticks(5))
    .call((a) =>
      a
        .append("text")
        .attr("x", leftW - margin.right)
        .attr("y", 36)
        .attr("text-anchor", "end")
        .attr("fill", "currentColor")
        .text("pre-activation k′ →"),
    );
  for (const c of d.curves) {
    svg
      .append("path")
      .attr(
        "d",
        line<number>()
          .x((_, i) => x(c.x[i]))
          .y((v) => y(v))(Array.from(c.y)) ?? "",
      )
      .attr("fill", "none")
      .attr("stroke", SHAPE_COLORS[c.name])
      .attr("stroke-width", c.name === "ReLU²" ? 4 : 2.5)
      .attr("data-sym", c.name === "ReLU²" ? "act" : null);
  }
  const legend = svg.append("g").attr("transform", `translate(${margin.left},18)`).attr("font-size", 15);
  d.curves.forEach((c, i) => {
    const g = legend.append("g").attr("transform", `translate(${i * 100},0)`);
    g.append("line")
      .attr("x2", 20)
      .attr("y1", -5)
      .attr("y2", -5)
      .attr("stroke", SHAPE_COLORS[c.name])
      .attr("stroke-width", 4);
    g.append("text").attr("x", 26).attr("fill", "currentColor").text(c.name);
  });
  // right: zeros and concentration per activation
  const ox = side ? leftW + 40 : 0;
  const oy = side ? 0 : margin.top + height + margin.bottom;
  if (!side) {
    const H = 2 * (margin.top + height + margin.bottom);
    svg.attr("height", H).attr("viewBox", `0 0 ${w} ${H}`);
  }
  const rw = side ? w - ox : w;
  const g = svg.append("g").attr("transform", `translate(${ox},${oy})`);
  const groups = ["exact zeros", "in the largest 10%"] as const;
  const gx = scaleBand<string>()
    .domain(groups)
    .range([margin.left, rw - margin.right])
    .padding(0.25);
  const bx = scaleBand<string>()
    .domain(d.stats.map((s) => s.name))
    .range([0, gx.bandwidth()])
    .padding(0.12);
  const by = scaleLinear()
    .domain([0, 1])
    .range([margin.top + height, margin.top]);
  g.append("g").attr("transform", `translate(${margin.left},0)`).call(axisLeft(by).ticks(5, "%"));
  g.append("g")
    .attr("transform", `translate(0,${margin.top + height})`)
    .call(axisBottom(gx));
  for (const s of d.stats) {
    for (const [group, v] of [
      [groups[0], s.zeros],
      [groups[1], s.top10],
    ] as const) {
      const bxv = gx(group)! + bx(s.name)!;
      g.append("rect")
        .attr("class", "shape-bar")
        .attr("x", bxv)
        .attr("width", bx.bandwidth())
        .attr("y", by(v))
        .attr("height", by(0) - by(v))
        .attr("fill", SHAPE_COLORS[s.name])
        .append("title")
        .text(`${s.name}, ${group}: ${pct(v)}`);
      g.append("text")
        .attr("x", bxv + bx.bandwidth() / 2)
        .attr("y", by(v) - 4)
        .attr("text-anchor", "middle")
        .attr("font-size", 13)
        .attr("fill", "currentColor")
        .text(`${(100 * v).toFixed(0)}%`);
    }
  }
  g.append("text")
    .attr("x", margin.left)
    .attr("y", 18)
    .attr("font-weight", 700)
    .attr("font-size", 15)
    .attr("fill", "currentColor")
    .text(`layer ${d.layer}: zeros and concentration`);
  svg.selectAll(".tick text").attr("font-size", 13);
  return f.done(d.caption);
}
