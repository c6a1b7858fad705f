/**
 * Teaching fidelity in Chromium (tracker issue 12): the raw-TeX detector finds raw TeX (site.test.ts runs it on
 * every page, every figure drawn, the live model in), and the new answers show the model's own numbers: chapter 1's memory
 * bars against 5·L·C and 2·L·T·C from the model card, chapter 3's convolution and chapter 5's parallel forms and
 * Eq. 17 against the model's outputs, the fp16 switch of chapter 5 against the same computation in Node, chapter
 * 6's activation measures against the reference model's k', and the notation table against the notation module.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { loadBuildModel } from "../../src/build/build-model.js";
import { activationStats } from "../../src/chapters/channel-mixing.js";
import { CHAPTER_PROMPTS } from "../../src/chapters/defaults.js";
import { NOTATION } from "../../src/chapters/notation.js";
import { overflowStats } from "../../src/chapters/wkv.js";
import { encodePrompt } from "../../src/trace/prompt.js";
import { numberAttr } from "./helpers/attrs.js";
import { browserStatus } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { PAGE_READY, RAW_TEX } from "./helpers/page-checks.js";
import { ensureBuilt, findPages } from "./helpers/site.js";
import { siteSession, useSite } from "./helpers/session.js";

const status = browserStatus();
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");
if (status.available && !baseUrl) ensureBuilt();
const pages = status.available ? await findPages() : [];
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 90_000);

const { card, weights, model } = loadBuildModel();
const { nLayer: L, nEmbd: C } = weights.config;

function trace(chapter: keyof typeof CHAPTER_PROMPTS) {
  const enc = encodePrompt(CHAPTER_PROMPTS[chapter].prompt, card.vocabulary, {
    maxTokens: CHAPTER_PROMPTS[chapter].maxTokens,
  });
  return { enc, trace: model.forward(enc.tokens, undefined, { trace: true }).trace! };
}

const site = siteSession();

const open = (pagePath: string) => openWatchedPage(site.browser, site.origin + pagePath);

async function ready(page: Page): Promise<void> {
  await page.waitForFunction(PAGE_READY, undefined, { timeout: TIMEOUT, polling: 250 });
}

async function waitLive(page: Page): Promise<void> {
  await page.waitForSelector('.explainer-badge[data-source="live"]', { timeout: TIMEOUT });
}

if (!status.available && !status.required) console.log(`SKIP site.browser tests: ${status.message}`);
if (!status.available && status.required) {
  describe("site.browser required (CI=true or E2E_REQUIRED=1)", () => {
    it("has Chromium", () => {
      throw new Error(status.message);
    });
  });
}

describe.runIf(status.available)("teaching fidelity in Chromium", () => {
  useSite(site);

  it("finds the pages, the notation page among them", () => {
    expect(pages).toContain("/notation");
    expect(pages.length).toBeGreaterThanOrEqual(11);
  });

  // every page's visible text, once its figures are drawn with the live model: site.test.ts (RAW_TEX, per page)

  it("the raw-TeX detector finds what it should (the test can fail)", async () => {
    const { page } = await open("/notation");
    try {
      await ready(page);
      await page.evaluate(() => {
        const p = document.createElement("p");
        p.textContent = "weights e^{(t-1-i)w + k_i} and x_{t-1}, W_o, \\sigma";
        document.querySelector("main, body")!.append(p);
      });
      const raw = (await page.evaluate(RAW_TEX)) as string[];
      expect(raw.length).toBeGreaterThanOrEqual(4);
    } finally {
      await page.close();
    }
  });

  it("chapter 1: the memory bars are 5·L·C and 2·L·T·C numbers of fp32, for this model and the 169M shape", async () => {
    const { page, problems } = await open("/01-overview");
    try {
      const bars = page.locator('[data-figure="memory-bars"] rect[data-bytes]');
      await bars.first().waitFor({ timeout: TIMEOUT });
      const bytes = await bars.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute("data-bytes"))));
      const want = [
        [L, C],
        [12, 768],
      ].flatMap(([l, c]) => [1024, 8192].flatMap((T) => [4 * 5 * l * c, 4 * 2 * l * T * c]));
      expect(bytes).toEqual(want);
      const text = await page.locator('[data-figure="memory-bars"]').textContent();
      expect(text).toContain("184 kB"); // 4 · 5 · 12 · 768 bytes, in the site's one unit system
      expect(text).not.toMatch(/KiB|\bKB\b/);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 3: token shift as a convolution reproduces the model's inputs", async () => {
    const { page, problems } = await open("/03-token-shift");
    try {
      await waitLive(page);
      const fig = page.locator('[data-figure="token-conv"]');
      await fig.waitFor({ timeout: TIMEOUT });
      expect(numberAttr(await fig.getAttribute("data-max-error"), "token-conv max error")).toBeLessThan(1e-4);
      expect((await fig.getAttribute("data-channels"))!.split(" ")).toHaveLength(3);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 5: Eq. 17 recomputed with the loaded W_o, both parallel forms, and the fp16 switch", async () => {
    const { page, problems } = await open("/05-wkv");
    try {
      await waitLive(page);
      const gate = page.locator('[data-figure="output-gate"]');
      await expect
        .poll(async () => Number(await gate.getAttribute("data-max-error")), { timeout: TIMEOUT })
        .toBeLessThan(1e-4); // NaN (not yet loaded) fails the comparison
      const par = page.locator('[data-figure="wkv-parallel"]');
      expect(numberAttr(await par.getAttribute("data-err-parallel"), "parallel")).toBeLessThan(1e-4);
      expect(numberAttr(await par.getAttribute("data-err-chunked"), "chunked")).toBeLessThan(1e-4);
      // the default layer 1 at s = 10^0.3 ≈ 2: overflows in fp16 (largest key 8.1 · 2 > 11.09), not in fp32
      const { enc, trace: tr } = trace("wkv");
      const inputs = {
        w: weights.blocks[1].att.w,
        u: weights.blocks[1].att.u,
        k: tr.layers[1].k,
        v: tr.layers[1].v,
        T: enc.tokens.length,
        C,
      };
      const scale = 10 ** 0.3;
      const want16 = overflowStats({ ...inputs, scale, precision: "fp16" }).nonFiniteDirect;
      const want32 = overflowStats({ ...inputs, scale, precision: "fp32" }).nonFiniteDirect;
      expect(want16).toBeGreaterThan(0);
      expect(want32).toBe(0);
      await page.locator('input[aria-label="Key scale s"]').evaluate((el: HTMLInputElement) => {
        el.value = "0.3";
        el.dispatchEvent(new Event("input", { bubbles: true }));
      });
      await page.locator("label", { hasText: "Precision" }).locator("select").selectOption({ label: "fp16" });
      const over = page.locator('[data-figure="wkv-overflow"][data-precision="fp16"]');
      await over.waitFor({ timeout: TIMEOUT });
      const got = numberAttr(await over.getAttribute("data-nonfinite-direct"), "fp16 non-finite");
      // the live keys come from the ONNX graphs: the count may differ only where a key sits on the limit
      expect(Math.abs(got - want16)).toBeLessThanOrEqual(Math.max(2, want16 * 0.02));
      expect(numberAttr(await over.getAttribute("data-nonfinite-stable"), "stable")).toBe(0);
      expect(page.url()).toContain("prec=fp16");
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 6: ReLU², ReLU and GELU on the model's own k', as the reference model gives them", async () => {
    const { page, problems } = await open("/06-channel-mixing");
    try {
      await waitLive(page);
      const fig = page.locator('[data-figure="activation-shapes"]');
      await fig.waitFor({ timeout: TIMEOUT });
      const { enc, trace: tr } = trace("channelMixing");
      const [sq, , gelu] = activationStats(tr.layers[0].ffnK, enc.tokens.length, weights.config.ffnSize);
      await expect
        .poll(async () => Number(await fig.getAttribute("data-zeros-relu2")), { timeout: TIMEOUT })
        .toBeCloseTo(sq.zeros, 2);
      expect(numberAttr(await fig.getAttribute("data-top10-relu2"), "top10")).toBeCloseTo(sq.top10, 2);
      expect(numberAttr(await fig.getAttribute("data-zeros-gelu"), "gelu zeros")).toBeCloseTo(gelu.zeros, 2);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("the notation page lists every symbol, with the keys the loader reads", async () => {
    const { page, problems } = await open("/notation");
    try {
      await ready(page);
      const rows = page.locator('[data-figure="notation"] tbody tr');
      expect(await rows.count()).toBe(NOTATION.length);
      const keys = await page.locator('[data-figure="notation"] code').allTextContents();
      expect(keys.sort()).toEqual(NOTATION.flatMap((e) => (e.key ? [e.key] : [])).sort());
      expect(await page.locator('[data-figure="notation"] .katex').count()).toBeGreaterThan(NOTATION.length);
      expect(await page.locator('[data-figure="numbering"] tbody tr').count()).toBeGreaterThan(5);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
