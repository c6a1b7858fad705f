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
 * responsive the page stayed), each worker's span from its first traceBegin to its last reply (which model is the
 * long pole), and the load average before and after. `DIST=/path/to/dist` serves another build (a baseline) with the
 * same script; `REPS=n` repeats each subject n times; `SUBJECTS=BIANCA` picks the subjects.
 */
import os from "node:os";
import { launchChromium } from "../helpers/chromium.js";
import { openWatchedPage } from "../helpers/open-page.js";
import { serveStatic } from "../helpers/server.js";
import { distDir } from "../helpers/site.js";

const server = await serveStatic(process.env.DIST ?? distDir);
const reps = Number(process.env.REPS ?? 1);
const subjects = (process.env.SUBJECTS ?? "hast,BIANCA").split(",");
const browser = await launchChromium();
console.log(
  `${os.cpus().length} CPUs (${os.cpus()[0]?.model}), Node ${process.version}, ${new Date().toISOString()}`,
);
try {
  for (const subject of subjects.flatMap((x) => Array<string>(reps).fill(x))) {
    const { page, problems } = await openWatchedPage(
      browser,
      `${server.origin}/09-what-the-state-remembers?ep=wasm`,
    );
    // each trace worker's span: its first traceBegin to its last reply (the kind comes from its traceInit)
    await page.addInitScript(() => {
      const spans: Record<string, { kind: string; begin?: number; end?: number }> = {};
      (window as unknown as { spans: typeof spans }).spans = spans;
      const ids = new WeakMap<Worker, string>();
      const post = Worker.prototype.postMessage;
      Worker.prototype.postMessage = function (this: Worker, m: unknown, ...rest: unknown[]) {
        const msg = m as { type?: string; source?: { kind?: string } };
        if (msg?.type === "traceInit" && msg.source?.kind) {
          const id = `${msg.source.kind}#${Object.keys(spans).length}`;
          ids.set(this, id);
          spans[id] = { kind: msg.source.kind };
          this.addEventListener("message", () => (spans[id].end = performance.now()));
        }
        const id = ids.get(this);
        if (id && msg?.type === "traceBegin") spans[id].begin ??= performance.now();
        return (post as (...a: unknown[]) => void).call(this, m, ...rest);
      } as typeof Worker.prototype.postMessage;
    });
    await page.reload();
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
    const spans = await page.evaluate(() =>
      Object.values(
        (window as unknown as { spans: Record<string, { kind: string; begin?: number; end?: number }> })
          .spans,
      )
        .map((s) => `${s.kind} ${(((s.end ?? 0) - (s.begin ?? 0)) / 1000).toFixed(1)} s`)
        .join(", "),
    );
    console.log(
      `subject ${JSON.stringify(subject)}: ${line.match(/done in [\d.]+ s/)?.[0]} (click to done ` +
        `${clickToDone.toFixed(1)} s); ${line.match(/backend: [^·]+/)?.[0]?.trim()}; longest timer gap ` +
        `${Math.max(...gaps).toFixed(0)} ms; workers ${spans}; load ${load0.toFixed(1)} -> ${os.loadavg()[0].toFixed(1)}; ` +
        `page problems: ${problems.length}`,
    );
    await page.close();
  }
} finally {
  await browser.close();
  await server.close();
}
