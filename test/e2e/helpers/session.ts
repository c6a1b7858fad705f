/**
 * The browser tests' shared set-up: inside a describe, `useSite(site)` serves dist/ on 127.0.0.1 (or uses
 * E2E_BASE_URL) and starts Chromium before the tests, and closes both after them. `site` is filled in place so
 * that a file's helper functions can read `site.origin` and `site.browser`.
 */
import { afterAll, beforeAll } from "vitest";
import { launchChromium, type Browser } from "./chromium.js";
import { serveStatic, type StaticServer } from "./server.js";
import { distDir } from "./site.js";

export interface SiteSession {
  origin: string;
  browser: Browser;
}

/** An empty session to fill with useSite (module scope, so helpers outside the describe can read it). */
export function siteSession(): SiteSession {
  return { origin: "", browser: undefined as unknown as Browser };
}

export function useSite(site: SiteSession, baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "")): void {
  let server: StaticServer | undefined;
  beforeAll(async () => {
    if (baseUrl) site.origin = baseUrl;
    else {
      server = await serveStatic(distDir);
      site.origin = server.origin;
    }
    site.browser = await launchChromium();
  });
  afterAll(async () => {
    await site.browser?.close();
    await server?.close();
  });
}
