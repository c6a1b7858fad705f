/**
 * Chapter 1's live meter: the numbers an RWKV carries from token to token (its state: 5 vectors of C per layer,
 * constant) beside the numbers a same-size transformer keeps in its KV cache (a key and a value of C per layer
 * per token: 2·L·T·C, growing with T). Sizes in fp32 (4 bytes a number).
 *
 *   stateMeter(data, {width, height?}) -> <figure data-figure="state-meter" data-t>
 *       data: StateMeterData (stateMeterData of src/chapters/overview.ts)
 *   memoryBars(rows, {width}) -> <figure data-figure="memory-bars">   the state against the KV cache at fixed
 *       lengths, one panel per model shape, every bar labelled with its size (rows: memoryRows of overview.ts)
 */
import { axisBottom, axisLeft, format, scaleLinear, scaleLog } from "d3";
import type { MemoryRow, StateMeterData } from "../chapters/overview.js";
import { frame } from "./frame.js";

const fmtInt = format(",d");

export function stateMeter(
  data: StateMeterData,
  // on a wide page (presenter mode) a shorter plot, so the try-it box and the meter share one screen
  { width, height = width >= 960 ? 120 : 220 }: { width: number; height?: number },
): HTMLElement {
  const margin = { top: 64, right: 150, bottom: 44, left: 60 };
  const readoutSize = width < 560 ? 14 : 17;
  const f = frame("state-meter", {
    width,
    minWidth: 320,
    height,
    margin,
    fluid: true,
    data: { t: data.T },
    label:
      `After ${data.T} tokens: the RWKV state holds ${fmtInt(data.rwkvNumbers)} numbers; ` +
      `a transformer's KV cache would hold ${fmtInt(data.kvNumbers)}.`,
  });
  const { svg, width: w } = f;
  const maxT = Math.max(64, Math.ceil((data.T * 1.25) / 64) * 64);
  const x = scaleLinear()
    .domain([0, maxT])
    .range([margin.left, w - margin.right]);
  const yMax = Math.max(2 * data.nLayer * maxT * data.nEmbd, data.rwkvNumbers * 1.5);
  const y = scaleLinear()
    .domain([0, yMax])
    .nice()
    .range([margin.top + height, margin.top]);
  svg
    .append("text")
    .attr("x", 4)
    .attr("y", 20)
    .attr("font-weight", 700)
    .attr("font-size", readoutSize)
    .attr("fill", "var(--color-rwkv, #3b6fd9)")
    .attr("class", "readout-rwkv")
    .text(`RWKV state: ${fmtInt(data.rwkvNumbers)} numbers (${data.rwkvSize}), constant`);
  svg
    .append("text")
    .attr("x", 4)
    .attr("y", 44)
    .attr("font-weight", 700)
    .attr("font-size", readoutSize)
    .attr("fill", "var(--color-softmax, #e8590c)")
    .attr("class", "readout-kv")
    .text(
      `Transformer KV cache at T = ${fmtInt(data.T)}: ${fmtInt(data.kvNumbers)} numbers (${data.kvSize})`,
    );
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + height})`)
    .call(axisBottom(x).ticks(Math.max(2, Math.floor(w / 100))))
    .call((g) =>
      g
        .append("text")
        .attr("x", w - margin.right)
        .attr("y", 36)
        .attr("text-anchor", "end")
        .attr("fill", "currentColor")
        .text("tokens processed T →"),
    );
  svg
    .append("g")
    .attr("transform", `translate(${margin.left},0)`)
    .call(axisLeft(y).ticks(5, "~s"))
    .call((g) =>
      g
        .append("text")
        .attr("x", -margin.left + 4)
        .attr("y", margin.top - 8)
        .attr("text-anchor", "start")
        .attr("fill", "currentColor")
        .text("↑ numbers kept"),
    );
  svg.selectAll(".tick text").attr("font-size", 14);
  // KV cache: 2LTC, a straight line through the origin; dashed beyond the current T
  const kvAt = (t: number): number => 2 * data.nLayer * t * data.nEmbd;
  svg
    .append("line")
    .attr("x1", x(0))
    .attr("y1", y(0))
    .attr("x2", x(data.T))
    .attr("y2", y(kvAt(data.T)))
    .attr("stroke", "var(--color-softmax, #e8590c)")
    .attr("stroke-width", 4);
  svg
    .append("line")
    .attr("x1", x(data.T))
    .attr("y1", y(kvAt(data.T)))
    .attr("x2", x(maxT))
    .attr("y2", y(kvAt(maxT)))
    .attr("stroke", "var(--color-softmax, #e8590c)")
    .attr("stroke-width", 2)
    .attr("stroke-dasharray", "5 5")
    .attr("opacity", 0.6);
  svg
    .append("line")
    .attr("x1", x(0))
    .attr("y1", y(data.rwkvNumbers))
    .attr("x2", x(maxT))
    .attr("y2", y(data.rwkvNumbers))
    .attr("stroke", "var(--color-rwkv, #3b6fd9)")
    .attr("stroke-width", 4);
  for (const [v, color, label] of [
    [data.kvNumbers, "var(--color-softmax, #e8590c)", "KV cache 2·L·T·C"],
    [data.rwkvNumbers, "var(--color-rwkv, #3b6fd9)", "RWKV state 5·L·C"],
  ] as const) {
    svg.append("circle").attr("cx", x(data.T)).attr("cy", y(v)).attr("r", 6).attr("fill", color);
    svg
      .append("text")
      .attr("x", w - margin.right + 8)
      .attr("y", y(v === data.rwkvNumbers ? data.rwkvNumbers : kvAt(maxT)) + 5)
      .attr("fill", color)
      .attr("font-weight", 600)
      .text(label);
  }
  return f.done(
    `L = ${data.nLayer} layers, C = ${data.nEmbd} channels, fp32. The RWKV state is five vectors per layer ` +
      `(the token-shift inputs of time and channel mixing, and the WKV's a′, b′, p of Appendix D)` +
      (data.measuredState !== undefined
        ? `; counted in the state the model just carried: ${fmtInt(data.measuredState)} numbers.`
        : ".") +
      ` A transformer of the same size keeps a key and a value per layer for every token so far.`,
  );
}

const RWKV_COLOR = "var(--color-rwkv, #3b6fd9)";

/** The powers of ten between lo and hi (a log axis's ticks without the crowd of 2·10^k ... 9·10^k). */
function decades(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.ceil(Math.log10(lo)); 10 ** e <= hi; e++) out.push(10 ** e);
  return out;
}
const KV_COLOR = "var(--color-softmax, #e8590c)";

/**
 * Horizontal bars on one log axis of bytes: for each model shape and context length, the RWKV state and a same-size
 * transformer's KV cache, each labelled with its size (and the cache with how many times the state it is).
 */
export function memoryBars(rows: readonly MemoryRow[], { width }: { width: number }): HTMLElement {
  if (rows.length === 0) throw new RangeError("memoryBars: no rows");
  const models = [...new Set(rows.map((r) => r.model))];
  const bar = 22;
  const groupGap = 18;
  const titleH = 30;
  const perModel = (n: number) => titleH + n * (2 * bar + 6 + groupGap);
  const heights = models.map((m) => perModel(rows.filter((r) => r.model === m).length));
  const plotH = heights.reduce((a, b) => a + b, 0);
  const margin = { top: 8, right: 16, bottom: 40, left: 96 };
  const f = frame("memory-bars", {
    width,
    minWidth: 360,
    height: plotH,
    margin,
    fluid: true,
    data: { rows: rows.length },
    label: rows
      .map((r) => `${r.model}, T = ${r.T}: RWKV state ${r.stateLabel}, KV cache ${r.kvLabel}`)
      .join("; "),
  });
  const { svg, width: w } = f;
  const lo = Math.min(...rows.map((r) => r.stateBytes)) / 2;
  const hi = Math.max(...rows.map((r) => r.kvBytes)) * 1.05;
  const x = scaleLog()
    .domain([lo, hi])
    .range([margin.left, w - margin.right]);
  let y = margin.top;
  models.forEach((model) => {
    svg
      .append("text")
      .attr("x", 4)
      .attr("y", y + 18)
      .attr("font-weight", 700)
      .attr("font-size", 15)
      .attr("fill", "currentColor")
      .text(model);
    y += titleH;
    for (const r of rows.filter((row) => row.model === model)) {
      svg
        .append("text")
        .attr("x", margin.left - 8)
        .attr("y", y + bar + 4)
        .attr("text-anchor", "end")
        .attr("font-size", 14)
        .attr("fill", "currentColor")
        .text(`T = ${fmtInt(r.T)}`);
      for (const [i, bytes, color, text, cls] of [
        [0, r.stateBytes, RWKV_COLOR, `RWKV state ${r.stateLabel}`, "bar-state"],
        [1, r.kvBytes, KV_COLOR, `KV cache ${r.kvLabel} (${fmtInt(Math.round(r.ratio))}×)`, "bar-kv"],
      ] as const) {
        const top = y + i * (bar + 6);
        const end = x(bytes);
        svg
          .append("rect")
          .attr("class", cls)
          .attr("x", margin.left)
          .attr("y", top)
          .attr("width", Math.max(1, end - margin.left))
          .attr("height", bar)
          .attr("fill", color)
          .attr("data-bytes", bytes)
          .append("title")
          .text(`${fmtInt(bytes)} bytes`);
        const inside = end - margin.left > 0.6 * (w - margin.left - margin.right);
        svg
          .append("text")
          .attr("class", `${cls}-label`)
          .attr("x", inside ? end - 6 : end + 6)
          .attr("y", top + bar / 2 + 5)
          .attr("text-anchor", inside ? "end" : "start")
          .attr("font-size", 14)
          .attr("font-weight", 600)
          .attr("fill", inside ? "white" : color)
          .text(text);
      }
      y += 2 * bar + 6 + groupGap;
    }
  });
  svg
    .append("g")
    .attr("transform", `translate(0,${margin.top + plotH})`)
    .call(
      axisBottom(x)
        .tickValues(decades(lo, hi))
        .tickFormat((v) => `${format("~s")(v as number)}B`),
    )
    .call((g) =>
      g
        .append("text")
        .attr("x", w - margin.right)
        .attr("y", 34)
        .attr("text-anchor", "end")
        .attr("fill", "currentColor")
        .text("bytes in fp32 (log scale) →"),
    );
  svg.selectAll(".tick text").attr("font-size", 13);
  return f.done(
    "What each model keeps while it generates, in fp32: the RWKV state (5·L·C numbers, the same at any length) " +
      "against the keys and values a transformer with the same layers and width caches (2·L·T·C numbers). " +
      "Sizes in SI units (1 kB = 1000 bytes).",
  );
}
