/**
 * Chapters 2 and 5 in Chromium, beyond chapters*.test.ts: chapter 5's Play button streams the prompt through the
 * state heatmaps token by token and stops; chapter 2's sliders for the transformer's layer and head (read from a
 * shared link) and for the RWKV channel (moved with the keyboard) show the weights Node computes for them, the
 * checks list under the figure reports the live WKV against the model's own output, and the address follows.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { loadBuildModel } from "../../src/build/build-model.js";
import { loadBuildGpt } from "../../src/build/gpt-build.js";
import { attentionOf, channelOfRank, wkvAttentionMatrix } from "../../src/chapters/attention.js";
import { CHAPTER_PROMPTS } from "../../src/chapters/defaults.js";
import { gptAttention } from "../../src/live/gpt-attention.js";
import { encodePrompt } from "../../src/trace/prompt.js";
import { browserStatus } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { ensureBuilt } from "./helpers/site.js";
import { siteSession, useSite } from "./helpers/session.js";

const status = browserStatus();
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");
if (status.available && !baseUrl) ensureBuilt();
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 90_000);

const site = siteSession();

function open(pagePath: string) {
  return openWatchedPage(site.browser, site.origin + pagePath);
}

async function waitLive(page: Page): Promise<void> {
  await page.waitForSelector('.explainer-badge[data-source="live"]', { timeout: TIMEOUT });
}

const { card, weights, model } = loadBuildModel();
const gpt = loadBuildGpt();
const C = weights.config.nEmbd;

/** alpha[T-1][T-2] of the RWKV's layer and channel and of the transformer's layer and head, from Node. */
function expected(text: string, layer: number, channel: number, gLayer: number, head: number) {
  const enc = encodePrompt(text, card.vocabulary, { maxTokens: CHAPTER_PROMPTS.attention.maxTokens });
  const T = enc.tokens.length;
  const trace = model.forward(enc.tokens, undefined, { trace: true }).trace!;
  const { w, u } = weights.blocks[layer].att;
  const A = wkvAttentionMatrix(trace.layers[layer].k, w, u, T, C, channel);
  const att = gptAttention(gpt.model, enc.tokens, { text: enc.text, synthetic: gpt.card.synthetic });
  const G = attentionOf(att, gLayer, head);
  return { T, wkv: A[(T - 1) * T + T - 2], softmax: G[(T - 1) * T + T - 2] };
}

describe.runIf(status.available || status.required)("chapters 2 and 5 in Chromium", () => {
  useSite(site);

  it("chapter 5: ▶ Play streams the prompt token by token to its end; pressed again, it stops", async () => {
    const { page, problems } = await open("/05-wkv?token=2");
    try {
      await waitLive(page);
      const T = encodePrompt(CHAPTER_PROMPTS.wkv.prompt, card.vocabulary).tokens.length;
      const map = page.locator('[data-figure="wkv-state-a"]');
      await expect.poll(() => map.getAttribute("data-revealed"), { timeout: TIMEOUT }).toBe("3");
      const play = page.locator("button[data-play]");
      const seen = new Set<string>();
      await play.click();
      await expect.poll(() => play.textContent()).toBe("■ Stop");
      await expect
        .poll(
          async () => {
            seen.add((await map.getAttribute("data-revealed")) ?? "");
            return map.getAttribute("data-revealed");
          },
          { timeout: TIMEOUT, interval: 30 },
        )
        .toBe(String(T));
      await expect.poll(() => play.textContent()).toBe("▶ Play");
      // it went through the positions in between (not a jump to the end), and the last token is the address's
      // default (no token= in the URL)
      expect(seen.size).toBeGreaterThan(3);
      await expect.poll(() => new URL(page.url()).searchParams.get("token")).toBe(null);
      // at the end, Play starts again from the first token; Stop halts it where it is
      await play.click();
      await expect.poll(() => map.getAttribute("data-revealed")).not.toBe(String(T));
      await play.click();
      expect(await play.textContent()).toBe("▶ Play");
      const stopped = await map.getAttribute("data-revealed");
      await page.waitForTimeout(500);
      expect(await map.getAttribute("data-revealed")).toBe(stopped);
      expect(Number(stopped)).toBeLessThan(T);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 2: a link's transformer layer and head, and the channel slider moved with the keyboard", async () => {
    const { page, problems } = await open("/02-attention?glayer=0&head=1&scale=linear");
    try {
      await waitLive(page);
      const fig = page.locator('[data-figure="attention-comparison"]');
      const text = CHAPTER_PROMPTS.attention.prompt;
      const rank = Math.floor(C / 2);
      const values = async () => JSON.parse((await fig.getAttribute("data-values")) ?? "[]") as number[];
      await expect.poll(async () => (await values()).length, { timeout: TIMEOUT }).toBe(2);
      await expect
        .poll(() => fig.locator("text", { hasText: "Transformer softmax" }).first().textContent(), {
          timeout: TIMEOUT,
        })
        .toMatch(/^Transformer softmax · layer 0 · head 1$/);
      const first = channelOfRank(weights.blocks[1].att.w, rank);
      const want = expected(text, 1, first, 0, 1);
      await expect
        .poll(async () => Math.abs((await values())[1] - want.softmax), { timeout: TIMEOUT })
        .toBeLessThan(1e-6);
      expect(Math.abs((await values())[0] - want.wkv)).toBeLessThan(1e-6);
      expect(await fig.locator(".heatmap-legend").textContent()).toContain("linear scale");
      // the checks list: the live trace has v and wkv, so the comparison is for this layer and channel
      const checks = page.locator("ul.checks li").first();
      await expect
        .poll(() => checks.textContent(), { timeout: TIMEOUT })
        .toContain(`layer 1, channel ${first},`);
      const diff = Number(await checks.locator("b").textContent());
      expect(diff).toBeLessThan(1e-4);
      // one step right on the RWKV channel slider (the second range input): the next channel by decay
      const slider = page.locator('input[type="range"]').nth(1);
      await slider.focus();
      await page.keyboard.press("ArrowRight");
      const channel = channelOfRank(weights.blocks[1].att.w, rank + 1);
      await expect
        .poll(() => fig.locator("text", { hasText: "RWKV WKV" }).first().textContent(), { timeout: TIMEOUT })
        .toBe(`RWKV WKV · layer 1 · channel ${channel}`);
      const next = expected(text, 1, channel, 0, 1);
      expect(Math.abs((await values())[0] - next.wkv)).toBeLessThan(1e-6);
      await expect.poll(() => checks.textContent()).toContain(`channel ${channel}`);
      const url = new URL(page.url()).searchParams;
      expect([url.get("rank"), url.get("glayer"), url.get("head"), url.get("scale")]).toEqual([
        String(rank + 1),
        "0",
        "1",
        "linear",
      ]);
      expect(page.url()).toContain("/02-attention");
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
