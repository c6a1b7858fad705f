/**
 * Chapter 9 ("What the state remembers"): its defaults, the reader's request, the build-time data's JSON form,
 * and the live causal traces of both models. DOM-free: the data loader (Node) and the page use the same code.
 *
 * API:
 *   MEMORY_DEFAULTS                      the default prompt, subject and target; noise samples; probe sizes
 *   traceRequest(prompt, subject, target, vocabulary, maxTokens) -> TraceRequest   what the models read
 *   bothTraces(models, request, opts) -> Promise<CausalTraceResult[]>   RWKV then GPT, one progress bar
 *   observeTraces(models, request, samples, notify) -> dispose   for Framework's Generators.observe: notify
 *                                         gets a LiveTrace (progress, traces so far, done, error); dispose aborts
 *   observeLive(load, request, samples, notify) -> dispose   the same, loading the models first (the page's cell)
 *   traceStatus(live, data) -> {text, kind}   the badge line: precomputed or live, the engine, the progress
 *   interface MemoryData; encodeMemoryData(d) -> JSON-safe; decodeMemoryData(json) -> MemoryData
 */
import type { RwkvModel } from "../../rwkv/model.js";
import type { Backend } from "../../trace/trace.js";
import { CHAPTER_PROMPTS } from "../defaults.js";
import type { GptModel } from "../../transformer/gpt.js";
import {
  type CausalTraceOptions,
  type CausalTraceResult,
  type TraceRunner,
  causalTrace,
} from "./causal-trace.js";
import type { ContextUseResult } from "./context-use.js";
import type { CopyProbeResult } from "./copy-probe.js";
import type { PromptOrderResult } from "./prompt-order.js";
import type { Progress } from "./run.js";

export const MEMORY_DEFAULTS = {
  /** "hast thou offend" asks for "ed": the subject "hast" decides it, a few characters before the target */
  prompt: CHAPTER_PROMPTS.memory.prompt,
  subject: "hast",
  target: "ed",
  /** the longest prompt a live trace takes (the GPT reads at most 256 positions, prompt and target together) */
  maxTokens: CHAPTER_PROMPTS.memory.maxTokens,
  /**
   * noise draws averaged: Meng et al. average 10; the build does 3 (the build's time budget: every draw reruns
   * every cell), a live trace on the page 1 unless asked for more
   */
  precomputedSamples: 3,
  liveSamples: 1,
  seed: 1,
  /** the probes the build precomputes (both models, the same seeds), sized to keep the loader near 20 s */
  copy: { lengths: [4, 16, 32], distances: [0, 16, 64, 192, 512], trials: 3 },
  context: {
    edges: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
    windows: 10,
    long: { from: 256, windows: 3 },
  },
  order: { speechLengths: [16, 64, 192], trials: 8 },
} as const;

/** The paper's Appendix L: F1 of RWKV-4-Raven-14B on RTE before and after re-ordering the prompt (%). */
export const PAPER_RTE = { before: 44.2, after: 74.8 } as const;

/**
 * The 35 speakers of Tiny Shakespeare with the most speech headers ("NAME:" lines; one-word names of five letters
 * or more) but NORTHUMBERLAND, left out for length: the prompt-order probe draws its names from them, so the model
 * knows every candidate and the prompt only has to say which one.
 */
export const SPEAKERS = [
  "GLOUCESTER",
  "ROMEO",
  "MENENIUS",
  "PETRUCHIO",
  "CORIOLANUS",
  "ISABELLA",
  "LEONTES",
  "JULIET",
  "SICINIUS",
  "LUCIO",
  "WARWICK",
  "BRUTUS",
  "TRANIO",
  "BUCKINGHAM",
  "ANGELO",
  "KATHARINA",
  "ESCALUS",
  "CAMILLO",
  "HORTENSIO",
  "BAPTISTA",
  "COMINIUS",
  "AUTOLYCUS",
  "CLARENCE",
  "BENVOLIO",
  "PROSPERO",
  "GRUMIO",
  "MERCUTIO",
  "LUCENTIO",
  "PAULINA",
  "POMPEY",
  "GREMIO",
  "VOLUMNIA",
  "POLIXENES",
  "HASTINGS",
  "CAPULET",
] as const;

export interface TraceRequest {
  /** the prompt as the models read it */
  text: string;
  tokens: number[];
  /** one display label per token ("↵" for a newline, "␣" for a space) */
  labels: string[];
  /** positions [start, end) of the subject in the prompt */
  subject: [number, number];
  target: number[];
  targetText: string;
  /** why the request cannot run (empty when it can) */
  problems: string[];
}

export function tokenLabel(ch: string): string {
  return ch === "\n" ? "↵" : ch === " " ? "␣" : ch;
}

/**
 * The reader's prompt, subject and target as token ids. The subject is the last occurrence of the subject text
 * in the prompt; characters outside the vocabulary are reported, not replaced.
 */
export function traceRequest(
  prompt: string,
  subject: string,
  target: string,
  vocabulary: string,
  maxTokens: number = MEMORY_DEFAULTS.maxTokens,
): TraceRequest {
  const problems: string[] = [];
  const unknown = new Set([...prompt, ...target, ...subject].filter((c) => !vocabulary.includes(c)));
  if (unknown.size > 0) {
    problems.push(`not in the model's vocabulary: ${[...unknown].map((c) => JSON.stringify(c)).join(" ")}`);
  }
  const chars = [...prompt];
  if (chars.length > maxTokens)
    problems.push(`the prompt has ${chars.length} characters; at most ${maxTokens}`);
  if (chars.length === 0) problems.push("the prompt is empty");
  if ([...target].length === 0) problems.push("the target continuation is empty");
  const at = subject.length > 0 ? prompt.lastIndexOf(subject) : -1;
  if (subject.length === 0) problems.push("the subject is empty");
  else if (at < 0) problems.push(`the subject ${JSON.stringify(subject)} is not in the prompt`);
  const start = at < 0 ? 0 : [...prompt.slice(0, at)].length;
  const ids = (s: string) => [...s].map((c) => vocabulary.indexOf(c));
  return {
    text: prompt,
    tokens: ids(prompt),
    labels: chars.map(tokenLabel),
    subject: [start, start + [...subject].length],
    target: ids(target),
    targetText: target,
    problems,
  };
}

export interface TracedPair {
  rwkv: RwkvModel;
  gpt: GptModel;
  /**
   * where the runs go (src/runtime/client.ts TraceWorkerClient: each model's trace-step graph in a worker of its
   * own, both traces at once); without them both traces run one after the other on the reference models here
   */
  runners?: { rwkv: TraceRunner; gpt: TraceRunner };
  /** the badge's words for what runs the traces, e.g. "onnxruntime-web (wasm) in two workers" */
  backend?: string;
  /** the badge's engine (src/trace/trace.ts Backend): the workers' EP, or "reference (JS)" without runners */
  engine?: Backend;
}

export interface BothTracesOptions {
  samples?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** the traces so far: the finished ones and the one running (NaN where not reached) */
  onPartial?: (traces: CausalTraceResult[]) => void;
}

/** The causal traces of both models for one request, RWKV first; one progress count over both. */
export async function bothTraces(
  models: TracedPair,
  req: TraceRequest,
  opts: BothTracesOptions = {},
): Promise<CausalTraceResult[]> {
  if (req.problems.length > 0) throw new Error(req.problems.join("; "));
  const cells = (m: RwkvModel | GptModel) => m.config.nLayer * req.tokens.length * (opts.samples ?? 1);
  const first = cells(models.rwkv);
  const total = first + cells(models.gpt);
  const traced = [
    { kind: "rwkv" as const, model: models.rwkv },
    { kind: "gpt" as const, model: models.gpt },
  ];
  const traceOpts = (
    onProgress: (p: Progress) => void,
    onPartial: (r: CausalTraceResult) => void,
  ): CausalTraceOptions => ({
    tokens: req.tokens,
    subject: req.subject,
    target: req.target,
    samples: opts.samples ?? 1,
    seed: opts.seed ?? MEMORY_DEFAULTS.seed,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress,
    onPartial,
  });
  if (models.runners) {
    // both at once, each in its own worker: progress is the sum, partial traces as far as each has come
    const runners = models.runners;
    const doneBy = [0, 0];
    const latest: (CausalTraceResult | undefined)[] = [undefined, undefined];
    const report = () => {
      if (latest[0]) opts.onPartial?.(latest[1] ? [latest[0], latest[1]] : [latest[0]]);
    };
    return Promise.all(
      traced.map((t, i) =>
        causalTrace(
          t,
          traceOpts(
            (p) => {
              doneBy[i] = p.done;
              opts.onProgress?.({ ...p, done: doneBy[0] + doneBy[1], total });
            },
            (r) => {
              latest[i] = r;
              report();
            },
          ),
          runners[t.kind],
        ),
      ),
    );
  }
  const done: CausalTraceResult[] = [];
  for (const t of traced) {
    const offset = done.length === 0 ? 0 : first;
    done.push(
      await causalTrace(
        t,
        traceOpts(
          (p) => opts.onProgress?.({ ...p, done: p.done + offset, total }),
          (r) => opts.onPartial?.([...done, r]),
        ),
      ),
    );
  }
  return done;
}

/** What a live run has so far: the page draws `traces` (partial, then final) and says where it is. */
export interface LiveTrace {
  req: TraceRequest;
  samples: number;
  progress: Progress | null;
  /** the traces so far (NaN cells not reached yet), final when `done` */
  traces: CausalTraceResult[] | null;
  done: boolean;
  error: unknown;
  /** seconds since the start */
  seconds: number;
  /** what runs the traces (TracedPair.backend), and the badge's engine (TracedPair.engine) */
  backend: string;
  engine: Backend;
}

const clock = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

/**
 * Start both traces and report through `notify` (at most every `everyMs`, and always at the end); returns the
 * disposer Framework's Generators.observe calls when the cell is invalidated (the reader stops it or runs another
 * trace): it aborts the run. `disposer.finished` settles when the run has ended, either way.
 */
export function observeTraces(
  models: TracedPair,
  req: TraceRequest,
  samples: number,
  notify: (s: LiveTrace) => void,
  everyMs = 200,
): (() => void) & { finished: Promise<void> } {
  const ac = new AbortController();
  const t0 = clock();
  let last = -Infinity;
  const state: LiveTrace = {
    req,
    samples,
    progress: null,
    traces: null,
    done: false,
    error: null,
    seconds: 0,
    backend: models.backend ?? REFERENCE_BACKEND,
    engine: models.engine ?? "reference (JS)",
  };
  const send = (force: boolean) => {
    const now = clock();
    if (!force && now - last < everyMs) return;
    last = now;
    notify({ ...state, seconds: (now - t0) / 1000 });
  };
  send(true);
  const finished = bothTraces(models, req, {
    samples,
    signal: ac.signal,
    onProgress: (progress) => {
      state.progress = progress;
      send(false);
    },
    onPartial: (traces) => {
      state.traces = traces;
      send(false);
    },
  }).then(
    (traces) => {
      Object.assign(state, { traces, done: true });
      send(true);
    },
    (error: unknown) => {
      if (ac.signal.aborted) return;
      Object.assign(state, { error, done: true });
      send(true);
    },
  );
  return Object.assign(() => ac.abort(), { finished });
}

/**
 * observeTraces once the models are loaded (`load` is called at most once per run): the page's live cell,
 * `Generators.observe((notify) => observeLive(loadModels, req, samples, notify))`. Disposing before the models
 * arrive means the run never starts; errors while loading are reported like errors of the run.
 */
export function observeLive(
  load: () => Promise<TracedPair>,
  req: TraceRequest,
  samples: number,
  notify: (s: LiveTrace) => void,
): () => void {
  let disposed = false;
  let stop: (() => void) | null = null;
  load().then(
    (models) => {
      if (!disposed) stop = observeTraces(models, req, samples, notify);
    },
    (error: unknown) => {
      if (!disposed) {
        notify({
          req,
          samples,
          progress: null,
          traces: null,
          done: true,
          error,
          seconds: 0,
          backend: "none",
          engine: "reference (JS)",
        });
      }
    },
  );
  return () => {
    disposed = true;
    stop?.();
  };
}

/** The badge's words when the traces run on the reference models in the page. */
export const REFERENCE_BACKEND = "reference (JS) in this page";

/** One line for the badge: what the heatmaps show and which engine computed it. */
export function traceStatus(
  live: LiveTrace | null,
  data: MemoryData,
): { text: string; kind: "info" | "warn" | "error" } {
  const model = data.synthetic ? "synthetic weights (untrained)" : "tiny-rwkv and tiny-gpt (trained)";
  if (!live) {
    const n = data.traces[0]?.samples ?? 0;
    return {
      text: `precomputed at build time for the default prompt · backend: reference (JS) in Node · ${n} noise samples · ${model}`,
      kind: "info",
    };
  }
  if (live.error) {
    return {
      text: `the live trace failed: ${live.error instanceof Error ? live.error.message : String(live.error)}`,
      kind: "error",
    };
  }
  const p = live.progress;
  const pct = p && p.total > 0 ? Math.floor((100 * p.done) / p.total) : 0;
  const where = live.done
    ? `done in ${live.seconds.toFixed(1)} s`
    : `running: ${pct}% (${p?.phase ?? "starting"}), ${live.seconds.toFixed(1)} s`;
  return {
    text: `live · backend: ${live.backend} · ${live.samples} noise sample${live.samples === 1 ? "" : "s"} · ${where} · ${model}`,
    kind: "info",
  };
}

// ---------------------------------------------------------------------------------------------------------
// The build-time data (src/data/traces/memory.json.ts) and its JSON form
// ---------------------------------------------------------------------------------------------------------

export interface MemoryProbes {
  copy: CopyProbeResult[];
  context: ContextUseResult[];
  order: PromptOrderResult[];
}

export interface MemoryData {
  /** true when either model is the synthetic stand-in */
  synthetic: boolean;
  request: { prompt: string; subject: string; target: string };
  /** RWKV then GPT, for the default request */
  traces: CausalTraceResult[];
  /** null when the build had no corpus to cut held-out text from; `probesMissing` says why */
  probes: MemoryProbes | null;
  probesMissing?: string;
  /** the RWKV state's size, 5 L C */
  stateSize: number;
  /** the GPT's learned positions */
  gptPositions: number;
  /** the models' cards, what the prose quotes of them (absent for a synthetic model) */
  training?: {
    rwkv: TrainingFacts;
    gpt: TrainingFacts;
    /** the validation split's share of the corpus (0.1), from the card's split */
    validationShare: number;
  };
  /** what ran and how long it took (s) */
  computedWith: string;
  seconds: Record<string, number>;
}

/** What a model card says about its training. */
export interface TrainingFacts {
  steps: number;
  /** the step whose weights were kept (early stopping on the validation estimate) */
  keptStep: number;
  /** the training windows' length */
  ctxLen: number;
}

/** TrainingFacts from a card's raw JSON (`training`, `split`); null when it lacks them (the synthetic model). */
export function trainingFacts(raw: unknown): (TrainingFacts & { validationShare: number }) | null {
  const r = raw as {
    training?: { steps?: number; kept_best?: { step?: number }; ctx_len?: number };
    split?: { train_chars?: number[]; validation_chars?: number[] };
  } | null;
  const t = r?.training;
  const v = r?.split?.validation_chars;
  const all = r?.split?.train_chars;
  if (!t || typeof t.steps !== "number" || typeof t.ctx_len !== "number" || !v || !all) return null;
  const total = v[1] - all[0];
  return {
    steps: t.steps,
    keptStep: t.kept_best?.step ?? t.steps,
    ctxLen: t.ctx_len,
    validationShare: Math.round((100 * (v[1] - v[0])) / total) / 100,
  };
}

/** JSON cannot hold Infinity (RWKV's maxLength) or typed arrays: turn them into null and plain arrays. */
export function encodeMemoryData(d: MemoryData): unknown {
  return JSON.parse(
    JSON.stringify(d, (_k, v: unknown) => {
      if (v === Infinity) return "Infinity";
      if (v instanceof Float64Array || v instanceof Float32Array) return Array.from(v);
      return v;
    }),
  );
}

export function decodeMemoryData(json: unknown): MemoryData {
  const d = JSON.parse(JSON.stringify(json), (_k, v: unknown) =>
    v === "Infinity" ? Infinity : v,
  ) as MemoryData;
  if (!d || !Array.isArray(d.traces)) throw new Error("chapter 9 data: no traces");
  d.traces = d.traces.map((t) => ({
    ...t,
    pRestored: Float64Array.from(t.pRestored as unknown as number[]),
  }));
  return d;
}
