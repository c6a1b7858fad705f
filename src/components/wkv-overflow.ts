/**
 * Chapter 5's figures beside the state heatmaps (the data: src/chapters/wkv.ts).
 *
 *   wkvStepTable(step) -> <figure data-figure="wkv-step" data-max-error>   one step of Appendix D's recurrence
 *     with the model's own values, as a table
 *   wkvOverflow(d, {width}) -> <figure data-figure="wkv-overflow">   the direct form of Eq. 16 (arXiv 2305.13048
 *     v4) evaluated in fp32 against the stable running-max form (Appendix D), with the keys multiplied by s.
 *     d: {labels (T), channel, direct (T), stable (T), scale, predictedScale, nonFiniteDirect, nonFiniteStable,
 *         total, maxDiff, sweep: [{scale, nonFiniteDirect, nonFiniteStable}]}
 *     Left: one channel's wkv_t along the prompt, both forms (non-finite direct values marked at the top).
 *     Right: the share of non-finite outputs over all channels and tokens as s grows (log axis).
 */
import { axisBottom, axisLeft, create, extent, line, scaleLinear, scaleLog } from "d3";
import type { OverflowFigureData, WkvStep } from "../chapters/wkv.js";
import { labelStep, legible, textWidth, wrapLines } from "./frame.js";

/** The step table: what, value, and a note per row; the header names the layer, channel and token. */
export function wkvStepTable(step: WkvStep): HTMLElement {
  const figure = create("figure").attr("data-figure", "wkv-step").attr("data-max-error", step.maxError);
  const table = figure.append("table").style("font", "16px var(--monospace)").style("max-width", "100%");
  const head = table.append("thead").append("tr");
  for (const h of [step.title, "value", ""]) head.append("th").text(h);
  const body = table.append("tbody");
  for (const [what, value, note] of step.rows) {
    const tr = body.append("tr");
    tr.append("td").text(what);
    tr.append("td").text(value);
    tr.append("td").style("color", "var(--theme-foreground-muted)").text(note);
  }
  figure
    .append("figcaption")
    .text(
      "The recurrence of Appendix D evaluated here in float64 from the model's stored state; it matches the " +
        `model's own values (fp32) to ${step.maxError.toExponential(1)}.`,
    );
  return figure.node() as HTMLElement;
}

const DIRECT = "#e8590c";
const STABLE = "var(--color-rwkv, #3b6fd9)";

export function wkvOverflow(
  d: OverflowFigureData,
  { width, height = 230 }: { width: number; height?: number },
): HTMLElement {
  const figure = create("figure")
    .attr("data-figure", "wkv-overflow")
    .attr("data-nonfinite-direct", d.nonFiniteDirect)
    .attr("data-nonfinite-stable", d.nonFiniteStable);
  const side = width >= 760;
  const gap = 36;
  const pw = side ? (width - gap) / 2 : width;
  // titles and the legend wrap to the panel's width (a long line would run out of the svg or into the other panel)
  const titleW = pw - 8;
  const leftTitle = wrapLines(`Channel ${d.channel}: wkv_t with keys × ${d.scale.toFixed(1)}`, titleW, 16);
  const rightTitle = wrapLines("All channels: share of outputs not finite", titleW, 16);
  const titleLines = Math.max(leftTitle.length, rightTitle.length);
  const legendRows =
    textWidth("stable (App. D)direct (Eq. 16, fp32)   × = Inf/NaN", 14) + 90 > pw - 8 ? 2 : 1;
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
    second
      .append("text")
      .attr("x", 28)
      .attr("fill", "currentColor")
      .text("direct (Eq. 16, fp32)   × = Inf/NaN");
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
      const text = `max exponent = 88.7 at s = ${d.predictedScale.toFixed(1)}`;
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
  figure
    .append("figcaption")
    .text(
      `Both forms run in fp32 on this layer's real keys and values, with every key multiplied by s. The direct form ` +
        `forms e^{k} and e^{u+k} and overflows to Infinity once an exponent passes ln(3.4·10³⁸) ≈ 88.7 (then ` +
        `Infinity/Infinity = NaN); the stable form subtracts the running maximum first and stays finite. Where both ` +
        `are finite they differ by at most ${d.maxDiff.toExponential(1)}.`,
    );
  return figure.node() as HTMLElement;
}
