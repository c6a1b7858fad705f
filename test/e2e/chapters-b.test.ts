/**
 * Chapters 2, 6, 7 and 8 in Chromium: the numbers the figures show equal an independent computation in Node
 * from the same model files (<= 1e-3, most far tighter), typing a prompt changes them, the view state round-trips
 * through the URL, an empty prompt gives a message instead of a blank figure, and screenshots of every chapter in
 * the dark theme, with no error there, are saved to out/e2e-screenshots/chapters-b/ (not committed; look at them;
 * site.test.ts saves every page in the light theme, with its checks).
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countParameters } from "../../src/rwkv/synthetic.js";
import { loadBuildModel } from "../../src/build/build-model.js";
import { attentionChecks, attentionOf } from "../../src/chapters/attention.js";
import { CHAPTER_PROMPTS } from "../../src/chapters/defaults.js";
import { loadBuildGpt } from "../../src/build/gpt-build.js";
import { gptAttention } from "../../src/live/gpt-attention.js";
import { encodePrompt } from "../../src/trace/prompt.js";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import { distDir, ensureBuilt, repoRoot } from "./helpers/site.js";
import { numberAttr } from "./helpers/attrs.js";

const status = browserStatus();
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");
if (status.available && !baseUrl) ensureBuilt();
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 90_000);
const shots = path.join(repoRoot, "out", "e2e-screenshots", "chapters-b");

let server: StaticServer | undefined;
let origin: string;
let browser: Browser;

function open(pagePath: string, colorScheme: "light" | "dark" = "light") {
  return openWatchedPage(browser, origin + pagePath, { colorScheme });
}

/** Waits until the page's model badge says its figures come from the live model. */
async function waitLive(page: Page): Promise<void> {
  await page.waitForSelector('.explainer-badge[data-source="live"]', { timeout: TIMEOUT });
}

async function setPrompt(page: Page, text: string): Promise<void> {
  await page.locator("textarea[data-prompt]").first().fill(text);
}

const { card, weights, model } = loadBuildModel();
const gpt = loadBuildGpt();
const C = weights.config.nEmbd;

/** The page's channel for a layer and rank: channels sorted from the slowest decay (largest w) down. */
function channelOfRank(layer: number, rank: number): number {
  const w = weights.blocks[layer].att.w;
  return Array.from({ length: C }, (_, c) => c).sort((a, b) => w[b] - w[a])[rank];
}

/**
 * The weight of token i in the last position's wkv (Eq. 16 read as an average over the past), in float64, written
 * out here rather than taken from the page's module: e^{(t-1-i) w + k_i} for i < t and e^{u + k_t} for i = t, over
 * their sum (w is the loaded decay, -e^{time_decay} < 0).
 */
function eq16Weight(k: Float32Array, w: number, u: number, T: number, channel: number, i: number): number {
  const t = T - 1;
  const term = (j: number) => Math.exp(j < t ? (t - 1 - j) * w + k[j * C + channel] : u + k[t * C + channel]);
  let z = 0;
  for (let j = 0; j <= t; j++) z += term(j);
  return term(i) / z;
}

/** alpha[T-1][T-2] of the WKV for (layer, channel) and the GPT's softmax weight for (layer, head), from Node. */
function expectedAttention(text: string, layer: number, channel: number, gLayer: number, head: number) {
  const enc = encodePrompt(text, card.vocabulary, { maxTokens: CHAPTER_PROMPTS.attention.maxTokens });
  const T = enc.tokens.length;
  const trace = model.forward(enc.tokens, undefined, { trace: true }).trace!;
  const { w, u } = weights.blocks[layer].att;
  const k = trace.layers[layer].k;
  const G = attentionOf(
    gptAttention(gpt.model, enc.tokens, { text: enc.text, synthetic: gpt.card.synthetic }),
    gLayer,
    head,
  );
  const i = Math.max(0, T - 2);
  return {
    T,
    wkv: eq16Weight(k, w[channel], u[channel], T, channel, i),
    softmax: G[(T - 1) * T + i],
    rowSum: attentionChecks(G, T).rowSumError,
  };
}

describe.runIf(status.available || status.required)("chapters 2, 6, 7, 8 in Chromium", () => {
  beforeAll(async () => {
    if (baseUrl) origin = baseUrl;
    else {
      server = await serveStatic(distDir);
      origin = server.origin;
    }
    browser = await launchChromium();
    await mkdir(shots, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("chapter 2: the WKV and softmax weights shown equal the models' own, for the default and a typed prompt", async () => {
    const { page, problems } = await open("/02-attention");
    try {
      const fig = page.locator('[data-figure="attention-comparison"]');
      await waitLive(page);
      // the default view: RWKV layer 1, channel of rank C/2, transformer layer 1, head 0
      const check = async (text: string, layer: number, rank: number) => {
        const want = expectedAttention(text, layer, channelOfRank(layer, rank), 1, 0);
        await expect.poll(() => fig.getAttribute("data-t"), { timeout: TIMEOUT }).toBe(String(want.T));
        await expect
          .poll(async () => JSON.parse((await fig.getAttribute("data-values")) ?? "[]").length, {
            timeout: TIMEOUT,
          })
          .toBe(2);
        const [wkv, softmax] = JSON.parse((await fig.getAttribute("data-values"))!) as number[];
        expect(Math.abs(wkv - want.wkv)).toBeLessThan(1e-6);
        expect(Math.abs(softmax - want.softmax)).toBeLessThan(1e-6);
        expect(want.rowSum).toBeLessThan(1e-6);
        return { wkv, softmax, T: want.T };
      };
      const before = await check(CHAPTER_PROMPTS.attention.prompt, 1, Math.floor(C / 2));
      await setPrompt(page, "ROMEO:\nWherefore art thou");
      const after = await check("ROMEO:\nWherefore art thou", 1, Math.floor(C / 2));
      // both live panels ran on onnxruntime-web (wasm: SwiftShader is a software adapter): the RWKV's probes and
      // the transformer's attention outputs, each against its JS reference above
      expect(await fig.getAttribute("data-wkv-backend")).toBe("wasm");
      expect(await fig.getAttribute("data-softmax-backend")).toBe("wasm");
      expect(after).not.toEqual(before);
      // the view is in the URL
      expect(page.url()).toContain("prompt=ROMEO");
      // arrow keys move the selected cell (and do not change the chapter)
      await fig.locator("svg").first().focus();
      await page.keyboard.press("ArrowLeft");
      await expect.poll(() => fig.getAttribute("data-selected")).toBe(`${after.T - 1},${after.T - 3}`);
      expect(page.url()).toContain("/02-attention");
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 2: a shared URL opens the same view (layer, channel, prompt)", async () => {
    const text = "KING:\nNo more";
    const { page, problems } = await open(`/02-attention?prompt=${encodeURIComponent(text)}&layer=2&rank=10`);
    try {
      await waitLive(page);
      const fig = page.locator('[data-figure="attention-comparison"]');
      const channel = channelOfRank(2, 10);
      await expect
        .poll(() => fig.locator("text", { hasText: "RWKV WKV" }).first().textContent(), { timeout: TIMEOUT })
        .toBe(`RWKV WKV · layer 2 · channel ${channel}`);
      const want = expectedAttention(text, 2, channel, 1, 0);
      await expect.poll(() => fig.getAttribute("data-t")).toBe(String(want.T));
      const [wkv] = JSON.parse((await fig.getAttribute("data-values"))!) as number[];
      expect(Math.abs(wkv - want.wkv)).toBeLessThan(1e-6);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 2: an empty prompt shows a message, not a blank figure", async () => {
    const { page, problems } = await open("/02-attention");
    try {
      await waitLive(page);
      await setPrompt(page, "");
      await expect
        .poll(() => page.locator(".explainer-notice.error").first().textContent(), { timeout: TIMEOUT })
        .toContain("Type a prompt");
      expect(await page.locator('[data-figure="attention-comparison"]').count()).toBe(0);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 2 with the live model off (?live=0): the precomputed weights show, equal to Node's", async () => {
    const { page, problems } = await open("/02-attention?live=0");
    try {
      const fig = page.locator('[data-figure="attention-comparison"]');
      await fig.waitFor({ timeout: TIMEOUT });
      expect(await page.locator(".explainer-badge").first().getAttribute("data-source")).toBe("precomputed");
      const want = expectedAttention(
        CHAPTER_PROMPTS.attention.prompt,
        1,
        channelOfRank(1, Math.floor(C / 2)),
        1,
        0,
      );
      expect(await fig.getAttribute("data-t")).toBe(String(want.T));
      const [wkv, softmax] = JSON.parse((await fig.getAttribute("data-values"))!) as number[];
      expect(Math.abs(wkv - want.wkv)).toBeLessThan(1e-6);
      expect(Math.abs(softmax - want.softmax)).toBeLessThan(1e-6);
      // another prompt has no precomputed trace: a message, not a blank figure
      await setPrompt(page, "Hello");
      await expect
        .poll(() => page.locator(".explainer-notice").allTextContents(), { timeout: TIMEOUT })
        .toContainEqual(expect.stringContaining("live model is off"));
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 6: the zero fractions per layer equal the reference model's, and follow the prompt", async () => {
    const { page, problems } = await open("/06-channel-mixing");
    try {
      await waitLive(page);
      const fig = page.locator('[data-figure="ffn-sparsity"]');
      const expected = (text: string) => {
        const enc = encodePrompt(text, card.vocabulary, {
          maxTokens: CHAPTER_PROMPTS.channelMixing.maxTokens,
        });
        const tr = model.forward(enc.tokens, undefined, { trace: true }).trace!;
        // counted here from the reference model's k' (Eq. 15): max(k', 0)^2 is zero exactly where k' <= 0
        return tr.layers
          .map((l, layer) => {
            const zeros = l.ffnK.reduce((n, x) => n + (x <= 0 ? 1 : 0), 0);
            return `layer ${layer} ${((100 * zeros) / (tr.T * tr.F)).toFixed(1)}%`;
          })
          .join(", ");
      };
      await expect
        .poll(() => fig.locator("svg").getAttribute("aria-label"), { timeout: TIMEOUT })
        .toContain(expected(CHAPTER_PROMPTS.channelMixing.prompt));
      await setPrompt(page, "To be, or not to be");
      await expect
        .poll(() => fig.locator("svg").getAttribute("aria-label"), { timeout: TIMEOUT })
        .toContain(expected("To be, or not to be"));
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 7: the calculator reproduces Table 2 and the loaded tensors' counts", async () => {
    const { page, problems } = await open("/07-whole-model");
    try {
      const calc = page.locator('[data-figure="flops-calculator"]');
      await calc.locator("table td").first().waitFor({ timeout: TIMEOUT });
      // the loaded model first: counted tensors equal the formula (the paper's when its hidden size is 4D)
      await expect
        .poll(() => calc.locator("tbody tr").first().textContent())
        .toContain(countParameters(weights).toLocaleString("en-US")); // the loaded tensors' values, counted
      expect(await calc.locator(".match").count()).toBe(2);
      await calc.locator("button", { hasText: "169M" }).click();
      // the page redraws the calculator from the new inputs (a cell re-runs): wait for it
      await expect.poll(() => calc.locator("tbody").textContent()).toContain("169,342,464");
      const body = await calc.locator("tbody").textContent();
      // 2 (V D + 13 D^2 L) for V = 50,277, D = 768, L = 12: 2 (38,612,736 + 92,012,544)
      expect(body).toContain((261_250_560).toLocaleString("en-US"));
      expect(body).toContain("2.613 × 10⁸"); // printed in Table 2
      // the diagram links only to chapters present in this build
      for (const href of await page
        .locator('[data-figure="block-diagram"] a')
        .evaluateAll((as) => as.map((a) => a.getAttribute("href")))) {
        const res = await page.request.get(new URL(href!, origin + "/07-whole-model").href);
        expect(res.status(), `${href}`).toBe(200);
      }
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 8: RNN mode and parallel mode agree to 1e-4 at every position, in the browser", async () => {
    const { page, problems } = await open("/08-rnn-and-parallel");
    try {
      await waitLive(page);
      const fig = page.locator('[data-figure="mode-diff"]');
      await fig.waitFor({ timeout: TIMEOUT });
      const maxDiff = numberAttr(await fig.getAttribute("data-max-diff"), "data-max-diff");
      expect(maxDiff).toBeLessThan(1e-4);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("chapter 8: the two ONNX graphs (onnxruntime-web, wasm) agree with each other and with the reference", async () => {
    const { page, problems } = await open("/08-rnn-and-parallel?ep=wasm");
    try {
      const fig = page.locator('[data-figure="mode-diff-onnx"]');
      await fig.waitFor({ timeout: TIMEOUT });
      expect(await fig.getAttribute("data-ep")).toBe("wasm");
      expect(numberAttr(await fig.getAttribute("data-max-diff"), "data-max-diff")).toBeLessThan(1e-4);
      const text = (await page.locator("ul.checks").last().textContent()) ?? "";
      const m = /reference's parallel mode: ([0-9.]+e[+-]?[0-9]+)/.exec(text);
      expect(m, text).not.toBeNull();
      expect(Number(m![1])).toBeLessThan(1e-4);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it.each(["dark"] as const)("screenshots of chapters 2, 6, 7, 8 (%s theme)", async (scheme) => {
    for (const p of ["/02-attention", "/06-channel-mixing", "/07-whole-model", "/08-rnn-and-parallel"]) {
      const { page, problems } = await open(p, scheme);
      try {
        await page.waitForSelector("figure[data-figure] svg", { timeout: TIMEOUT });
        if (p !== "/07-whole-model") await waitLive(page);
        await page.waitForTimeout(500);
        await page.screenshot({ path: path.join(shots, `${p.slice(1)}-${scheme}.png`), fullPage: true });
        expect(problems, p).toEqual([]);
      } finally {
        await page.close();
      }
    }
  });
});
