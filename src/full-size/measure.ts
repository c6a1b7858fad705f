/**
 * The full-size page's measurements in order, for one loaded model: the two modes compared on the prompt
 * (arXiv 2305.13048 v4, Eq. 16 run both ways), the prefill sweep, the generation sweep against the transformer,
 * the state read back. An async generator for a page cell: it yields a snapshot after each step and every half
 * second while a long step runs, so the charts fill in as they go.
 *
 * Which sizes run is decided here and only here (`sizesToRun`), and the page shows exactly these in its T and N
 * selects (tracker issue 11: they showed 1024 / 512 while a 169M run used 64 / 64).
 *
 * DOM-free: the model is structural (src/full-size/loader.ts's LoadedModel, or a fake in tests).
 *
 * API:
 *   SIZE_CHOICES, DEFAULT_SIZES, WIDE_FROM, WIDE_SIZES, PREFILL_TS
 *   sizesToRun(sizes, nEmbd) -> {T, N}     the reader's sizes, or the smaller defaults for wide models
 *   tokenName(id, text) -> string          a token for the top-5 table: its text quoted, or #id
 *   measure(model, sizes, prompt, {cancelled, pause}) -> AsyncGenerator<Bench>
 */
import type { RwkvConfig, RwkvState } from "../rwkv/weights.js";
import {
  equivalence,
  generation,
  prefill,
  timingTokens,
  type Equivalence,
  type GenerationResult,
  type GptRuntime,
  type PrefillPoint,
  type RwkvRuntime,
} from "./bench.js";
import { loadErrorMessage } from "./full-size.js";
import { SerialQueue } from "../util/serial.js";

/** What the T and N selects offer. */
export const SIZE_CHOICES = { T: [64, 256, 1024], N: [64, 128, 256, 512, 1024] } as const;

/** The sizes control's value: `auto` until the reader presses "Run the timings again". */
export interface Sizes {
  T: number;
  N: number;
  auto: boolean;
  seq: number;
}

export const DEFAULT_SIZES: Sizes = { T: 1024, N: 512, auto: true, seq: 0 };
/** Models at least this wide (the 169M shapes: 768) take seconds per sweep on one CPU thread... */
export const WIDE_FROM = 512;
/** ...so they run these sizes until the reader asks for more. */
export const WIDE_SIZES = { T: 64, N: 64 } as const;
/** The prompt lengths of the prefill sweep (those up to T run). */
export const PREFILL_TS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024] as const;
/** The longest prompt compared in both modes, in tokens. */
export const PROMPT_TOKENS = 64;

export function sizesToRun(sizes: Sizes, nEmbd: number): { T: number; N: number } {
  if (sizes.auto && nEmbd >= WIDE_FROM) return { ...WIDE_SIZES };
  return { T: sizes.T, N: sizes.N };
}

export function tokenName(id: number, text: string | null | undefined): string {
  return typeof text === "string" ? JSON.stringify(text) : `#${id}`;
}

export interface MeasuredModel {
  seq: number;
  name: string;
  /** set when prompts go through the worker's tokenizer */
  tokenizerVocab?: number;
  rwkv: RwkvRuntime & {
    readonly config: RwkvConfig;
    getState(): Promise<RwkvState>;
    tokenize(text: string): Promise<number[]>;
    tokenTexts(ids: readonly number[]): Promise<(string | null)[]>;
  };
  gpt(): Promise<
    GptRuntime & { readonly ep: string; info: { parameterCount: number; buildSeconds: number } }
  >;
}

export interface Bench {
  /** the model's load (its request's seq) and this run (the sizes control's seq) */
  seq: number;
  run: number;
  name: string;
  ep: string;
  V: number;
  T: number;
  N: number;
  phase: "equivalence" | "prefill" | "generation" | "done";
  promptNote: string;
  eq?: Equivalence;
  /** the top-5 tokens of each mode as shown (quoted text, or #id) */
  topNames?: { rnn: string[]; parallel: string[] };
  prefill?: PrefillPoint[];
  /** runs per point of the prefill sweep (median), up to T = 128 */
  repeat?: number;
  gen?: GenerationResult;
  /** the transformer baseline: what it is, or why it is not there */
  gptInfo?: string;
  /** numbers in the state read back from the worker after generation */
  stateNumbers?: number;
  error?: string;
}

export interface MeasureOptions {
  /** true once the page no longer wants this run (another model, other sizes, another prompt) */
  cancelled?: () => boolean;
  /** awaited between calls: keeps the page responsive, and holds the timings while another model loads */
  pause?: () => Promise<void>;
  /** how often a long step yields a snapshot (ms) */
  every?: number;
}

/** One run at a time on a model's worker: a run's reset / step / forward calls must not interleave with another's. */
const runs = new WeakMap<object, SerialQueue>();

/** Thrown by the pause of a run that is no longer wanted: it stops at its next pause. */
const CANCELLED = new Error("cancelled");

/**
 * The measurements of `model`, as they go. A run waits until the previous run on the same model has stopped (it
 * stops at its next pause once it is cancelled), so two runs never share the worker's kept state.
 */
export async function* measure(
  model: MeasuredModel,
  sizes: Sizes,
  prompt: string,
  opts: MeasureOptions = {},
): AsyncGenerator<Bench> {
  const cancelled = opts.cancelled ?? (() => false);
  let queue = runs.get(model.rwkv);
  if (!queue) runs.set(model.rwkv, (queue = new SerialQueue()));
  const release = await queue.lock();
  try {
    if (cancelled()) return;
    yield* run(model, sizes, prompt, {
      ...opts,
      cancelled,
      pause: async () => {
        await opts.pause?.();
        if (cancelled()) throw CANCELLED;
      },
    });
  } finally {
    release();
  }
}

async function* run(
  model: MeasuredModel,
  sizes: Sizes,
  prompt: string,
  {
    cancelled,
    pause,
    every = 500,
  }: MeasureOptions & { cancelled: () => boolean; pause: () => Promise<void> },
): AsyncGenerator<Bench> {
  const { rwkv } = model;
  const { vocabSize: V, nEmbd: C } = rwkv.config;
  const { T, N } = sizesToRun(sizes, C);
  const out: Bench = {
    seq: model.seq,
    run: sizes.seq,
    name: model.name,
    ep: rwkv.ep,
    V,
    T,
    N,
    phase: "equivalence",
    promptNote: "",
  };
  // yield snapshots every `every` ms while a long measurement runs
  async function* follow<X>(p: Promise<X>): AsyncGenerator<Bench, X> {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    while (!done) {
      await Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, every))]);
      if (!done && !cancelled()) yield { ...out };
    }
    return await p;
  }
  try {
    let tokens: number[] = [];
    if (model.tokenizerVocab !== undefined) {
      tokens = (await rwkv.tokenize(prompt)).slice(0, PROMPT_TOKENS);
      out.promptNote = `the prompt, ${tokens.length} GPT-NeoX tokens`;
    }
    if (!tokens.length) {
      tokens = timingTokens(24, V, 7);
      out.promptNote = `${tokens.length} fixed token ids`;
    }
    await pause();
    const eq = await equivalence(rwkv, tokens, V);
    await pause();
    const ids = [...eq.topRnn, ...eq.topParallel].map(([id]) => id);
    const texts = model.tokenizerVocab !== undefined ? await rwkv.tokenTexts(ids) : [];
    const names = ids.map((id, i) => tokenName(id, texts[i]));
    out.eq = eq;
    out.topNames = { rnn: names.slice(0, eq.topRnn.length), parallel: names.slice(eq.topRnn.length) };
    out.phase = "prefill";
    yield { ...out };
    if (cancelled()) return;
    const timing = timingTokens(Math.max(T, N), V);
    out.prefill = [];
    out.repeat = C >= WIDE_FROM ? 1 : 3;
    yield* follow(
      prefill(
        rwkv,
        PREFILL_TS.filter((t) => t <= T),
        timing,
        {
          pause,
          repeat: out.repeat,
          repeatUpTo: 128,
          cancelled,
          onPoint: (p) => (out.prefill = [...p]),
        },
      ),
    );
    if (cancelled()) return;
    out.phase = "generation";
    yield { ...out };
    let transformer;
    try {
      transformer = await model.gpt();
      const c = rwkv.config;
      out.gptInfo =
        `GPT ${c.nLayer} × ${c.nEmbd} (vocabulary ${V.toLocaleString("en-US")}), ` +
        `${transformer.info.parameterCount.toLocaleString("en-US")} parameters, random weights, on ` +
        `${transformer.ep}, built in ${transformer.info.buildSeconds.toFixed(1)} s`;
    } catch (e) {
      console.warn("full-size: the transformer baseline could not be built:", e);
      out.gptInfo = `not available: ${loadErrorMessage(e)}`;
    }
    if (cancelled()) return;
    yield* follow(
      generation(rwkv, transformer, N, timing, {
        pause,
        cancelled,
        progress: (g) => (out.gen = { ...g }),
      }),
    );
    await pause();
    const state = await rwkv.getState();
    out.stateNumbers = state.reduce(
      (n, l) => n + l.attX.length + l.a.length + l.b.length + l.p.length + l.ffnX.length,
      0,
    );
    out.phase = "done";
    yield { ...out };
  } catch (e) {
    if (cancelled()) return;
    console.warn("full-size: a measurement failed:", e);
    yield { ...out, error: loadErrorMessage(e) };
  }
}
