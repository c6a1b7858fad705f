/**
 * The model worker in headless Chromium: both graphs on the WebGPU EP (SwiftShader on CPU-only machines)
 * with every node placed on WebGPU (ORT's verbose placement log), parity with the reference model, state
 * kept on the GPU, typed errors across the worker boundary; the wasm EP when asked; and a visible
 * fallback to wasm in a browser without WebGPU. The site serves the ORT wasm itself (no CDN).
 */
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORT_WASM_NAME, bundleModule, ortWasmPath } from "../../src/runtime/bundle.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import {
  CHROME_PATH,
  CHROMIUM_FLAGS,
  browserStatus,
  launchChromium,
  type Browser,
} from "./helpers/chromium.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";
import type { OrtPageRequest } from "./ort-page.js";

const status = browserStatus();
const CONFIG = { nLayer: 2, nEmbd: 16, ffnSize: 64, vocabSize: 23, layerNormEps: 1e-5 };
const TOKENS = [1, 5, 22, 0, 7, 7, 3, 9, 11, 2, 4, 6, 8];
const SEED = 1;
const KEYS = ["attX", "a", "b", "p", "ffnX"] as const;

interface RunOut {
  init: {
    ep: string;
    fallbackReason?: string;
    adapter?: { architecture: string };
    stateLocation: string;
    sessionsOnWorkerDevice?: boolean;
    graphCapture?: boolean;
    graphCaptureParallel?: boolean;
    graphCaptureFallback?: string;
  };
  events: { kind: string; message: string }[];
  parEp: string;
  parLogits: number[];
  parState: Record<string, number[]>[];
  steps: number[][];
  stepEps: string[];
  rnnState: Record<string, number[]>[];
  mixed: number[][];
  errors: { name: string; code: unknown; message: string }[];
  after: number;
  stepsLogits: number[];
  stepsState: Record<string, number[]>[];
  lost?: { simulated: boolean; code?: unknown; epAfter?: string; logits?: number[] };
}

const ref = new RwkvModel(syntheticWeights(CONFIG, SEED));
const expected = ref.forward(TOKENS, undefined, { wkv: "scan" });

function diffs(r: RunOut): { parallel: number; rnn: number; state: number; mixed: number } {
  const V = CONFIG.vocabSize;
  let parallel = 0;
  r.parLogits.forEach((x, i) => (parallel = Math.max(parallel, Math.abs(x - expected.logits[i]))));
  let rnn = 0;
  r.steps.forEach((row, t) =>
    row.forEach((x, i) => (rnn = Math.max(rnn, Math.abs(x - expected.logits[t * V + i])))),
  );
  let state = 0;
  for (const s of [r.parState, r.rnnState, r.stepsState]) {
    s.forEach((l, li) => {
      for (const k of KEYS)
        l[k].forEach((x, c) => (state = Math.max(state, Math.abs(x - expected.state[li][k][c]))));
    });
  }
  // steps(): the last token's logits
  r.stepsLogits.forEach(
    (x, i) => (rnn = Math.max(rnn, Math.abs(x - expected.logits[(TOKENS.length - 1) * V + i]))),
  );
  expect(r.stepsLogits.length).toBe(V);
  let mixed = 0;
  r.mixed.forEach((row, t) =>
    row.forEach((x, i) => (mixed = Math.max(mixed, Math.abs(x - expected.logits[t * V + i])))),
  );
  expect(r.parLogits.length).toBe(TOKENS.length * V);
  expect(r.steps.length).toBe(TOKENS.length);
  expect(r.mixed.length).toBe(TOKENS.length);
  return { parallel, rnn, state, mixed };
}

let dir: string;
let server: StaticServer;

async function runInPage(
  browserContext: Browser["context"],
  req: Omit<OrtPageRequest, "config" | "seed" | "tokens">,
): Promise<{ out: RunOut; logs: string[] }> {
  const page = await browserContext.newPage();
  const logs: string[] = [];
  page.on("console", (m) => logs.push(m.text()));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  try {
    await page.goto(`${server.origin}/index.html`);
    await page.waitForFunction(() => "ortRun" in window);
    const full: OrtPageRequest = { config: CONFIG, seed: SEED, tokens: TOKENS, ...req };
    const out = await page.evaluate(
      (r) => (window as unknown as { ortRun: (r: OrtPageRequest) => Promise<RunOut> }).ortRun(r),
      full,
    );
    return { out, logs };
  } finally {
    await page.close();
  }
}

if (!status.available) console.log(`SKIP ORT browser tests: ${status.message}`);

describe.runIf(status.available || status.required)(
  "onnxruntime-web in Chromium through the model worker",
  () => {
    let browser: Browser;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "rwkv-ort-e2e-"));
      await writeFile(path.join(dir, "worker.js"), await bundleModule());
      await writeFile(
        path.join(dir, "page.js"),
        await bundleModule(path.join(import.meta.dirname, "ort-page.ts")),
      );
      await writeFile(
        path.join(dir, "index.html"),
        '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module" src="./page.js"></script>',
      );
      await symlink(ortWasmPath(), path.join(dir, ORT_WASM_NAME));
      server = await serveStatic(dir);
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
      await server?.close();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it("runs both graphs on the WebGPU EP, every node placed on WebGPU, parity <= 1e-3; survives a lost device on wasm", async () => {
      const { out, logs } = await runInPage(browser.context, {
        ep: "webgpu",
        chunk: 5,
        logSeverityLevel: 0,
        loseDevice: true,
      });
      expect(out.init.ep).toBe("webgpu");
      expect(out.init.fallbackReason).toBeUndefined();
      expect(out.init.stateLocation).toBe("gpu-buffer");
      // ORT runs on the worker's device (so its loss is seen), not on one ORT made itself
      expect(out.init.sessionsOnWorkerDevice).toBe(true);
      expect(out.parEp).toBe("webgpu");
      expect(out.stepEps.every((e) => e === "webgpu")).toBe(true);
      // ORT's verbose log: one placement summary per session. The two WebGPU sessions (RNN, parallel) have every
      // node on WebGPU; the two after the simulated device loss are the wasm rebuild (ORT's CPU EP).
      const placements = logs.filter(
        (l) => l.includes("VerifyEachNodeIsAssignedToAnEp") && l.includes("placed on"),
      );
      expect(placements.length).toBe(4);
      for (const p of placements.slice(0, 2))
        expect(p).toMatch(/All nodes placed on \[WebGpuExecutionProvider\]/);
      for (const p of placements.slice(2)) expect(p).toMatch(/All nodes placed on \[CPUExecutionProvider\]/);
      const d = diffs(out);
      console.log(`WebGPU (${out.init.adapter?.architecture}) max |diff| vs reference:`, d);
      expect(d.parallel).toBeLessThanOrEqual(1e-3);
      expect(d.rnn).toBeLessThanOrEqual(1e-3);
      expect(d.state).toBeLessThanOrEqual(1e-3);
      expect(d.mixed).toBeLessThanOrEqual(1e-3);
      expect(out.init.graphCapture).toBeUndefined(); // not asked for
      expect(logs.some((l) => l.includes("Replaying the captured"))).toBe(false);
      // typed errors cross the worker boundary; the model keeps working
      expect(out.errors.map((e) => e.code)).toEqual(["token-out-of-range", "empty-prompt"]);
      expect(out.after).toBe(CONFIG.vocabSize);
      // a lost device: a typed error for the call that meets it, a visible event, then wasm from a reset state
      expect(out.lost?.simulated).toBe(true);
      expect(out.lost?.code).toBe("device-lost");
      expect(out.events.map((e) => e.kind)).toContain("device-lost");
      expect(out.lost?.epAfter).toBe("wasm");
      const first = ref.step(TOKENS[0]).logits;
      expect(Math.max(...out.lost!.logits!.map((x, i) => Math.abs(x - first[i])))).toBeLessThanOrEqual(1e-4);
    });

    it("runs the RNN step through ORT graph capture on WebGPU (replayed, not re-dispatched), parity <= 1e-3", async () => {
      const { out, logs } = await runInPage(browser.context, {
        ep: "webgpu",
        chunk: 5,
        logSeverityLevel: 0,
        graphCapture: true,
      });
      expect(out.init.ep).toBe("webgpu");
      expect(out.init.graphCaptureFallback).toBeUndefined();
      expect(out.init.graphCapture).toBe(true);
      // ORT's session log says so on every run that replays the captured graph instead of running the kernels
      const replays = logs.filter((l) => l.includes("Replaying the captured")).length;
      console.log(`graph capture: ${replays} replayed runs in the log`);
      // 13 steps + 1 after the errors + 4 in the mixed run, all but the first (captured) replayed at least
      expect(replays).toBeGreaterThanOrEqual(TOKENS.length);
      const d = diffs(out);
      console.log(`WebGPU graph capture (${out.init.adapter?.architecture}) max |diff| vs reference:`, d);
      expect(d.rnn).toBeLessThanOrEqual(1e-3);
      expect(d.state).toBeLessThanOrEqual(1e-3);
      expect(d.mixed).toBeLessThanOrEqual(1e-3);
      expect(d.parallel).toBeLessThanOrEqual(1e-3);
      expect(out.errors.map((e) => e.code)).toEqual(["token-out-of-range", "empty-prompt"]);
      expect(out.after).toBe(CONFIG.vocabSize);
    });

    it('graph capture "both": full parallel chunks captured too (13 tokens in chunks of 5), parity <= 1e-3', async () => {
      const { out, logs } = await runInPage(browser.context, {
        ep: "webgpu",
        chunk: 5,
        logSeverityLevel: 0,
        graphCapture: "both",
      });
      expect(out.init.graphCaptureFallback).toBeUndefined();
      expect(out.init.graphCapture).toBe(true);
      expect(out.init.graphCaptureParallel).toBe(true);
      // two sessions capture: the RNN step and the parallel graph
      expect(logs.filter((l) => l.includes("CaptureBegin")).length).toBe(2);
      // forward of 13 tokens: 2 captured chunks (the first captures, the second replays) + a plain one of 3;
      // the mixed run's forward of 5 tokens replays once more; the steps replay as before
      const replays = logs.filter((l) => l.includes("Replaying the captured")).length;
      expect(replays).toBeGreaterThanOrEqual(TOKENS.length + 2);
      const d = diffs(out);
      console.log(
        `WebGPU graph capture "both" (${out.init.adapter?.architecture}) max |diff| vs reference:`,
        d,
      );
      expect(d.parallel).toBeLessThanOrEqual(1e-3);
      expect(d.rnn).toBeLessThanOrEqual(1e-3);
      expect(d.state).toBeLessThanOrEqual(1e-3);
      expect(d.mixed).toBeLessThanOrEqual(1e-3);
    });

    it("graph capture asked for on the wasm EP: plain steps, the reason reported, parity <= 1e-4", async () => {
      const { out } = await runInPage(browser.context, {
        ep: "wasm",
        chunk: 4,
        logSeverityLevel: 3,
        graphCapture: true,
      });
      expect(out.init.ep).toBe("wasm");
      expect(out.init.graphCapture).toBe(false);
      const d = diffs(out);
      expect(d.rnn).toBeLessThanOrEqual(1e-4);
      expect(d.mixed).toBeLessThanOrEqual(1e-4);
    });

    it("runs on the wasm EP when asked, parity <= 1e-4", async () => {
      const { out } = await runInPage(browser.context, { ep: "wasm", chunk: 4, logSeverityLevel: 3 });
      expect(out.init.ep).toBe("wasm");
      expect(out.init.stateLocation).toBe("cpu");
      const d = diffs(out);
      expect(d.parallel).toBeLessThanOrEqual(1e-4);
      expect(d.rnn).toBeLessThanOrEqual(1e-4);
      expect(d.state).toBeLessThanOrEqual(1e-4);
    });

    it("falls back to wasm, visibly, in a browser without WebGPU", async () => {
      const plain = await chromium.launch({
        executablePath: CHROME_PATH,
        headless: true,
        args: CHROMIUM_FLAGS.filter((f) => f !== "--enable-unsafe-webgpu"),
      });
      try {
        const ctx = await plain.newContext();
        const { out } = await runInPage(ctx, { ep: "auto", chunk: 64, logSeverityLevel: 3 });
        expect(out.init.ep).toBe("wasm");
        expect(out.init.fallbackReason).toMatch(/WebGPU/);
        expect(out.events.map((e) => e.kind)).toContain("fallback");
        const d = diffs(out);
        expect(d.parallel).toBeLessThanOrEqual(1e-4);
        expect(d.rnn).toBeLessThanOrEqual(1e-4);
      } finally {
        await plain.close();
      }
    });
  },
);
