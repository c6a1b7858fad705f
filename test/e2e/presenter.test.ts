/**
 * The built site as a presenter uses it (issue 14), in Chromium:
 *  - every page in presenter mode at 1280 × 720 (`?present=1`): sidebar and contents hidden, figure text at least
 *    16 px on screen, each figure with its controls within one screen, every text inside its svg, no overlapping
 *    labels in the figures the issue named; `f` enlarges every figure (chapter 5's heatmaps included) with its
 *    text, Esc leaves; `p` leaves and re-enters presenter mode; → and ← turn the page and keep presenter mode, on
 *    the home page too. A screenshot of each figure as the room sees it goes to out/e2e-screenshots/presenter/;
 *  - the figure tools: SVG and PNG (2×) of what is shown, with a caption line naming the model, prompt, layer,
 *    channel and token, readable on the page's own background in the light and the dark theme; "copy link"
 *    reproduces the view in a fresh page;
 * (A 390 px phone and the keyboard: test/e2e/site.test.ts, on the page it has loaded anyway.)
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { FIGURE_LAYOUT, type FigureLayout } from "./helpers/layout-checks.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { quiet } from "./helpers/phone-keyboard.js";
import { PAGE_READY, waitForModels } from "./helpers/page-checks.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import { distDir, ensureBuilt, findPages, repoRoot } from "./helpers/site.js";

const status = browserStatus();
if (status.available) ensureBuilt();
const pages = status.available ? await findPages() : [];
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 90_000);
const SCREEN = { width: 1280, height: 720 };
const shots = path.join(repoRoot, "out", "e2e-screenshots", "presenter");
/** Figures whose labels the issue found colliding or cut off: no two of their texts may overlap. */
const NAMED =
  /^(attention-comparison|wkv-overflow|wkv-state-.*|decay-kernel|wkv-change|mu-profiles|token-blend)$/;

let server: StaticServer;
let browser: Browser;

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(PAGE_READY, null, { timeout: TIMEOUT, polling: 250 });
  // figures redraw once the live model is loaded: measure what stays
  await waitForModels(page, TIMEOUT);
  await page.waitForTimeout(400);
}

async function open(urlPath: string, size = SCREEN, colorScheme?: "light" | "dark") {
  const opened = await openWatchedPage(browser, server.origin + urlPath, { colorScheme });
  await opened.page.setViewportSize(size);
  await ready(opened.page);
  return opened;
}

const layout = (page: Page, selector?: string) =>
  page.evaluate(`(${FIGURE_LAYOUT})(${JSON.stringify(selector ?? null)})`) as Promise<FigureLayout[]>;

/** Relative luminance and contrast ratio (WCAG 2), from "rgb(r, g, b)" / "rgba(...)" / "#rrggbb". */
function rgb(color: string): [number, number, number] {
  const hex = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (hex) return [1, 2, 3].map((i) => parseInt(hex[i], 16)) as [number, number, number];
  const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)/.exec(color);
  if (!m) throw new Error(`not a colour: ${color}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}
function luminance(color: string): number {
  const [r, g, b] = rgb(color).map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

describe.runIf(status.available)("presenting the built site", () => {
  beforeAll(async () => {
    server = await serveStatic(distDir);
    browser = await launchChromium();
    await mkdir(shots, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it.each(pages)("%s in presenter mode at 1280 × 720, with its keys", async (pagePath) => {
    const present = `${pagePath}${pagePath.includes("?") ? "&" : "?"}present=1`;
    const { page, problems } = await open(present);
    const name = pagePath === "/" ? "index" : pagePath.slice(1).replace(/\//g, "_");
    try {
      expect(await page.evaluate(`document.documentElement.classList.contains("explainer-presenter")`)).toBe(
        true,
      );
      expect(await page.locator("#observablehq-sidebar").isVisible()).toBe(false);
      expect(await page.locator("#observablehq-toc").isVisible()).toBe(false);
      const figures = await layout(page);
      expect(figures.length, "figures on the page").toBeGreaterThan(0);
      const small: string[] = [];
      const tall: string[] = [];
      const outside: string[] = [];
      const overlaps: string[] = [];
      for (const [i, f] of figures.entries()) {
        // what the room sees: the screen scrolled to the figure's controls
        await page.evaluate(`window.scrollTo(0, ${Math.max(0, f.controlsTop - 8)})`);
        await page.screenshot({ path: path.join(shots, `${name}-${i}-${f.name}.png`) });
        if (f.minFont && f.minFont.px < 16)
          small.push(`${f.name}: “${f.minFont.text}” at ${f.minFont.px} px`);
        if (f.span > SCREEN.height) tall.push(`${f.name}: figure and controls ${Math.round(f.span)} px`);
        if (f.left < -1 || f.right > SCREEN.width + 1) outside.push(`${f.name}: ${f.left}..${f.right} px`);
        outside.push(...f.outside.map((o) => `${f.name}: ${o}`));
        if (NAMED.test(f.name)) overlaps.push(...f.overlaps.map((o) => `${f.name}: ${o}`));
      }
      expect(small, "figure text under 16 px on a 1280 × 720 screen").toEqual([]);
      expect(tall, "figures that do not fit one 1280 × 720 screen with their controls").toEqual([]);
      expect(outside, "text or figures outside their box").toEqual([]);
      expect(overlaps, "overlapping labels").toEqual([]);
      // equations: none wider than its column or cut off at the bottom (chapter 2's α with its cases was)
      const clipped = (await page.evaluate(`[...document.querySelectorAll(".katex-display")]
        .filter((d) => d.scrollWidth > d.clientWidth + 1 || d.scrollHeight > d.clientHeight + 1)
        .map((d) => d.textContent.slice(0, 40) + " " + d.scrollWidth + "/" + d.clientWidth + " × " + d.scrollHeight + "/" + d.clientHeight)`)) as string[];
      expect(clipped, "equations cut off").toEqual([]);

      // f: every figure full screen, its text enlarged with it; Esc leaves (after late redraws have settled)
      await quiet(page, 400);
      const names = figures.map((f) => f.name);
      for (const [i, figName] of names.entries()) {
        const fig = page.locator(`figure[data-figure="${figName}"]`).first();
        // a figure may be drawn again meanwhile (the full-size page's timings): take the new one
        for (let attempt = 0; ; attempt++) {
          try {
            await fig.scrollIntoViewIfNeeded({ timeout: 5000 });
            break;
          } catch (error) {
            if (attempt >= 3) throw error;
            await quiet(page);
          }
        }
        const before = figures[i].minFont?.px ?? 0;
        await fig.hover({ position: { x: 20, y: 40 } });
        await page.keyboard.press("f");
        await expect.poll(() => fig.getAttribute("class")).toContain("explainer-fullscreen");
        const [full] = await layout(page, ".explainer-fullscreen");
        expect(full.name).toBe(figName);
        expect(full.right - full.left, `${figName} full screen`).toBeGreaterThanOrEqual(SCREEN.width - 1);
        expect(full.minFont?.px ?? 16, `${figName}: text in full screen`).toBeGreaterThanOrEqual(
          Math.min(16, before),
        );
        // the figure's tools stay out of the picture (they covered chapter 5's titles) until pointed at
        await expect
          .poll(
            () =>
              fig.evaluate((el) => {
                const tools = el.querySelector(":scope > .explainer-figure-tools");
                return tools ? getComputedStyle(tools).opacity : "0";
              }),
            { message: `${figName}: tools shown over the full-screen figure` },
          )
          .toBe("0");
        const zoom = Number(await fig.getAttribute("data-fullscreen-zoom"));
        // never smaller than on the page (already the screen's width here: chapter 5's test shows it enlarging)
        expect(zoom, `${figName}: full screen zoom`).toBeGreaterThanOrEqual(1);
        if (figName.startsWith("wkv-state") || i === 0)
          await page.screenshot({ path: path.join(shots, `${name}-${i}-${figName}-full.png`) });
        await page.keyboard.press("Escape");
        await expect.poll(() => fig.getAttribute("class")).not.toContain("explainer-fullscreen");
      }

      // p leaves presenter mode and enters it again (the address follows)
      await page.mouse.move(2, 2);
      await page.keyboard.press("p");
      expect(await page.evaluate(`document.documentElement.classList.contains("explainer-presenter")`)).toBe(
        false,
      );
      expect(new URL(page.url()).searchParams.get("present")).toBeNull();
      await page.keyboard.press("p");
      expect(new URL(page.url()).searchParams.get("present")).toBe("1");

      // → and ← turn the page and keep presenter mode
      const pager = (rel: string) =>
        page.evaluate(
          `document.querySelector('#observablehq-footer a[rel="${rel}"]')?.getAttribute("href") ?? null`,
        ) as Promise<string | null>;
      const [next, prev] = [await pager("next"), await pager("prev")];
      const key = next ? "ArrowRight" : "ArrowLeft";
      const target = (next ?? prev) as string;
      expect(target, "a pager link to follow").toBeTruthy();
      const from = new URL(page.url()).pathname;
      await Promise.all([page.waitForURL((u) => u.pathname !== from), page.keyboard.press(key)]);
      const landed = new URL(page.url());
      expect(landed.pathname).toBe(new URL(target, server.origin + pagePath).pathname);
      expect(landed.searchParams.get("present")).toBe("1");
      await page.waitForFunction(`document.documentElement.classList.contains("explainer-presenter")`);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  for (const scheme of ["light", "dark"] as const) {
    it(`exports chapter 5's heatmap as SVG and PNG with its caption line (${scheme} theme)`, async () => {
      const { page, problems } = await open(
        "/05-wkv?layer=2&channel=17&token=5",
        { width: 1280, height: 900 },
        scheme,
      );
      try {
        const fig = page.locator('figure[data-figure="wkv-state-a"]');
        // f outside presenter mode: the heatmap fills the screen, its text scaled up with it
        await fig.hover({ position: { x: 30, y: 60 } });
        const inPage = (await layout(page, 'figure[data-figure="wkv-state-a"]'))[0].minFont?.px ?? 0;
        await page.keyboard.press("f");
        await expect.poll(() => fig.getAttribute("class")).toContain("explainer-fullscreen");
        const [full] = await layout(page, ".explainer-fullscreen");
        expect(Number(await fig.getAttribute("data-fullscreen-zoom"))).toBeGreaterThan(1.2);
        expect(full.minFont?.px).toBeGreaterThan(Math.max(16, inPage));
        await page.keyboard.press("Escape");
        await fig.hover();
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          fig.locator(".explainer-figure-tools button", { hasText: "SVG" }).click(),
        ]);
        expect(download.suggestedFilename()).toBe("05-wkv-wkv-state-a.svg");
        const svg = await readFile((await download.path()) as string, "utf8");
        expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
        expect(svg).not.toContain("var(");
        expect(svg).not.toContain("currentColor");
        expect(svg).not.toContain("foreignObject");
        expect(svg).toMatch(/<image [^>]*href="data:image\/png;base64,/); // the cells
        // the cells' image: where the canvas is on the page, pixelated, one pixel a cell as the canvas holds them
        const cells = (await page.evaluate(`(async (text) => {
          const doc = new DOMParser().parseFromString(text, "image/svg+xml");
          const im = doc.querySelector("image");
          const img = new Image();
          img.src = im.getAttribute("href");
          await img.decode();
          return { box: ["x", "y", "width", "height"].map((a) => +im.getAttribute(a)),
            style: im.getAttribute("style"), size: [img.naturalWidth, img.naturalHeight] };
        })(${JSON.stringify(svg)})`)) as { box: number[]; style: string; size: number[] };
        const canvasOnPage = await fig.locator("foreignObject").evaluate((fo) => {
          const c = fo.querySelector("canvas") as HTMLCanvasElement;
          return {
            box: ["x", "y", "width", "height"].map((a) => +fo.getAttribute(a)!),
            size: [c.width, c.height],
          };
        });
        expect(cells.box).toEqual(canvasOnPage.box);
        expect(cells.size).toEqual(canvasOnPage.size);
        expect(cells.style).toMatch(/image-rendering:\s*pixelated/);
        // what the export holds, read back by the browser's own SVG parser
        const parsed = (await page.evaluate(`((text) => {
          const doc = new DOMParser().parseFromString(text, "image/svg+xml");
          if (doc.querySelector("parsererror")) return { error: doc.querySelector("parsererror").textContent };
          const root = doc.documentElement;
          const bg = root.querySelector(":scope > rect").getAttribute("fill");
          const texts = [...root.querySelectorAll("text")].map((t) => {
            const style = t.getAttribute("style") || "";
            const fill = /fill:\\s*([^;]+)/.exec(style)?.[1] || t.getAttribute("fill") || t.closest("[fill]")?.getAttribute("fill");
            const opacity = Number(/(?:^|;)opacity:\\s*([^;]+)/.exec(style)?.[1] ?? t.getAttribute("opacity") ?? 1);
            return { text: t.textContent, fill, opacity, caption: t.classList.contains("caption-line") };
          });
          return { bg, caption: root.getAttribute("data-caption"), texts, width: +root.getAttribute("width"),
            height: +root.getAttribute("height") };
        })(${JSON.stringify(svg)})`)) as {
          error?: string;
          bg: string;
          caption: string;
          texts: { text: string; fill: string; opacity: number; caption: boolean }[];
          width: number;
          height: number;
        };
        expect(parsed.error).toBeUndefined();
        // the caption line names the page, the model, the prompt, the layer, the channel and the token shown
        const token = await page.locator('[data-key="token"] [aria-pressed="true"]').textContent();
        expect(parsed.caption).toContain("5. The WKV operator and its state");
        expect(parsed.caption).toContain("tiny-rwkv");
        expect(parsed.caption).toContain("prompt “HAMLET:↵To be, or not to be");
        expect(parsed.caption).toContain("layer 2");
        expect(parsed.caption).toContain("channel 17");
        expect(parsed.caption).toContain(`token 5 “${token}”`);
        expect(
          parsed.texts
            .filter((t) => t.caption)
            .map((t) => t.text)
            .join(" "),
        ).toBe(parsed.caption);
        // every text of the figure on screen is in the file
        const onScreen = await fig.locator("svg text").evaluateAll((ts) => ts.map((t) => t.textContent));
        const inFile = parsed.texts.map((t) => t.text);
        for (const t of onScreen) expect(inFile, `“${t}” in the export`).toContain(t);
        // the page's background behind it, and every opaque text readable on it
        // (the theme paints <html>; computed as color(srgb ...) in the dark theme, read back through a pixel)
        const pageBg = (await page.evaluate(`(() => {
          const c = document.createElement("canvas").getContext("2d");
          c.fillStyle = getComputedStyle(document.documentElement).backgroundColor;
          c.fillRect(0, 0, 1, 1);
          const [r, g, b] = c.getImageData(0, 0, 1, 1).data;
          return "rgb(" + r + ", " + g + ", " + b + ")";
        })()`)) as string;
        expect(rgb(parsed.bg)).toEqual(rgb(pageBg));
        if (scheme === "dark") expect(luminance(parsed.bg)).toBeLessThan(0.05);
        else expect(luminance(parsed.bg)).toBeGreaterThan(0.9);
        const unreadable = parsed.texts
          .filter((t) => t.opacity >= 0.75)
          .filter((t) => contrast(t.fill, parsed.bg) < 3)
          .map((t) => `${t.text}: ${t.fill} on ${parsed.bg}`);
        expect(unreadable).toEqual([]);

        // PNG at twice the size, and not blank
        const [png] = await Promise.all([
          page.waitForEvent("download"),
          fig.locator(".explainer-figure-tools button", { hasText: "PNG" }).click(),
        ]);
        expect(png.suggestedFilename()).toBe("05-wkv-wkv-state-a.png");
        const bytes = await readFile((await png.path()) as string);
        expect(bytes.subarray(1, 4).toString("latin1")).toBe("PNG");
        expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([
          2 * parsed.width,
          2 * parsed.height,
        ]);
        const colours = (await page.evaluate(`(async (b64) => {
          const blob = await (await fetch("data:image/png;base64," + b64)).blob();
          const bitmap = await createImageBitmap(blob);
          const c = new OffscreenCanvas(bitmap.width, bitmap.height);
          const ctx = c.getContext("2d");
          ctx.drawImage(bitmap, 0, 0);
          const d = ctx.getImageData(0, 0, c.width, c.height).data;
          const seen = new Set();
          for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + "," + d[i + 1] + "," + d[i + 2]);
          return seen.size;
        })(${JSON.stringify(bytes.toString("base64"))})`)) as number;
        expect(colours, "distinct colours in the PNG").toBeGreaterThan(50);
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    });
  }

  it("a focused control that a cell's re-run replaces keeps the focus: ← moves it, not the chapter", async () => {
    const { page, problems } = await open("/05-wkv");
    try {
      /** the control `key` (a view-state key, or a CSS selector) replaced by `change`: does the new one have the focus? */
      const replaced = async (key: string, change: string) => {
        const sel = key.startsWith("[") ? key : `[data-key="${key}"]`;
        await page.evaluate(`window.__old = document.querySelector('${sel}')`);
        await page.evaluate(change);
        await page.waitForFunction(`!window.__old.isConnected && !!document.querySelector('${sel}')`);
        await quiet(page);
        return page.evaluate(`(() => {
          const a = document.activeElement;
          const box = a && a.closest('${sel}');
          return box ? box.isConnected && box !== window.__old : false;
        })()`);
      };
      // the token picker: its cell runs again when the prompt changes (here without the focus leaving the picker)
      await page.locator('[data-key="token"] button[tabindex="0"]').focus();
      const retrace = `(() => {
        const area = document.querySelector("textarea[data-prompt]");
        area.value = area.value + "e";
        area.dispatchEvent(new Event("input", { bubbles: true }));
      })()`;
      expect(await replaced("token", retrace), "the new token picker has the focus").toBe(true);
      const pressed = () =>
        page.locator('[data-key="token"] [aria-pressed="true"]').getAttribute("data-token");
      const last = Number(await pressed());
      await page.keyboard.press("ArrowLeft");
      await expect.poll(pressed).toBe(String(last - 1));
      expect(new URL(page.url()).pathname).toMatch(/\/05-wkv(\.html)?$/);
      // again, after the focus moved inside the picker (one character to the next)
      expect(await replaced("token", retrace), "the focus kept after a move inside the picker").toBe(true);
      await page.keyboard.press("ArrowLeft");
      await expect.poll(pressed).toBe(String(last - 2));
      expect(new URL(page.url()).pathname).toMatch(/\/05-wkv(\.html)?$/);
      // ▶ Play, made with the token picker
      await page.locator("[data-play]").focus();
      expect(await replaced("[data-play-row]", retrace), "the new ▶ Play has the focus").toBe(true);
      // the channel slider: its cell runs again when the layer changes
      await page.locator('[data-key="channel"] input[type="range"]').focus();
      const relayer = `(() => {
        const s = document.querySelector('[data-key="layer"] select');
        s.value = s.options[(s.selectedIndex + 1) % s.options.length].value;
        s.dispatchEvent(new Event("input", { bubbles: true }));
      })()`;
      expect(await replaced("channel", relayer), "the new channel slider has the focus").toBe(true);
      const channel = () => page.locator('[data-key="channel"] input[type="range"]').inputValue();
      const before = Number(await channel());
      await page.keyboard.press(before > 0 ? "ArrowLeft" : "ArrowRight");
      await expect.poll(async () => Math.abs(Number(await channel()) - before)).toBe(1);
      expect(new URL(page.url()).pathname).toMatch(/\/05-wkv(\.html)?$/);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("copy link reproduces the view it was copied from; reset view restores the defaults", async () => {
    await browser.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.origin });
    const { page, problems } = await open("/05-wkv", { width: 1280, height: 900 });
    try {
      await page.locator('[data-key="layer"] select').selectOption({ label: "layer 3" });
      await ready(page);
      await page.locator('[data-key="token"] button[data-token="7"]').click();
      const scale = page.locator('[data-key="s"] input');
      await scale.focus();
      for (let i = 0; i < 60; i++) await page.keyboard.press("ArrowRight");
      await page.waitForTimeout(600);
      const view = async (p: Page) => ({
        layer: await p.locator('[data-key="layer"] select').inputValue(),
        token: await p.locator('[data-key="token"] [aria-pressed="true"]').getAttribute("data-token"),
        s: await p.locator('[data-key="s"] output').textContent(),
        overflow: await p
          .locator('figure[data-figure="wkv-overflow"]')
          .evaluate((f) => [
            f.dataset.nonfiniteDirect,
            f.dataset.nonfiniteStable,
            f.querySelector(".title")?.textContent,
          ]),
        heatmap: await p
          .locator('figure[data-figure="wkv-state-a"]')
          .evaluate((f) => [f.dataset.revealed, f.dataset.min, f.dataset.max]),
      });
      const shown = await view(page);
      expect(shown.token).toBe("7");
      expect(shown.s).not.toBe("× 1.0");
      const fig = page.locator('figure[data-figure="wkv-overflow"]');
      await fig.hover();
      await fig.locator(".explainer-figure-tools button", { hasText: "Link" }).click();
      const link = (await page.evaluate("navigator.clipboard.readText()")) as string;
      expect(await fig.locator(".explainer-figure-tools button[data-link]").getAttribute("data-link")).toBe(
        link,
      );
      expect(new URL(link).searchParams.get("figure")).toBe("wkv-overflow");
      const again = await openWatchedPage(browser, link);
      try {
        await again.page.setViewportSize({ width: 1280, height: 900 });
        await ready(again.page);
        await again.page.waitForTimeout(800);
        expect(await view(again.page)).toEqual(shown);
        // and it opens at the figure
        await expect
          .poll(
            () =>
              again.page.evaluate(`(() => {
                const r = document.querySelector('figure[data-figure="wkv-overflow"]').getBoundingClientRect();
                return r.top < innerHeight && r.bottom > 0;
              })()`),
            { message: "the linked figure is on screen" },
          )
          .toBe(true);
        expect(again.problems).toEqual([]);
      } finally {
        await again.page.close();
      }
      // Reset view: every control back to its default (the address loses the view, keeps nothing else here)
      await Promise.all([page.waitForURL((u) => u.search === ""), page.click("button.explainer-reset")]);
      await ready(page);
      expect(await page.locator('[data-key="layer"] select option:checked').textContent()).toBe("layer 1");
      expect(await page.locator('[data-key="s"] output').textContent()).toBe("× 1.0");
      const last = await page.locator('[data-key="token"] button').count();
      expect(await page.locator('[data-key="token"] [aria-pressed="true"]').getAttribute("data-token")).toBe(
        String(last - 1),
      );
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
