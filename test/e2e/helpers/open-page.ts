/**
 * Opens a page of the served site with the browser tests' watch on it: every console error, uncaught exception,
 * HTTP error status and (optionally) failed loopback request lands in `problems`, and any request to a host other
 * than loopback is blocked and recorded. Tests assert `problems` is empty when they are done.
 */
import type { Page, Request } from "playwright-core";
import type { Browser } from "./chromium.js";
import { isLoopback } from "./site.js";

export interface OpenOptions {
  colorScheme?: "light" | "dark";
  /** record responses with status >= 400 (default true) */
  httpErrors?: boolean;
  /** record loopback requests that failed outright (default false) */
  failedRequests?: boolean;
}

export async function openWatchedPage(
  browser: Browser,
  url: string,
  { colorScheme, httpErrors = true, failedRequests = false }: OpenOptions = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.context.newPage();
  if (colorScheme) await page.emulateMedia({ colorScheme });
  const problems: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`uncaught exception: ${error.message}`));
  if (failedRequests) {
    // main-frame documents so far: a request the page's own reload cut off (the service worker reloads a page
    // once on the first visit to make it cross-origin isolated, src/runtime/isolation.ts) is not a failure of
    // the host, and shows as net::ERR_ABORTED from the document before the reload
    let documents = 0;
    const madeBy = new WeakMap<Request, number>();
    page.on("request", (request) => madeBy.set(request, documents));
    page.on("framenavigated", (frame) => {
      if (frame === page.mainFrame()) documents++;
    });
    page.on("requestfailed", (request) => {
      if (!isLoopback(request.url())) return;
      const text = request.failure()?.errorText ?? "";
      const report = () => problems.push(`failed request: ${request.url()} (${text})`);
      if (!text.includes("ERR_ABORTED")) return report();
      // the navigation that would explain the abort commits about when the request fails: decide a moment later
      setTimeout(() => {
        if (documents === madeBy.get(request)) report();
      }, 1500);
    });
  }
  if (httpErrors)
    page.on("response", (response) => {
      if (response.status() >= 400) problems.push(`HTTP ${response.status()}: ${response.url()}`);
    });
  await page.route("**/*", (route) => {
    const requested = route.request().url();
    if (isLoopback(requested)) return route.continue();
    problems.push(`request to a non-loopback host: ${requested}`);
    return route.abort("blockedbyclient");
  });
  await page.goto(url, { waitUntil: "load" });
  return { page, problems };
}
