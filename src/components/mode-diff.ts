/**
 * Chapter 8: the same prompt through RWKV's two modes (arXiv 2305.13048; the stable WKV of its Appendix D):
 *  - RNN ("time-sequential") mode: one token at a time, carrying the state (attX, a, b, p, ffnX) per layer;
 *  - parallel ("time-parallel", GPT-like) mode: all T tokens at once, matrices (T, C) x (C, C).
 * Both must give the same logits at every position. A mode is anything that maps tokens to (T, V) logits, so
 * the reference TypeScript model, or two ONNX graphs run by onnxruntime-web, can be compared the same way.
 */
import { axisLeft, create, format, scaleBand, scaleLinear, scaleLog } from "d3";
import type { RwkvModel } from "../rwkv/model.js";
import { tokenLabel } from "./attention-heatmap.js";

export interface LogitsMode {
  /** stable id, e.g. "rnn", "parallel" */
  name: string;
  /** what the reader sees, e.g. "RNN mode (step × T)" */
  label: string;
  /** where it ran, e.g. "TypeScript reference", "onnxruntime-web (wasm)" */
  backend: string;
  /** logits (T, V) row-major for the tokens */
  run(tokens: readonly number[]): Promise<Float32Array> | Float32Array;
}

export interface ModeRun {
  name: string;
  label: string;
  backend: string;
  logits: Float32Array;
  /** median wall time of one run over the repeats, ms */
  ms: number;
  /** every timed run, ms */
  times: number[];
}

/** The reference model's two modes: a loop of `step` (RNN), and one `forward` (parallel, stable chunked WKV). */
export function referenceModes(model: RwkvModel): LogitsMode[] {
  const V = model.config.vocabSize;
  return [
    {
      name: "rnn",
      label: "RNN mode: step(token, state) × T",
      backend: "TypeScript reference",
      run(tokens) {
        const out = new Float32Array(tokens.length * V);
        let state = model.initialState();
        tokens.forEach((tok, t) => {
          const r = model.step(tok, state);
          out.set(r.logits, t * V);
          state = r.state;
        });
        return out;
      },
    },
    {
      name: "parallel",
      label: "Parallel mode: forward(all T tokens)",
      backend: "TypeScript reference",
      run: (tokens) => model.forward(tokens).logits,
    },
  ];
}

export interface RunModesOptions {
  /** timed runs per mode (default 3); the median is reported */
  repeat?: number;
  /** one untimed run first (JIT compilation, session creation; default true) */
  warmup?: boolean;
  now?: () => number;
  /** awaited between runs (a page passes a yield to the event loop so it stays responsive) */
  pause?: () => Promise<void>;
}

/**
 * The same two modes on a runtime that keeps its own state, e.g. the onnxruntime-web worker client
 * (src/runtime/client.ts: RwkvWorkerClient has exactly these methods): RNN mode = reset, then step(token) for each
 * token (the RNN step graph); parallel mode = reset, then forward(tokens) (the parallel graph, built with
 * parallelLogits "all" so it returns (T, V)). Structural type only: components never import the runtime.
 */
export interface StatefulRuntime {
  /** where it runs, e.g. "webgpu" or "wasm" */
  readonly ep: string;
  reset(): Promise<void>;
  step(token: number): Promise<{ logits: Float32Array }>;
  forward(tokens: ArrayLike<number>): Promise<{ logits: Float32Array }>;
}

export function runtimeModes(rt: StatefulRuntime, V: number): LogitsMode[] {
  return [
    {
      name: "rnn",
      label: "RNN mode: step graph × T",
      get backend() {
        return `onnxruntime-web (${rt.ep})`;
      },
      async run(tokens) {
        await rt.reset();
        const out = new Float32Array(tokens.length * V);
        for (let t = 0; t < tokens.length; t++) out.set((await rt.step(tokens[t])).logits, t * V);
        return out;
      },
    },
    {
      name: "parallel",
      label: "Parallel mode: parallel graph over all T tokens",
      get backend() {
        return `onnxruntime-web (${rt.ep})`;
      },
      async run(tokens) {
        await rt.reset();
        const { logits } = await rt.forward(tokens);
        if (logits.length !== tokens.length * V) {
          throw new RangeError(
            `the parallel graph returned ${logits.length / V} rows of logits for ${tokens.length} tokens (build it with parallelLogits "all")`,
          );
        }
        return logits;
      },
    },
  ];
}

/** Runs each mode `repeat` times (after one untimed warm-up run unless warmup is false) and keeps the median time. */
export async function runModes(
  modes: LogitsMode[],
  tokens: readonly number[],
  { repeat = 3, warmup = true, now = () => performance.now(), pause }: RunModesOptions = {},
): Promise<ModeRun[]> {
  if (!Number.isInteger(repeat) || repeat < 1)
    throw new RangeError(`runModes: repeat must be >= 1, got ${repeat}`);
  const runs: ModeRun[] = [];
  for (const mode of modes) {
    let logits: Float32Array | undefined;
    if (warmup) {
      logits = await mode.run(tokens); // warm-up (JIT, session creation)
      await pause?.();
    }
    const times: number[] = [];
    for (let r = 0; r < repeat; r++) {
      const t0 = now();
      logits = await mode.run(tokens);
      times.push(now() - t0);
      await pause?.();
    }
    const sorted = [...times].sort((a, b) => a - b);
    runs.push({
      name: mode.name,
      label: mode.label,
      backend: mode.backend,
      logits: logits!,
      ms: sorted[Math.floor(sorted.length / 2)],
      times,
    });
  }
  return runs;
}

/** max_v |a[t, v] - b[t, v]| for each position t. */
export function maxAbsDiffPerPosition(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  T: number,
  V: number,
): Float64Array {
  if (a.length !== T * V || b.length !== T * V) {
    throw new RangeError(
      `maxAbsDiffPerPosition: expected two (T, V) = (${T}, ${V}) arrays, got ${a.length} and ${b.length} values`,
    );
  }
  const out = new Float64Array(T);
  for (let t = 0; t < T; t++) {
    let m = 0;
    for (let v = 0; v < V; v++) {
      const d = Math.abs(a[t * V + v] - b[t * V + v]);
      if (d > m || Number.isNaN(d)) m = d;
    }
    out[t] = m;
  }
  return out;
}

/** Index of the largest logit per position (the greedy next token). */
export function argmaxPerPosition(a: ArrayLike<number>, T: number, V: number): Int32Array {
  const out = new Int32Array(T);
  for (let t = 0; t < T; t++) {
    let best = 0;
    for (let v = 1; v < V; v++) if (a[t * V + v] > a[t * V + best]) best = v;
    out[t] = best;
  }
  return out;
}

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
 * tolerance line; and the median time of each mode. Returns <figure data-figure="mode-diff">.
 */
export function modeDiffChart(
  runs: [ModeRun, ModeRun],
  tokens: string[],
  V: number,
  { width, tolerance = 1e-4, height = 220, name = "mode-diff" }: ModeDiffOptions,
): HTMLElement {
  const T = tokens.length;
  const diffs = maxAbsDiffPerPosition(runs[0].logits, runs[1].logits, T, V);
  const a0 = argmaxPerPosition(runs[0].logits, T, V);
  const a1 = argmaxPerPosition(runs[1].logits, T, V);
  let sameArgmax = 0;
  for (let t = 0; t < T; t++) if (a0[t] === a1[t]) sameArgmax++;
  const worst = diffs.reduce((m, d) => Math.max(m, d), 0);
  const floor = 1e-9;
  const margin = { top: 48, right: 16, bottom: 40, left: 72 };
  const timeH = 32 * runs.length + 50;
  const H = margin.top + height + margin.bottom + timeH;
  const figure = create("figure").attr("data-figure", name).attr("data-max-diff", worst);
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
      .text(
        `position ${t} “${tokenLabel(tokens[t])}”: max |Δ logit| = ${d === 0 ? "0 (identical)" : sci(d)}`,
      );
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
  const step = Math.max(1, Math.ceil(11 / x.bandwidth()));
  const lab = svg
    .append("g")
    .attr("font-family", "var(--monospace)")
    .attr("font-size", Math.max(9, Math.min(13, x.step())))
    .attr("fill", "currentColor");
  for (let t = 0; t < T; t += step) {
    lab
      .append("text")
      .attr("x", x(t)! + x.bandwidth() / 2)
      .attr("y", margin.top + height + 16)
      .attr("text-anchor", "middle")
      .text(tokenLabel(tokens[t]));
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
  return figure.node() as HTMLElement;
}
