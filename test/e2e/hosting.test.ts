/**
 * The built site on the plainest static host (issue 14, parts 1 and 4): dist/ served under a sub-path (/rwkv/, as
 * on a group's web space) by a server that answers exact files only (no clean URLs, no rewrite rules: what
 * `python3 -m http.server` or a bucket does).
 *  - Starting from the home page, the test follows every internal link of every page (the sidebar, the contents,
 *    the pager, the block diagram's links, links built in code) and fails on any link or request that is not
 *    answered 200: pages, scripts, styles, data, and the model worker and its wasm, which a chapter loads once
 *    its live model starts.
 *  - A checkpoint the presenter copied next to the site (models/, a small BlinkDL-style bf16 .pth) loads on the
 *    full-size page from `?weights=models/...pth`, and comes from the browser's cache the next time (no request);
 *    a path on another host is refused with a message. Nothing leaves loopback (the browser tests block it).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { PAGE_READY } from "./helpers/page-checks.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import { distDir, ensureBuilt, findPages, repoRoot } from "./helpers/site.js";

const status = browserStatus();
if (status.available) ensureBuilt();
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 90_000);
const BASE = "/rwkv/";
/** A small RWKV-4 checkpoint with BlinkDL's names, bf16 (L = 3, C = 32), under the 169M file's name. */
const PTH = "models/RWKV-4-Pile-169M-20220807-8023.pth";
const pth = readFileSync(path.join(repoRoot, "test/fixtures/hf/blink/rwkv4-hf-bf16.pth"));

/** A page of dist/ (findPages: `/`, `/01-overview`) as the exact file URL a plain host serves it at. */
function exactUrl(origin: string, page: string): string {
  return origin + BASE + (page === "/" ? "" : page.endsWith("/") ? page.slice(1) : `${page.slice(1)}.html`);
}

/** Every link on the page, resolved (HTML <a href> and SVG <a href>/<a xlink:href>), without its #fragment. */
const LINKS = `[...document.querySelectorAll("a[href], a[*|href]")].map((a) => {
  const href = a.getAttribute("href") ?? a.getAttributeNS?.("http://www.w3.org/1999/xlink", "href");
  const url = new URL(href, document.baseURI);
  url.hash = "";
  return { href, url: url.href, where: a.closest("#observablehq-sidebar") ? "sidebar"
    : a.closest("#observablehq-footer") ? "pager" : a.closest("svg") ? "figure" : "page" };
})`;

let server: StaticServer;
let browser: Browser;

describe.runIf(status.available)("dist/ on a plain static host under /rwkv/", () => {
  beforeAll(async () => {
    server = await serveStatic(distDir, {
      strict: true,
      base: BASE,
      files: { [PTH]: pth },
      isolationHeaders: false,
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("every internal link of every page, and everything the pages load, is an exact file under the base", async () => {
    const pages = await findPages();
    const want = new Set(pages.map((p) => exactUrl(server.origin, p)));
    const queue = [exactUrl(server.origin, "/")];
    const visited = new Set<string>(queue);
    const checked = new Map<string, number>();
    const broken: string[] = [];
    const problems: string[] = [];
    const notReady: string[] = [];
    const backends = new Set<string>();
    let links = 0;
    while (queue.length) {
      const url = queue.shift() as string;
      const opened = await openWatchedPage(browser, url, { failedRequests: true });
      const page: Page = opened.page;
      try {
        await page.waitForFunction(PAGE_READY, null, { timeout: TIMEOUT, polling: 250 }).catch(() => {
          notReady.push(url);
        });
        // a chapter's live model starts its worker and compiles the wasm: wait until it is ready (or says why not)
        const badges = page.locator(".explainer-badge[data-status]");
        if (await badges.count())
          await page
            .waitForFunction(
              `[...document.querySelectorAll(".explainer-badge[data-status]")].every((b) => b.dataset.status !== "loading")`,
              null,
              { timeout: TIMEOUT, polling: 250 },
            )
            .catch(() => notReady.push(`${url} (model still loading)`));
        for (const backend of await badges.evaluateAll((els) =>
          els.map((e) => `${(e as HTMLElement).dataset.status}:${(e as HTMLElement).dataset.backend}`),
        ))
          backends.add(backend);
        await page.waitForLoadState("networkidle");
        const found = (await page.evaluate(LINKS)) as { href: string; url: string; where: string }[];
        for (const link of found) {
          if (!link.url.startsWith(server.origin)) continue; // arXiv, the Hub: not this site's
          links++;
          if (!checked.has(link.url)) {
            const response = await fetch(link.url, { redirect: "manual" });
            checked.set(link.url, response.status);
            await response.arrayBuffer();
          }
          const code = checked.get(link.url) as number;
          if (code !== 200) broken.push(`${url}: ${link.where} link ${link.href} -> ${code}`);
          else if (/(\.html|\/)$/.test(new URL(link.url).pathname) && !visited.has(link.url)) {
            visited.add(link.url);
            queue.push(link.url);
          }
        }
        problems.push(...opened.problems.map((p) => `${url}: ${p}`));
      } finally {
        await page.close();
      }
    }
    const failed = server.log.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.path}`);
    console.log(
      `e2e hosting: ${visited.size} pages, ${links} internal links (${checked.size} distinct), ` +
        `${server.log.length} requests; models: ${[...backends].join(", ")}`,
    );
    expect(broken, "links a plain static host answers with something other than 200").toEqual([]);
    expect(failed, "requests a plain static host could not answer").toEqual([]);
    expect(problems).toEqual([]);
    expect(notReady, "pages that did not render").toEqual([]);
    // following links reached every page of the build, and nothing else
    expect([...visited].sort()).toEqual([...want].sort());
    // the chapters' live models started from the sub-path: the worker script and its wasm were served
    const served = server.log.filter((r) => r.status === 200).map((r) => r.path);
    expect(served.some((p) => /^\/rwkv\/_file\/data\/ort-worker\.[0-9a-f]+\.js$/.test(p))).toBe(true);
    expect(served.some((p) => /^\/rwkv\/_file\/data\/ort-wasm\.[0-9a-f]+\.wasm$/.test(p))).toBe(true);
    expect([...backends].filter((b) => b.startsWith("failed"))).toEqual([]);
    expect(
      [...backends].some((b) => /^ready:(wasm|webgpu)$/.test(b)),
      [...backends].join(", "),
    ).toBe(true);
  }, 1_800_000);

  it("loads a checkpoint copied next to the site from ?weights=, then from the browser's cache", async () => {
    const url = `${server.origin}${BASE}full-size.html?weights=${PTH}`;
    const status = (p: Page) => p.locator(".fs-status").first();
    const loaded = async (p: Page, phase = "ready") => {
      await expect
        .poll(
          async () =>
            `${await status(p).getAttribute("data-seq")} ${await status(p).getAttribute("data-phase")}`,
          {
            timeout: TIMEOUT,
          },
        )
        .toBe(`0 ${phase}`);
      return {
        origin: await status(p).getAttribute("data-origin"),
        dtype: await status(p).getAttribute("data-dtype"),
        weights: await status(p).getAttribute("data-weights"),
        text: (await status(p).textContent()) ?? "",
      };
    };
    const requests = () => server.log.filter((r) => r.path === `${BASE}${PTH}`).length;
    // the browser's first page on a host without isolation headers is reloaded once by the site's service worker
    // (which then adds them): let that happen on the home page, so that the counts below do not depend on whether
    // the crawl above ran first (it does in the whole file, not with -t)
    const warm = await openWatchedPage(browser, `${server.origin}${BASE}`);
    try {
      await warm.page.waitForFunction(PAGE_READY, null, { timeout: TIMEOUT, polling: 250 });
      await warm.page.waitForFunction("crossOriginIsolated === true", null, { timeout: TIMEOUT });
    } finally {
      await warm.page.close();
    }
    const first = await openWatchedPage(browser, url);
    try {
      expect(await first.page.inputValue("form.fs-loader input[name=url]")).toBe(
        `${server.origin}${BASE}${PTH}`,
      );
      const s = await loaded(first.page);
      expect(s).toMatchObject({ origin: "download", dtype: "BF16" });
      expect(s.text).toContain("3 layers × 32 channels");
      expect(requests()).toBe(1);
      await expect
        .poll(() => first.page.locator('[data-figure="mode-agreement"]').getAttribute("data-seq"), {
          timeout: TIMEOUT,
        })
        .toBe("0");
      const diff = Number(
        await first.page.locator('[data-figure="mode-agreement"]').getAttribute("data-max-diff"),
      );
      expect(diff).toBeLessThanOrEqual(1e-3);
      expect(first.problems).toEqual([]);
    } finally {
      await first.page.close();
    }
    // the next visit (the room, without its network): from the Cache API, no request for the file
    const second = await openWatchedPage(browser, url);
    try {
      expect(await loaded(second.page)).toMatchObject({ origin: "browser cache", dtype: "BF16" });
      expect(requests()).toBe(1);
      expect(second.problems).toEqual([]);
    } finally {
      await second.page.close();
    }
    // with &precision=fp16: the same file, its matrices in fp16 (on wasm, which has no shader-f16 to lack)
    const half = await openWatchedPage(browser, `${url}&precision=fp16&ep=wasm`);
    try {
      expect(await loaded(half.page)).toMatchObject({
        origin: "browser cache",
        dtype: "BF16",
        weights: "fp16",
      });
      expect(half.problems).toEqual([]);
    } finally {
      await half.page.close();
    }
    // a path on another host is refused, in words, and the page stays usable
    const other = await openWatchedPage(
      browser,
      `${server.origin}${BASE}full-size.html?weights=https://huggingface.co/x.pth`,
    );
    try {
      const s = await loaded(other.page, "error");
      expect(s.text).toContain("takes a path on this site");
      expect(other.problems).toEqual([]);
    } finally {
      await other.page.close();
    }
  }, 600_000);
});
