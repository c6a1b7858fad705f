import { describe, expect, it } from "vitest";
import { countParameters, SHAPES, syntheticWeights } from "../../src/rwkv/synthetic.js";
import {
  decideThreads,
  defaultThreads,
  MAX_DEFAULT_THREADS,
  MIN_STEP_NUMBERS_FOR_THREADS,
  NOT_ISOLATED_REASON,
  parseThreads,
  stepMatrixNumbers,
  threadsFromUrl,
  threadsLabel,
} from "../../src/runtime/threads.js";
import { COI_SW_SOURCE, coiHeadScript, swUrlFrom } from "../../src/runtime/isolation.js";

describe("the wasm thread policy", () => {
  it("without cross-origin isolation it is 1 thread, whatever the address asks, with the reason", () => {
    expect(decideThreads({ isolated: false, hardwareConcurrency: 16, fromUrl: 8 })).toEqual({
      threads: 1,
      reason: NOT_ISOLATED_REASON,
    });
  });
  it("?threads= wins over the request, the model's size and the default, and says so", () => {
    const r = decideThreads({
      isolated: true,
      hardwareConcurrency: 2,
      fromUrl: 6,
      requested: 3,
      stepNumbers: 1,
    });
    expect(r.threads).toBe(6);
    expect(r.reason).toMatch(/\?threads=/);
  });
  it("the default is half the logical processors, rounded down, 1 to 8", () => {
    const got = [1, 2, 3, 4, 6, 8, 12, 16, 32, 128].map(defaultThreads);
    expect(got).toEqual([1, 1, 1, 2, 3, 4, 6, 8, 8, 8]);
    for (let hc = 1; hc <= 256; hc++) {
      const n = defaultThreads(hc);
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(Math.min(hc, MAX_DEFAULT_THREADS));
      if (hc > 1) expect(n).toBeGreaterThanOrEqual(defaultThreads(hc - 1)); // never fewer on a bigger machine
    }
    expect(defaultThreads(Number.NaN)).toBe(1);
  });
  it("a small model gets 1 thread unless asked; the 169M shape gets the default", () => {
    const tiny = stepMatrixNumbers(SHAPES.tiny);
    const big = stepMatrixNumbers(SHAPES.pile169m);
    expect(tiny).toBeLessThan(MIN_STEP_NUMBERS_FOR_THREADS);
    expect(big).toBeGreaterThan(MIN_STEP_NUMBERS_FOR_THREADS);
    expect(decideThreads({ isolated: true, hardwareConcurrency: 16, stepNumbers: tiny }).threads).toBe(1);
    expect(decideThreads({ isolated: true, hardwareConcurrency: 16, stepNumbers: big }).threads).toBe(8);
    expect(
      decideThreads({ isolated: true, hardwareConcurrency: 16, stepNumbers: tiny, requested: 4 }).threads,
    ).toBe(4);
  });
  it("counts the step's matrices as the weights hold them (all but the embedding, the LayerNorms and mixes)", () => {
    const w = syntheticWeights(SHAPES.tiny, 0);
    let matrices = w.head.length;
    for (const b of w.blocks)
      matrices +=
        b.att.Wk.length +
        b.att.Wv.length +
        b.att.Wr.length +
        b.att.Wo.length +
        b.ffn.Wk.length +
        b.ffn.Wv.length +
        b.ffn.Wr.length;
    expect(stepMatrixNumbers(w.config)).toBe(matrices);
    expect(matrices).toBeLessThan(countParameters(w));
  });
  it("parses only whole numbers in 1..64", () => {
    expect(parseThreads("4")).toBe(4);
    expect(parseThreads(" ")).toBeUndefined();
    for (const bad of ["0", "-2", "1.5", "65", "x", null, undefined, ""])
      expect(parseThreads(bad)).toBeUndefined();
    expect(threadsFromUrl("?ep=wasm&threads=2")).toBe(2);
    expect(threadsFromUrl("?threads=many")).toBeUndefined();
    expect(threadsLabel(1)).toBe("1 thread");
    expect(threadsLabel(3)).toBe("3 threads");
  });
});

describe("cross-origin isolation on static hosts", () => {
  it("finds the root's service worker from any page path", () => {
    expect(swUrlFrom("/index")).toBe("./coi-sw.js");
    expect(swUrlFrom("/01-overview")).toBe("./coi-sw.js");
    expect(swUrlFrom("/a/index")).toBe("../coi-sw.js");
    expect(swUrlFrom("/a/b/page")).toBe("../../coi-sw.js");
    for (const [page, served] of [
      ["/index", "http://h/"],
      ["/01-overview", "http://h/01-overview"],
      ["/a/b/page", "http://h/a/b/page.html"],
    ])
      expect(new URL(swUrlFrom(page), served).pathname).toBe("/coi-sw.js");
  });
  it("the service worker and the head script are valid JavaScript", () => {
    expect(() => new Function(COI_SW_SOURCE)).not.toThrow();
    const html = coiHeadScript("/01-overview");
    const m = /^<script>([\s\S]*)<\/script>$/.exec(html);
    expect(m).not.toBeNull();
    expect(() => new Function(m![1])).not.toThrow();
    expect(m![1]).toContain('"./coi-sw.js"');
  });
});
