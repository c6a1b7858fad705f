/**
 * Chapter 1's live meter: the numbers an RWKV carries from token to token (its state: 5 vectors of C per layer,
 * constant) beside the numbers a same-size transformer keeps in its KV cache (a key and a value of C per layer
 * per token: 2·L·T·C, growing with T). Sizes in fp32 (4 bytes a number).
 *
 *   stateMeter(data, {width, height?}) -> <figure data-figure="state-meter" data-t>
 *       data: StateMeterData (stateMeterData of src/chapters/overview.ts)
 */
import { axisBottom, axisLeft, format, scaleLinear } from "d3";
import type { StateMeterData } from "../chapters/overview.js";
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
      `(the token-shift inputs of time and channel mixing, and the WKV's a, b, p)` +
      (data.measuredState !== undefined
        ? `; counted in the state the model just carried: ${fmtInt(data.measuredState)} numbers.`
        : ".") +
      ` A transformer of the same size keeps a key and a value per layer for every token so far.`,
  );
}
