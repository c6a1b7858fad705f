/**
 * Chapter 8's ONNX section in Chromium, the two reader-facing bugs of tracker issue 11:
 *  1. where the only WebGPU adapter is a software one (SwiftShader on a machine without a GPU), the section goes
 *     live on WebAssembly within LIVE_BOUND_MS of opening the page (a bound on going live at all, not a
 *     benchmark), and its badge and summary say wasm and why (the issue saw its own worker client, outside the
 *     execution-provider policy, sit on "Starting onnxruntime-web…" for over two minutes; once the worker
 *     applied the policy it reached wasm, but no badge said so);
 *  2. after the prompt changes, the summary never reports the old prompt's positions unmarked: it is marked
 *     stale within STALE_GRACE_MS of the keystroke and replaced once the new run ends.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { CHAPTER_PROMPTS } from "../../src/chapters/defaults.js";
import { loadBuildModel } from "../../src/build/build-model.js";
import { encodePrompt } from "../../src/trace/prompt.js";
import { browserStatus } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { ensureBuilt } from "./helpers/site.js";
import { numberAttr } from "./helpers/attrs.js";
import { siteSession, useSite } from "./helpers/session.js";

const status = browserStatus();
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");
if (status.available && !baseUrl) ensureBuilt();
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 90_000);
/** From navigation to the ONNX comparison drawn on wasm: measured 13-23 s here (two shared cores, load 15-19). */
const LIVE_BOUND_MS = 60_000;
/** From the keystroke to the stale mark: Framework's next frames, far less than one run of the graphs. */
const STALE_GRACE_MS = 250;

const site = siteSession();

const { card } = loadBuildModel();
const { prompt: defaultPrompt, maxTokens } = CHAPTER_PROMPTS.rnnParallel;
const positions = (text: string) => encodePrompt(text, card.vocabulary, { maxTokens }).tokens.length;

/** The ONNX section's summary: the last list of checks on the page (below the ONNX figure). */
const onnxSummary = (page: Page) => page.locator("ul.checks").last();

/** What the WebGPU adapter of this browser is, seen from the page. */
function adapterKind(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const gpu = (navigator as unknown as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
    if (!gpu) return "no-webgpu";
    const a = (await gpu.requestAdapter()) as {
      info?: { isFallbackAdapter?: boolean };
      isFallbackAdapter?: boolean;
    } | null;
    if (!a) return "no-adapter";
    return (a.info?.isFallbackAdapter ?? a.isFallbackAdapter) ? "software" : "hardware";
  });
}

describe.runIf(status.available || status.required)("chapter 8's ONNX section in Chromium (issue 11)", () => {
  useSite(site);

  it(`goes live on wasm within ${LIVE_BOUND_MS / 1000} s where the only WebGPU adapter is a software one, and says why`, async (ctx) => {
    const t0 = Date.now();
    const { page, problems } = await open("/08-rnn-and-parallel");
    try {
      const kind = await adapterKind(page);
      // the rule under test is about a software adapter; with a hardware GPU the section runs on WebGPU
      if (kind === "hardware") ctx.skip();
      const fig = page.locator('[data-figure="mode-diff-onnx"]');
      await fig.waitFor({ timeout: Math.max(1, LIVE_BOUND_MS - (Date.now() - t0)) });
      const ms = Date.now() - t0;
      console.log(`chapter 8: ONNX comparison drawn ${ms} ms after navigation (adapter: ${kind})`);
      expect(await fig.getAttribute("data-ep")).toBe("wasm");
      expect(numberAttr(await fig.getAttribute("data-max-diff"), "data-max-diff")).toBeLessThan(1e-4);
      const reason = kind === "software" ? /software fallback/ : /WebGPU/;
      // the summary says where it ran and why not WebGPU
      const text = (await onnxSummary(page).textContent()) ?? "";
      expect(text).toContain("Ran on WebAssembly");
      expect(text).toMatch(reason);
      // and so does the section's badge (the reference section's says "reference (JS)")
      const badge = page.locator('.explainer-badge[data-backend="wasm"]');
      await expect.poll(() => badge.count()).toBe(1);
      expect(await badge.getAttribute("data-fallback")).toMatch(reason);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("marks the ONNX summary stale the moment the prompt changes, and replaces it when the new run ends", async () => {
    const { page, problems } = await open("/08-rnn-and-parallel?ep=wasm");
    try {
      const oldT = positions(defaultPrompt);
      const newText =
        "KING RICHARD III:\nNow is the winter of our discontent\nMade glorious summer by this sun of York;";
      const newT = positions(newText);
      expect(newT).not.toBe(oldT);
      const reported = async () =>
        /over (\d+) positions/.exec((await onnxSummary(page).textContent()) ?? "")?.[1];
      await expect.poll(reported, { timeout: TIMEOUT }).toBe(String(oldT));
      await page.waitForSelector('.explainer-badge[data-source="live"]', { timeout: TIMEOUT });
      // every frame from the keystroke on: the positions the ONNX summary reports, and whether it says it is stale
      await page.evaluate(() => {
        const w = window as unknown as { __samples: { t: number; T: string; stale: boolean }[] };
        w.__samples = [];
        const box = document.querySelector("textarea[data-prompt]")!;
        box.addEventListener(
          "input",
          () => {
            const t0 = performance.now();
            const sample = () => {
              const lists = document.querySelectorAll("ul.checks");
              const ul = lists[lists.length - 1] as HTMLElement | undefined;
              const T = /over (\d+) positions/.exec(ul?.textContent ?? "")?.[1] ?? "";
              const stale = ul?.dataset.stale === "true";
              w.__samples.push({ t: performance.now() - t0, T, stale });
              if (performance.now() - t0 < 60_000) requestAnimationFrame(sample);
            };
            sample();
          },
          { once: true },
        );
      });
      await page.locator("textarea[data-prompt]").first().fill(newText);
      await expect.poll(reported, { timeout: TIMEOUT }).toBe(String(newT));
      await expect.poll(() => onnxSummary(page).getAttribute("data-stale")).not.toBe("true");
      const samples = await page.evaluate(
        () => (window as unknown as { __samples: { t: number; T: string; stale: boolean }[] }).__samples,
      );
      const unmarked = samples.filter((s) => s.t > STALE_GRACE_MS && s.T === String(oldT) && !s.stale);
      expect(unmarked, `old positions shown unmarked after ${STALE_GRACE_MS} ms`).toEqual([]);
      // the stale state was drawn (the summary kept the old numbers, marked) unless the new run beat the grace
      const firstNew = samples.find((s) => s.T === String(newT))?.t ?? Infinity;
      if (firstNew > STALE_GRACE_MS) expect(samples.some((s) => s.stale && s.T === String(oldT))).toBe(true);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

function open(pagePath: string) {
  return openWatchedPage(site.browser, site.origin + pagePath);
}
