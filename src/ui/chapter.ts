/**
 * What every chapter page does before its first figure, written once: install the page behaviours, read the
 * model card and its per-layer parameters, open the live model (traces on onnxruntime-web when the runtime files
 * are given), read the chapter's precomputed trace and its view state from the address. A page passes its
 * FileAttachments (Framework needs them written literally in the page) and Framework's `tex`, and gets back
 * everything its figures need:
 *
 *   const ch = await openChapter("tokenShift", {card: FileAttachment("data/tiny-rwkv.json"), ...}, tex, defaults);
 *   display(ch.eq`${TEX.tokenShift}`);                  a numbered, hover-linked equation from a typed module
 *   const promptText = view(ch.promptBox());             the prompt box with the chapter's limits
 *   const traceView = ch.trace(promptText);              a generator: Framework gives the next cells its values,
 *                                                        the precomputed trace at once, then the live one
 *   display(ch.badge(traceView)); if (!traceView) display(ch.missing(promptText))   badge; why nothing is shown
 *   const live = ch.live();                              null, then the loaded model (chapter 7 counts its tensors)
 *   ch.remember({prompt: promptText, layer})             the view state into the address (shareable links)
 *   view(ch.slider("rank", {min: 0, max: C - 1, label}))   a slider starting at the address's value
 *   display(ch.playButton(picker, view.T))               ▶ Play: steps a token picker through the prompt
 *   display(ch.figure(() => drawing(...), note))         a figure, a notice above it, a message if it throws
 *   const summary = ch.summary(promptText, summarise)    for figures that read a summary of the trace (chapter 6):
 *                                                        the precomputed summary at once, then summarise(live trace)
 *   view(ch.indexSlider("channel", C, "Channel", auto))  a slider over 0..n-1 from the address (`auto` for -1)
 *   display(ch.safely(() => figure(...)))                a figure, or a figure-sized message if drawing throws
 *
 * API:
 *   openChapter(key, files, tex, defaults, {decode?, real?}) -> Promise<Chapter>   defaults: the view state
 *                                                        besides the prompt (the chapter's default prompt), or a
 *                                                        function of the model's config giving it
 *   interface Attachment {json(), arrayBuffer(), href}    Framework's FileAttachment (or a test double)
 *   summaryStream(prompt, precomputed, handle, summarise)   the generator behind `summary` (DOM-free)
 */
import { CHAPTER_PROMPTS, type ChapterKey } from "../chapters/defaults.js";
import { decodeParams, type ModelParams } from "../chapters/params.js";
import {
  missingTraceMessage,
  openModel,
  traceStream,
  type LiveModel,
  type ModelHandle,
} from "../live/live-model.js";
import { cardFromJson, type ModelCard } from "../live/model-source.js";
import { FocusKeeper } from "./focus-keeper.js";
import { PromptFigures } from "./prompt-figures.js";
import { encodePrompt, type EncodedPrompt } from "../trace/prompt.js";
import type { TraceView } from "../trace/trace.js";
import { promptInput, select, slider, tokenPicker } from "./controls.js";
import { EQ, errorBox, installExplainer, modelBadge, notice, type BadgeInfo } from "./page.js";
import { clampInt, readUrlState, writeUrlState, type ViewState } from "./url-state.js";

export interface Attachment {
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
  href: string;
}

export interface ChapterFiles {
  /** data/tiny-rwkv.json: the model card */
  card: Attachment;
  /** data/tiny-rwkv-params.json: per-layer parameters the figures draw (mu, w, u) */
  params: Attachment;
  /** data/tiny-rwkv.safetensors: the weights, fetched only when the live model starts */
  weights: Attachment;
  /** data/ort-worker.js and data/ort-wasm.wasm: with both, the traces run on onnxruntime-web */
  worker?: Attachment;
  wasm?: Attachment;
  /** the chapter's build-time trace (a data/traces/*.json loader), decoded by the caller's `decode` */
  trace?: Attachment;
}

/** Framework's `tex` tagged template with `.options` (the page passes its built-in). */
export type TexTag = ((strings: TemplateStringsArray, ...values: unknown[]) => Element) & {
  options(o: object): TexTag;
};

export type NoticeKind = "info" | "warn" | "error";

export interface ChapterSliderOptions {
  min: number;
  max: number;
  /** default 1 */
  step?: number;
  label: string;
  format?: (v: number) => string;
  /** the value while the address holds one below `min` (e.g. -1 for "automatic", the default) */
  auto?: number;
  /** the starting value, instead of the address's (for a value derived from it, e.g. a log scale) */
  value?: number;
}

export interface Chapter<S extends ViewState, P> {
  card: ModelCard;
  params: ModelParams;
  handle: ModelHandle;
  /** layers, channels, FFN width, vocabulary size of the model */
  L: number;
  C: number;
  F: number;
  V: number;
  /** the chapter's default prompt and prompt limit (src/chapters/defaults.ts) */
  maxTokens: number;
  /** the precomputed trace of the default prompt, if the chapter has one */
  precomputed: P | null;
  /** the view state read from the address (defaults for what it lacks) */
  initial: S;
  defaults: S;
  /** display equations with hover-linkable symbols */
  eq: TexTag;
  /** the prompt box, starting from the address's prompt */
  promptBox(label?: string): HTMLElement & { value: string };
  /** the prompt as the model reads it (unknown characters left out, cut at maxTokens) */
  encode(text: string): EncodedPrompt;
  /**
   * the prompt's trace for a page cell: null for an empty prompt, else a generator yielding the precomputed trace
   * at once when it is the default prompt, then the live one (null when there is none: see `missing`)
   */
  trace(text: string): AsyncGenerator<TraceView | null> | null;
  /**
   * like `trace`, for a chapter whose figures read a summary of the trace (its precomputed file holds the
   * summary, decoded by `decode`): the precomputed summary at once when it is the default prompt's, then
   * `summarise` of the live trace (null when there is none: see `missing`)
   */
  summary<R>(text: string, summarise: (view: TraceView) => R): AsyncGenerator<P | R | null> | null;
  /**
   * the badge: which model ran, and whether `view` (a trace or a summary: its source and backend) is live;
   * `other` badges another handle (e.g. chapter 8's ONNX worker)
   */
  badge(view: Pick<TraceView, "source" | "backend"> | null, other?: BadgeInfo["handle"]): HTMLElement;
  /** for a page cell: null at once, then the live model once it is ready (nothing more when off or failed) */
  live(): AsyncGenerator<LiveModel | null>;
  /** a notice saying why there is no trace to show for this prompt (kinds: for an empty prompt, for the other
   * reasons; "warn" both by default) */
  missing(text: string, kinds?: { empty?: NoticeKind; other?: NoticeKind }): HTMLElement;
  /** a layer select starting at the address's `key` (default "layer") */
  layerSelect(key?: keyof S & string): HTMLElement & { value: number };
  /** a slider over 0..n-1 starting at the address's `key`; at `auto` when given and the address has -1 there */
  indexSlider(
    key: keyof S & string,
    n: number,
    label: string,
    auto?: number,
  ): HTMLElement & { value: number };
  /** a select over `options` starting at the address's `key` when it is one of them */
  choice<T extends string | number>(
    key: keyof S & string,
    options: readonly T[],
    label: string,
    format?: (v: T) => string,
  ): HTMLElement & { value: T };
  /**
   * the token picker for a trace; it keeps the reader's token across prompt edits, and "the last token" (stored
   * as -1 in the address) follows the end of the prompt while typing. `picked(view, t)` records a pick.
   */
  tokenPicker(view: TraceView, key?: keyof S & string, label?: string): HTMLElement & { value: number };
  /**
   * a figure of the prompt's trace that the prompt box redraws straight from its input event, ahead of the page's
   * reactive update (src/ui/prompt-figures.ts): `draw(view, token, previous)` with the token the picker starts
   * at and the drawing shown so far (to redraw in place); `deps` are draw's other inputs (the cell redraws when
   * they change). The drawing gets `data-backend`, the engine of the trace it shows.
   */
  promptFigure(
    key: string,
    view: TraceView,
    token: number,
    deps: readonly unknown[],
    draw: (view: TraceView, token: number, previous: Element | null) => Element,
  ): HTMLElement;
  /** the token to store for position t of a trace (-1 for the last), remembered for the next picker */
  picked(view: TraceView, t: number, key?: keyof S & string): number;
  /** write view state into the address (keys equal to their defaults are dropped) */
  remember(state: Partial<Record<keyof S, string | number | undefined>>): void;
  /** an integer slider starting at the address's `key`, clamped to [min, max] (or `auto`, or `value`) */
  slider(key: keyof S & string, options: ChapterSliderOptions): HTMLElement & { value: number };
  /**
   * a ▶ Play button that moves a token picker over T tokens one token further every `ms` (default 110; from the
   * start when it is at the end) until the last token; pressed again, it stops, and it stops by itself once the
   * picker leaves the page.
   */
  playButton(picker: HTMLElement & { value: number }, T: number, ms?: number): HTMLElement;
  /** draw() with an info notice above its content when `note` is given; the error as a message if it throws */
  figure(draw: () => HTMLElement, note?: string | null): HTMLElement;
  /** the element draw() returns, or a figure-sized message with its error instead of a blank figure */
  safely(draw: () => Element): Element;
}

export interface OpenChapterOptions<P> {
  /** turn the precomputed trace's JSON into what the figures read (decodeTrace for a TraceView) */
  decode?: (json: unknown) => P;
  /** number keys of the view state that take any finite number although their default is an integer */
  real?: readonly string[];
}

export async function openChapter<D extends ViewState, P = TraceView>(
  key: ChapterKey,
  files: ChapterFiles,
  tex: TexTag,
  viewDefaults: D | ((config: ModelParams["config"]) => D),
  { decode, real }: OpenChapterOptions<P> = {},
): Promise<Chapter<D & { prompt: string }, P>> {
  type S = D & { prompt: string };
  installExplainer();
  const [cardJson, paramsJson, traceJson] = await Promise.all([
    files.card.json(),
    files.params.json(),
    files.trace?.json(),
  ]);
  const card = cardFromJson(cardJson);
  const params = decodeParams(paramsJson);
  // the chapter's default prompt (src/chapters/defaults.ts) is part of every chapter's view state
  const defaults = {
    prompt: CHAPTER_PROMPTS[key].prompt,
    ...(typeof viewDefaults === "function" ? viewDefaults(params.config) : viewDefaults),
  } as S;
  const runtime =
    files.worker && files.wasm ? { workerUrl: files.worker.href, wasmUrl: files.wasm.href } : undefined;
  // the figures' traces run on the ONNX graphs in onnxruntime-web's worker (WebGPU, else wasm); the badge says which
  const handle = openModel(card, () => files.weights.arrayBuffer(), { runtime });
  const precomputed = traceJson !== undefined && decode ? decode(traceJson) : null;
  const { maxTokens } = CHAPTER_PROMPTS[key];
  const initial = readUrlState(defaults, { real });
  const { nLayer: L, nEmbd: C, ffnSize: F, vocabSize: V } = params.config;
  const sticky: Record<string, number> = {};
  /** the token a picker for `view` starts at: the reader's pick, or the last token */
  const startToken = (view: TraceView, key = "token") => {
    const stored = sticky[key] ?? Number(initial[key] ?? -1);
    return stored < 0 ? view.T - 1 : Math.min(stored, view.T - 1);
  };
  const keeper = new FocusKeeper(document);
  /**
   * A control that carries its view-state key (data-key: figure exports name the view by it, src/ui/export.ts) and
   * keeps the keyboard focus when a cell's re-run replaces it (src/ui/focus-keeper.ts).
   */
  const keyed = <E extends HTMLElement>(el: E, key: string): E => {
    el.dataset.key = key;
    return keeper.adopt(key, el);
  };
  const figures = new PromptFigures<Element>({
    encode: (text) => encodePrompt(text, card.vocabulary, { maxTokens }),
    handle,
    token: (view) => startToken(view),
    container: () => document.createElement("div"),
    nextFrame: () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0))),
  });
  const chapter: Chapter<S, P> = {
    card,
    params,
    handle,
    L,
    C,
    F,
    V,
    maxTokens,
    precomputed,
    initial,
    defaults,
    eq: tex.options(EQ),
    promptBox(label) {
      const box = keyed(
        promptInput({
          value: String(initial.prompt ?? CHAPTER_PROMPTS[key].prompt),
          vocabulary: card.vocabulary,
          maxTokens,
          ...(label ? { label } : {}),
        }),
        "prompt",
      );
      box.addEventListener("input", () => void figures.input(box.value));
      return box;
    },
    encode: (text) => encodePrompt(text, card.vocabulary, { maxTokens }),
    trace(text) {
      const prompt = chapter.encode(text);
      const pre = precomputed as unknown as TraceView | null;
      // the prompt box's figures are drawn first (src/ui/prompt-figures.ts); the other cells wait for the paint
      return prompt.tokens.length ? figures.follow(traceStream({ prompt, precomputed: pre, handle })) : null;
    },
    summary(text, summarise) {
      const prompt = chapter.encode(text);
      if (!prompt.tokens.length) return null;
      const pre = precomputed as (P & { text?: string }) | null;
      return summaryStream(prompt, pre?.text === prompt.text ? pre : null, handle, summarise);
    },
    badge: (view, other) => modelBadge({ view, handle: other ?? handle }),
    async *live() {
      yield null;
      if (handle.status === "off") return;
      try {
        yield await handle.ready;
      } catch {
        // the badge says why; the figures keep what they had
      }
    },
    missing: (text, { empty = "warn", other = "warn" } = {}) => {
      const prompt = chapter.encode(text);
      return notice(missingTraceMessage(prompt, handle), prompt.tokens.length ? other : empty);
    },
    layerSelect: (key = "layer") =>
      keyed(
        select(
          Array.from({ length: L }, (_, l) => l),
          {
            value: clampInt(Number(initial[key] ?? 0), 0, L - 1),
            label: "Layer",
            format: (l) => `layer ${l}`,
          },
        ),
        key,
      ),
    choice: <T extends string | number>(
      key: keyof S & string,
      options: readonly T[],
      label: string,
      format?: (v: T) => string,
    ) =>
      keyed(
        select(options, {
          value:
            ([initial[key], defaults[key]].find((v) => options.includes(v as T)) as T | undefined) ??
            options[0],
          label,
          ...(format ? { format } : {}),
        }),
        key,
      ),
    indexSlider(key, n, label, auto) {
      const stored = Number(initial[key] ?? 0);
      const value = auto !== undefined && stored < 0 ? auto : clampInt(stored, 0, n - 1);
      return keyed(slider({ min: 0, max: n - 1, step: 1, value, label }), key);
    },
    tokenPicker(view, key = "token", label = "Token (click a character; ← → when focused)") {
      return keyed(tokenPicker(view.labels, { value: startToken(view, key), label }), key);
    },
    promptFigure: (key, view, token, deps, draw) =>
      figures.figure(key, view, token, deps, (v, t, previous) => {
        const drawn = draw(v, t, previous);
        // which engine ran the trace it shows: the prompt box may draw the reference model's first (a character
        // typed at the end), then the worker's (tests read it)
        drawn.setAttribute("data-backend", v.backend);
        return drawn;
      }) as unknown as HTMLElement,
    picked(view, t, key = "token") {
      sticky[key] = t === view.T - 1 ? -1 : t;
      return sticky[key];
    },
    remember: (state) => writeUrlState(state as Record<string, string | number | undefined>, defaults),
    slider(key, { min, max, step = 1, label, format, auto, value }) {
      const stored = Number(initial[key]);
      const start = value ?? (auto !== undefined && !(stored >= min) ? auto : clampInt(stored, min, max));
      return keyed(slider({ min, max, step, value: start, label, ...(format ? { format } : {}) }), key);
    },
    // made with the token picker, and replaced with it: a focused ▶ Play keeps the focus too (no view-state key)
    playButton: (picker, T, ms = 110) => keeper.adopt("play", playButton(picker, T - 1, ms)),
    figure(draw, note) {
      try {
        const figure = draw();
        if (note) figure.prepend(notice(note, "info"));
        return figure;
      } catch (error) {
        return errorBox(error);
      }
    },
    safely(draw) {
      try {
        return draw();
      } catch (error) {
        return errorBox(error);
      }
    },
  };
  return chapter;
}

/** See Chapter.playButton. */
function playButton(picker: HTMLElement & { value: number }, last: number, ms: number): HTMLElement {
  const button = document.createElement("button");
  button.type = "button";
  button.dataset.play = "";
  button.style.cssText = "font: 600 16px var(--sans-serif); padding: .3rem 1rem; margin: .25rem 0";
  button.textContent = "▶ Play";
  const move = (t: number) => {
    picker.value = t;
    picker.dispatchEvent(new Event("input", { bubbles: true }));
  };
  let timer: ReturnType<typeof setInterval> | null = null;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
    button.textContent = "▶ Play";
  };
  button.onclick = () => {
    if (timer) return stop();
    if (picker.value >= last) move(0);
    button.textContent = "■ Stop";
    timer = setInterval(() => {
      if (!picker.isConnected || picker.value >= last) return stop();
      move(picker.value + 1);
    }, ms);
  };
  const row = document.createElement("div");
  row.dataset.playRow = "";
  row.style.cssText = "display: flex; gap: 1rem; align-items: end; flex-wrap: wrap";
  row.append(button);
  return row;
}

/**
 * The `summary` stream: the precomputed summary first (given only when it is the prompt's) while the live model is
 * not ready, then the live trace's summary; null when there is neither (the live model off or failed).
 */
export async function* summaryStream<P, R>(
  prompt: EncodedPrompt,
  precomputed: P | null,
  handle: ModelHandle,
  summarise: (view: TraceView) => R,
): AsyncGenerator<P | R | null> {
  if (precomputed !== null && handle.status !== "ready") yield precomputed;
  for await (const view of traceStream({ prompt, precomputed: null, handle })) {
    if (view) yield summarise(view);
    else if (precomputed === null) yield null;
  }
}
