/**
 * Chapter 8, RNN mode and parallel mode (arXiv 2305.13048 v4: the "time-parallel mode" of training and the
 * "time-sequential mode" of inference; the WKV of Eq. 16 and its recurrent form, numerically stable as in its
 * Appendix D): the same prompt through both modes must give the same logits at every position, up to float32
 * rounding.
 *  - RNN ("time-sequential") mode: one token at a time, carrying the state (attX, a, b, p, ffnX) per layer;
 *  - parallel ("time-parallel", GPT-like) mode: all T tokens at once, matrices (T, C) x (C, C).
 * A mode is anything that maps tokens to (T, V) logits (a LogitsMode), so the reference TypeScript model here and
 * the two ONNX graphs in onnxruntime-web's worker (src/live/modes.ts) are compared the same way. Pure apart from
 * the clock runModes reads.
 *
 * API:
 *   TEX.recurrence                                  the RNN form of the WKV (chapter 5's a, b)
 *   referenceModes(model) -> LogitsMode[]           the reference model's two modes: step x T, one forward
 *   runModes(modes, tokens, {repeat, warmup, now, pause}) -> ModeRun[]   logits and the median time of each
 *   maxAbsDiffPerPosition(a, b, T, V) / argmaxPerPosition(a, T, V)
 *   encodeModes / decodeModes                       the build-time comparison's JSON (rwkv-modes/1)
 *   modeDiffData(result) -> ModeDiffData            what the mode-diff figure draws
 *   referenceChecks(result) / onnxChecks(graphs, reference) -> CheckLine[]   the sentences under the figures
 *   rnnOverParallel(result)                         RNN mode's time over parallel mode's, for the prose
 */
import { TEX as OVERVIEW_TEX } from "./overview.js";
import type { RwkvModel } from "../rwkv/model.js";
import { TraceError, base64ToBytes, bytesToBase64, tokenLabel } from "../trace/trace.js";

export const TEX = {
  /** the WKV in RNN form (Appendix D, Eq. 20-22): one step from the state (a, b) of the previous token */
  recurrence: OVERVIEW_TEX.recurrent,
} as const;

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

/** max_v |a[t, v] - b[t, v]| for each position t (NaN when either side has a NaN there). */
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

// ---------------------------------------------------------------------------------------------------------
// The comparison of one prompt, as the build-time loader writes it and the pages show it
// ---------------------------------------------------------------------------------------------------------

/** Both modes' runs for one prompt. */
export interface ModesData {
  text: string;
  labels: string[];
  V: number;
  runs: [ModeRun, ModeRun];
  /** "precomputed at build time (Node)" or where the live run happened */
  where: string;
  synthetic: boolean;
}

/** A comparison as a page shows it: `stale` while it is the previous prompt's and a newer run is under way. */
export interface ModesResult extends ModesData {
  source: "precomputed" | "live";
  /** what ran it: the reference model, or the ONNX graphs on "webgpu" | "wasm" */
  backend: "reference (JS)" | "webgpu" | "wasm";
  /** why the graphs do not run on WebGPU, when they do not */
  fallbackReason?: string;
  stale?: boolean;
}

function f32ToBase64(a: Float32Array): string {
  return bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function base64ToF32(text: string, expected: number, what: string): Float32Array {
  const bytes = base64ToBytes(text);
  const out = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  if (out.length !== expected) throw new TraceError(`${what}: ${out.length} values, expected ${expected}`);
  return out;
}

export function encodeModes(m: ModesData): unknown {
  return {
    format: "rwkv-modes/1",
    ...m,
    runs: m.runs.map((r) => ({ ...r, logits: f32ToBase64(r.logits) })),
  };
}

export function decodeModes(json: unknown): ModesData {
  const e = json as Omit<ModesData, "runs"> & {
    format: string;
    runs: (Omit<ModeRun, "logits"> & { logits: string })[];
  };
  if (!e || e.format !== "rwkv-modes/1" || e.runs?.length !== 2)
    throw new TraceError("not a modes file (format rwkv-modes/1)");
  const n = e.labels.length * e.V;
  const runs = e.runs.map((r) => ({ ...r, logits: base64ToF32(r.logits, n, `${r.name} logits`) })) as [
    ModeRun,
    ModeRun,
  ];
  return { text: e.text, labels: e.labels, V: e.V, runs, where: e.where, synthetic: e.synthetic };
}

/** The times the figure draws, per mode. */
export type ModeTiming = Pick<ModeRun, "name" | "label" | "ms" | "times">;

/** What the mode-diff figure draws (src/components/mode-diff.ts). */
export interface ModeDiffData {
  T: number;
  /** the prompt's characters, with visible stand-ins for whitespace */
  labels: string[];
  /** max |Δ logit| per position */
  diffs: Float64Array;
  /** the largest of `diffs` */
  worst: number;
  /** positions where both modes' most likely next token is the same */
  sameArgmax: number;
  runs: [ModeTiming, ModeTiming];
  /** the result is the previous prompt's (a newer run is under way) */
  stale: boolean;
  /** the execution provider that ran the ONNX graphs ("webgpu" | "wasm"); absent for the reference model */
  ep?: string;
}

export function modeDiffData(
  m: Pick<ModesResult, "labels" | "V" | "runs" | "stale" | "backend">,
): ModeDiffData {
  const T = m.labels.length;
  const [a, b] = m.runs;
  const diffs = maxAbsDiffPerPosition(a.logits, b.logits, T, m.V);
  const a0 = argmaxPerPosition(a.logits, T, m.V);
  const a1 = argmaxPerPosition(b.logits, T, m.V);
  let sameArgmax = 0;
  for (let t = 0; t < T; t++) if (a0[t] === a1[t]) sameArgmax++;
  const timing = ({ name, label, ms, times }: ModeRun): ModeTiming => ({ name, label, ms, times });
  return {
    T,
    labels: m.labels.map(tokenLabel),
    diffs,
    worst: diffs.reduce((w, d) => Math.max(w, d), 0),
    sameArgmax,
    runs: [timing(a), timing(b)],
    stale: !!m.stale,
    ...(m.backend !== "reference (JS)" ? { ep: m.backend } : {}),
  };
}

/** One sentence of a list of checks: plain and bold segments. */
export type CheckLine = { text: string; bold?: boolean }[];

const STALE_LINE: CheckLine = [
  { text: "Updating: " },
  { text: "these numbers are the previous prompt's", bold: true },
  { text: "; the new prompt is running." },
];

/** The sentences under the reference model's figure: the largest difference, and both times. */
export function referenceChecks(m: ModesResult): CheckLine[] {
  const [rnn, par] = m.runs;
  const T = m.labels.length;
  const d = maxAbsDiffPerPosition(rnn.logits, par.logits, T, m.V);
  let worst = 0;
  let at = 0;
  d.forEach((x, t) => {
    if (x > worst) {
      worst = x;
      at = t;
    }
  });
  let scale = 0;
  for (const x of par.logits) scale = Math.max(scale, Math.abs(x));
  const n = rnn.times.length;
  return [
    ...(m.stale ? [STALE_LINE] : []),
    [
      { text: `Largest difference over all ${T} positions and ${m.V} logits: ` },
      { text: worst === 0 ? "0 (bit-identical)" : worst.toExponential(2), bold: true },
      {
        text:
          `${worst > 0 ? ` at position ${at}` : ""}, for logits as large as ${scale.toFixed(1)}: ` +
          (worst <= 1e-4
            ? "the two modes agree to within float32 rounding."
            : "MORE than the 1e-4 tolerance: something is wrong."),
      },
    ],
    [
      {
        text:
          `${rnn.label}: ${rnn.ms.toFixed(1)} ms; ${par.label}: ${par.ms.toFixed(1)} ms (${m.where}; the ` +
          `${rnn.backend}, single-threaded JavaScript; median of ${n} run${n === 1 ? "" : "s"}).`,
      },
    ],
  ];
}

/**
 * The sentences under the ONNX graphs' figure: where they ran (and why not WebGPU), step graph against parallel
 * graph, and the parallel graph against the reference model's parallel mode when both ran this prompt.
 */
export function onnxChecks(g: ModesResult, reference: ModesResult | null): CheckLine[] {
  const T = g.labels.length;
  const worst = Math.max(...maxAbsDiffPerPosition(g.runs[0].logits, g.runs[1].logits, T, g.V));
  const lines: CheckLine[] = [
    ...(g.stale ? [STALE_LINE] : []),
    [
      { text: "Ran on " },
      { text: g.backend === "webgpu" ? "WebGPU" : "WebAssembly", bold: true },
      { text: `${g.fallbackReason ? ` (not WebGPU: ${g.fallbackReason})` : ""}.` },
    ],
    [
      { text: `Step graph against parallel graph, largest difference over ${T} positions: ` },
      { text: worst.toExponential(2), bold: true },
      { text: "." },
    ],
  ];
  if (reference?.runs && reference.text === g.text) {
    const vs = maxAbsDiffPerPosition(g.runs[1].logits, reference.runs[1].logits, T, g.V);
    lines.push([
      { text: "Parallel graph against the TypeScript reference's parallel mode: " },
      { text: Math.max(...vs).toExponential(2), bold: true },
      { text: "." },
    ]);
  }
  return lines;
}

/** RNN mode's median time over parallel mode's ("–" when there is no comparison). */
export function rnnOverParallel(m: ModesData | null): string {
  return m ? (m.runs[0].ms / m.runs[1].ms).toFixed(2) : "–";
}
