/**
 * Regenerate docs/screenshot.png (the README's picture) from the built home page in headless Chromium:
 * `npm run build && npx tsx test/e2e/helpers/screenshot.ts`.
 */
import path from "node:path";
import { launchChromium } from "./chromium.js";
import { PAGE_READY } from "./page-checks.js";
import { serveStatic } from "./server.js";
import { distDir, ensureBuilt, repoRoot } from "./site.js";

ensureBuilt();
const server = await serveStatic(distDir);
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1480, height: 900 });
  await page.goto(`${server.origin}/`);
  await page.waitForFunction(PAGE_READY, null, { timeout: 30_000 });
  // From the WKV equation's heading to the bottom of the figure.
  const top = await page.locator("h2", { hasText: "The operator that makes it work" }).boundingBox();
  const bottom = await page.locator('[data-figure="attention-cost"]').boundingBox();
  if (!top || !bottom) throw new Error("screenshot: home page landmarks not found");
  const x = Math.max(0, top.x - 24);
  const y = Math.max(0, top.y - 16);
  const out = path.join(repoRoot, "docs", "screenshot.png");
  await page.screenshot({
    path: out,
    clip: { x, y, width: bottom.x + bottom.width + 24 - x, height: bottom.y + bottom.height + 16 - y },
    fullPage: true,
  });
  console.log(`wrote ${path.relative(repoRoot, out)}`);
} finally {
  await browser.close();
  await server.close();
}
