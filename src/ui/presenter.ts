/**
 * Presenter mode (issue 14): a chapter on a 1280 × 720 projector, read from the back of a room. `p` (or the
 * toolbar's button) toggles it; `?present=1` opens a page in it, so a prepared link does; the arrow keys and the
 * pager keep it from page to page. In it:
 *
 *  - the sidebar and the table of contents are hidden, and the page takes the whole width;
 *  - the page is zoomed by PRESENT_ZOOM (CSS zoom on Framework's <main>): Framework's `width` becomes the zoomed
 *    column's, so every figure is redrawn for it and its text, drawn at >= MIN_FIGURE_TEXT px, is shown at
 *    >= 16 px; prose grows with it;
 *  - controls that sit in a cell of their own (a select, a slider) line up in a row, the prompt box drops its
 *    counter, so that a figure and its controls fit one screen.
 *
 * API:
 *   PRESENT_PARAM, PRESENT_ZOOM, MIN_FIGURE_TEXT
 *   presenterFromSearch(search) -> boolean       ?present, ?present=1 or ?present=true: on
 *   withPresent(href, on, base) -> string          href with present=1 added (on) or removed (same-origin only)
 *   isPresenter() / setPresenter(on)               the mode (class explainer-presenter on <html>), the address,
 *                                                  and the pager's links
 *   toolbar() -> HTMLElement                       the page's row of buttons: presenter mode, reset view
 *   PRESENTER_CSS                                  the rules (installExplainer adds them)
 */
import { resetButton } from "./reset.js";

export const PRESENT_PARAM = "present";
/** Zoom of the page in presenter mode: figure text drawn at 13 px is shown at 16.25 px. */
export const PRESENT_ZOOM = 1.25;
/** The smallest text a figure draws, in its own pixels (docs/architecture.md, the figure convention). */
export const MIN_FIGURE_TEXT = 13;

const CLASS = "explainer-presenter";

export function presenterFromSearch(search: string): boolean {
  const value = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search).get(PRESENT_PARAM);
  return value !== null && value !== "0" && value !== "false";
}

/** `href` (resolved against `base`) with present=1 when `on`, without it when not; other origins unchanged. */
export function withPresent(href: string, on: boolean, base: string): string {
  const url = new URL(href, base);
  if (url.origin !== new URL(base).origin) return href;
  if (on) url.searchParams.set(PRESENT_PARAM, "1");
  else url.searchParams.delete(PRESENT_PARAM);
  return url.href;
}

export function isPresenter(): boolean {
  return typeof document !== "undefined" && document.documentElement.classList.contains(CLASS);
}

/** Turn presenter mode on or off: the page's class, `present` in the address, the pager's links, the button. */
export function setPresenter(on: boolean): void {
  document.documentElement.classList.toggle(CLASS, on);
  const here = window.location.href;
  const next = withPresent(here, on, here);
  if (next !== here) window.history.replaceState(window.history.state, "", next);
  for (const a of document.querySelectorAll<HTMLAnchorElement>("#observablehq-footer a[rel]"))
    a.href = withPresent(a.href, on, here);
  for (const b of document.querySelectorAll<HTMLButtonElement>("button.explainer-present"))
    b.setAttribute("aria-pressed", String(on));
}

export function toolbar(): HTMLElement {
  const bar = document.createElement("nav");
  bar.className = "explainer-toolbar";
  bar.setAttribute("aria-label", "Page tools");
  const present = document.createElement("button");
  present.type = "button";
  present.className = "explainer-present";
  present.textContent = "Presenter mode (p)";
  present.title = "Large type, no sidebar; ← → change chapter, f shows a figure full screen";
  present.setAttribute("aria-pressed", String(isPresenter()));
  present.addEventListener("click", () => setPresenter(!isPresenter()));
  bar.append(present, resetButton());
  return bar;
}

const P = `html.${CLASS}`;

export const PRESENTER_CSS = `
.explainer-toolbar { display: flex; justify-content: flex-end; gap: .5rem; margin: 0 0 -1.5rem; position: relative; z-index: 1; }
.explainer-toolbar button, .explainer-figure-tools button { font: 13px var(--sans-serif); padding: .2rem .6rem; border-radius: 4px;
  border: 1px solid var(--theme-foreground-faint); background: var(--theme-background); color: var(--theme-foreground-muted); cursor: pointer; }
.explainer-toolbar button:hover, .explainer-figure-tools button:hover { color: var(--theme-foreground); border-color: var(--theme-foreground-focus); }
.explainer-toolbar button[aria-pressed="true"] { background: var(--theme-foreground-focus); color: var(--theme-background); border-color: var(--theme-foreground-focus); }
${P} #observablehq-sidebar, ${P} #observablehq-toc, ${P} #observablehq-sidebar-toggle, ${P} #observablehq-sidebar-backdrop { display: none !important; }
${P} #observablehq-center { padding: 0 !important; margin: .5rem 1rem 1rem; --observablehq-inset-left: 0rem; --observablehq-inset-right: 0rem; }
${P} #observablehq-main { padding-right: 0 !important; zoom: ${PRESENT_ZOOM}; margin: 0 auto; min-height: 0; }
${P} #observablehq-main > h1 { margin-top: 0; }
${P} #observablehq-footer { zoom: ${PRESENT_ZOOM}; margin-top: 3rem; }
${P} #observablehq-main > .observablehq--block { margin: .6rem 0; }
${P} #observablehq-main > .observablehq--block:empty { display: none; }
${P} #observablehq-main > .observablehq:has(> :is(.explainer-prompt, .explainer-badge, [data-play-row], [data-key])) { margin: .3rem 0; }
${P} #observablehq-main > .observablehq:has(> .explainer-controls:only-child),
${P} #observablehq-main > .observablehq:has(> form:only-child) { display: inline-block; vertical-align: bottom; margin: .15rem 1.5rem .15rem 0; zoom: .9; }
${P} .explainer-prompt { display: grid; grid-template-columns: auto 1fr; column-gap: .75rem; align-items: start; zoom: .9; }
${P} .explainer-prompt > .explainer-notice { grid-column: 1 / -1; }
${P} .explainer-prompt label { margin: .4rem 0 0; }
${P} .explainer-prompt .count { display: none; }
${P} .katex-display > .katex { font-size: 1.05em; }
${P} .explainer-prompt textarea { max-width: none; }
${P} .explainer-badge { display: inline-flex; margin: 0 1rem 0 0; vertical-align: middle; flex-wrap: nowrap; max-width: 100%; }
${P} .explainer-badge .pill.fallback { max-width: 16em; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
${P} .explainer-badge + [data-play-row] { display: inline-flex !important; vertical-align: middle; }
${P} [data-key]:has(> .token-strip) { zoom: .9; }
${P} [data-key]:has(> .token-strip) > :first-child:not(.token-strip) { display: none; }
${P} figure[data-figure]:not(.explainer-fullscreen) { margin: .5rem 0; position: relative; }
${P} figure[data-figure]:not(.explainer-fullscreen):has(> table) { max-height: 68vh; overflow: auto; }
${P} figure[data-figure] > figcaption { font-size: 14px; max-width: none; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; line-height: 1.6; }
${P} figure[data-figure] > figcaption:hover, ${P} figure[data-figure].explainer-fullscreen > figcaption {
  white-space: normal; line-height: 1.4; }
${P} figure[data-figure]:not(.explainer-fullscreen) > .explainer-figure-tools { position: absolute; right: 0; top: 0; margin: 0;
  opacity: 0; z-index: 2; background: var(--theme-background); padding: .15rem; border-radius: 4px; }
${P} figure[data-figure]:not(.explainer-fullscreen):hover > .explainer-figure-tools,
${P} .explainer-figure-tools:focus-within { opacity: 1; }
${P} #observablehq-main form[class*="inputs-"]:not(figure form):not(:has(form)) { display: inline-flex; width: auto;
  margin: .1rem 1.5rem .1rem 0; vertical-align: bottom; }
${P} #observablehq-main form[class*="inputs-"]:not(:has(form)) > label { width: auto; }
${P} .explainer-controls { display: inline-flex; margin: .1rem 1.5rem .1rem 0; vertical-align: bottom; }
${P} .explainer-generated { min-height: 3.2em; max-height: 9em; overflow: auto; max-width: none; }
`;
