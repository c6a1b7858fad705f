/**
 * In-page measurements of the figures' layout (kept as strings, like page-checks.ts, so nothing of the test's
 * transform leaks into the page). Sizes are in screen pixels: they include presenter mode's zoom and full
 * screen's, which is what a reader at the back of the room sees.
 */

export interface TextReport {
  text: string;
  /** the drawn font size in screen pixels */
  px: number;
}

export interface FigureLayout {
  name: string;
  /** the smallest text of the figure (SVG text and HTML text), screen pixels */
  minFont: TextReport | null;
  /** the figure's box, screen pixels */
  top: number;
  bottom: number;
  left: number;
  right: number;
  /** the top of the controls right above the figure (cells with inputs, badges, token strips), else the figure's */
  controlsTop: number;
  /**
   * what a presenter needs on one screen: from the top of the figure's controls to its bottom, less the figures
   * between them that share those controls (a second figure of the same cell)
   */
  span: number;
  /** texts drawn outside their <svg> by more than a pixel */
  outside: string[];
  /** pairs of texts of this figure whose boxes overlap */
  overlaps: string[];
  /** the text alternative: the svg's aria-label, or "table" for a figure that is a table */
  alt: string;
}

/**
 * A function expression: (figureSelector?) -> FigureLayout[] for every visible figure[data-figure] (or those
 * matching the selector).
 */
export const FIGURE_LAYOUT = `((selector) => {
  const scaleOf = (el) => {
    const m = el.getScreenCTM && el.getScreenCTM();
    return m ? Math.hypot(m.a, m.b) : 1;
  };
  const htmlZoom = (el) => (el.offsetWidth ? el.getBoundingClientRect().width / el.offsetWidth : 1);
  const figures = [...document.querySelectorAll(selector || "figure[data-figure]")].filter((f) => f.getClientRects().length);
  const main = document.querySelector("#observablehq-main");
  const isControlCell = (cell) => {
    if (!cell || cell.querySelector("figure[data-figure]")) return false;
    if (cell.matches("h1, h2, h3, h4, p, ul, ol, blockquote, .katex-display, table")) return false;
    if (cell.getClientRects().length === 0 || cell.getBoundingClientRect().height === 0) return "skip";
    return !!cell.querySelector("input, select, textarea, button, .token-strip, .explainer-badge");
  };
  return figures.map((fig) => {
    const box = fig.getBoundingClientRect();
    // the cell holding the figure (a child of <main>) and the run of control cells right above it
    let cell = fig;
    while (cell.parentElement && cell.parentElement !== main) cell = cell.parentElement;
    let controlsTop = box.top;
    if (cell.parentElement === main) {
      controlsTop = Math.min(box.top, cell.getBoundingClientRect().top);
      for (let prev = cell.previousElementSibling; prev; prev = prev.previousElementSibling) {
        const kind = isControlCell(prev);
        if (kind === "skip") continue;
        if (!kind) break;
        controlsTop = Math.min(controlsTop, prev.getBoundingClientRect().top);
      }
    }
    // figures of the same cell before this one (not side by side with it) are not this figure's controls
    const first = [...cell.querySelectorAll("figure[data-figure]")].find((f) => f.getClientRects().length) || fig;
    const span = box.bottom - controlsTop - Math.max(0, box.top - first.getBoundingClientRect().top);
    const texts = [];
    for (const t of fig.querySelectorAll("svg text")) {
      const s = (t.textContent || "").trim();
      if (!s || !t.getClientRects().length || getComputedStyle(t).visibility === "hidden") continue;
      if (t.parentElement && t.parentElement.closest("text")) continue; // a tspan's text is its text's
      const px = parseFloat(getComputedStyle(t).fontSize) * scaleOf(t);
      texts.push({ el: t, text: s, px, rect: t.getBoundingClientRect(), svg: t.ownerSVGElement });
    }
    const html = [];
    const walker = document.createTreeWalker(fig, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const p = n.parentElement;
      // (KaTeX's struts hold zero-width spaces at a near-zero size: not text anyone reads)
      if (!p || p.closest("svg") || !n.data.replace(/[\\s\u200b]/g, "") || !p.getClientRects().length) continue;
      // a formula counts at its own size, not its sub- and superscripts' (70% of it, as in print)
      const sized = p.closest(".katex") || p;
      html.push({ text: n.data.trim().slice(0, 40), px: parseFloat(getComputedStyle(sized).fontSize) * htmlZoom(sized) });
    }
    const all = [...texts, ...html];
    const min = all.reduce((m, t) => (m && m.px <= t.px ? m : t), null);
    const outside = [];
    for (const t of texts) {
      const r = t.rect, s = t.svg.getBoundingClientRect();
      if (r.left < s.left - 1 || r.right > s.right + 1 || r.top < s.top - 1 || r.bottom > s.bottom + 1)
        outside.push(t.text + " [" + [r.left, r.top, r.right, r.bottom].map(Math.round) + "] outside [" +
          [s.left, s.top, s.right, s.bottom].map(Math.round) + "]");
    }
    const overlaps = [];
    for (let i = 0; i < texts.length; i++)
      for (let j = i + 1; j < texts.length; j++) {
        const a = texts[i].rect, b = texts[j].rect;
        const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
        const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
        // glyph boxes include the line's ascent and descent: a real collision covers more than a sliver
        if (w > 2 && h > Math.min(a.height, b.height) * 0.35) overlaps.push(texts[i].text + " × " + texts[j].text);
      }
    const svg = fig.querySelector("svg[aria-label]");
    return {
      name: fig.getAttribute("data-figure"),
      minFont: min && { text: min.text, px: Math.round(min.px * 100) / 100 },
      top: box.top + scrollY, bottom: box.bottom + scrollY, left: box.left, right: box.right,
      controlsTop: controlsTop + scrollY,
      span,
      outside, overlaps,
      alt: svg ? svg.getAttribute("aria-label") : fig.querySelector("table td") ? "table" : "",
    };
  });
})`;

/** Every focusable control of the page's main column, for the keyboard check. */
export const CONTROLS = `[...document.querySelectorAll("#observablehq-main input, #observablehq-main select, #observablehq-main textarea, #observablehq-main button, #observablehq-main a[href], .explainer-toolbar button")]
  .filter((el) => el.getClientRects().length && !el.disabled && el.tabIndex >= 0 && getComputedStyle(el).visibility !== "hidden")`;

/**
 * A control's identity that survives a redraw (a figure's tools are made again each time it is drawn): its
 * figure, its tag and its label. As a function expression: (element) -> string.
 */
export const CONTROL_KEY = `((el) => [el.closest("[data-figure]")?.getAttribute("data-figure") ?? "", el.tagName,
  el.getAttribute("aria-label") || el.getAttribute("name") || el.textContent?.trim().slice(0, 30) || el.type].join(" "))`;

/** The focused element, described (`key`: CONTROL_KEY), and whether a focus ring is drawn around it. */
export const FOCUS = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const cs = getComputedStyle(el);
  const ring = (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) || (cs.boxShadow && cs.boxShadow !== "none");
  return { key: ${CONTROL_KEY}(el), ring: !!ring };
})()`;
