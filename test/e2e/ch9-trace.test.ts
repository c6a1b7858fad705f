/**
 * Chapter 9 in Chromium (tracker issue 13): the reader's own prompt traced live, both models, and the heatmaps'
 * numbers (each cell's data-share) against the same causal trace computed here in Node with src/chapters/memory
 * and the reference models (src/rwkv, src/transformer), not against stored numbers.
 *
 * The page runs the live trace on onnxruntime-web's wasm EP (`?ep=wasm`: the same engine on every machine), each
 * model's trace-step graph (src/onnx/*-trace-graph.ts) in a worker of its own, and the badge says "wasm"; Node
 * computes the same trace (same weights, seed, noise and cells) on the reference models (src/rwkv, src/transformer),
 * an independent fp32 implementation. The tolerance, from fp32: one step of either graph gives logits within 1e-5
 * of the reference (test/onnx/*-trace-graph.test.ts), so each target log-probability differs by at most 2e-5 per
 * step's worth of rounding that the state or cache carries on; in Node whole traces agree to |log P diff| < 3e-6
 * (test/runtime/trace-ort.test.ts). A share is P*,clean / P = exp(log P_r - log P), at most about 1.5 here, so
 * |page - Node| <= 1.5 * 2 * 2e-5 = 6e-5 < SHARE_TOL = 1e-4; a real disagreement (another seed, another cell, a
 * stale prefix, a restore in the wrong block) moves shares by 1e-3 or more.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { loadBuildModel } from "../../src/build/build-model.js";
import { loadBuildGpt } from "../../src/build/gpt-build.js";
import { restoredShare } from "../../src/chapters/memory/causal-trace.js";
import { MEMORY_DEFAULTS, bothTraces, traceRequest } from "../../src/chapters/memory/chapter.js";
import { browserStatus } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { ensureBuilt } from "./helpers/site.js";
import { siteSession, useSite } from "./helpers/session.js";

const status = browserStatus();
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");
if (status.available && !baseUrl) ensureBuilt();
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 120_000);
const SHARE_TOL = 1e-4;

const PROMPT = "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo";
const SUBJECT = "wherefore";
const TARGET = "?";

const site = siteSession();

/** Every drawn cell of every panel: model -> (l, t) -> share. */
function readPanels(page: Page): Promise<Record<string, { l: number; t: number; share: number }[]>> {
  return page.evaluate(() => {
    const out: Record<string, { l: number; t: number; share: number }[]> = {};
    for (const svg of document.querySelectorAll('[data-figure="causal-trace"] svg[data-model]')) {
      out[svg.getAttribute("data-model")!] = [...svg.querySelectorAll("rect[data-share]")].map((r) => ({
        l: Number(r.getAttribute("data-l")),
        t: Number(r.getAttribute("data-t")),
        share: Number(r.getAttribute("data-share")),
      }));
    }
    return out;
  });
}

describe.runIf(status.available || status.required)("chapter 9: a live causal trace in Chromium", () => {
  useSite(site);

  it(
    "traces the reader's prompt live, both models, every cell within the fp32 bound of the Node computation",
    async () => {
      const { page, problems } = await openWatchedPage(
        site.browser,
        `${site.origin}/09-what-the-state-remembers?ep=wasm`,
      );
      try {
        await page.waitForSelector('[data-figure="causal-trace"] svg[data-model="gpt"]', {
          timeout: TIMEOUT,
        });
        await page.locator("textarea[data-prompt]").fill(PROMPT);
        await page.getByLabel("Subject (noised; its last occurrence)").fill(SUBJECT);
        await page.getByLabel("Target o").fill(TARGET);
        await page.getByRole("button", { name: "Trace live" }).click();
        const done = page.locator(".explainer-notice", { hasText: "done in" });
        await done.waitFor({ timeout: TIMEOUT });
        const line = (await done.textContent()) ?? "";
        console.log(`chapter 9 live trace (${[...PROMPT].length} characters, 1 sample): ${line}`);
        expect(line).toContain("live · backend: onnxruntime-web (wasm) in three workers");
        const badge = page.locator(".explainer-badge").first();
        expect(await badge.getAttribute("data-source")).toBe("live");
        expect(await badge.getAttribute("data-backend")).toBe("wasm");

        const { card, model: rwkv } = loadBuildModel();
        const { model: gpt } = loadBuildGpt();
        const req = traceRequest(PROMPT, SUBJECT, TARGET, card.vocabulary);
        const node = await bothTraces({ rwkv, gpt }, req, { samples: 1, seed: MEMORY_DEFAULTS.seed });
        const drawn = await readPanels(page);
        for (const r of node) {
          const cells = drawn[r.model];
          expect(cells, r.model).toBeDefined();
          expect(cells.length).toBe(r.nLayer * r.T);
          const want = restoredShare(r);
          let worst = 0;
          for (const c of cells) worst = Math.max(worst, Math.abs(c.share - want[c.l * r.T + c.t]));
          console.log(`${r.model}: ${cells.length} cells, largest |page - Node| = ${worst}`);
          expect(worst).toBeLessThan(SHARE_TOL);
          // and the page did not just copy Node's numbers: two fp32 engines differ somewhere in the last bits
          expect(cells.some((c) => c.share !== want[c.l * r.T + c.t])).toBe(true);
          // the trace is not flat: the noise on the subject moved the answer, and restoring brought some back
          expect(Math.max(...want) - Math.min(...want)).toBeGreaterThan(1e-3);
        }
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
    4 * TIMEOUT,
  );

  it(
    "keeps its view in the address, exports its figures, and Reset view brings the defaults back",
    async () => {
      const url = `${site.origin}/09-what-the-state-remembers?subject=thou&target=${encodeURIComponent(" o")}&samples=3`;
      const { page, problems } = await openWatchedPage(site.browser, url);
      try {
        await page.waitForSelector('[data-figure="causal-trace"] svg[data-model="gpt"]', {
          timeout: TIMEOUT,
        });
        const subject = page.getByLabel("Subject (noised; its last occurrence)");
        const target = page.getByLabel("Target o");
        expect(await subject.inputValue()).toBe("thou");
        expect(await target.inputValue()).toBe(" o");
        expect(await page.locator('[data-key="samples"] input[type=number]').inputValue()).toBe("3");
        // an edit goes into the address (a copied link shows this view)
        await target.fill("ed");
        await expect
          .poll(() => new URL(page.url()).searchParams.has("target"), { timeout: 5000 })
          .toBe(false);
        await subject.fill("how");
        await expect
          .poll(() => new URL(page.url()).searchParams.get("subject"), { timeout: 5000 })
          .toBe("how");
        // every figure has the export tools (SVG, PNG, link, full screen)
        for (const name of ["causal-trace", "copy-probe", "context-use", "prompt-order"]) {
          expect(
            await page.locator(`figure[data-figure="${name}"] .explainer-figure-tools button`).count(),
          ).toBeGreaterThan(0);
        }
        await Promise.all([page.waitForURL((u) => u.search === ""), page.click("button.explainer-reset")]);
        await page.waitForSelector('[data-figure="causal-trace"] svg[data-model="gpt"]', {
          timeout: TIMEOUT,
        });
        expect(await subject.inputValue()).toBe(MEMORY_DEFAULTS.subject);
        expect(await target.inputValue()).toBe(MEMORY_DEFAULTS.target);
        expect(await page.locator('[data-key="samples"] input[type=number]').inputValue()).toBe(
          String(MEMORY_DEFAULTS.liveSamples),
        );
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
    2 * TIMEOUT,
  );
});
