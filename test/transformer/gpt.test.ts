import { describe, expect, it } from "vitest";
import type { TensorMap } from "../../src/rwkv/tensor.js";
import {
  GptError,
  GptModel,
  countGptParameters,
  erf,
  gelu,
  gptWeightsFromTensors,
} from "../../src/transformer/gpt.js";
import { syntheticGptTensors, type SyntheticGptShape } from "../../src/transformer/synthetic.js";

const SHAPE: SyntheticGptShape = { nLayer: 2, nEmbd: 24, nHead: 3, vocabSize: 11, blockSize: 32 };
const TOKENS = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4];

function model(shape = SHAPE, seed = 1): GptModel {
  return new GptModel(gptWeightsFromTensors(syntheticGptTensors(shape, seed), { nHead: shape.nHead }));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * An independent GPT forward written straight from the definitions, in float64, over the raw tensor map (no code
 * shared with src/transformer): per-head q, k, v vectors, softmax over j <= t, exact GELU via the erf values
 * checked below, LayerNorm with the biased variance.
 */
function naiveGpt(tensors: TensorMap, shape: SyntheticGptShape, tokens: number[]): number[][] {
  const get = (k: string) => Array.from(tensors.get(k)!.data);
  const C = shape.nEmbd;
  const H = shape.nHead;
  const hd = C / H;
  const F = shape.ffnSize ?? 4 * C;
  const lin = (W: number[], b: number[] | undefined, x: number[], out: number): number[] =>
    Array.from({ length: out }, (_, o) => x.reduce((s, xi, i) => s + W[o * x.length + i] * xi, b ? b[o] : 0));
  const ln = (x: number[], w: number[], b: number[]): number[] => {
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const vr = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    return x.map((v, i) => ((v - mean) / Math.sqrt(vr + 1e-5)) * w[i] + b[i]);
  };
  const wte = get("wte.weight");
  const wpe = get("wpe.weight");
  let xs = tokens.map((tok, t) => Array.from({ length: C }, (_, c) => wte[tok * C + c] + wpe[t * C + c]));
  for (let l = 0; l < shape.nLayer; l++) {
    const p = `blocks.${l}.`;
    const h = xs.map((x) => ln(x, get(`${p}ln1.weight`), get(`${p}ln1.bias`)));
    const qkvW = get(`${p}attn.qkv.weight`);
    const qkvB = get(`${p}attn.qkv.bias`);
    const qkv = h.map((x) => lin(qkvW, qkvB, x, 3 * C));
    const y = xs.map(() => new Array<number>(C).fill(0));
    for (let head = 0; head < H; head++) {
      const q = qkv.map((r) => r.slice(head * hd, (head + 1) * hd));
      const k = qkv.map((r) => r.slice(C + head * hd, C + (head + 1) * hd));
      const v = qkv.map((r) => r.slice(2 * C + head * hd, 2 * C + (head + 1) * hd));
      for (let t = 0; t < tokens.length; t++) {
        const s = k
          .slice(0, t + 1)
          .map((kj) => kj.reduce((acc, kv, d) => acc + kv * q[t][d], 0) / Math.sqrt(hd));
        const e = s.map((z) => Math.exp(z));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) for (let d = 0; d < hd; d++) y[t][head * hd + d] += (e[j] / z) * v[j][d];
      }
    }
    xs = xs.map((x, t) => {
      const o = lin(get(`${p}attn.proj.weight`), get(`${p}attn.proj.bias`), y[t], C);
      return x.map((xi, i) => xi + o[i]);
    });
    xs = xs.map((x) => {
      const h2 = ln(x, get(`${p}ln2.weight`), get(`${p}ln2.bias`));
      const a = lin(get(`${p}mlp.fc.weight`), get(`${p}mlp.fc.bias`), h2, F).map(
        (u) => 0.5 * u * (1 + erf(u / Math.SQRT2)),
      );
      const m = lin(get(`${p}mlp.proj.weight`), get(`${p}mlp.proj.bias`), a, C);
      return x.map((xi, i) => xi + m[i]);
    });
  }
  return xs.map((x) =>
    lin(get("head.weight"), undefined, ln(x, get("ln_f.weight"), get("ln_f.bias")), shape.vocabSize),
  );
}

describe("erf and GELU", () => {
  it("erf matches tabulated values (Abramowitz & Stegun Table 7.1 and standard references) to 1e-14", () => {
    const table: [number, number][] = [
      [0, 0],
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [4, 0.9999999845827421],
    ];
    for (const [x, want] of table) {
      expect(Math.abs(erf(x) - want)).toBeLessThan(1e-14);
      expect(Math.abs(erf(-x) + want)).toBeLessThan(1e-14);
    }
    expect(erf(7)).toBe(1);
    expect(Number.isNaN(erf(NaN))).toBe(true);
  });

  it("GELU(x) = x Phi(x): GELU(1) = 0.8413447460685429, GELU(-1) = -0.15865525393145707; tanh form within 1e-3", () => {
    expect(Math.abs(gelu(1, "erf") - 0.8413447460685429)).toBeLessThan(1e-14);
    expect(Math.abs(gelu(-1, "erf") + 0.15865525393145707)).toBeLessThan(1e-14);
    for (let x = -5; x <= 5; x += 0.25) expect(Math.abs(gelu(x, "tanh") - gelu(x, "erf"))).toBeLessThan(1e-3);
  });
});

describe("GPT forward", () => {
  it("equals an independent float64 implementation of the same equations to 1e-5", () => {
    const tensors = syntheticGptTensors(SHAPE, 7);
    const m = new GptModel(gptWeightsFromTensors(tensors, { nHead: SHAPE.nHead }));
    const ref = naiveGpt(tensors, SHAPE, TOKENS);
    const { logits } = m.forward(TOKENS);
    const V = SHAPE.vocabSize;
    let worst = 0;
    for (let t = 0; t < TOKENS.length; t++)
      worst = Math.max(worst, maxAbsDiff(logits.subarray(t * V, (t + 1) * V), ref[t]));
    expect(worst).toBeLessThan(1e-5);
  });

  it("KV-cache decode, token by token, equals the full-sequence forward at every position", () => {
    const m = model();
    const V = SHAPE.vocabSize;
    const { logits } = m.forward(TOKENS);
    const cache = m.newCache();
    let worst = 0;
    TOKENS.forEach((tok, t) => {
      const step = m.step(tok, cache);
      expect(cache.length).toBe(t + 1);
      worst = Math.max(worst, maxAbsDiff(step, logits.subarray(t * V, (t + 1) * V)));
    });
    expect(worst).toBeLessThan(1e-5);
  });

  it("causality: logits at position t do not depend on later tokens", () => {
    const m = model();
    const V = SHAPE.vocabSize;
    const a = m.forward(TOKENS).logits;
    const changed = [...TOKENS];
    changed[12] = (changed[12] + 1) % V;
    const b = m.forward(changed).logits;
    expect(maxAbsDiff(a.subarray(0, 12 * V), b.subarray(0, 12 * V))).toBe(0);
    expect(maxAbsDiff(a.subarray(12 * V, 13 * V), b.subarray(12 * V, 13 * V))).toBeGreaterThan(1e-3);
  });

  it("attention weights: one T x T matrix per layer and head, rows sum to 1, zero above the diagonal", () => {
    const m = model();
    const T = TOKENS.length;
    const { attention } = m.forward(TOKENS, { attention: true });
    expect(attention).toHaveLength(SHAPE.nLayer);
    for (const layer of attention!) {
      expect(layer).toHaveLength(SHAPE.nHead);
      for (const A of layer) {
        expect(A.length).toBe(T * T);
        expect(A[0]).toBeCloseTo(1, 6); // the first token can only attend to itself
        for (let t = 0; t < T; t++) {
          let sum = 0;
          for (let i = 0; i < T; i++) {
            const a = A[t * T + i];
            if (i > t) expect(a).toBe(0);
            else expect(a).toBeGreaterThan(0);
            sum += a;
          }
          expect(Math.abs(sum - 1)).toBeLessThan(1e-6);
        }
      }
    }
  });

  it("loads separate q/k/v, no biases and a tied head to the same model as the fused layout", () => {
    const shape = { ...SHAPE, splitQkv: true, bias: false, head: false };
    const split = syntheticGptTensors(shape, 3);
    const C = SHAPE.nEmbd;
    const fused: TensorMap = new Map();
    for (const [k, t] of split) {
      const m = /^blocks\.(\d+)\.attn\.q\.weight$/.exec(k);
      if (m) {
        const p = `blocks.${m[1]}.attn.`;
        const data = new Float32Array(3 * C * C);
        data.set(split.get(`${p}q.weight`)!.data, 0);
        data.set(split.get(`${p}k.weight`)!.data, C * C);
        data.set(split.get(`${p}v.weight`)!.data, 2 * C * C);
        fused.set(`${p}qkv.weight`, { shape: [3 * C, C], data });
      } else if (!/attn\.[kv]\.weight$/.test(k)) fused.set(k, t);
    }
    const wte = split.get("wte.weight")!;
    fused.set("head.weight", { shape: wte.shape, data: wte.data.slice() }); // an untied copy
    const a = new GptModel(gptWeightsFromTensors(split, { nHead: SHAPE.nHead }));
    const b = new GptModel(gptWeightsFromTensors(fused, { nHead: SHAPE.nHead }));
    expect(a.weights.head).toBe(a.weights.wte);
    expect(maxAbsDiff(a.forward(TOKENS).logits, b.forward(TOKENS).logits)).toBe(0);
    // the tied head is counted once
    expect(countGptParameters(b.weights) - countGptParameters(a.weights)).toBe(SHAPE.vocabSize * C);
  });

  it("infers the config from tensor shapes", () => {
    const m = model({ ...SHAPE, ffnSize: 40 });
    expect(m.config).toEqual({
      nLayer: 2,
      nEmbd: 24,
      nHead: 3,
      ffnSize: 40,
      vocabSize: 11,
      blockSize: 32,
      layerNormEps: 1e-5,
      gelu: "erf",
    });
    // parameters: wte + wpe + per block (2 LN + qkv + proj + fc + proj) + ln_f + head
    const C = 24;
    const F = 40;
    const perBlock = 4 * C + (3 * C * C + 3 * C) + (C * C + C) + (F * C + F) + (C * F + C);
    expect(countGptParameters(m.weights)).toBe(11 * C + 32 * C + 2 * perBlock + 2 * C + 11 * C);
  });
});

describe("GPT errors", () => {
  it("rejects bad tokens, too-long input, a full cache and a foreign cache with GptError", () => {
    const m = model();
    expect(() => m.forward([])).toThrow(GptError);
    expect(() => m.forward([0, 11])).toThrow(/out of range/);
    expect(() => m.forward([0, 1.5])).toThrow(GptError);
    expect(() => m.forward(new Array(33).fill(0))).toThrow(/context of 32/);
    const cache = m.newCache();
    for (let i = 0; i < 32; i++) m.step(1, cache);
    expect(() => m.step(1, cache)).toThrow(/full/);
    const other = model({ ...SHAPE, nLayer: 3 });
    expect(() => m.step(1, other.newCache())).toThrow(/different model/);
  });

  it("rejects bad checkpoints with a message naming the tensor", () => {
    const t = syntheticGptTensors(SHAPE, 1);
    expect(() => gptWeightsFromTensors(t, { nHead: 5 })).toThrow(/nHead = 5/);
    const missing = new Map(t);
    missing.delete("blocks.1.mlp.proj.weight");
    expect(() => gptWeightsFromTensors(missing, { nHead: 3 })).toThrow(/blocks\.1\.mlp\.proj\.weight/);
    const wrong = new Map(t);
    wrong.set("blocks.0.attn.proj.weight", { shape: [24, 23], data: new Float32Array(24 * 23) });
    expect(() => gptWeightsFromTensors(wrong, { nHead: 3 })).toThrow(
      /blocks\.0\.attn\.proj\.weight has shape \[24, 23\]/,
    );
    const extra = new Map(t);
    extra.set("blocks.0.att.time_decay", { shape: [24], data: new Float32Array(24) });
    expect(() => gptWeightsFromTensors(extra, { nHead: 3 })).toThrow(
      /unexpected tensors blocks\.0\.att\.time_decay/,
    );
    expect(() => gptWeightsFromTensors(new Map(), { nHead: 3 })).toThrow(/missing the token embedding/);
  });
});
