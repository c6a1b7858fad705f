/**
 * The full-size page's fact trace (tracker issue 13, item 6) in Chromium with the page's default model,
 * synthetic-small (no download): it runs, is labelled the mechanics only, and every heatmap cell equals the trace
 * computed here in Node from the same synthetic weights (syntheticWeights(SMALL_SHAPE, 0), as the worker makes
 * them) with src/full-size/causal.ts. The same JS code and seed on both sides: see ch9-trace.test.ts for the
 * tolerance.
 */
import { describe, expect, it } from "vitest";
import { restoredShare } from "../../src/chapters/memory/causal-trace.js";
import { factRequest, traceFact } from "../../src/full-size/causal.js";
import { SMALL_SHAPE } from "../../src/full-size/full-size.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { browserStatus } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { ensureBuilt } from "./helpers/site.js";
import { siteSession, useSite } from "./helpers/session.js";

const status = browserStatus();
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");
if (status.available && !baseUrl) ensureBuilt();
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 120_000);
const SHARE_TOL = 1e-6;
const site = siteSession();

describe.runIf(status.available || status.required)("the full-size page's fact trace in Chromium", () => {
  useSite(site);

  it(
    "on synthetic-small: the mechanics only, and every cell equals the Node computation",
    async () => {
      const { page, problems } = await openWatchedPage(site.browser, `${site.origin}/full-size`);
      try {
        await page.waitForSelector('.fs-status[data-phase="ready"]', { timeout: TIMEOUT });
        await page.getByRole("button", { name: "Trace the fact" }).click();
        await page.waitForSelector('[data-fact-trace="done"]', { timeout: TIMEOUT });
        const box = page.locator("[data-fact-trace]");
        expect(await box.locator(".explainer-notice.warn").textContent()).toMatch(
          /^Mechanics only: synthetic weights/,
        );
        const drawn = await page.evaluate(() =>
          [...document.querySelectorAll('[data-figure="fact-trace"] rect[data-share]')].map((r) => ({
            l: Number(r.getAttribute("data-l")),
            t: Number(r.getAttribute("data-t")),
            share: Number(r.getAttribute("data-share")),
          })),
        );
        const weights = syntheticWeights(SMALL_SHAPE, 0);
        const req = await factRequest(null, weights.config.vocabSize);
        const r = await traceFact(weights, req);
        expect(drawn.length).toBe(r.nLayer * r.T);
        const want = restoredShare(r);
        let worst = 0;
        for (const c of drawn) worst = Math.max(worst, Math.abs(c.share - want[c.l * r.T + c.t]));
        console.log(`fact trace on synthetic-small: ${drawn.length} cells, largest |page - Node| = ${worst}`);
        expect(worst).toBeLessThan(SHARE_TOL);
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
    4 * TIMEOUT,
  );
});
