/**
 * Page-side behaviour shared by every page, the home page included (browser only). Call `installExplainer()` once
 * per page (it is idempotent); it adds the explainer's stylesheet and these behaviours:
 *
 *  - Keyboard: ← / → go to the previous / next page (the pager's links), except while typing in a field or
 *    moving a slider; "f" shows the hovered figure (else the one nearest the middle of the screen) full screen,
 *    scaled to fill it, text included, Esc (or "f" again) leaves; "p" toggles presenter mode (src/ui/presenter.ts,
 *    also `?present=1`).
 *  - A toolbar above the page (presenter mode, reset view: src/ui/reset.ts) and, under every figure, its tools
 *    (SVG and PNG download with a caption line, copy link to this view, full screen: src/ui/export.ts). A link
 *    with `?figure=NAME` scrolls to that figure once it is drawn.
 *  - Hover linking: any element with `data-sym="NAME"` (KaTeX symbols wrapped by `sym(NAME, tex)`, figure parts
 *    tagged with the same attribute) highlights every element with the same NAME (class `sym-active`).
 *
 * API:
 *   installExplainer()                 the above
 *   enterFullscreen(figure) / exitFullscreen()
 *   fullscreenZoom(content, viewport) -> number   the zoom that fits a figure's content to the screen
 *   sym(name, tex) -> string           `\htmlData{sym=name}{tex}` for equations rendered with EQ / EQ_INLINE
 *   EQ, EQ_INLINE                      KaTeX options: `const eq = tex.options(EQ)` in a page, then eq`...`
 *   modelBadge(info) -> HTMLElement    "live · reference (JS) · tiny-rwkv (trained)" / "precomputed · ..."
 *                                      (on wasm also "4 threads", data-threads="4")
 *   notice(message, kind) -> HTMLElement   a visible message (kind "info" | "warn" | "error"); empty span if ""
 *   errorBox(error) -> HTMLElement     a figure-sized message instead of a blank figure
 *   settle(value, ms, invalidation)    async generator for a page cell: yields `value` after `ms` unless the cell
 *                                      was invalidated first (debounces expensive figures while typing)
 */
import type { Handle } from "../live/handle.js";
import { modelLabel, type ModelCard } from "../live/model-source.js";
import { wasmThreadsInUse } from "../runtime/client.js";
import { threadsLabel } from "../runtime/threads.js";
import type { TraceView } from "../trace/trace.js";
import { decorateFigures, EXPORT_CSS, FIGURE_PARAM } from "./export.js";
import {
  isPresenter,
  presenterFromSearch,
  PRESENTER_CSS,
  setPresenter,
  toolbar,
  withPresent,
} from "./presenter.js";

/** KaTeX options for display equations with hover-linkable symbols (\htmlData needs `trust`). */
export const EQ = {
  displayMode: true,
  trust: (ctx: { command: string }) => ctx.command === "\\htmlData" || ctx.command === "\\htmlClass",
  strict: "ignore",
} as const;
export const EQ_INLINE = { ...EQ, displayMode: false } as const;

export { sym } from "../chapters/tex.js";

const STYLE = `
.explainer-badge { display: inline-flex; gap: .4rem; align-items: center; flex-wrap: wrap;
  font: 14px var(--sans-serif); color: var(--theme-foreground-muted); margin: .25rem 0 .75rem; }
.explainer-badge .pill { border: 1px solid var(--theme-foreground-faint); border-radius: 999px; padding: .1rem .6rem; }
.explainer-badge .pill.live { border-color: #2f9e44; color: #2f9e44; font-weight: 600; }
.explainer-badge .pill.precomputed { border-color: #e8590c; color: #e8590c; font-weight: 600; }
.explainer-badge .pill.synthetic { background: #e8590c; color: white; border-color: #e8590c; font-weight: 600; }
.explainer-badge .pill.fallback { border-style: dashed; }
.explainer-badge .pill.failed { background: #c92a2a; color: white; border-color: #c92a2a; }
.explainer-notice { font: 15px var(--sans-serif); padding: .5rem .75rem; border-radius: 6px; margin: .5rem 0;
  border-left: 4px solid var(--theme-foreground-focus); background: var(--theme-background-alt); max-width: 720px; }
.explainer-notice.warn { border-left-color: #e8590c; }
.explainer-notice.error { border-left-color: #c92a2a; }
.explainer-notice:empty { display: none; }
[data-sym]:not(figure) { transition: background-color .1s, outline-color .1s; border-radius: 3px; }
.katex [data-sym] { position: relative; z-index: 1; cursor: default; }
span[data-sym].sym-active, div[data-sym].sym-active { background: color-mix(in srgb, var(--theme-foreground-focus) 25%, transparent);
  outline: 2px solid var(--theme-foreground-focus); }
svg [data-sym].sym-active:not(g, text) { stroke: var(--theme-foreground-focus); stroke-width: 3px; }
svg g[data-sym].sym-active > rect { fill: var(--theme-foreground-focus); opacity: .18; }
svg text[data-sym].sym-active { fill: var(--theme-foreground-focus); stroke: none; font-weight: 700; }
figure[data-figure].sym-active { outline: 2px solid var(--theme-foreground-focus); outline-offset: 4px; }
html[data-fullscreen-figure] #observablehq-main { z-index: 1001; }
figure[data-figure].explainer-fullscreen { position: fixed; inset: 0; padding: 0; box-sizing: border-box; z-index: 1000; margin: 0;
  overflow: auto; background: var(--theme-background); display: flex; flex-direction: column; align-items: center;
  justify-content: safe center; }
figure[data-figure].explainer-fullscreen > * { flex: none; }
figure[data-figure].explainer-fullscreen { transition: none; }
figure[data-figure].explainer-fullscreen > .explainer-figure-tools { position: absolute; top: .5rem; right: .5rem; margin: 0;
  opacity: 0; z-index: 2; background: var(--theme-background); padding: .15rem; border-radius: 4px; }
/* in full screen the tools stay out of the picture (they would cover its title) until pointed at or tabbed to */
figure[data-figure].explainer-fullscreen > .explainer-figure-tools:hover,
figure[data-figure].explainer-fullscreen > .explainer-figure-tools:focus-within { opacity: 1; }
figure[data-figure].explainer-fullscreen > table { width: auto; }
.explainer-prompt textarea { width: 100%; max-width: 720px; font: 18px/1.4 var(--monospace); padding: .5rem;
  box-sizing: border-box; color: var(--theme-foreground); background: var(--theme-background-alt);
  border: 1px solid var(--theme-foreground-faint); border-radius: 6px; resize: vertical; }
.explainer-prompt label { display: block; font: 600 15px var(--sans-serif); margin-bottom: .25rem; }
.explainer-prompt .count { font: 13px var(--sans-serif); color: var(--theme-foreground-muted); }
.token-strip { display: flex; flex-wrap: wrap; gap: 2px; font: 18px var(--monospace); margin: .25rem 0; max-width: 100%; }
.token-strip button { font: inherit; min-width: 1.5em; padding: .1rem .2rem; border: 1px solid var(--theme-foreground-faint);
  background: var(--theme-background); color: var(--theme-foreground); border-radius: 3px; cursor: pointer; }
.token-strip button[aria-pressed="true"] { background: var(--theme-foreground-focus); color: var(--theme-background);
  border-color: var(--theme-foreground-focus); }
.token-strip button.ws { color: var(--theme-foreground-muted); }
.explainer-controls { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; font: 15px var(--sans-serif); }
.explainer-controls label { display: inline-flex; gap: .4rem; align-items: center; }
.explainer-controls input[type=range] { width: 180px; }
.explainer-controls output { font-variant-numeric: tabular-nums; min-width: 3.5em; display: inline-block; }
.explainer-mono { font-family: var(--monospace); }
.explainer-generated { font: 18px/1.45 var(--monospace); white-space: pre-wrap; max-width: 720px; min-height: 6em;
  padding: .75rem; border-radius: 6px; background: var(--theme-background-alt); border: 1px solid var(--theme-foreground-faint); }
.explainer-generated .prompt-part { color: var(--theme-foreground-muted); }
.explainer-generated .gen-part { color: var(--theme-foreground); font-weight: 600; }
/* a long identifier in prose (performance.measureUserAgentSpecificMemory) breaks rather than widening a phone's page */
#observablehq-main { overflow-wrap: break-word; }
/* a table wider than a phone scrolls inside its figure rather than widening the page */
figure[data-figure]:has(table):not(.explainer-fullscreen) { overflow-x: auto; }
/* an equation may use the whole column (chapter 2's alpha with its cases is wider than the prose's 640 px), and
   gets room for its tallest parts (fractions over sums), so neither is cut off */
.katex-display { max-width: 100%; padding: .35rem 0 .55rem; }
.explainer-keys kbd { font: 13px var(--monospace); border: 1px solid var(--theme-foreground-faint); border-radius: 3px; padding: 0 .3rem; }
`;

let installed = false;
let hovered: HTMLElement | null = null;
let fullscreenName: string | null = null;

function isEditable(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  return (
    tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.getAttribute("role") === "slider"
  );
}

function figureNearestCenter(): HTMLElement | null {
  const mid = window.innerHeight / 2;
  let best: HTMLElement | null = null;
  let bestDist = Infinity;
  for (const fig of document.querySelectorAll<HTMLElement>("figure[data-figure]")) {
    const r = fig.getBoundingClientRect();
    if (r.bottom < 0 || r.top > window.innerHeight || r.height === 0) continue;
    const d = Math.abs((r.top + r.bottom) / 2 - mid);
    if (d < bestDist) {
      bestDist = d;
      best = fig;
    }
  }
  return best;
}

/**
 * The zoom that fits content of `content` size (its screen pixels at zoom 1) into `viewport`:
 * it enlarges a figure (text with it) until its width or height reaches the screen's, and never shrinks one.
 */
export function fullscreenZoom(
  content: { width: number; height: number },
  viewport: { width: number; height: number },
): number {
  if (!(content.width > 0 && content.height > 0)) return 1;
  // the width to the edge and the height to the edge (the figure is centred; its own margins stay), and never
  // smaller than on the page: a figure taller than the screen (a long table) scrolls instead
  return Math.max(1, Math.min(viewport.width / content.width, viewport.height / content.height));
}

/** Zooms a full-screen figure so that what it holds fills the screen (figure text scales with it). */
function fitFullscreen(fig: HTMLElement): void {
  fig.style.removeProperty("zoom");
  const parts = [...fig.children].filter((c) => c.getClientRects().length > 0);
  const wide = parts.filter(
    (c) => c.tagName !== "FIGCAPTION" && !c.classList.contains("explainer-figure-tools"),
  );
  const width = Math.max(0, ...wide.map((c) => c.getBoundingClientRect().width));
  // the caption wraps at the drawing's width rather than the screen's
  const zoomNow = fig.getBoundingClientRect().width / (fig.offsetWidth || 1) || 1;
  for (const c of parts)
    if (c.tagName === "FIGCAPTION") (c as HTMLElement).style.maxWidth = `${width / zoomNow}px`;
  // (the tools float at the top right in full screen: not part of the height)
  const height = parts
    .filter((c) => !c.classList.contains("explainer-figure-tools"))
    .reduce((h, c) => h + c.getBoundingClientRect().height, 0);
  const zoom = fullscreenZoom({ width, height }, { width: window.innerWidth, height: window.innerHeight });
  fig.style.setProperty("zoom", String(zoom));
  fig.dataset.fullscreenZoom = zoom.toFixed(3);
}

/**
 * Full screen for a figure: its parts keep the widths they have on the page (a block that fills the column would
 * otherwise fill the screen and could not be enlarged), then the whole is zoomed to fit.
 */
function fullscreenOn(fig: HTMLElement): void {
  const zoomNow = fig.getBoundingClientRect().width / (fig.offsetWidth || 1) || 1;
  for (const c of fig.children) {
    if (
      !(c instanceof HTMLElement) ||
      c.tagName === "FIGCAPTION" ||
      c.classList.contains("explainer-figure-tools")
    )
      continue;
    c.dataset.fsWidth = c.style.width;
    // rounded up: a flex row whose items exactly fill it must not wrap for a fraction of a pixel
    c.style.width = `${Math.ceil(c.getBoundingClientRect().width / zoomNow) + 1}px`;
  }
  fig.classList.add("explainer-fullscreen");
  fitFullscreen(fig);
}

export function enterFullscreen(fig: HTMLElement): void {
  exitFullscreen();
  fullscreenName = fig.dataset.figure ?? null;
  document.documentElement.dataset.fullscreenFigure = fullscreenName ?? "";
  fullscreenOn(fig);
}

export function exitFullscreen(): void {
  fullscreenName = null;
  for (const el of document.querySelectorAll<HTMLElement>(".explainer-fullscreen")) {
    el.classList.remove("explainer-fullscreen");
    el.style.removeProperty("zoom");
    delete el.dataset.fullscreenZoom;
    for (const c of el.querySelectorAll<HTMLElement>(":scope > figcaption"))
      c.style.removeProperty("max-width");
    for (const c of el.querySelectorAll<HTMLElement>(":scope > [data-fs-width]")) {
      c.style.width = c.dataset.fsWidth ?? "";
      delete c.dataset.fsWidth;
    }
  }
  delete document.documentElement.dataset.fullscreenFigure;
}

/** Go to the pager's previous or next page, staying in presenter mode. */
function turnPage(rel: "prev" | "next"): boolean {
  const link = document.querySelector<HTMLAnchorElement>(`#observablehq-footer a[rel="${rel}"]`);
  if (!link) return false;
  window.location.href = withPresent(link.href, isPresenter(), window.location.href);
  return true;
}

/** A link naming a figure (`?figure=NAME`, from "Copy link"): scroll to it each time it is drawn, until the
 * reader scrolls or presses a key. */
function followFigureLink(): void {
  const wanted = new URLSearchParams(window.location.search).get(FIGURE_PARAM);
  if (!wanted) return;
  let done = false;
  const stop = () => (done = true);
  for (const type of ["wheel", "keydown", "pointerdown", "touchstart"])
    window.addEventListener(type, stop, { once: true });
  let shown: Element | null = null;
  const look = () => {
    const fig = document.querySelector(`figure[data-figure="${CSS_escape(wanted)}"]`);
    if (done || !fig || fig === shown) return;
    shown = fig;
    fig.scrollIntoView({ block: "center" });
  };
  new MutationObserver(look).observe(document.body, { childList: true, subtree: true });
  setTimeout(stop, 30_000);
}

function setSymActive(name: string | null): void {
  for (const el of document.querySelectorAll(".sym-active")) el.classList.remove("sym-active");
  if (!name) return;
  for (const el of document.querySelectorAll(`[data-sym="${CSS_escape(name)}"]`))
    el.classList.add("sym-active");
}

function CSS_escape(s: string): string {
  return globalThis.CSS?.escape ? globalThis.CSS.escape(s) : s.replace(/["\\]/g, "\\$&");
}

export function installExplainer(): void {
  if (installed || typeof document === "undefined") return;
  installed = true;
  const style = document.createElement("style");
  style.id = "explainer-style";
  style.textContent = STYLE + PRESENTER_CSS + EXPORT_CSS;
  document.head.append(style);
  document.querySelector("#observablehq-main")?.before(toolbar());
  if (presenterFromSearch(window.location.search)) setPresenter(true);
  const tools = {
    fullscreen: (fig: HTMLElement) =>
      fig.classList.contains("explainer-fullscreen") ? exitFullscreen() : enterFullscreen(fig),
  };
  decorateFigures(document, tools);
  followFigureLink();

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape" && fullscreenName !== null) {
      exitFullscreen();
      event.preventDefault();
      return;
    }
    if (isEditable(event.target)) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      if (turnPage(event.key === "ArrowLeft" ? "prev" : "next")) event.preventDefault();
    } else if ((event.key === "f" || event.key === "F") && !event.shiftKey) {
      event.preventDefault();
      if (fullscreenName !== null) exitFullscreen();
      else {
        const fig = hovered && hovered.isConnected ? hovered : figureNearestCenter();
        if (fig) enterFullscreen(fig);
      }
    } else if ((event.key === "p" || event.key === "P") && !event.shiftKey) {
      event.preventDefault();
      setPresenter(!isPresenter());
    }
  });

  document.addEventListener("mouseover", (event) => {
    const target = event.target as Element | null;
    const fig = target?.closest?.<HTMLElement>("figure[data-figure]");
    if (fig) hovered = fig;
    const symEl = target?.closest?.<HTMLElement>("[data-sym]");
    setSymActive(symEl?.dataset.sym ?? null);
  });
  document.addEventListener("mouseleave", () => setSymActive(null));

  // Figures are re-rendered when their inputs change: give new ones their tools, and keep the full-screen one
  // full screen (fitted again: its content may have changed size).
  new MutationObserver(() => {
    decorateFigures(document, tools);
    if (fullscreenName === null) return;
    const current = document.querySelector<HTMLElement>(".explainer-fullscreen");
    if (current && current.isConnected) return;
    const again = document.querySelector<HTMLElement>(`figure[data-figure="${CSS_escape(fullscreenName)}"]`);
    if (again) fullscreenOn(again);
  }).observe(document.body, { childList: true, subtree: true });
  // Presenter mode changes the page's zoom, and the window can change: fit the full-screen figure again.
  window.addEventListener("resize", () => {
    const current = document.querySelector<HTMLElement>(".explainer-fullscreen");
    if (current) fitFullscreen(current);
  });
}

export interface BadgeInfo {
  /** the trace (or a summary of it, or any result with its source and backend) the figures show now (null: none yet) */
  view?: Pick<TraceView, "source" | "backend"> | null;
  /** the model's handle (openModel's, or any Handle with the card it runs) */
  handle: Handle<unknown> & { card: ModelCard };
}

/**
 * Which backend ran, and whether the figures show the precomputed trace or a live run. The badge updates itself
 * when the model finishes loading (or fails). data-source / data-backend / data-status are set for tests.
 */
export function modelBadge({ view, handle }: BadgeInfo): HTMLElement {
  const root = document.createElement("div");
  root.className = "explainer-badge";
  root.setAttribute("role", "status");
  const render = (): void => {
    root.replaceChildren();
    const pill = (text: string, cls = "", title = ""): void => {
      const span = document.createElement("span");
      span.className = `pill ${cls}`.trim();
      span.textContent = text;
      if (title) span.title = title;
      root.append(span);
    };
    if (view) {
      pill(
        view.source === "live" ? "live" : "precomputed",
        view.source,
        view.source === "live"
          ? "computed in this browser for the prompt above"
          : "computed at build time by the same model; the live model replaces it when loaded",
      );
      root.dataset.source = view.source;
    }
    const backend = view?.backend ?? "reference (JS)";
    root.dataset.backend = backend;
    pill(
      `backend: ${backend}`,
      "backend",
      backend === "reference (JS)"
        ? "the project's reference implementation in JavaScript ran the model"
        : `the ONNX graphs ran in onnxruntime-web's ${backend === "webgpu" ? "WebGPU" : "WebAssembly"} execution provider, in a worker`,
    );
    // onnxruntime-web's wasm threads (src/runtime/threads.ts), as the model worker reported them
    const threads = backend === "wasm" ? wasmThreadsInUse() : undefined;
    if (threads) {
      pill(threadsLabel(threads.threads), "threads", threads.reason);
      root.dataset.threads = String(threads.threads);
    }
    if (handle.fallbackReason) {
      pill(`fallback: ${handle.fallbackReason}`, "fallback", "why the model does not run on WebGPU here");
      root.dataset.fallback = handle.fallbackReason;
    }
    if (handle.status === "loading") pill("loading model…", "loading");
    if (handle.status === "off") pill("live model off (?live=0)", "off");
    if (handle.status === "failed")
      pill(`model failed: ${handle.error?.message ?? "unknown error"}`, "failed");
    pill(modelLabel(handle.card), handle.card.synthetic ? "synthetic" : "model");
    root.dataset.model = modelLabel(handle.card);
    root.dataset.status = handle.status;
    root.dataset.synthetic = String(handle.card.synthetic);
  };
  render();
  if (handle.status === "loading") handle.ready.then(render, render);
  return root;
}

export function notice(message: string, kind: "info" | "warn" | "error" = "info"): HTMLElement {
  const el = document.createElement("div");
  el.className = `explainer-notice ${kind}`;
  el.setAttribute("role", kind === "error" ? "alert" : "status");
  el.textContent = message;
  return el;
}

/** A message in place of a figure that cannot be drawn (never a blank figure). */
export function errorBox(error: unknown): HTMLElement {
  return notice(error instanceof Error ? error.message : String(error), "error");
}

/**
 * Debounce for Framework cells: `const slow = settle(input, 250, invalidation)`. Cells that depend on `slow`
 * keep their last output while the reader types, and recompute once the input has been still for `ms`.
 */
export async function* settle<T>(value: T, ms: number, invalidation?: Promise<unknown>): AsyncGenerator<T> {
  let cancelled = false;
  void invalidation?.then(() => {
    cancelled = true;
  });
  await new Promise((resolve) => setTimeout(resolve, ms));
  if (!cancelled) yield value;
}
