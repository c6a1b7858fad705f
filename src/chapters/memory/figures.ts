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
 *   blockList(blocks), traceFacts(trace, labels), copyFacts(results), contextFacts(results),
 *   rwkvLongestLoss(results), orderComparison(results)                  the other numbers the prose quotes
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
  /** "rwkv" | "gpt" */
  model: string;
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
    model: r.model,
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

// ---------------------------------------------------------------------------------------------------------
// The numbers the prose quotes, computed from the data (test/tooling/prose-numbers.test.ts: none typed)
// ---------------------------------------------------------------------------------------------------------

/** "block 3", "block 1 or 2", "blocks 3 to 5", "blocks 0, 2 and 5". */
export function blockList(blocks: readonly number[]): string {
  const b = [...blocks].sort((x, y) => x - y);
  if (b.length === 0) return "no block";
  if (b.length === 1) return `block ${b[0]}`;
  if (b.length === 2) return `block ${b[0]} or ${b[1]}`;
  const consecutive = b.every((x, i) => i === 0 || x === b[i - 1] + 1);
  return consecutive
    ? `blocks ${b[0]} to ${b[b.length - 1]}`
    : `blocks ${b.slice(0, -1).join(", ")} and ${b.at(-1)}`;
}

export interface TraceFacts {
  nLayer: number;
  /** characters from the subject's end to the target */
  subjectGap: number;
  /** the subject's strongest position, the blocks there within 3/4 of its best, their mean recovered share */
  subject: { t: number; label: string; blocks: number[]; recovered: number };
  /** the last token: the blocks within half of its best, their mean recovered share */
  last: { blocks: number[]; recovered: number };
  /** the largest recovered share at the tokens between the subject and the last token */
  between: number;
}

/**
 * Where a trace brings the answer back, as shares of what the noise took away,
 * (P*,clean h(l,t) - P*) / (P - P*): at the subject, at the last token, in between.
 */
export function traceFacts(r: CausalTraceResult, labels: readonly string[]): TraceFacts {
  const lost = r.pClean - r.pCorrupt;
  const rec = (l: number, t: number) => (r.pRestored[l * r.T + t] - r.pCorrupt) / lost;
  const layers = Array.from({ length: r.nLayer }, (_, l) => l);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  let best = { l: 0, t: r.subject[0], v: -Infinity };
  for (let t = r.subject[0]; t < r.subject[1]; t++)
    for (const l of layers) if (rec(l, t) > best.v) best = { l, t, v: rec(l, t) };
  const near = layers.filter((l) => rec(l, best.t) >= 0.75 * best.v);
  const lastT = r.T - 1;
  const lastBest = Math.max(...layers.map((l) => rec(l, lastT)));
  const lastBlocks = layers.filter((l) => rec(l, lastT) >= 0.5 * lastBest);
  let between = -Infinity;
  for (let t = r.subject[1]; t < lastT; t++) for (const l of layers) between = Math.max(between, rec(l, t));
  return {
    nLayer: r.nLayer,
    subjectGap: r.T - r.subject[1],
    subject: {
      t: best.t,
      label: labels[best.t],
      blocks: near,
      recovered: mean(near.map((l) => rec(l, best.t))),
    },
    last: { blocks: lastBlocks, recovered: mean(lastBlocks.map((l) => rec(l, lastT))) },
    between,
  };
}

/** The copy probe in numbers: the largest drop from the first copy to the second, over models and cells. */
export function copyFacts(results: readonly CopyProbeResult[]): {
  maxGain: number;
  at: string;
  firstMin: number;
  uniform: number;
  trials: number;
} {
  let maxGain = -Infinity;
  let at = "";
  let firstMin = Infinity;
  for (const r of results) {
    for (const c of r.cells) {
      if (!c.gain || !c.first) continue;
      firstMin = Math.min(firstMin, c.first.mean);
      if (c.gain.mean > maxGain) {
        maxGain = c.gain.mean;
        at = `${r.model}, n = ${c.n}, d = ${c.d}`;
      }
    }
  }
  return { maxGain, at, firstMin, uniform: results[0]?.uniformLoss ?? NaN, trials: results[0]?.trials ?? 0 };
}

/** Context use in numbers: the longest context read, the two models' largest gap where both read. */
export function contextFacts(results: readonly ContextUseResult[]): {
  longest: number;
  rwkvLongest: number;
  /** RWKV's loss on the bin just below the GPT's last position, and on its longest bin */
  rwkvShort: number;
  maxGap: number;
  windows: number;
  longWindows: number;
} {
  const rwkv = results.find((r) => r.model === "RWKV");
  const gpt = results.find((r) => r.model === "GPT");
  if (!rwkv || !gpt) throw new Error("context use: both models needed");
  const both = rwkv.points.filter((p, i) => p.loss && gpt.points[i]?.loss);
  const lastBoth = both[both.length - 1];
  const measured = rwkv.points.filter((p) => p.loss);
  const last = measured[measured.length - 1];
  const gap = both.map((p) => {
    const g = gpt.points.find((q) => q.d === p.d)!;
    return Math.abs(p.loss!.mean - g.loss!.mean);
  });
  return {
    longest: lastBoth.dEnd - 1,
    rwkvLongest: last.dEnd - 1,
    rwkvShort: lastBoth.loss!.mean,
    maxGap: Math.max(...gap),
    windows: rwkv.windows,
    longWindows: rwkv.long?.windows ?? rwkv.windows,
  };
}

/** RWKV's loss on its longest bin (the prose puts it beside `rwkvShort`). */
export function rwkvLongestLoss(results: readonly ContextUseResult[]): number {
  const pts = results.find((r) => r.model === "RWKV")?.points.filter((p) => p.loss) ?? [];
  return pts.length ? pts[pts.length - 1].loss!.mean : NaN;
}

/** How the two order effects compare: the difference and its standard error (independent trials per model). */
export function orderComparison(results: readonly PromptOrderResult[]): {
  diff: number;
  stderr: number;
  within: boolean;
  trials: number;
} {
  const se = (r: PromptOrderResult) => {
    const pts = r.points.filter((p) => p.orderEffect);
    return Math.sqrt(pts.reduce((a, p) => a + p.orderEffect!.stderr ** 2, 0)) / Math.max(1, pts.length);
  };
  const s = orderSummary(results);
  const rw = results.find((r) => r.model === "RWKV")!;
  const gp = results.find((r) => r.model === "GPT")!;
  const diff = s.RWKV.effect - s.GPT.effect;
  const stderr = Math.hypot(se(rw), se(gp));
  return { diff, stderr, within: Math.abs(diff) <= 2 * stderr, trials: rw.trials };
}
