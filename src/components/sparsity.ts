/**
 * Chapter 6: how sparse channel mixing's squared-ReLU activations are (arXiv 2305.13048 v4, Eq. 14-15, 18):
 *
 *   r'_t = W'_r (mu'_r x_t + (1 - mu'_r) x_{t-1})       (Eq. 14)
 *   k'_t = W'_k (mu'_k x_t + (1 - mu'_k) x_{t-1})       (Eq. 15)
 *   o'_t = sigma(r'_t) * (W'_v max(k'_t, 0)^2)         (Eq. 18)
 *
 * A hidden unit j contributes nothing at token t when k'_{t,j} <= 0: its activation max(k', 0)^2 is exactly 0,
 * and the column j of W'_v is never read. `ffnSparsity` counts those zeros per layer and per token from a trace.
 */
import { axisBottom, axisLeft, create, format, scaleBand, scaleLinear } from "d3";
import { tokenLabel } from "./attention-heatmap.js";

export interface SparsityLayer {
  layer: number;
  /** activations exactly 0, over all T x F of the layer */
  zeros: number;
  total: number;
  /** zeros / total */
  fraction: number;
  /** fraction of the F activations that are 0, per token (T) */
  perToken: Float64Array;
}

/** Zero counts of max(k', 0)^2 per layer and token. `acts`: one (T, F) array per layer (the trace's ffnAct). */
export function ffnSparsity(acts: ArrayLike<number>[], T: number, F: number): SparsityLayer[] {
  if (!Number.isInteger(T) || T < 1 || !Number.isInteger(F) || F < 1) {
    throw new RangeError(`ffnSparsity: T and F must be positive integers, got T = ${T}, F = ${F}`);
  }
  return acts.map((a, layer) => {
    if (a.length !== T * F)
      throw new RangeError(`ffnSparsity: layer ${layer} has ${a.length} values, expected ${T * F}`);
    const perToken = new Float64Array(T);
    let zeros = 0;
    for (let t = 0; t < T; t++) {
      let z = 0;
      for (let j = 0; j < F; j++) if (a[t * F + j] === 0) z++;
      perToken[t] = z / F;
      zeros += z;
    }
    return { layer, zeros, total: T * F, fraction: zeros / (T * F), perToken };
  });
}

export interface Histogram {
  /** bin edges, bins + 1 values */
  edges: number[];
  counts: number[];
  /** values <= 0 (cut to zero by the ReLU) */
  nonPositive: number;
  total: number;
}

/** Histogram of k' values over [lo, hi] (values outside are clamped into the end bins). */
export function histogram(values: ArrayLike<number>, bins = 60, range?: [number, number]): Histogram {
  if (!Number.isInteger(bins) || bins < 1)
    throw new RangeError(`histogram: bins must be a positive integer, got ${bins}`);
  let lo = range?.[0] ?? Infinity;
  let hi = range?.[1] ?? -Infinity;
  if (!range) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!(hi > lo)) hi = lo + 1;
  const edges = Array.from({ length: bins + 1 }, (_, b) => lo + ((hi - lo) * b) / bins);
  const counts = new Array<number>(bins).fill(0);
  let nonPositive = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v <= 0) nonPositive++;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)));
    counts[b]++;
  }
  return { edges, counts, nonPositive, total: values.length };
}

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
  const barW = Math.min(260, Math.max(140, width * 0.3));
  const stripX = margin.left + barW + 70;
  const stripW = Math.max(120, width - stripX - margin.right);
  const cell = stripW / T;
  // the strips' shading spans the observed range of per-token fractions, so differences between tokens show
  let lo = 1;
  let hi = 0;
  for (const l of layers) {
    for (const f of l.perToken) {
      lo = Math.min(lo, f);
      hi = Math.max(hi, f);
    }
  }
  if (!(hi > lo)) {
    lo = Math.max(0, lo - 0.01);
    hi = Math.min(1, hi + 0.01);
  }
  const shade = (f: number) => (0.08 + (0.92 * (f - lo)) / (hi - lo)).toFixed(3);
  const height = margin.top + layers.length * rowH + margin.bottom;
  const figure = create("figure").attr("data-figure", "ffn-sparsity");
  const svg = figure
    .append("svg")
    .attr("width", width)
    .attr("height", height)
    .attr("viewBox", `0 0 ${width} ${height}`)
    .attr("role", "img")
    .attr(
      "aria-label",
      "Fraction of channel-mixing activations that are exactly zero, per layer: " +
        layers.map((l) => `layer ${l.layer} ${pct(l.fraction)}`).join(", "),
    )
    .style("max-width", "100%")
    .style("height", "auto");
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
        .text(
          `layer ${l.layer}, token ${t} “${tokenLabel(tokens[t])}”: ${pct(l.perToken[t])} of the activations are 0`,
        );
    }
  }
  const step = cell >= 7 ? 1 : Math.max(2, Math.ceil(14 / cell));
  const lab = svg
    .append("g")
    .attr("font-family", "var(--monospace)")
    .attr("font-size", Math.max(9, Math.min(13, cell)))
    .attr("fill", "currentColor");
  for (let t = 0; t < T; t += step) {
    lab
      .append("text")
      .attr("x", stripX + t * cell + cell / 2)
      .attr("y", margin.top + layers.length * rowH + 14)
      .attr("text-anchor", "middle")
      .text(tokenLabel(tokens[t]));
  }
  svg
    .append("text")
    .attr("x", stripX + stripW)
    .attr("y", height - 6)
    .attr("text-anchor", "end")
    .attr("font-size", 13)
    .attr("fill", "currentColor")
    .text("token of your prompt →");
  return figure.node() as HTMLElement;
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
  const figure = create("figure").attr("data-figure", "ffn-histogram");
  const H = margin.top + height + margin.bottom;
  const svg = figure
    .append("svg")
    .attr("width", width)
    .attr("height", H)
    .attr("viewBox", `0 0 ${width} ${H}`)
    .attr("role", "img")
    .attr("aria-label", `${title}: ${pct(h.nonPositive / h.total)} of the values are at most 0`)
    .style("max-width", "100%")
    .style("height", "auto");
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
  return figure.node() as HTMLElement;
}
