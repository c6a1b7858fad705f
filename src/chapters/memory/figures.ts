/**
 * Chapter 9's results as the arrays its figures draw (src/components/causal-trace.ts and memory-lines.ts).
 * Pure: the components import these types and nothing else of the project.
 *
 * API:
 *   interface TracePanel, tracePanels(traces, labels) -> TracePanel[]     share of P[o] restored per cell
 *   sharedDomain(panels) -> [lo, hi]                                      one colour scale for both panels
 *   strongestReadout(trace, labels, k) -> string[]                        "layer 3 at 'h' (48): 87%"
 *   interface LineFacet / LineSeries / LinePoint
 *   copyFacets(results), contextFacets(results), orderFacets(results)   the probes as small multiples
 *   orderSummary(results) -> {RWKV: {near, far, effect}, GPT: ...}     what the prose quotes
 */
import { type CausalTraceResult, restoredShare, strongestCells } from "./causal-trace.js";
import type { ContextUseResult } from "./context-use.js";
import type { CopyProbeResult } from "./copy-probe.js";
import type { PromptOrderResult } from "./prompt-order.js";

/** The figures' colours per model: the site's CSS variables (src/components/style.css). */
export const MODEL_COLORS: Record<string, string> = {
  rwkv: "var(--color-rwkv)",
  RWKV: "var(--color-rwkv)",
  gpt: "var(--color-softmax)",
  GPT: "var(--color-softmax)",
};

export interface TracePanel {
  title: string;
  color: string;
  /** (L, T) row-major: block l at prompt position t; NaN where not computed yet */
  values: Float64Array;
  L: number;
  T: number;
  labels: string[];
  subject: [number, number];
  /** one line under the title: P and P* */
  note: string;
}

const MODEL_NAMES: Record<string, string> = { rwkv: "RWKV", gpt: "GPT" };

/** The share of the clean probability each restored cell brings back, P*,clean h(l,t)[o] / P[o]. */
export function tracePanels(traces: readonly CausalTraceResult[], labels: string[]): TracePanel[] {
  return traces.map((r) => ({
    title: `${MODEL_NAMES[r.model]}: restore block l's output at token t`,
    color: MODEL_COLORS[r.model],
    values: restoredShare(r),
    L: r.nLayer,
    T: r.T,
    labels,
    subject: [...r.subject],
    note:
      `P[o] = ${r.pClean.toPrecision(3)} clean, P*[o] = ${r.pCorrupt.toPrecision(3)} corrupted ` +
      `(${r.samples} noise sample${r.samples === 1 ? "" : "s"}, ν = ${r.noiseScale.toPrecision(3)})`,
  }));
}

/** [0, max(1, largest finite share)]: both panels on one scale, 1 = all of the clean probability. */
export function sharedDomain(panels: readonly TracePanel[]): [number, number] {
  let hi = 1;
  for (const p of panels) for (const v of p.values) if (Number.isFinite(v) && v > hi) hi = v;
  return [0, hi];
}

/** The k strongest cells of a trace, as readable lines. */
export function strongestReadout(r: CausalTraceResult, labels: string[], k = 3): string[] {
  return strongestCells(r, k).map(
    (c) =>
      `block ${c.layer} at ${JSON.stringify(labels[c.t])} (token ${c.t}): ${(100 * c.share).toFixed(0)}%`,
  );
}

export interface LinePoint {
  x: number;
  y: number;
  /** standard error: drawn as a whisker of ±err */
  err?: number;
}

export interface LineSeries {
  name: string;
  color: string;
  dashed?: boolean;
  points: LinePoint[];
}

export interface LineFacet {
  title: string;
  series: LineSeries[];
  /** vertical marks: e.g. where the GPT's learned positions end */
  marks?: { x: number; label: string }[];
  /** horizontal reference lines, e.g. ln |alphabet| */
  rules?: { y: number; label: string }[];
}

const modelColor = (name: string) => MODEL_COLORS[name] ?? "currentColor";

/** Copy probe: one facet per string length n; loss on the second copy (solid) and the first (dashed) vs d. */
export function copyFacets(results: readonly CopyProbeResult[]): LineFacet[] {
  const lengths = [...new Set(results.flatMap((r) => r.cells.map((c) => c.n)))];
  return lengths.map((n) => ({
    title: `n = ${n} characters`,
    series: results.flatMap((r) => {
      const cells = r.cells.filter((c) => c.n === n && c.second !== null);
      const pts = (pick: "first" | "second") =>
        cells.map((c) => ({ x: c.d, y: c[pick]!.mean, err: c[pick]!.stderr }));
      return [
        { name: `${r.model}, second copy`, color: modelColor(r.model), points: pts("second") },
        { name: `${r.model}, first copy`, color: modelColor(r.model), dashed: true, points: pts("first") },
      ];
    }),
    rules: results.length > 0 ? [{ y: results[0].uniformLoss, label: "a uniform guess" }] : [],
  }));
}

/** Context use: one facet, the loss with exactly d characters of context, per model. */
export function contextFacets(results: readonly ContextUseResult[], gptPositions: number): LineFacet[] {
  return [
    {
      title: "held-out text: loss per character seeing only the last d characters",
      series: results.map((r) => ({
        name: r.model,
        color: modelColor(r.model),
        points: r.points
          .filter((p) => p.loss !== null)
          .map((p) => ({ x: p.d, y: p.loss!.mean, err: p.loss!.stderr })),
      })),
      marks: [{ x: gptPositions, label: `the GPT's learned positions end (${gptPositions})` }],
    },
  ];
}

/** Prompt order: one facet per model; the name far from the question, near it, or absent, vs speech length. */
export function orderFacets(results: readonly PromptOrderResult[]): LineFacet[] {
  return results.map((r) => {
    const pts = (pick: "far" | "near" | "absent") =>
      r.points
        .filter((p) => p[pick] !== null)
        .map((p) => ({ x: p.speechLength, y: p[pick]!.mean, err: p[pick]!.stderr }));
    return {
      title: r.model,
      series: [
        { name: "name just before the question", color: modelColor(r.model), points: pts("near") },
        { name: "name before the speech", color: modelColor(r.model), dashed: true, points: pts("far") },
        { name: "name absent", color: "var(--theme-foreground-muted)", dashed: true, points: pts("absent") },
      ],
    };
  });
}

export interface OrderSummary {
  /** mean over speech lengths of absent - near: what the name next to the question is worth (nats/char) */
  near: number;
  /** mean of absent - far: what the name before the speech is worth */
  far: number;
  /** mean of far - near: what the order costs */
  effect: number;
}

/** The prompt-order numbers the prose quotes, per model label; lengths a model could not read are left out. */
export function orderSummary(results: readonly PromptOrderResult[]): Record<string, OrderSummary> {
  const out: Record<string, OrderSummary> = {};
  for (const r of results) {
    const pts = r.points.filter((p) => p.near && p.far && p.absent);
    const mean = (f: (p: (typeof pts)[number]) => number) => pts.reduce((a, p) => a + f(p), 0) / pts.length;
    out[r.model] = {
      near: mean((p) => p.absent!.mean - p.near!.mean),
      far: mean((p) => p.absent!.mean - p.far!.mean),
      effect: mean((p) => p.far!.mean - p.near!.mean),
    };
  }
  return out;
}
