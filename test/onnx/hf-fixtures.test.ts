/**
 * ORT (Node, wasm) on the Hugging Face reference fixtures (data/fixtures/make_fixtures.py: transformers'
 * RwkvForCausalLM on the CPU, an independent implementation): both graphs match HF's logits to 1e-4, loaded from
 * both checkpoint formats (HF safetensors + config.json, BlinkDL .pth), and the final state matches HF's.
 * Skipped, with a line saying so, until the fixtures exist in test/fixtures/hf/.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createOrtRwkv } from "../../src/runtime/node.js";
import { loadRwkvCheckpoint } from "../../src/rwkv/checkpoint/index.js";
import type { RwkvWeights } from "../../src/rwkv/weights.js";
import { committedFixtures } from "../helpers/fixtures.js";
import { maxAbsDiff } from "./helpers.js";

const DIR = process.env.HF_FIXTURES_DIR ?? path.join(import.meta.dirname, "..", "fixtures", "hf");
const names = existsSync(DIR)
  ? readdirSync(DIR)
      .filter((f) => f.endsWith(".expected.json"))
      .map((f) => f.replace(/\.expected\.json$/, ""))
  : [];
// the four committed fixture models: under CI=true a missing one fails (test/helpers/fixtures.ts)
const gate = committedFixtures(
  "ORT vs HF fixtures",
  ["rwkv4-hf-plain", "rwkv4-hf-stress", "rwkv4-hf-overflow", "rwkv4-hf-bf16"].map((n) =>
    path.join(DIR, `${n}.expected.json`),
  ),
);

interface Expected {
  tokens: number[];
  logits_full: number[][];
  logits_step: number[][];
  max_abs_diff_float32_vs_float64: number;
  files: { hf_safetensors: string; hf_config: string; blink_pth: string };
  state_after_last_token: { per_layer: Record<"attX" | "ffnX" | "a" | "b" | "p", number[]>[] };
}

const TOL = 1e-4;

async function check(weights: RwkvWeights, ex: Expected): Promise<void> {
  const flat = Float32Array.from(ex.logits_full.flat());
  const V = weights.config.vocabSize;
  const m = await createOrtRwkv(weights, { chunk: 16 });
  try {
    const par = await m.forward(ex.tokens);
    expect(maxAbsDiff(par.logits, flat)).toBeLessThanOrEqual(TOL);
    let state = m.initialState();
    const steps = new Float32Array(ex.tokens.length * V);
    for (let t = 0; t < ex.tokens.length; t++) {
      const r = await m.step(ex.tokens[t], state);
      steps.set(r.logits, t * V);
      state = r.state;
    }
    expect(maxAbsDiff(steps, Float32Array.from(ex.logits_step.flat()))).toBeLessThanOrEqual(TOL);
    for (const s of [await par.state.read(), await state.read()]) {
      s.forEach((layer, l) => {
        const hf = ex.state_after_last_token.per_layer[l];
        for (const k of ["attX", "ffnX", "a", "b"] as const) {
          expect(maxAbsDiff(layer[k], hf[k]), `${k}[${l}]`).toBeLessThanOrEqual(TOL);
        }
        for (let c = 0; c < hf.p.length; c++) {
          expect(Math.abs(layer.p[c] - hf.p[c])).toBeLessThanOrEqual(TOL * Math.max(1, Math.abs(hf.p[c])));
        }
      });
    }
  } finally {
    await m.dispose();
  }
}

describe.runIf(gate.run)("ORT graphs vs Hugging Face transformers (fixtures)", () => {
  it("has its committed fixtures", gate.check);
  for (const name of names) {
    const ex = JSON.parse(readFileSync(path.join(DIR, `${name}.expected.json`), "utf8")) as Expected;
    it(`${name}: HF safetensors + config.json, both graphs`, async () => {
      const hfConfig = JSON.parse(readFileSync(path.join(DIR, ex.files.hf_config), "utf8")) as object;
      const ck = loadRwkvCheckpoint(readFileSync(path.join(DIR, ex.files.hf_safetensors)), { hfConfig });
      await check(ck.weights, ex);
    });
    it(`${name}: BlinkDL .pth, both graphs`, async () => {
      const ck = loadRwkvCheckpoint(readFileSync(path.join(DIR, ex.files.blink_pth)));
      await check(ck.weights, ex);
    });
  }
});
