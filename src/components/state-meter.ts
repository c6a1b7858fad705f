/**
 * Chapter 1's live meter: the numbers an RWKV carries from token to token (its state: 5 vectors of C per layer,
 * constant) beside the numbers a same-size transformer keeps in its KV cache (a key and a value of C per layer
 * per token: 2·L·T·C, growing with T). Sizes in fp32 (4 bytes a number).
 *
 *   stateMeterData({nLayer, nEmbd, T, measuredState?}) -> StateMeterData
 *   stateMeter(data, {width, height?}) -> <figure data-figure="state-meter">
 */
import { axisBottom, axisLeft, create, format, scaleLinear } from "d3";

export interface StateMeterData {
  nLayer: number;
  nEmbd: number;
  /** tokens processed so far (prompt + generated) */
  T: number;
  /** 5·L·C */
  rwkvNumbers: number;
  /** 2·L·T·C */
  kvNumbers: number;
  /** the numbers counted in the state object the model really carried (equals rwkvNumbers for RWKV-4) */
  measuredState?: number;
}

export function stateMeterData({
  nLayer,
  nEmbd,
  T,
  measuredState,
}: {
  nLayer: number;
  nEmbd: number;
  T: number;
  measuredState?: number;
}): StateMeterData {
  if (!Number.isInteger(T) || T < 0)
    throw new RangeError(`stateMeterData: T must be a non-negative integer, got ${T}`);
  const d: StateMeterData = {
    nLayer,
    nEmbd,
    T,
    rwkvNumbers: 5 * nLayer * nEmbd,
    kvNumbers: 2 * nLayer * T * nEmbd,
  };
  if (measuredState !== undefined) d.measuredState = measuredState;
  return d;
}

const fmtInt = format(",d");

/** "20.0 KB" from a count of fp32 numbers. */
export function bytesLabel(numbers: number): string {
  const bytes = numbers * 4;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

export function stateMeter(
  data: StateMeterData,
  { width, height = 220 }: { width: number; height?: number },
): HTMLElement {
  const margin = { top: 64, right: 150, bottom: 44, left: 60 };
  const readoutSize = width < 560 ? 14 : 17;
  const w = Math.max(320, width);
  const maxT = Math.max(64, Math.ceil((data.T * 1.25) / 64) * 64);
  const x = scaleLinear()
    .domain([0, maxT])
    .range([margin.left, w - margin.right]);
  const yMax = Math.max(2 * data.nLayer * maxT * data.nEmbd, data.rwkvNumbers * 1.5);
  const y = scaleLinear()
    .domain([0, yMax])
    .nice()
    .range([margin.top + height, margin.top]);
  const figure = create("figure").attr("data-figure", "state-meter").attr("data-t", data.T);
  const H = margin.top + height + margin.bottom;
  const svg = figure
    .append("svg")
    .attr("width", w)
    .attr("height", H)
    .attr("viewBox", `0 0 ${w} ${H}`)
    .style("max-width", "100%")
    .style("height", "auto")
    .attr("role", "img")
    .attr(
      "aria-label",
      `After ${data.T} tokens: the RWKV state holds ${fmtInt(data.rwkvNumbers)} numbers; ` +
        `a transformer's KV cache would hold ${fmtInt(data.kvNumbers)}.`,
    );
  svg
    .append("text")
    .attr("x", 4)
    .attr("y", 20)
    .attr("font-weight", 700)
    .attr("font-size", readoutSize)
    .attr("fill", "var(--color-rwkv, #3b6fd9)")
    .attr("class", "readout-rwkv")
    .text(`RWKV state: ${fmtInt(data.rwkvNumbers)} numbers (${bytesLabel(data.rwkvNumbers)}), constant`);
  svg
    .append("text")
    .attr("x", 4)
    .attr("y", 44)
    .attr("font-weight", 700)
    .attr("font-size", readoutSize)
    .attr("fill", "var(--color-softmax, #e8590c)")
    .attr("class", "readout-kv")
    .text(
      `Transformer KV cache at T = ${fmtInt(data.T)}: ${fmtInt(data.kvNumbers)} numbers (${bytesLabel(data.kvNumbers)})`,
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
  figure
    .append("figcaption")
    .text(
      `L = ${data.nLayer} layers, C = ${data.nEmbd} channels, fp32. The RWKV state is five vectors per layer ` +
        `(the token-shift inputs of time and channel mixing, and the WKV's a, b, p)` +
        (data.measuredState !== undefined
          ? `; counted in the state the model just carried: ${fmtInt(data.measuredState)} numbers.`
          : ".") +
        ` A transformer of the same size keeps a key and a value per layer for every token so far.`,
    );
  return figure.node() as HTMLElement;
}
