/**
 * Chapter 5's keystroke, timed and CPU-profiled (the page's main thread): the median of N alternating edits and
 * the functions with the most self time during them. Usage: `npm run build && npx tsx scripts/profile-keystroke.ts
 * [--edits N] [--profile] [--timeline] [--pause MS] [--forward]`. `--forward` types N characters one after
 * another, ending at the same 128 (every edit an addition, as typing is), instead of alternating one character.
 */
import os from "node:os";
import { parseArgs } from "node:util";
import { launchChromium } from "../test/e2e/helpers/chromium.js";
import { serveStatic } from "../test/e2e/helpers/server.js";
import { distDir, ensureBuilt } from "../test/e2e/helpers/site.js";

const { values } = parseArgs({
  options: {
    edits: { type: "string", default: "21" },
    profile: { type: "boolean" },
    timeline: { type: "boolean" },
    pause: { type: "string", default: "0" },
    forward: { type: "boolean" },
  },
});
const EDITS = Math.max(1, Number(values.edits) || 21);
/** ms between one edit's heatmaps and the next edit (0: back to back; ~150: a fast typist's pace) */
const PAUSE = Math.max(0, Number(values.pause) || 0);
ensureBuilt();
const server = await serveStatic(distDir);
const browser = await launchChromium();
const times: number[] = [];
try {
  const base =
    "ROMEO:\nBut soft, what light through yonder window breaks? It is the east, and Juliet is the sun. Arise, fair sun, and kill the envio";
  const prompt = values.forward ? base.slice(0, 128 - EDITS) : base.slice(0, 127);
  // --timeline: when the page posts to its worker and when the worker answers (the trace for the new token)
  if (values.timeline)
    await browser.context.addInitScript(`(() => {
      const log = (window.__workerLog = []);
      const post = Worker.prototype.postMessage;
      Worker.prototype.postMessage = function (...args) { log.push(["post", performance.now()]); return post.apply(this, args); };
      const W = window.Worker;
      window.Worker = class extends W {
        constructor(...args) { super(...args); this.addEventListener("message", (e) => log.push(["message", performance.now(), e.data && e.data.result && e.data.result.ms])); }
      };
    })();`);
  const page = await browser.context.newPage();
  await page.goto(`${server.origin}/05-wkv?prompt=${encodeURIComponent(prompt)}`);
  await page.waitForSelector('.explainer-badge[data-source="live"]', { timeout: 60_000 });
  await page.waitForSelector(`[data-figure="wkv-state-a"][data-revealed="${prompt.length}"]`, {
    timeout: 60_000,
  });
  const cdp = values.profile ? await browser.context.newCDPSession(page) : null;
  if (cdp) {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
  }
  for (let i = 0; i < EDITS; i++) {
    if (PAUSE) await page.waitForTimeout(PAUSE);
    const text = values.forward ? base.slice(0, prompt.length + i + 1) : i % 2 === 0 ? prompt + "s" : prompt;
    const T = values.forward ? prompt.length + i + 1 : i % 2 === 0 ? 128 : 127;
    times.push(
      (await page.evaluate(`new Promise((resolve) => {
        const area = document.querySelector("textarea[data-prompt]");
        const t0 = performance.now();
        window.__t0 = t0;
        area.value = ${JSON.stringify(text)};
        area.dispatchEvent(new Event("input", { bubbles: true }));
        const poll = () => {
          const fig = document.querySelector('[data-figure="wkv-state-a"]');
          if (fig && fig.getAttribute("data-revealed") === "${T}") {
            const t1 = performance.now();
            const w = (window.__workerLog || []).filter(([, t]) => t >= t0 && t <= t1);
            window.__phases = (window.__phases || []).concat([[t1 - t0, ...w.map(([k, t, ms]) => k[0] + (t - t0).toFixed(1) + (typeof ms === "number" ? "(worker " + ms.toFixed(1) + ")" : ""))]]);
            resolve(t1 - t0);
          }
          else requestAnimationFrame(poll);
        };
        poll();
      })`)) as number,
    );
  }
  if (cdp) {
    const { profile } = (await cdp.send("Profiler.stop")) as {
      profile: {
        nodes: {
          id: number;
          children?: number[];
          callFrame: { functionName: string; url: string; lineNumber: number };
        }[];
        samples: number[];
        timeDeltas: number[];
      };
    };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const n = byId.get(id)!;
      const f = n.callFrame;
      const key = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
      const dt = (profile.timeDeltas[i] ?? 0) / 1000;
      total += dt;
      self.set(key, (self.get(key) ?? 0) + dt);
    });
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const incl = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const f = byId.get(at)!.callFrame;
        const key = `${f.functionName || "(anon)"} ${f.url.split("/").pop()?.split("?")[0]}:${f.lineNumber + 1}`;
        if (!seen.has(key)) incl.set(key, (incl.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
        seen.add(key);
      }
    });
    console.log("inclusive:");
    for (const [k, ms] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, 45))
      console.log(`${(ms / EDITS).toFixed(2).padStart(7)} ms/edit  ${k}`);
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 30);
    console.log(`profile: ${total.toFixed(0)} ms sampled over ${EDITS} edits`);
    for (const [k, ms] of top) console.log(`${(ms / EDITS).toFixed(2).padStart(7)} ms/edit  ${k}`);
  }
  if (values.timeline)
    for (const p of (await page.evaluate("window.__phases")) as [number, ...string[]][])
      console.log(`${p[0].toFixed(1)} ms: ${p.slice(1).join(" ")}`);
  await page.close();
} finally {
  await browser.close();
  await server.close();
}
const s = [...times].sort((a, b) => a - b);
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(
  `keystroke -> chapter 5 heatmaps${PAUSE ? ` (${PAUSE} ms between edits)` : ""}${values.forward ? `, typing forward to 128` : ""}: median ${med(times).toFixed(1)} ms (min ${s[0].toFixed(1)}, max ${s[s.length - 1].toFixed(1)}, ${times.length} edits); ` +
    (values.forward
      ? ""
      : `add ${med(times.filter((_, i) => i % 2 === 0)).toFixed(1)}, delete ${med(times.filter((_, i) => i % 2 === 1)).toFixed(1)}; `) +
    `load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
);
