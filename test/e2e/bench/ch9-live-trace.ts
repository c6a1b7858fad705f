/**
 * Chapter 9's live causal trace timed in headless Chromium, for docs/benchmarks.md (not a test: it asserts
 * nothing and runs only when asked):
 *
 *   npm run build && npx tsx test/e2e/bench/ch9-live-trace.ts
 *
 * The default 65-character prompt with its subject "hast" (near the end, as in the chapter) and with the subject
 * "BIANCA" at the very start (the worst case: every position needs restored runs), 1 noise sample, both tiny
 * models, on wasm (`?ep=wasm`). Prints the page's own "done in" line (the trace itself), the time from the click
 * (first click of the page: the workers and graphs start too), the backend, the longest gap between 20 ms timer ticks during the run (how
 * responsive the page stayed), and the load average before and after.
 */
import os from "node:os";
import { launchChromium } from "../helpers/chromium.js";
import { openWatchedPage } from "../helpers/open-page.js";
import { serveStatic } from "../helpers/server.js";
import { distDir } from "../helpers/site.js";

const server = await serveStatic(distDir);
const browser = await launchChromium();
console.log(
  `${os.cpus().length} CPUs (${os.cpus()[0]?.model}), Node ${process.version}, ${new Date().toISOString()}`,
);
try {
  for (const subject of ["hast", "BIANCA"]) {
    const { page, problems } = await openWatchedPage(
      browser,
      `${server.origin}/09-what-the-state-remembers?ep=wasm`,
    );
    await page.waitForSelector('[data-figure="causal-trace"] svg[data-model="gpt"]', { timeout: 120_000 });
    await page.getByLabel("Subject (noised; its last occurrence)").fill(subject);
    await page.waitForTimeout(500);
    await page.evaluate(() => {
      const w = window as unknown as { gaps: number[] };
      w.gaps = [];
      let last = performance.now();
      setInterval(() => {
        const n = performance.now();
        w.gaps.push(n - last);
        last = n;
      }, 20);
    });
    const load0 = os.loadavg()[0];
    const t0 = performance.now();
    await page.getByRole("button", { name: "Trace live" }).click();
    const done = page.locator(".explainer-notice", { hasText: "done in" });
    await done.waitFor({ timeout: 600_000 });
    const clickToDone = (performance.now() - t0) / 1000;
    const gaps = await page.evaluate(() => (window as unknown as { gaps: number[] }).gaps);
    const line = (await done.textContent()) ?? "";
    console.log(
      `subject ${JSON.stringify(subject)}: ${line.match(/done in [\d.]+ s/)?.[0]} (click to done ` +
        `${clickToDone.toFixed(1)} s); ${line.match(/backend: [^·]+/)?.[0]?.trim()}; longest timer gap ` +
        `${Math.max(...gaps).toFixed(0)} ms; load ${load0.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)}; ` +
        `page problems: ${problems.length}`,
    );
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
