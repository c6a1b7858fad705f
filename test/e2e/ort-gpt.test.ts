/**
 * The transformer baseline's graph on the WebGPU EP in headless Chromium (SwiftShader on CPU-only machines):
 * every node placed on WebGPU, an empty KV cache works, parity with the reference GptModel <= 1e-3.
 */
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ORT_WASM_NAME, bundleModule, ortWasmPath } from "../../src/runtime/bundle.js";
import { GptModel, gptWeightsFromTensors } from "../../src/transformer/gpt.js";
import { syntheticGptTensors } from "../../src/transformer/synthetic.js";
import { browserStatus, launchChromium, type Browser } from "./helpers/chromium.js";
import { serveStatic, type StaticServer } from "./helpers/server.js";

const status = browserStatus();
const SHAPE = { nLayer: 2, nEmbd: 24, nHead: 3, vocabSize: 19, blockSize: 16 };
const PROMPT = [3, 1, 4, 1, 5];
const MORE = [9, 2, 6];

interface Out {
  ep: string;
  promptLogits: number[];
  attention0: number[];
  steps: number[][];
}

describe.runIf(status.available || status.required)(
  "transformer baseline on onnxruntime-web WebGPU in Chromium",
  () => {
    let dir: string;
    let server: StaticServer;
    let browser: Browser;
    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "rwkv-ort-gpt-e2e-"));
      await writeFile(
        path.join(dir, "page.js"),
        await bundleModule(path.join(import.meta.dirname, "ort-gpt-page.ts")),
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

    it("runs prompt + KV-cache decoding on WebGPU, all nodes on WebGPU, parity <= 1e-3", async () => {
      const page = await browser.context.newPage();
      const logs: string[] = [];
      page.on("console", (m) => logs.push(m.text()));
      await page.goto(`${server.origin}/index.html`);
      await page.waitForFunction(() => "gptRun" in window);
      const out = await page.evaluate(
        ([s, p, m]) =>
          (window as unknown as { gptRun: (...a: unknown[]) => Promise<Out> }).gptRun(s, 4, p, m),
        [SHAPE, PROMPT, MORE] as const,
      );
      await page.close();
      expect(out.ep).toBe("webgpu");
      const placements = logs.filter(
        (l) => l.includes("VerifyEachNodeIsAssignedToAnEp") && l.includes("placed on"),
      );
      expect(placements.length).toBe(1);
      expect(placements[0]).toMatch(/All nodes placed on \[WebGpuExecutionProvider\]/);
      const w = gptWeightsFromTensors(syntheticGptTensors(SHAPE, 4), { nHead: SHAPE.nHead });
      const ref = new GptModel(w);
      const full = ref.forward([...PROMPT, ...MORE], { attention: true });
      const V = SHAPE.vocabSize;
      let d = 0;
      out.promptLogits.forEach((x, i) => (d = Math.max(d, Math.abs(x - full.logits[i]))));
      out.steps.forEach((row, s) =>
        row.forEach((x, i) => (d = Math.max(d, Math.abs(x - full.logits[(PROMPT.length + s) * V + i])))),
      );
      // head 0 of layer 0 over the prompt: the top-left block of the full attention map
      const T = PROMPT.length;
      const Tall = PROMPT.length + MORE.length;
      for (let t = 0; t < T; t++)
        for (let j = 0; j < T; j++)
          d = Math.max(d, Math.abs(out.attention0[t * T + j] - full.attention![0][0][t * Tall + j]));
      console.log(`GPT on WebGPU max |diff| vs reference: ${d}`);
      expect(d).toBeLessThanOrEqual(1e-3);
    });
  },
);
