/**
 * The built site in a real browser: every page in dist/ loads with no console error, no uncaught exception, no
 * failed request and no request off loopback; its equations rendered (KaTeX) and its figures are non-empty; the
 * test browser has a working WebGPU adapter; the home page's slider changes its figure. Each page, once its live
 * models have drawn the figures, shows no raw TeX in its visible text (RAW_TEX; fidelity.test.ts checks the
 * detector), then is checked on a 390 px phone and by keyboard (helpers/phone-keyboard.ts, issue 14).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import {
  PAGE_READY,
  PAGE_REPORT,
  RAW_TEX,
  WEBGPU_PROBE,
  waitForModels,
  type PageReport,
} from "./helpers/page-checks.js";
import { checkPhoneAndKeyboard, stepTimer } from "./helpers/phone-keyboard.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import { distDir, ensureBuilt, findPages, repoRoot } from "./helpers/site.js";

const status = browserStatus();
if (status.available) ensureBuilt();
const pages = status.available ? await findPages() : [];
/** Pages may load a model before their figures fill in: give each page this long to render. */
const PAGE_TIMEOUT_MS = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 90_000);
const screenshotDir = path.join(repoRoot, "out", "e2e-screenshots");

/** Test an already running server instead of serving dist/ (e.g. `npm run dev`: E2E_BASE_URL=http://127.0.0.1:3000). */
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");

let server: StaticServer | undefined;
let origin: string;
let browser: Browser;

/** Opens a page and records everything that went wrong while it loaded and ran. */
function openPage(pagePath: string): Promise<{ page: Page; problems: string[] }> {
  return openWatchedPage(browser, origin + pagePath, { failedRequests: true });
}

function describeReport(report: PageReport): string {
  const figures = report.figures.map((f) => `${f.name}: ${f.ok ? "ok" : f.why}`).join("; ");
  return `KaTeX elements: ${report.katex}, figures: ${report.figures.length} (${figures || "none"})`;
}

if (!status.available && !status.required) {
  console.log(`SKIP browser tests: ${status.message}`);
}

if (!status.available && status.required) {
  describe("browser required (CI=true or E2E_REQUIRED=1)", () => {
    it("has Chromium", () => {
      throw new Error(status.message);
    });
  });
}

describe.runIf(status.available)("the built site in Chromium", () => {
  beforeAll(async () => {
    if (baseUrl) origin = baseUrl;
    else {
      server = await serveStatic(distDir);
      origin = server.origin;
    }
    browser = await launchChromium();
    await mkdir(screenshotDir, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("finds the pages in dist/", () => {
    expect(pages).toContain("/");
  });

  it("has a working WebGPU adapter (so the GPU path cannot silently fall back)", async () => {
    const { page, problems } = await openPage("/");
    const result = (await page.evaluate(WEBGPU_PROBE)) as {
      error?: string;
      output?: number[];
      architecture?: string;
    };
    await page.close();
    expect(result.error, result.error).toBeUndefined();
    expect(result.output).toEqual([2, 4, 6, 8]);
    console.log(`e2e: WebGPU adapter ${JSON.stringify(result)}`);
    expect(problems).toEqual([]);
  });

  // (it.for: the test context's onTestFinished runs after a timeout too, so a stuck step is named in the log)
  it.for(pages)(
    "page %s renders its equations and figures with no error and nothing off loopback; on a phone and by keyboard",
    // room for both waits below to fail with their own message (a model stuck loading names its badges)
    { timeout: 2 * PAGE_TIMEOUT_MS + 120_000 },
    async (pagePath, { onTestFinished }) => {
      const step = stepTimer(pagePath);
      onTestFinished(() => step.report());
      const { page, problems } = await step("open", openPage(pagePath));
      try {
        let ready = true;
        await step("ready", () =>
          page.waitForFunction(PAGE_READY, null, { timeout: PAGE_TIMEOUT_MS, polling: 250 }).catch(() => {
            ready = false;
          }),
        );
        await page.waitForLoadState("networkidle");
        await page.waitForTimeout(300); // late errors of the last cells
        const report = (await page.evaluate(PAGE_REPORT)) as PageReport;
        const name = pagePath === "/" ? "index" : pagePath.replace(/^\//, "").replace(/\//g, "_");
        await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true });

        expect(problems, `problems on ${pagePath}`).toEqual([]);
        expect(report.cellErrors, `cell errors on ${pagePath}`).toEqual([]);
        expect(report.katex, `no KaTeX rendered on ${pagePath}`).toBeGreaterThan(0);
        expect(report.katexErrors, `KaTeX parse errors on ${pagePath}`).toBe(0);
        expect(report.figures.length, `no [data-figure] element on ${pagePath}`).toBeGreaterThan(0);
        expect(
          report.figures.filter((f) => !f.ok),
          `empty figures on ${pagePath}`,
        ).toEqual([]);
        expect(ready, `${pagePath} not ready after ${PAGE_TIMEOUT_MS} ms: ${describeReport(report)}`).toBe(
          true,
        );
        // the same page on a 390 px phone, then by keyboard (issue 14): once its models have loaded
        await step("models", waitForModels(page, PAGE_TIMEOUT_MS));
        // no raw TeX in the visible text once every figure is drawn from the live model (its captions and
        // readouts too; chapter 9 runs its live trace only when asked, as a reader would)
        await step("raw TeX", async () => {
          if (await page.locator(".explainer-badge[data-source]").count()) {
            const onDemand = page.locator("button", { hasText: "Trace live" });
            if (await onDemand.count()) await onDemand.first().click();
            await page.waitForSelector('.explainer-badge[data-source="live"]', { timeout: PAGE_TIMEOUT_MS });
            await page.waitForFunction(PAGE_READY, null, { timeout: PAGE_TIMEOUT_MS, polling: 250 });
          }
          expect((await page.evaluate(RAW_TEX)) as string[], `raw TeX on ${pagePath}`).toEqual([]);
        });
        await checkPhoneAndKeyboard(page, problems, step);
      } finally {
        await page.close();
      }
    },
  );

  it("the home page's slider changes the attention-cost figure (keyboard)", async () => {
    const { page, problems } = await openPage("/");
    try {
      const figure = page.locator('[data-figure="attention-cost"]');
      await figure.waitFor();
      const before = { t: await figure.getAttribute("data-t"), svg: await figure.locator("svg").innerHTML() };
      expect(before.t).toBe("1024");
      const slider = page.locator('input[type="range"]').first();
      await slider.focus();
      await page.keyboard.press("ArrowRight");
      await page.keyboard.press("ArrowRight");
      await expect.poll(() => figure.getAttribute("data-t")).toBe("1040");
      const after = await figure.locator("svg").innerHTML();
      expect(after).not.toBe(before.svg);
      expect(await figure.locator(".readout").first().textContent()).toContain("t = 1,040");
      await page.keyboard.press("End");
      await expect.poll(() => figure.getAttribute("data-t")).toBe("8192");
      // the value is kept in the address, so the figure's Link reproduces it (?T=, snapped to the slider's step)
      await expect.poll(() => new URL(page.url()).searchParams.get("T")).toBe("8192");
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
    const again = await openPage("/?T=2050");
    try {
      const figure = again.page.locator('[data-figure="attention-cost"]');
      await figure.waitFor();
      expect(await figure.getAttribute("data-t")).toBe("2048");
      expect(await again.page.locator('[data-key="T"] input[type="range"]').inputValue()).toBe("2048");
      expect(again.problems).toEqual([]);
    } finally {
      await again.page.close();
    }
  });
});
