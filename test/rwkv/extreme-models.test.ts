/**
 * RNN mode and parallel mode on models with extreme decays and keys (issue 16), loaded through the checkpoint
 * loader from files written in memory:
 * - "stressed": time_decay = +10 (w = -e^10, forgets within a step) and -20 (w = -2e-9, remembers everything)
 *   in every other channel pair, key matrices x50;
 * - "infinite decay": time_decay = 100 in every 8th channel, so w = -exp(100) overflows fp32 to -Infinity
 *   (e^{w} = 0: the channel forgets at once). The loader accepts it and both modes compute it.
 * T = 4096 random tokens; RNN mode (step) vs parallel mode with the chunked WKV and with the scan: <= 1e-4.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadRwkvCheckpoint } from "../../src/rwkv/checkpoint/index.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { mulberry32 } from "../../src/rwkv/random.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { RwkvConfig, RwkvState, RwkvWeights } from "../../src/rwkv/weights.js";
import { blinkTensors, safetensorsF32, torchZipOf, type NamedTensor } from "./checkpoint-writers.js";
import { maxAbsDiff, rnnLogits } from "./helpers.js";

const TOL = 1e-4;
const SMALL: RwkvConfig = { nLayer: 3, nEmbd: 24, ffnSize: 96, vocabSize: 37, layerNormEps: 1e-5 };

function tokens(n: number, V: number, seed: number): number[] {
  const r = mulberry32(seed);
  return Array.from({ length: n }, () => Math.floor(r() * V));
}

/** Edit a model's stored tensors: time_decay per channel, and a factor on the key matrices. */
function edited(
  base: RwkvWeights,
  timeDecay: (c: number, stored: number) => number,
  keyScale: number,
): NamedTensor[] {
  return blinkTensors(base).map((t) => {
    if (t.name.endsWith(".att.time_decay"))
      return { ...t, data: Float32Array.from(t.data, (d, c) => timeDecay(c, d)) };
    if (t.name.endsWith(".att.key.weight") && keyScale !== 1)
      return { ...t, data: Float32Array.from(t.data, (x) => x * keyScale) };
    return t;
  });
}

const stressed = (c: number, d: number): number => (c % 4 === 0 ? 10 : c % 4 === 1 ? -20 : d);
const infinite = (c: number, d: number): number => (c % 8 === 0 ? 100 : d);

function allFinite(a: Float32Array): boolean {
  return a.every(Number.isFinite);
}

describe("RNN mode == parallel mode on extreme decays and keys, T = 4096 (issue 16)", () => {
  const T = 4096;
  const toks = tokens(T, SMALL.vocabSize, 16);

  for (const [name, td, keyScale, format] of [
    ["stressed (time_decay +10 / -20, keys x50), safetensors", stressed, 50, "safetensors"],
    ["infinite decay (time_decay = 100: w = -Infinity), .pth", infinite, 1, "pth"],
    ["infinite decay and keys x50, safetensors", infinite, 50, "safetensors"],
  ] as const) {
    it(
      name,
      () => {
        const tensors = edited(syntheticWeights(SMALL, 7), td, keyScale);
        const bytes = format === "safetensors" ? safetensorsF32(tensors) : torchZipOf(tensors);
        const loaded = loadRwkvCheckpoint(bytes).weights;
        if (td === infinite) expect(loaded.blocks[0].att.w[0]).toBe(-Infinity); // the loader keeps w = -inf
        const model = new RwkvModel(loaded);
        const rnn = rnnLogits(model, toks);
        const chunked = model.forward(toks, undefined, { wkv: "chunked" });
        const scan = model.forward(toks, undefined, { wkv: "scan" });
        expect(allFinite(rnn.logits)).toBe(true);
        expect(allFinite(chunked.logits)).toBe(true);
        const dChunked = maxAbsDiff(rnn.logits, chunked.logits);
        const dScan = maxAbsDiff(rnn.logits, scan.logits);
        console.log(
          `${name}: RNN vs chunked ${dChunked.toExponential(2)}, vs scan ${dScan.toExponential(2)}`,
        );
        expect(dChunked).toBeLessThanOrEqual(TOL);
        expect(dScan).toBeLessThanOrEqual(TOL);
        // the final states continue identically: 16 more tokens from each
        const more = tokens(16, SMALL.vocabSize, 17);
        const a = model.forward(more, rnn.state).logits;
        const b = model.forward(more, chunked.state).logits;
        expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(TOL);
      },
      60_000,
    );
  }
});

const TINY = path.resolve(import.meta.dirname, "../../data/models/tiny-rwkv.safetensors");

/** RNN mode with the WKV state held in float64 (no rounding of a, b, p between steps): Eq. 16 as written. */
function rnnFloat64State(model: RwkvModel, toks: number[]): Float32Array {
  const { nEmbd: C, vocabSize: V } = model.config;
  let s: RwkvState = model.initialState().map((l) => ({
    ...l,
    a: new Float64Array(C) as unknown as Float32Array,
    b: new Float64Array(C) as unknown as Float32Array,
    p: new Float64Array(C).fill(-1e38) as unknown as Float32Array,
  }));
  const out = new Float32Array(toks.length * V);
  toks.forEach((t, i) => {
    const r = model.step(t, s);
    out.set(r.logits, i * V);
    s = r.state;
  });
  return out;
}

describe("the trained tiny model, stressed (time_decay +10 / -20, keys x50), T = 512", () => {
  it("the chunked parallel form matches Eq. 16 with an unrounded state; RNN mode's fp32 state drifts", () => {
    const base = loadRwkvCheckpoint(readFileSync(TINY)).weights;
    const model = new RwkvModel(loadRwkvCheckpoint(safetensorsF32(edited(base, stressed, 50))).weights);
    const toks = tokens(512, model.config.vocabSize, 18);
    const exact = rnnFloat64State(model, toks);
    const chunked = model.forward(toks, undefined, { wkv: "chunked" }).logits;
    const rnn = rnnLogits(model, toks).logits;
    const dChunked = maxAbsDiff(chunked, exact);
    const dRnn = maxAbsDiff(rnn, exact);
    console.log(
      `tiny-rwkv stressed, T = 512, vs the float64-state evaluation: chunked ${dChunked.toExponential(2)}, ` +
        `RNN mode (fp32 state, Hugging Face's arithmetic) ${dRnn.toExponential(2)}`,
    );
    expect(allFinite(chunked)).toBe(true);
    expect(dChunked).toBeLessThanOrEqual(TOL);
  }, 60_000);
});
