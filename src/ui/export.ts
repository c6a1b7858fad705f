/**
 * Figures for slides (issue 14): every `figure[data-figure]` gets a row of tools under it: SVG and PNG (2×)
 * downloads of exactly what is on screen, a "copy link to this view", and full screen. The downloads add a caption
 * line naming the page, the model (from the badge above the figure) and the view it shows (prompt, layer, channel,
 * token, ... read from the page's controls), and paint the page's background behind the figure, so its colours
 * read the same on a white slide as on screen, in the light and the dark theme.
 *
 * The export flattens the figure into one self-contained SVG: its <svg> elements cloned with their computed
 * styles inlined (no CSS variables or currentColor left: they would not resolve in a file), canvases and images
 * as PNG data, and the HTML parts (tables, legends, the caption) as rectangles and lines of text at the positions
 * the browser laid them out at. Slide software reads plain SVG (no <foreignObject>).
 *
 * API:
 *   FIGURE_PARAM                                "figure": the address key a copied link names its figure with
 *   interface ViewFact {key, value}
 *   quotePrompt(text, max?) -> string           “To be, or…” with line breaks shown as ↵
 *   captionLine({page, model, facts}) -> string "page · model · prompt “…” · layer 1 · token 4 “e”"
 *   exportName(pathname, figure, ext) -> string "05-wkv-wkv-overflow.svg"
 *   viewFacts(root) -> ViewFact[]               DOM: the view state shown by the page's controls
 *   figureCaption(figure) -> string             DOM: captionLine for a figure on this page
 *   figureSvg(figure, caption?) -> {svg, width, height}    DOM: the flattened SVG (see above)
 *   svgToPng(svg, width, height, scale?) -> Promise<Blob>  DOM: rasterised at `scale` (default 2)
 *   viewLink(figure) -> string                  the address of this view, with figure=NAME
 *   figureTools(figure, {fullscreen}) -> HTMLElement       the row of buttons
 *   decorateFigures(root, {fullscreen})         adds the row to every figure that lacks one
 *   EXPORT_CSS
 */
import { flushUrlState } from "./url-state.js";

export const FIGURE_PARAM = "figure";
const TOOLS = "explainer-figure-tools";
const SVG_NS = "http://www.w3.org/2000/svg";

export interface ViewFact {
  key: string;
  value: string;
}

export function quotePrompt(text: string, max = 48): string {
  const shown = text.replace(/\r?\n/g, "↵");
  const chars = [...shown];
  return `“${chars.length > max ? chars.slice(0, max - 1).join("") + "…" : shown}”`;
}

export function captionLine({
  page,
  model,
  facts,
}: {
  page: string;
  model?: string | null;
  facts: readonly ViewFact[];
}): string {
  return [page, model, ...facts.map(({ key, value }) => `${key} ${value}`)]
    .filter((s): s is string => !!s)
    .join(" · ");
}

export function exportName(pathname: string, figure: string, ext: "svg" | "png"): string {
  const page =
    pathname
      .split("/")
      .pop()
      ?.replace(/\.html$/, "") || "index";
  const safe = (s: string) => s.replace(/[^\w.-]+/g, "_");
  return `${safe(page)}-${safe(figure)}.${ext}`;
}

/** What a control shows: a prompt quoted, a token with its character, a slider's readout, else its value. */
function shownValue(el: HTMLElement & { value?: unknown }): string {
  if (el.dataset.key === "prompt") return quotePrompt(String(el.value ?? ""));
  const pressed = el.querySelector('.token-strip [aria-pressed="true"]');
  if (pressed) return `${String(el.value)} “${pressed.textContent ?? ""}”`;
  const output = el.querySelector("output");
  if (output?.textContent) return output.textContent.trim();
  return String(el.value);
}

function visible(el: Element): boolean {
  return el.getClientRects().length > 0;
}

export function viewFacts(root: ParentNode): ViewFact[] {
  const facts: ViewFact[] = [];
  const keyed = [...root.querySelectorAll<HTMLElement>("[data-key]")].filter(
    (el) => visible(el) && !el.closest(`.${TOOLS}`),
  );
  for (const el of keyed) facts.push({ key: el.dataset.key as string, value: shownValue(el) });
  // Framework's Inputs (a <form> with a <label>), e.g. the home page's context length
  for (const form of root.querySelectorAll("form")) {
    if (!visible(form) || keyed.some((k) => k.contains(form)) || form.closest("figure")) continue;
    const label = form.querySelector("label")?.textContent?.trim();
    const input = form.querySelector<HTMLInputElement | HTMLSelectElement>("select, input, textarea");
    if (!label || !input) continue;
    const value =
      input instanceof HTMLSelectElement
        ? (input.selectedOptions[0]?.textContent ?? input.value)
        : input.value;
    facts.push({ key: label, value });
  }
  return facts;
}

/** The badge nearest above the figure (else the page's first): "tiny-rwkv (trained), live, wasm". */
function modelFor(figure: Element): string | null {
  const badges = [...document.querySelectorAll<HTMLElement>(".explainer-badge[data-model]")];
  const above = badges.filter((b) => b.compareDocumentPosition(figure) & Node.DOCUMENT_POSITION_FOLLOWING);
  const badge = above.pop() ?? badges[0];
  if (!badge) return null;
  const { model, source, backend } = badge.dataset;
  return [model, source, backend && `backend ${backend}`].filter(Boolean).join(", ");
}

export function figureCaption(figure: HTMLElement): string {
  const main = document.querySelector("#observablehq-main") ?? document.body;
  const page = document.title.replace(/\s*\|.*$/, "");
  return captionLine({ page, model: modelFor(figure), facts: viewFacts(main) });
}

// ---------------------------------------------------------------------------------------------------------------
// flattening

const SVG_PROPS = [
  "fill",
  "fill-opacity",
  "stroke",
  "stroke-width",
  "stroke-opacity",
  "stroke-dasharray",
  "stroke-linecap",
  "stroke-linejoin",
  "opacity",
  "font-family",
  "font-size",
  "font-weight",
  "font-style",
  "text-anchor",
  "dominant-baseline",
  "letter-spacing",
  "visibility",
  "paint-order",
  "image-rendering",
];

const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A colour that paints nothing. */
const transparent = (color: string): boolean =>
  color === "transparent" || color === "" || toRgb(color).endsWith(", 0)");

let pixel: CanvasRenderingContext2D | null = null;
const rgbCache = new Map<string, string>();
/**
 * Any CSS colour as rgb(...) / rgba(...), the form every SVG reader knows (computed styles can be
 * color(srgb ...) or oklch(...) where the theme mixes colours): painted on one pixel and read back.
 */
function toRgb(color: string): string {
  if (color === "none" || color.startsWith("url(") || /^rgba?\(/.test(color)) return color;
  const known = rgbCache.get(color);
  if (known) return known;
  pixel ??= document.createElement("canvas").getContext("2d", { willReadFrequently: true });
  if (!pixel) return color;
  pixel.clearRect(0, 0, 1, 1);
  pixel.fillStyle = "rgba(0, 0, 0, 0)";
  pixel.fillStyle = color;
  pixel.fillRect(0, 0, 1, 1);
  const [r, g, b, a] = pixel.getImageData(0, 0, 1, 1).data;
  const rgb = a === 255 ? `rgb(${r}, ${g}, ${b})` : `rgba(${r}, ${g}, ${b}, ${+(a / 255).toFixed(3)})`;
  rgbCache.set(color, rgb);
  return rgb;
}

const COLOR_PROPS = new Set(["fill", "stroke"]);

interface Box {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** The page's background colour (the theme's), for a figure that is painted on it. */
function pageBackground(figure: Element): string {
  for (let el: Element | null = figure; el; el = el.parentElement) {
    // the first opaque background (a half-transparent one, mid-transition, lets the page's through)
    const bg = toRgb(getComputedStyle(el).backgroundColor);
    if (bg.startsWith("rgb(")) return bg;
  }
  return "rgb(255, 255, 255)";
}

/** A clone of an <svg> with every element's computed presentation written into its style attribute. */
function inlineSvg(svg: SVGSVGElement): SVGSVGElement {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const from = [svg, ...svg.querySelectorAll("*")];
  const to = [clone, ...clone.querySelectorAll("*")];
  from.forEach((el, i) => {
    const target = to[i] as Element;
    const cs = getComputedStyle(el);
    if (cs.display === "none") {
      target.remove();
      return;
    }
    const value = (p: string) =>
      COLOR_PROPS.has(p) ? toRgb(cs.getPropertyValue(p)) : cs.getPropertyValue(p);
    target.setAttribute("style", SVG_PROPS.map((p) => `${p}:${value(p)}`).join(";"));
    // the computed values above replace the presentation attributes (which may say currentColor or var(...))
    for (const p of SVG_PROPS) target.removeAttribute(p);
    target.removeAttribute("class");
  });
  // a canvas drawn in the SVG (a heatmap's cells, src/components/heatmap.ts) has no pixels in a copy or in an
  // SVG file: it goes out as an <image> of what it shows, scaled as it is on screen
  from.forEach((el, i) => {
    const target = to[i] as Element;
    if (!(el instanceof SVGForeignObjectElement)) return;
    const canvas = el.querySelector("canvas");
    if (!canvas || !clone.contains(target)) return;
    const image = document.createElementNS(SVG_NS, "image");
    for (const a of ["x", "y", "width", "height"]) image.setAttribute(a, el.getAttribute(a) ?? "0");
    image.setAttribute("preserveAspectRatio", "none");
    image.setAttribute("style", `image-rendering:${getComputedStyle(canvas).imageRendering}`);
    image.setAttribute("href", canvas.toDataURL("image/png"));
    target.replaceWith(image);
  });
  return clone;
}

/** Splits a text node into its laid-out lines: [text, rect] per line box. */
function textLines(node: Text): { text: string; rect: DOMRect }[] {
  const text = node.data;
  const range = document.createRange();
  const lines: { start: number; end: number; rect: DOMRect }[] = [];
  for (let i = 0; i < text.length; i++) {
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    const r = range.getClientRects()[0];
    if (!r || (r.width === 0 && /\s/.test(text[i]))) continue;
    const last = lines[lines.length - 1];
    if (last && Math.abs(r.top - last.rect.top) < r.height / 2) {
      last.end = i + 1;
      last.rect = new DOMRect(
        last.rect.left,
        last.rect.top,
        Math.max(last.rect.right, r.right) - last.rect.left,
        last.rect.height,
      );
    } else lines.push({ start: i, end: i + 1, rect: r });
  }
  return lines.map(({ start, end, rect }) => ({
    text: text.slice(start, end).replace(/\s+/g, " ").trim(),
    rect,
  }));
}

let measure: CanvasRenderingContext2D | null = null;
function ascent(font: string, size: number): number {
  measure ??= document.createElement("canvas").getContext("2d");
  if (!measure) return size * 0.8;
  measure.font = font;
  const m = measure.measureText("Hg");
  return m.fontBoundingBoxAscent || size * 0.8;
}

function fontAttrs(cs: CSSStyleDeclaration): string {
  return (
    `font-family="${esc(cs.fontFamily)}" font-size="${cs.fontSize}" font-weight="${cs.fontWeight}" ` +
    `font-style="${cs.fontStyle}" fill="${toRgb(cs.color)}"`
  );
}

/** Lines of `text` that fit `width` in the given font (for the caption). */
function wrap(text: string, font: string, width: number): string[] {
  measure ??= document.createElement("canvas").getContext("2d");
  if (!measure) return [text];
  measure.font = font;
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    const next = line ? `${line} ${word}` : word;
    if (line && measure.measureText(next).width > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines;
}

export function figureSvg(
  figure: HTMLElement,
  caption?: string,
): { svg: string; width: number; height: number } {
  // the figure's zoom on screen (presenter mode, full screen): the export is drawn in the figure's own pixels
  const zoom = figure.getBoundingClientRect().width / (figure.offsetWidth || 1) || 1;
  const parts: { box: Box; markup: (x0: number, y0: number) => string }[] = [];
  const skip = (el: Element): boolean => !!el.closest(`.${TOOLS}`) || !visible(el);
  const walk = (el: Element): void => {
    if (skip(el)) return;
    const r = el.getBoundingClientRect();
    const box = { left: r.left / zoom, top: r.top / zoom, right: r.right / zoom, bottom: r.bottom / zoom };
    const at = (x0: number, y0: number) =>
      `x="${box.left - x0}" y="${box.top - y0}" width="${box.right - box.left}" height="${box.bottom - box.top}"`;
    if (el instanceof SVGSVGElement) {
      const clone = inlineSvg(el);
      if (!clone.getAttribute("viewBox"))
        clone.setAttribute(
          "viewBox",
          `0 0 ${el.clientWidth || r.width / zoom} ${el.clientHeight || r.height / zoom}`,
        );
      for (const a of ["x", "y", "width", "height"]) clone.removeAttribute(a);
      const inner = new XMLSerializer().serializeToString(clone).replace(/^<svg/, "");
      parts.push({ box, markup: (x0, y0) => `<svg ${at(x0, y0)}${inner}` });
      return;
    }
    if (el instanceof HTMLCanvasElement || el instanceof HTMLImageElement) {
      let href = "";
      try {
        if (el instanceof HTMLCanvasElement) href = el.toDataURL("image/png");
        else {
          const c = document.createElement("canvas");
          [c.width, c.height] = [el.naturalWidth, el.naturalHeight];
          c.getContext("2d")?.drawImage(el, 0, 0);
          href = c.toDataURL("image/png");
        }
      } catch {
        return; // a cross-origin image: left out rather than failing the export
      }
      const rendering = getComputedStyle(el).imageRendering;
      parts.push({
        box,
        markup: (x0, y0) =>
          `<image ${at(x0, y0)} preserveAspectRatio="none" style="image-rendering:${rendering}" href="${href}"/>`,
      });
      return;
    }
    if (el !== figure) {
      const cs = getComputedStyle(el);
      if (!transparent(cs.backgroundColor))
        parts.push({ box, markup: (x0, y0) => `<rect ${at(x0, y0)} fill="${toRgb(cs.backgroundColor)}"/>` });
      for (const [side, x1, y1, x2, y2] of [
        ["Top", box.left, box.top, box.right, box.top],
        ["Bottom", box.left, box.bottom, box.right, box.bottom],
        ["Left", box.left, box.top, box.left, box.bottom],
        ["Right", box.right, box.top, box.right, box.bottom],
      ] as const) {
        const w = parseFloat(cs.getPropertyValue(`border-${side.toLowerCase()}-width`));
        const color = toRgb(cs.getPropertyValue(`border-${side.toLowerCase()}-color`));
        if (
          w > 0 &&
          cs.getPropertyValue(`border-${side.toLowerCase()}-style`) !== "none" &&
          !transparent(color)
        )
          parts.push({
            box,
            markup: (x0, y0) =>
              `<line x1="${x1 - x0}" y1="${y1 - y0}" x2="${x2 - x0}" y2="${y2 - y0}" stroke="${color}" stroke-width="${w}"/>`,
          });
      }
      if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) {
        const value = el instanceof HTMLSelectElement ? (el.selectedOptions[0]?.textContent ?? "") : el.value;
        const size = parseFloat(cs.fontSize);
        const x = box.left + parseFloat(cs.paddingLeft) + parseFloat(cs.borderLeftWidth);
        const y = (box.top + box.bottom) / 2 + size * 0.35;
        parts.push({
          box,
          markup: (x0, y0) => `<text x="${x - x0}" y="${y - y0}" ${fontAttrs(cs)}>${esc(value)}</text>`,
        });
      }
    }
    for (const child of el.childNodes) {
      if (child instanceof Text && child.data.trim()) {
        const cs = getComputedStyle(el);
        const size = parseFloat(cs.fontSize);
        const up = ascent(cs.font, size);
        for (const { text, rect } of textLines(child)) {
          if (!text) continue;
          const box = {
            left: rect.left / zoom,
            top: rect.top / zoom,
            right: rect.right / zoom,
            bottom: rect.bottom / zoom,
          };
          parts.push({
            box,
            markup: (x0, y0) =>
              `<text x="${box.left - x0}" y="${box.top - y0 + up}" ${fontAttrs(cs)}>${esc(text)}</text>`,
          });
        }
      } else if (child instanceof Element) walk(child);
    }
  };
  walk(figure);
  const bounds = parts.reduce(
    (b, { box }) => ({
      left: Math.min(b.left, box.left),
      top: Math.min(b.top, box.top),
      right: Math.max(b.right, box.right),
      bottom: Math.max(b.bottom, box.bottom),
    }),
    { left: Infinity, top: Infinity, right: -Infinity, bottom: -Infinity },
  );
  if (!parts.length) throw new Error("this figure has nothing drawn to export");
  const pad = 12;
  const x0 = bounds.left - pad;
  const y0 = bounds.top - pad;
  const width = Math.ceil(bounds.right - bounds.left + 2 * pad);
  const cs = getComputedStyle(figure);
  const captionFont = `13px ${cs.fontFamily}`;
  const captionLines = caption ? wrap(caption, captionFont, width - 2 * pad) : [];
  const height = Math.ceil(
    bounds.bottom - bounds.top + 2 * pad + captionLines.length * 18 + (caption ? 6 : 0),
  );
  const captionY = bounds.bottom - y0 + 6;
  const captionSvg = captionLines
    .map(
      (line, i) =>
        `<text x="${pad}" y="${captionY + 14 + i * 18}" font-family="${esc(cs.fontFamily)}" font-size="13" ` +
        `fill="${toRgb(cs.color)}" opacity="0.8" class="caption-line">${esc(line)}</text>`,
    )
    .join("");
  const svg =
    `<svg xmlns="${SVG_NS}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `data-caption="${esc(caption ?? "")}">` +
    `<rect width="100%" height="100%" fill="${pageBackground(figure)}"/>` +
    parts.map((p) => p.markup(x0, y0)).join("") +
    captionSvg +
    `</svg>`;
  return { svg, width, height };
}

export async function svgToPng(svg: string, width: number, height: number, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("no 2D canvas to draw the PNG on");
    ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
    return await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("the PNG could not be encoded"))), "image/png"),
    );
  } finally {
    URL.revokeObjectURL(url);
  }
}

function download(blob: Blob, name: string): void {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 30_000);
}

export function viewLink(figure: string): string {
  flushUrlState();
  const url = new URL(window.location.href);
  url.searchParams.set(FIGURE_PARAM, figure);
  url.hash = "";
  return url.href;
}

function button(text: string, title: string, onClick: (b: HTMLButtonElement) => void): HTMLButtonElement {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.title = title;
  b.setAttribute("aria-label", title);
  b.addEventListener("click", (event) => {
    event.stopPropagation();
    onClick(b);
  });
  return b;
}

export function figureTools(
  figure: HTMLElement,
  { fullscreen }: { fullscreen: (figure: HTMLElement) => void },
): HTMLElement {
  const name = figure.dataset.figure ?? "figure";
  const row = document.createElement("div");
  row.className = TOOLS;
  row.setAttribute("role", "group");
  row.setAttribute("aria-label", `Figure tools: ${name}`);
  const failed = (b: HTMLButtonElement, error: unknown) => {
    b.dataset.error = error instanceof Error ? error.message : String(error);
    console.warn(`export of ${name}: ${b.dataset.error}`);
  };
  const file = (ext: "svg" | "png") => exportName(window.location.pathname, name, ext);
  row.append(
    button("⤓ SVG", "Download what the figure shows as SVG, with a caption line", (b) => {
      try {
        const { svg } = figureSvg(figure, figureCaption(figure));
        download(new Blob([svg], { type: "image/svg+xml" }), file("svg"));
      } catch (error) {
        failed(b, error);
      }
    }),
    button("⤓ PNG", "Download what the figure shows as PNG (2×), with a caption line", (b) => {
      try {
        const { svg, width, height } = figureSvg(figure, figureCaption(figure));
        svgToPng(svg, width, height).then(
          (png) => download(png, file("png")),
          (error: unknown) => failed(b, error),
        );
      } catch (error) {
        failed(b, error);
      }
    }),
    button("Link", "Copy a link that opens this page with this view and this figure", (b) => {
      const link = viewLink(name);
      b.dataset.link = link;
      const done = (text: string) => {
        b.textContent = text;
        setTimeout(() => (b.textContent = "Link"), 2000);
      };
      if (navigator.clipboard?.writeText)
        navigator.clipboard.writeText(link).then(
          () => done("Link copied"),
          () => window.prompt("Copy this link:", link),
        );
      else window.prompt("Copy this link:", link); // no clipboard outside https: show it to copy by hand
    }),
    button("Full screen", "Show this figure full screen (f; Esc leaves)", () => fullscreen(figure)),
  );
  return row;
}

export function decorateFigures(
  root: ParentNode,
  options: { fullscreen: (figure: HTMLElement) => void },
): void {
  for (const figure of root.querySelectorAll<HTMLElement>(`figure[data-figure]:not(:has(> .${TOOLS}))`))
    figure.append(figureTools(figure, options));
}

export const EXPORT_CSS = `
.${TOOLS} { display: flex; flex-wrap: wrap; gap: .3rem; margin-top: .3rem; opacity: .55; transition: opacity .15s; }
.${TOOLS} button { padding: .1rem .45rem; }
figure[data-figure]:not(.explainer-fullscreen):hover > .${TOOLS}, .${TOOLS}:focus-within { opacity: 1; }
`;
