/**
 * The full-size page's glue in Chromium (tracker issues 11 and 16), beside test/e2e/full-size.test.ts:
 *  - the T and N selects show the sizes that ran: a model 512 channels wide runs the timings at T = N = 64 until
 *    the reader asks for more, and the selects say 64 / 64 (they said 1024 / 512); a small model then runs
 *    1024 / 512 and the selects follow;
 *  - a file that fails to load leaves the model loaded before working: the status names the file and what
 *    failed, says which model is still loaded, and the timings run again on it;
 *  - a config.json nested 170,000 levels deep (1 MB) is refused before it is parsed, in the worker, with a
 *    message that says so (it gave "Maximum call stack size exceeded"), and the loaded model survives.
 * Every file is the reader's pick (setInputFiles): no download.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { openWatchedPage } from "./helpers/open-page.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import { distDir, ensureBuilt, repoRoot } from "./helpers/site.js";
import { numberAttr } from "./helpers/attrs.js";

const status = browserStatus();
const baseUrl = process.env.E2E_BASE_URL?.replace(/\/$/, "");
if (status.available && !baseUrl) ensureBuilt();
const TIMEOUT = Number(process.env.E2E_PAGE_TIMEOUT_MS ?? 90_000);

const fx = (p: string) => readFileSync(path.join(repoRoot, "test/fixtures", p));
const bf16Pth = fx("hf/blink/rwkv4-hf-bf16.pth"); // BlinkDL names, bf16, L=3 C=32 V=50
const hfBin = fx("hf/hf/rwkv4-hf-plain/pytorch_model.bin"); // HF names, fp32, L=2 C=24 V=37

/**
 * An RWKV-4 checkpoint in safetensors (BlinkDL names, F32) of L layers, C channels, FFN F, vocabulary V, with
 * small deterministic weights: written here from the format's definition (8-byte little-endian header length,
 * the JSON header, the tensors back to back), not by the project's code.
 */
function rwkv4Safetensors(L: number, C: number, F: number, V: number): Buffer {
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const tensors: [string, number[], (i: number) => number][] = [];
  const add = (name: string, shape: number[], f: (i: number) => number) => tensors.push([name, shape, f]);
  const small = () => 0.05 * rand();
  add("emb.weight", [V, C], small);
  add("blocks.0.ln0.weight", [C], () => 1);
  add("blocks.0.ln0.bias", [C], () => 0);
  for (let l = 0; l < L; l++) {
    const b = `blocks.${l}`;
    for (const n of ["ln1", "ln2"]) {
      add(`${b}.${n}.weight`, [C], () => 1);
      add(`${b}.${n}.bias`, [C], () => 0);
    }
    add(`${b}.att.time_decay`, [C], (i) => -5 + (6 * i) / C);
    add(`${b}.att.time_first`, [C], () => 0.3);
    for (const m of ["k", "v", "r"]) add(`${b}.att.time_mix_${m}`, [1, 1, C], () => 0.5);
    for (const m of ["key", "value", "receptance", "output"]) add(`${b}.att.${m}.weight`, [C, C], small);
    add(`${b}.ffn.time_mix_k`, [1, 1, C], () => 0.5);
    add(`${b}.ffn.time_mix_r`, [1, 1, C], () => 0.5);
    add(`${b}.ffn.key.weight`, [F, C], small);
    add(`${b}.ffn.receptance.weight`, [C, C], small);
    add(`${b}.ffn.value.weight`, [C, F], small);
  }
  add("ln_out.weight", [C], () => 1);
  add("ln_out.bias", [C], () => 0);
  add("head.weight", [V, C], small);
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = {};
  let offset = 0;
  for (const [name, shape] of tensors) {
    const bytes = 4 * shape.reduce((a, d) => a * d, 1);
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const out = Buffer.alloc(8 + json.length + offset);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  out.write(json, 8, "latin1");
  let o = 8 + json.length;
  for (const [, shape, f] of tensors) {
    const n = shape.reduce((a, d) => a * d, 1);
    for (let i = 0; i < n; i++, o += 4) out.writeFloatLE(f(i), o);
  }
  return out;
}

let site: StaticServer | undefined;
let origin: string;
let browser: Browser;

const status$ = (page: Page) => page.locator(".fs-status").first();
const seqs = new WeakMap<Page, number>();

/** Waits for the latest load to end in `phase`; returns the status box's text. */
async function waitLoaded(page: Page, phase: "ready" | "error" = "ready"): Promise<string> {
  const seq = String(seqs.get(page) ?? 0);
  await expect
    .poll(
      async () =>
        `${await status$(page).getAttribute("data-seq")} ${await status$(page).getAttribute("data-phase")}`,
      { timeout: TIMEOUT },
    )
    .toBe(`${seq} ${phase}`);
  return (await status$(page).textContent()) ?? "";
}

async function loadFiles(page: Page, files: { name: string; buffer: Buffer }[]): Promise<void> {
  await page.selectOption("form.fs-loader select[name=model]", "file");
  await page.setInputFiles(
    "form.fs-loader input[name=files]",
    files.map((f) => ({ ...f, mimeType: "application/octet-stream" })),
  );
  await page.click("form.fs-loader button[name=load]");
  seqs.set(page, (seqs.get(page) ?? 0) + 1);
}

async function loadModel(page: Page, id: string): Promise<void> {
  await page.selectOption("form.fs-loader select[name=model]", id);
  await page.click("form.fs-loader button[name=load]");
  seqs.set(page, (seqs.get(page) ?? 0) + 1);
}

/** A figure's text as read on screen: each SVG text line (a wrapped title or note) joined by a space. */
async function shownText(figure: Locator): Promise<string> {
  if ((await figure.count()) === 0) return "";
  return figure.evaluate((el) => [...el.querySelectorAll("text")].map((t) => t.textContent ?? "").join(" "));
}

/** The T of the prefill chart and the N of the generation charts, once they name `model`. */
async function sizesThatRan(page: Page, model: string): Promise<{ T: number; N: number }> {
  const prefill = page.locator('[data-figure="prefill-time"]');
  const latency = page.locator('[data-figure="token-latency"]');
  let T = NaN;
  let N = NaN;
  await expect
    .poll(
      async () => {
        const p = await shownText(prefill);
        const l = await shownText(latency);
        T = Number(/T up to (\d+)/.exec(p)?.[1]);
        N = Number(/(\d+) tokens from an empty state/.exec(l)?.[1]);
        return p.includes(model) && l.includes(model) && T > 0 && N > 0;
      },
      { timeout: TIMEOUT },
    )
    .toBe(true);
  return { T, N };
}

async function selects(page: Page): Promise<{ T: number; N: number }> {
  return {
    T: Number(await page.locator(".fs-sizes select[name=T]").inputValue()),
    N: Number(await page.locator(".fs-sizes select[name=N]").inputValue()),
  };
}

/**
 * Runs the timings again and waits for a fresh comparison of the two modes (the agreement figure is drawn
 * anew); returns its largest |RNN - parallel| and its text.
 */
async function runAgain(page: Page): Promise<{ maxDiff: number; text: string }> {
  const before = await page.locator('[data-figure="mode-agreement"]').elementHandle();
  await page.click(".fs-sizes button[name=run]");
  await expect
    .poll(() => before?.evaluate((el) => el.isConnected) ?? false, { timeout: TIMEOUT })
    .toBe(false);
  const fig = page.locator('[data-figure="mode-agreement"]');
  await expect.poll(() => fig.getAttribute("data-max-diff"), { timeout: TIMEOUT }).not.toBeNull();
  return {
    maxDiff: numberAttr(await fig.getAttribute("data-max-diff"), "data-max-diff"),
    text: (await fig.textContent()) ?? "",
  };
}

describe.runIf(status.available)("the full-size page's glue in Chromium", () => {
  beforeAll(async () => {
    if (baseUrl) origin = baseUrl;
    else {
      site = await serveStatic(distDir);
      origin = site.origin;
    }
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await site?.close();
  });

  it("the T and N selects show the sizes that ran (64 / 64 for a model 512 wide, 1024 / 512 for a small one)", async () => {
    const { page, problems } = await openWatchedPage(browser, origin + "/full-size");
    try {
      await waitLoaded(page);
      const wide = rwkv4Safetensors(1, 512, 512, 64);
      await loadFiles(page, [{ name: "wide-512.safetensors", buffer: wide }]);
      const text = await waitLoaded(page);
      expect(text).toContain("1 layers × 512 channels");
      const ran = await sizesThatRan(page, "wide-512.safetensors");
      expect(ran).toEqual({ T: 64, N: 64 }); // the page's smaller defaults for models of C >= 512
      expect(await selects(page)).toEqual(ran);

      await loadModel(page, "synthetic-small");
      await waitLoaded(page);
      const small = await sizesThatRan(page, "synthetic-small");
      expect(small).toEqual({ T: 1024, N: 512 });
      expect(await selects(page)).toEqual(small);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("a file that fails to load leaves the loaded model working and says what failed", async () => {
    const { page, problems } = await openWatchedPage(browser, origin + "/full-size");
    try {
      await waitLoaded(page);
      await expect
        .poll(() => page.locator('[data-figure="mode-agreement"]').getAttribute("data-seq"), {
          timeout: TIMEOUT,
        })
        .toBe("0");
      await loadFiles(page, [{ name: "broken.pth", buffer: bf16Pth.subarray(0, bf16Pth.length >> 1) }]);
      const text = await waitLoaded(page, "error");
      expect(text).toContain("broken.pth");
      expect(text).toContain("damaged or incomplete");
      expect(text).toMatch(/synthetic-small[^.]*is still loaded/);
      expect(await status$(page).getAttribute("data-model")).toContain("synthetic-small");
      // the model still runs: the timings start again on it and both modes agree
      const again = await runAgain(page);
      expect(again.text).toContain("synthetic-small");
      expect(again.maxDiff).toBeLessThanOrEqual(1e-3);
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("a config.json nested 170,000 deep is refused before parsing, with a clear message; the model survives", async () => {
    const { page, problems } = await openWatchedPage(browser, origin + "/full-size");
    try {
      await waitLoaded(page);
      const depth = 170_000;
      const deep = Buffer.from(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`);
      expect(deep.length).toBeGreaterThan(1_000_000);
      await loadFiles(page, [
        { name: "pytorch_model.bin", buffer: hfBin },
        { name: "config.json", buffer: deep },
      ]);
      const text = await waitLoaded(page, "error");
      expect(text).toContain("config.json");
      expect(text).toMatch(/nested more than \d+ levels deep/);
      expect(text).not.toContain("call stack");
      expect(text).toMatch(/synthetic-small[^.]*is still loaded/);
      const again = await runAgain(page);
      expect(again.text).toContain("synthetic-small");
      expect(again.maxDiff).toBeLessThanOrEqual(1e-3);
      // the same checkpoint with its real config.json loads
      await loadFiles(page, [
        { name: "pytorch_model.bin", buffer: hfBin },
        { name: "config.json", buffer: fx("hf/hf/rwkv4-hf-plain/config.json") },
      ]);
      expect(await waitLoaded(page)).toContain("2 layers × 24 channels");
      expect(problems).toEqual([]);
    } finally {
      await page.close();
    }
  });
});

if (!status.available && !status.required) {
  console.log(`SKIP browser tests: ${status.message}`);
}

if (!status.available && status.required) {
  describe("browser required (CI=true or E2E_REQUIRED=1)", () => {
    it("has Chromium", () => {
      throw new Error(status.message);
    });
  });
}
