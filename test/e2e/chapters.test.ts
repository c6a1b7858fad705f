/**
 * Interactions of chapters 1, 3, 4, 5 in Chromium on the built site: typing a prompt updates the figures with
 * the values of the reference model (recomputed here in Node), the view state round-trips through the URL, the
 * arrow keys move between chapters (not while typing), "f" shows a figure full screen, hovering an equation
 * symbol highlights the figure, the precomputed trace shows while the live model is off, and the try-it box
 * generates deterministic text for a seed. Also measures keystroke-to-figure latency on a 128-character prompt.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBuildModel } from "../../src/build/build-model.js";
import { rgb as d3rgb } from "d3";
import { heatmapScale } from "../../src/components/heatmap.js";
import { encodePrompt } from "../../src/trace/prompt.js";
import { Sampler } from "../../src/rwkv/sampling.js";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { quiet } from "./helpers/phone-keyboard.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import { distDir, ensureBuilt } from "./helpers/site.js";
import { numberAttr } from "./helpers/attrs.js";

const status = browserStatus();
if (status.available) ensureBuilt();
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");

let server: StaticServer | undefined;
let origin: string;
let browser: Browser;

function open(path: string): Promise<{ page: Page; problems: string[] }> {
  return openWatchedPage(browser, origin + path, { httpErrors: false });
}

/** Wait until the chapter's badge says the figures come from the live model. */
async function waitLive(page: Page): Promise<void> {
  await page.waitForSelector('.explainer-badge[data-source="live"]', { timeout: 60_000 });
}

/**
 * Waits until chapter 5's a_t heatmap shows every token of `prompt`, then checks its range against the same prompt
 * through the reference model in Node (RNN mode, step by step: an independent path), layer `layer`, <= 1e-3.
 */
async function expectStateHeatmapMatchesReference(page: Page, prompt: string, layer: number): Promise<void> {
  const { model, card } = loadBuildModel();
  const tokens = encodePrompt(prompt, card.vocabulary).tokens;
  await page.waitForSelector(`[data-figure="wkv-state-a"][data-revealed="${tokens.length}"]`);
  const shown = await page.$eval('[data-figure="wkv-state-a"]', (el) => ({
    min: Number((el as HTMLElement).dataset.min),
    max: Number((el as HTMLElement).dataset.max),
  }));
  let state = model.initialState();
  let min = Infinity;
  let max = -Infinity;
  for (const tok of tokens) {
    state = model.step(tok, state).state;
    for (const x of state[layer].a) {
      min = Math.min(min, x);
      max = Math.max(max, x);
    }
  }
  expect(Math.abs(shown.min - min)).toBeLessThanOrEqual(1e-3);
  expect(Math.abs(shown.max - max)).toBeLessThanOrEqual(1e-3);
  // the cells' pixels: the values past the colour domain's ends (a diverging domain clips the 1% at its larger
  // end) are painted in d3's end colours of RdBu, computed here, never in those colours with red and blue swapped
  const unit = heatmapScale([], "diverging", [-1, 1]);
  const ends = [unit.color(1), unit.color(-1)].map((c) => {
    const { r, g, b } = d3rgb(c);
    return [r, g, b];
  });
  const found = await page.$eval(
    '[data-figure="wkv-state-a"] canvas.cells',
    (el, ends) => {
      const c = el as HTMLCanvasElement;
      const px = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
      const count = (rgb: number[]) => {
        let n = 0;
        for (let i = 0; i < px.length; i += 4)
          if (px[i] === rgb[0] && px[i + 1] === rgb[1] && px[i + 2] === rgb[2]) n++;
        return n;
      };
      return {
        size: [c.width, c.height],
        ends: ends.map(count),
        swapped: ends.map(([r, g, b]) => count([b, g, r])),
      };
    },
    ends,
  );
  expect(found.size).toEqual([tokens.length, model.config.nEmbd]);
  expect(found.ends[0] + found.ends[1], "cells in RdBu's end colours").toBeGreaterThan(0);
  expect(found.swapped, "cells in the end colours with red and blue swapped").toEqual([0, 0]);
}

async function typePrompt(page: Page, text: string): Promise<void> {
  await page.fill("textarea[data-prompt]", text);
}

describe.runIf(status.available || status.required)("chapters 1, 3, 4, 5 in Chromium", () => {
  beforeAll(async () => {
    if (baseUrl) origin = baseUrl;
    else {
      server = await serveStatic(distDir);
      origin = server.origin;
    }
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("chapter 5: typing a prompt redraws the state heatmaps with the reference model's values", async () => {
    const { page, problems } = await open("/05-wkv?layer=2");
    await waitLive(page);
    // the live trace comes from the ONNX graphs in onnxruntime-web (wasm here: SwiftShader is a software adapter)
    expect(await page.getAttribute(".explainer-badge[data-backend]", "data-backend")).toBe("wasm");
    expect(await page.getAttribute(".explainer-badge[data-backend]", "data-fallback")).toMatch(/software/);
    const prompt = "JULIET:\nGood night, good night!";
    await typePrompt(page, prompt);
    await expectStateHeatmapMatchesReference(page, prompt, 2);
    await waitLive(page);
    // the step table recomputes Appendix D from the page's state and agrees with the model
    const err = numberAttr(
      await page.$eval('[data-figure="wkv-step"]', (el) => el.getAttribute("data-max-error")),
      "data-max-error",
    );
    expect(err).toBeLessThan(1e-4);
    // the URL now carries the prompt
    expect(new URL(page.url()).searchParams.get("prompt")).toBe(prompt);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("chapter 5 on WebGPU (?ep=webgpu, SwiftShader here): the graphs' trace equals the reference model's", async () => {
    const { page, problems } = await open("/05-wkv?layer=2&ep=webgpu");
    await page.waitForSelector('.explainer-badge[data-source="live"][data-backend="webgpu"]', {
      timeout: 90_000,
    });
    await expectStateHeatmapMatchesReference(page, await page.inputValue("textarea[data-prompt]"), 2);
    const err = Number(await page.getAttribute('[data-figure="wkv-step"]', "data-max-error"));
    expect(err).toBeLessThan(1e-4);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("chapter 5: the view in the URL is restored (prompt, layer, channel, token)", async () => {
    const { page, problems } = await open(
      "/05-wkv?prompt=HAMLET%3A%0AWho%20is%20there%3F&layer=2&channel=17&token=3",
    );
    await waitLive(page);
    expect(await page.inputValue("textarea[data-prompt]")).toBe("HAMLET:\nWho is there?");
    expect(await page.$eval("select", (s) => (s as HTMLSelectElement).selectedOptions[0].textContent)).toBe(
      "layer 2",
    );
    expect(await page.$eval('input[type="range"]', (i) => (i as HTMLInputElement).value)).toBe("17");
    expect(
      await page.$eval('.token-strip button[aria-pressed="true"]', (b) => (b as HTMLElement).dataset.token),
    ).toBe("3");
    expect(await page.$eval('[data-figure="wkv-state-a"]', (el) => el.getAttribute("data-revealed"))).toBe(
      "4",
    );
    expect(await page.$eval('[data-figure="wkv-step"] th', (th) => th.textContent)).toContain(
      "channel 17, token 3",
    );
    // clicking another token writes it back into the URL
    await page.click('.token-strip button[data-token="5"]');
    await page.waitForFunction(() => new URL(location.href).searchParams.get("token") === "5");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("chapter 5: scaling the keys breaks the direct form (NaN/Infinity) while the stable form stays finite", async () => {
    const { page, problems } = await open("/05-wkv?s=300");
    await waitLive(page);
    await page.waitForSelector('[data-figure="wkv-overflow"]');
    const raw = await page.$eval('[data-figure="wkv-overflow"]', (el) => ({
      direct: el.getAttribute("data-nonfinite-direct"),
      stable: el.getAttribute("data-nonfinite-stable"),
    }));
    const counts = {
      direct: numberAttr(raw.direct, "data-nonfinite-direct"),
      stable: numberAttr(raw.stable, "data-nonfinite-stable"),
    };
    expect(counts.direct).toBeGreaterThan(0);
    expect(counts.stable).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("chapter 3: the precomputed trace shows at once when the live model is off (?live=0)", async () => {
    const { page, problems } = await open("/03-token-shift?live=0");
    await page.waitForSelector('.explainer-badge[data-source="precomputed"][data-status="off"]');
    await page.waitForSelector('[data-figure="token-blend"] svg circle');
    // another prompt cannot be shown without the model: a message, not a blank figure
    await typePrompt(page, "abc");
    await page.waitForSelector(".explainer-notice.warn:has-text('live model is off')");
    expect(await page.$('[data-figure="token-blend"]')).toBeNull();
    expect(problems).toEqual([]);
    await page.close();
  });

  it("chapter 3: unknown characters and an empty prompt get a clear message", async () => {
    const { page, problems } = await open("/03-token-shift");
    await waitLive(page);
    await typePrompt(page, "Café 9");
    await page.waitForSelector(".explainer-prompt .explainer-notice:has-text('never seen')");
    await page.waitForSelector('[data-figure="token-blend"]');
    await typePrompt(page, "");
    await page.waitForSelector(".explainer-prompt .explainer-notice:has-text('empty')");
    await page.waitForSelector(".explainer-notice.warn:has-text('Type a prompt')");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("chapter 4: the half-life slider changes the kernel and the wkv of one channel", async () => {
    const { page, problems } = await open("/04-time-decay?channel=40&layer=1");
    await waitLive(page);
    // the page recomputes Eq. 16 for one channel in JavaScript from the trace's k, v and the learned w, u; the
    // trace's own wkv comes from the ONNX graph (onnxruntime-web), so the two are independent paths
    expect(["webgpu", "wasm"]).toContain(
      await page.getAttribute(".explainer-badge[data-backend]", "data-backend"),
    );
    const check = (await page.$eval('[data-check="wkv"]', (el) => el.getAttribute("data-max-error")))!;
    expect(numberAttr(check, "data-max-error")).toBeLessThanOrEqual(1e-4);
    const before = await page.$eval('[data-figure="wkv-change"] path.modified', (p) => p.getAttribute("d"));
    const slider = page.locator('input[aria-label="Half-life (tokens)"]');
    await slider.fill("2.5"); // 10^2.5 ≈ 316 tokens
    await page.waitForFunction(
      (d) => document.querySelector('[data-figure="wkv-change"] path.modified')?.getAttribute("d") !== d,
      before,
    );
    await page.waitForFunction(() => new URL(location.href).searchParams.get("hl") === "316");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("keyboard: arrows move between chapters, but not while typing; f shows a figure full screen", async () => {
    const { page, problems } = await open("/03-token-shift");
    await page.waitForSelector('[data-figure="mu-profiles"]');
    await page.focus("textarea[data-prompt]");
    await page.keyboard.press("ArrowRight");
    await page.waitForTimeout(300);
    expect(new URL(page.url()).pathname).toBe("/03-token-shift");
    await page.$eval("textarea[data-prompt]", (t) => (t as HTMLElement).blur());
    await page.hover('[data-figure="mu-profiles"] svg');
    await page.keyboard.press("f");
    await page.waitForSelector('[data-figure="mu-profiles"].explainer-fullscreen');
    await page.keyboard.press("Escape");
    await page.waitForSelector(".explainer-fullscreen", { state: "detached" });
    await page.keyboard.press("ArrowRight");
    await page.waitForURL(/\/04-time-decay(\.html)?$/);
    await page.waitForSelector("style#explainer-style", { state: "attached" }); // the keys are installed
    await page.keyboard.press("ArrowLeft");
    await page.waitForURL(/\/03-token-shift(\.html)?$/);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("hovering an equation symbol highlights the matching figure panel, and the reverse", async () => {
    const { page, problems } = await open("/03-token-shift");
    await page.waitForSelector('[data-figure="mu-profiles"]');
    await page.hover('.katex [data-sym="mu_v"] >> nth=0');
    await page.waitForSelector('[data-figure="mu-profiles"] g.panel[data-sym="mu_v"].sym-active');
    // and the reverse: hovering the figure's panel highlights the symbol in the equation
    await page.mouse.move(0, 0);
    await page.waitForSelector('.katex [data-sym="mu_k"].sym-active', { state: "detached" });
    await page.hover('[data-figure="mu-profiles"] g.panel[data-sym="mu_k"]');
    await page.waitForSelector('.katex [data-sym="mu_k"].sym-active');
    expect(await page.locator('.katex [data-sym="mu_v"].sym-active').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("chapter 1: the try-it box streams text, the same seed gives the same text, the state stays constant", async () => {
    const { page, problems } = await open("/01-overview?n=40");
    // generation moves to onnxruntime-web (wasm here: headless Chromium's WebGPU adapter is SwiftShader)
    await page.waitForSelector('.explainer-try-it[data-backend-settled="true"]', { timeout: 90_000 });
    const backend = await page.getAttribute(".explainer-try-it", "data-backend");
    expect(["webgpu", "wasm"]).toContain(backend);
    const generate = async (): Promise<string> => {
      await page.click("button.explainer-generate");
      await page.waitForSelector('.explainer-try-it[data-state="done"]');
      return (await page.textContent(".explainer-generated .gen-part")) ?? "";
    };
    const first = await generate();
    expect([...first].length).toBe(40);
    // the same seed through the reference model in Node (RNN mode, the same sampler) gives the same text
    {
      const { model, card } = loadBuildModel();
      const ids = encodePrompt(await page.inputValue("textarea[data-prompt]"), card.vocabulary).tokens;
      const sampler = new Sampler(42);
      const out = model.forward(ids, undefined, { lastOnly: true });
      let logits = out.logits;
      let state = out.state;
      let text = "";
      for (let i = 0; i < 40; i++) {
        const tok = sampler.sample(logits, { temperature: 0.8, topP: 0.9 });
        text += [...card.vocabulary][tok];
        const s = model.step(tok, state);
        logits = s.logits;
        state = s.state;
      }
      expect(first).toBe(text);
    }
    expect(await generate()).toBe(first);
    const meter = await page.$eval('[data-figure="state-meter"]', (el) => ({
      T: el.getAttribute("data-t"),
      rwkv: el.querySelector(".readout-rwkv")?.textContent ?? "",
      kv: el.querySelector(".readout-kv")?.textContent ?? "",
    }));
    const { weights, card } = loadBuildModel();
    const { nLayer: L, nEmbd: C } = weights.config;
    const promptLength = encodePrompt(await page.inputValue("textarea[data-prompt]"), card.vocabulary).tokens
      .length;
    const T = numberAttr(meter.T, "data-t");
    expect(T).toBe(promptLength + 40);
    expect(meter.rwkv).toContain((5 * L * C).toLocaleString("en"));
    expect(meter.kv).toContain((2 * L * T * C).toLocaleString("en"));
    // the seed is in the URL; another seed gives other text
    await page.fill('.explainer-try-it input[type="number"]', "7");
    await page.$eval('.explainer-try-it input[type="number"]', (i) => i.dispatchEvent(new Event("change")));
    await page.waitForFunction(() => new URL(location.href).searchParams.get("seed") === "7");
    expect(await generate()).not.toBe(first);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("keystroke to updated figures on a 128-character prompt (chapter 5), median reported", async () => {
    const base =
      "ROMEO:\nBut soft, what light through yonder window breaks? It is the east, and Juliet is the sun. Arise, fair sun, and kill the envio";
    const prompt = base.slice(0, 127);
    const { page, problems } = await open(`/05-wkv?prompt=${encodeURIComponent(prompt)}`);
    await waitLive(page);
    await page.waitForSelector('[data-figure="wkv-state-a"][data-revealed="127"]');
    const times: number[] = [];
    /** which engine's trace the heatmaps showed in the frame that first showed the edit */
    const shownBy: string[] = [];
    for (let i = 0; i < 9; i++) {
      const text = i % 2 === 0 ? prompt + "s" : prompt;
      const T = i % 2 === 0 ? 128 : 127;
      const ms = await page.evaluate(
        ({ text, T }) =>
          new Promise<{ ms: number; engine: string }>((resolve) => {
            const area = document.querySelector("textarea[data-prompt]") as HTMLTextAreaElement;
            const t0 = performance.now();
            area.value = text;
            area.dispatchEvent(new Event("input", { bubbles: true }));
            const poll = (): void => {
              const fig = document.querySelector('[data-figure="wkv-state-a"]');
              if (fig?.getAttribute("data-revealed") === String(T)) {
                const engine = fig.closest("[data-backend]")?.getAttribute("data-backend") ?? "";
                resolve({ ms: performance.now() - t0, engine });
              } else requestAnimationFrame(poll);
            };
            poll();
          }),
        { text, T },
      );
      times.push(ms.ms);
      shownBy.push(`${T}:${ms.engine}`);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(
      `chapter 5 keystroke -> heatmaps, 128 characters: median ${median.toFixed(1)} ms (${times.map((t) => t.toFixed(0)).join(", ")}); first drawn from ${shownBy.join(", ")}`,
    );
    // a character typed at the end is first drawn from the reference model in the page (src/trace/trace.ts
    // TraceCache.quick), in the keystroke's frame; a deletion from a slice of the worker's trace. The worker's
    // trace then replaces it: the grid at rest (compared with a fresh page's below, data-backend included) is the
    // worker's. An addition may also first show the worker's trace, if it answered before that frame.
    expect(shownBy, "a deletion drawn from the worker's trace").not.toContain("127:reference (JS)");
    expect(shownBy, "an addition drawn first from the reference model").toContain("128:reference (JS)");
    await quiet(page);
    expect(await page.$eval(".heatmap-grid", (g) => g.getAttribute("data-backend"))).not.toBe(
      "reference (JS)",
    );
    // reported, not asserted: speed is measured by scripts/bench-explainer.ts (docs/benchmarks.md); this test
    // checks that every keystroke reached the heatmaps: each wait above resolves only once the figure shows the
    // new length, so a lost keystroke times the test out
    expect(problems).toEqual([]);
    // the heatmaps were redrawn in place on each keystroke (src/components/heatmap.ts updateHeatmap): they must
    // read as the same prompt's heatmaps drawn from scratch on a fresh page: labels, token mark, colour-bar
    // labels, text alternative, revealed count. The pixels and data-min/max come from the trace, extended token
    // by token here and run whole there (equal to ~1e-6), so they are compared as numbers, not as text.
    const grid = async (p: Page) =>
      p.$eval(".heatmap-grid", (el) => {
        const copy = el.cloneNode(true) as HTMLElement;
        const figs = [...copy.querySelectorAll("figure")].map((f) => ({
          min: Number(f.dataset.min),
          max: Number(f.dataset.max),
          // the cells' canvas: one pixel per cell, the prompt's 128 tokens by the model's channels
          cells: (() => {
            const c = f.querySelector("canvas.cells") as HTMLCanvasElement | null;
            return c ? [c.width, c.height] : null;
          })(),
          // the page's own canvas (a copy has no pixels): every cell opaque, and its RGBA bytes
          pixels: (() => {
            const c = el.querySelector(
              `figure[data-figure="${f.dataset.figure}"] canvas.cells`,
            ) as HTMLCanvasElement;
            const px = c?.getContext("2d")?.getImageData(0, 0, c.width, c.height).data;
            return px ? Array.from(px) : [];
          })(),
        }));
        for (const f of copy.querySelectorAll("figure")) {
          delete f.dataset.min;
          delete f.dataset.max;
        }
        return { html: copy.outerHTML, figs };
      });
    const typed = await grid(page);
    const fresh = await open(`/05-wkv?prompt=${encodeURIComponent(prompt + "s")}`);
    await waitLive(fresh.page);
    await fresh.page.waitForSelector('[data-figure="wkv-state-a"][data-revealed="128"]');
    const drawn = await grid(fresh.page);
    // compared where they first differ (the whole grid is ~40 kB of markup)
    let at = 0;
    while (at < typed.html.length && typed.html[at] === drawn.html[at]) at++;
    expect(typed.html.slice(Math.max(0, at - 200), at + 200)).toBe(
      drawn.html.slice(Math.max(0, at - 200), at + 200),
    );
    expect(typed.figs).toHaveLength(4);
    typed.figs.forEach((f, i) => {
      expect(f.cells).toEqual(drawn.figs[i].cells);
      expect(f.cells?.[0]).toBe(128);
      // every cell opaque; the same colours cell for cell but where a value (equal to ~1e-6) or the colour
      // domain's percentile rounds to the neighbouring entry of the colour table: at most 1% of cells, by a little
      const px = f.pixels;
      const other = drawn.figs[i].pixels;
      expect(px.length).toBe(other.length);
      expect(px.filter((v, k) => k % 4 === 3 && v !== 255)).toEqual([]);
      let differ = 0;
      for (let k = 0; k < px.length; k += 4)
        if (Math.max(...[0, 1, 2].map((j) => Math.abs(px[k + j] - other[k + j]))) > 12) differ++;
      expect(differ, `cells of panel ${i} in another colour`).toBeLessThanOrEqual(0.01 * (px.length / 4));
      expect(Math.abs(f.min - drawn.figs[i].min)).toBeLessThanOrEqual(1e-3);
      expect(Math.abs(f.max - drawn.figs[i].max)).toBeLessThanOrEqual(1e-3);
    });
    expect(fresh.problems).toEqual([]);
    await fresh.page.close();
    await page.close();
  });
});
