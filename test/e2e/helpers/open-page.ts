/**
 * Opens a page of the served site with the browser tests' watch on it: every console error, uncaught exception,
 * HTTP error status and (optionally) failed loopback request lands in `problems`, and any request to a host other
 * than loopback is blocked and recorded. Tests assert `problems` is empty when they are done.
 */
import type { Page } from "playwright-core";
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
  if (failedRequests)
    page.on("requestfailed", (request) => {
      if (isLoopback(request.url()))
        problems.push(`failed request: ${request.url()} (${request.failure()?.errorText})`);
    });
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
