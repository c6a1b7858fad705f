/**
 * WebAssembly on several threads (src/runtime/threads.ts, src/runtime/isolation.ts): the built site served by a
 * plain static server that sends no COOP/COEP headers becomes cross-origin isolated through its service worker
 * (/coi-sw.js, after one reload), and onnxruntime-web in the model worker then runs with more than one thread
 * (`?threads=2`), as the badge says; the default for the small chapter model is 1 thread, with the reason.
 */
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import { distDir, ensureBuilt } from "./helpers/site.js";

const status = browserStatus();
if (status.available) ensureBuilt();

let server: StaticServer;
let browser: Browser;
/** model workers and their pthread workers on the page with ?threads=2 (the first test) */
let threadedWorkers = 0;

/** Poll through the service worker's reload (a navigation destroys the context an evaluate runs in). */
async function waitIsolated(page: Page, timeoutMs = 30_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const isolated = await page.evaluate("self.crossOriginIsolated === true").catch(() => false);
    if (isolated) return;
    if (Date.now() - t0 > timeoutMs) throw new Error("the page did not become cross-origin isolated");
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.runIf(status.available)("cross-origin isolation and wasm threads in Chromium", () => {
  beforeAll(async () => {
    server = await serveStatic(distDir, { isolationHeaders: false });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("a plain static host: the service worker isolates the site and ORT runs on 2 threads", async () => {
    // the host itself sends neither header
    const head = await fetch(`${server.origin}/03-token-shift`);
    expect(head.headers.get("cross-origin-opener-policy")).toBeNull();
    expect(head.headers.get("cross-origin-embedder-policy")).toBeNull();

    const { page, problems } = await openWatchedPage(browser, `${server.origin}/03-token-shift?threads=2`, {
      httpErrors: true,
    });
    await waitIsolated(page);
    const sw = (await page.evaluate(
      "({ controller: navigator.serviceWorker.controller?.scriptURL ?? null, sab: typeof SharedArrayBuffer })",
    )) as { controller: string | null; sab: string };
    expect(sw.controller).toBe(`${server.origin}/coi-sw.js?coep=credentialless`);
    expect(sw.sab).toBe("function");
    // the reload kept the address (and so ?threads=2)
    expect(new URL(page.url()).searchParams.get("threads")).toBe("2");

    // the figures' traces run on ORT wasm in the model worker; the badge reports the threads ORT runs with
    // (read back from onnxruntime-web after its wasm started: it lowers the count to 1 when it cannot start more)
    const badge = page.locator('.explainer-badge[data-source="live"][data-backend="wasm"]').first();
    await badge.waitFor({ timeout: 90_000 });
    expect(await badge.getAttribute("data-threads")).toBe("2");
    const pill = badge.locator(".pill.threads");
    expect(await pill.textContent()).toBe("2 threads");
    expect(await pill.getAttribute("title")).toMatch(/\?threads= in the address/);
    // ORT's pthreads are workers that the model worker starts from its own script: threads - 1 each
    threadedWorkers = page.workers().filter((w) => /ort-worker/.test(w.url())).length;
    expect(threadedWorkers).toBeGreaterThanOrEqual(2);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("without ?threads= the small chapter model keeps 1 thread and says why", async () => {
    // the service worker is installed now: the page loads isolated at once
    const { page, problems } = await openWatchedPage(browser, `${server.origin}/03-token-shift`);
    expect(await page.evaluate("self.crossOriginIsolated")).toBe(true);
    const badge = page.locator('.explainer-badge[data-source="live"][data-backend="wasm"]').first();
    await badge.waitFor({ timeout: 90_000 });
    expect(await badge.getAttribute("data-threads")).toBe("1");
    // the same model workers as with ?threads=2, each without its pthread
    const single = page.workers().filter((w) => /ort-worker/.test(w.url())).length;
    expect(single).toBeGreaterThanOrEqual(1);
    expect(threadedWorkers).toBe(2 * single);
    expect(await badge.locator(".pill.threads").getAttribute("title")).toMatch(/small/);
    expect(problems).toEqual([]);
    await page.close();
  });
});
