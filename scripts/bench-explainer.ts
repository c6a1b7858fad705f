/**
 * Issue 6's performance numbers, measured on the built site (dist/) in headless Chromium (Debian's, WebGPU
 * flags as in the browser tests), served from 127.0.0.1:
 *
 * - first figure: milliseconds from navigation start until the first `[data-figure]` holds a drawn svg/canvas/
 *   table (the precomputed trace or the weights, before the live model);
 * - live: until the model badge says `live` (weights fetched and parsed, the chapter's prompt run in this
 *   browser); chapter 1 has no traced prompt, so there it is until the badge says the model is ready;
 * - keystroke: chapter 5 with a 128-character prompt, from the input event to the heatmaps showing all 128
 *   tokens (`data-revealed`), median of 21 alternating edits (127 <-> 128 characters).
 *
 * Usage: `npm run build && npx tsx scripts/bench-explainer.ts [--runs N]`. Prints JSON and a markdown table;
 * the numbers go into docs/benchmarks.md by hand, with the machine.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { launchChromium } from "../test/e2e/helpers/chromium.js";
import { chapters } from "../observablehq.config.js";
import { serveStatic } from "../test/e2e/helpers/server.js";
import { distDir, ensureBuilt } from "../test/e2e/helpers/site.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } } });
const RUNS = Math.max(1, Number(values.runs) || 3);
// the numbered chapters of observablehq.config.ts (the full-size page downloads nothing here but times models)
const PAGES = chapters.map((c) => c.path.slice(1)).filter((p) => /^\d\d-/.test(p));

// Records, in page time (ms since navigation start), when the first figure is drawn and when the badge goes live.
const PROBE = `(() => {
  const marks = (window.__benchMarks = {});
  const drawn = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) return false;
    if (el.querySelector("canvas")) return true;
    if (el.querySelector("table td, table th")) return true;
    const svg = el.querySelector("svg");
    if (!svg) return false;
    return [...svg.querySelectorAll("rect, path, circle, line, text")].some((n) => {
      const b = n.getBoundingClientRect();
      return b.width > 0 || b.height > 0;
    });
  };
  const tick = () => {
    if (marks.firstFigure === undefined && [...document.querySelectorAll("[data-figure]")].some(drawn))
      marks.firstFigure = performance.now();
    if (marks.live === undefined && document.querySelector('.explainer-badge[data-source="live"]'))
      marks.live = performance.now();
    if (marks.ready === undefined && document.querySelector('.explainer-badge[data-status="ready"]'))
      marks.ready = performance.now();
    if (marks.firstFigure === undefined || marks.live === undefined || marks.ready === undefined)
      requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();`;

interface Marks {
  firstFigure?: number;
  live?: number;
  ready?: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

ensureBuilt();
const server = await serveStatic(distDir);
const browser = await launchChromium();
const results: Record<string, { firstFigure: number[]; live: number[] }> = {};
let keystrokes: number[] = [];
let appends: number[] = [];
let deletes: number[] = [];
try {
  await browser.context.addInitScript(PROBE);
  for (let run = 0; run < RUNS; run++) {
    for (const name of PAGES) {
      const page = await browser.context.newPage();
      await page.goto(`${server.origin}/${name}`);
      const overview = name === "01-overview";
      await page.waitForFunction(
        () => (window as unknown as { __benchMarks: Marks }).__benchMarks.firstFigure !== undefined,
        undefined,
        { timeout: 60_000 },
      );
      // a page without a model badge, or whose live run waits for the reader (chapter 9's "Trace live": it
      // shows the precomputed trace until asked), has only a first figure to time
      const hasBadge = await page.evaluate(
        () =>
          !!document.querySelector(".explainer-badge") &&
          ![...document.querySelectorAll("button")].some((b) => b.textContent?.trim() === "Trace live"),
      );
      if (hasBadge)
        await page.waitForFunction(
          (overview) => {
            const m = (window as unknown as { __benchMarks: Marks }).__benchMarks;
            return (overview ? m.ready : m.live) !== undefined;
          },
          overview,
          { timeout: 60_000 },
        );
      const m = await page.evaluate(() => (window as unknown as { __benchMarks: Marks }).__benchMarks);
      (results[name] ??= { firstFigure: [], live: [] }).firstFigure.push(m.firstFigure!);
      if (hasBadge) results[name].live.push((overview ? m.ready : m.live)!);
      await page.close();
    }
  }
  // keystroke -> chapter 5 heatmaps, 128 characters
  const base =
    "ROMEO:\nBut soft, what light through yonder window breaks? It is the east, and Juliet is the sun. Arise, fair sun, and kill the envio";
  const prompt = base.slice(0, 127);
  const page = await browser.context.newPage();
  await page.goto(`${server.origin}/05-wkv?prompt=${encodeURIComponent(prompt)}`);
  await page.waitForSelector('.explainer-badge[data-source="live"]', { timeout: 60_000 });
  await page.waitForSelector('[data-figure="wkv-state-a"][data-revealed="127"]', { timeout: 60_000 });
  for (let i = 0; i < 21; i++) {
    const text = i % 2 === 0 ? prompt + "s" : prompt;
    const T = i % 2 === 0 ? 128 : 127;
    // a string, not a function: tsx would wrap named inner functions in a helper the page does not have
    keystrokes.push(
      (await page.evaluate(`new Promise((resolve) => {
        const area = document.querySelector("textarea[data-prompt]");
        const t0 = performance.now();
        area.value = ${JSON.stringify(text)};
        area.dispatchEvent(new Event("input", { bubbles: true }));
        const poll = () => {
          const fig = document.querySelector('[data-figure="wkv-state-a"]');
          if (fig && fig.getAttribute("data-revealed") === "${T}") resolve(performance.now() - t0);
          else requestAnimationFrame(poll);
        };
        poll();
      })`)) as number,
    );
  }
  // edits alternate: even ones add a character (127 -> 128), odd ones delete it again
  appends = keystrokes.filter((_, i) => i % 2 === 0).sort((a, b) => a - b);
  deletes = keystrokes.filter((_, i) => i % 2 === 1).sort((a, b) => a - b);
  keystrokes = keystrokes.sort((a, b) => a - b);
  await page.close();
} finally {
  await browser.close();
  await server.close();
}

const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${os
  .loadavg()
  .map((x) => x.toFixed(1))
  .join(" ")}`;
console.log(JSON.stringify({ machine, runs: RUNS, results, keystrokesMs: keystrokes }));
console.log(`\nMachine: ${machine}. ${RUNS} run(s) per page, medians.\n`);
console.log("| page | first figure (ms) | live model (ms) |\n| --- | --- | --- |");
for (const [name, r] of Object.entries(results))
  console.log(
    `| ${name} | ${median(r.firstFigure).toFixed(0)} | ${r.live.length ? median(r.live).toFixed(0) : "n/a (no live model until asked)"} |`,
  );
console.log(
  `\nKeystroke -> chapter 5 heatmaps, 128 characters: median ${median(keystrokes).toFixed(1)} ms ` +
    `(min ${keystrokes[0].toFixed(1)}, max ${keystrokes[keystrokes.length - 1].toFixed(1)}, ${keystrokes.length} edits); ` +
    `adding a character: median ${median(appends).toFixed(1)} ms (${appends.length}), deleting it: ` +
    `median ${median(deletes).toFixed(1)} ms (${deletes.length})`,
);
