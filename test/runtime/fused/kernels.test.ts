/**
 * The fused kernels' source (src/runtime/fused/kernels.ts) and the shape rules of src/runtime/fused/fused-rwkv.ts,
 * without a GPU: what the kernels compute is checked against the reference model in Chromium's WebGPU
 * (test/e2e/fused-webgpu.test.ts) and on the NVIDIA machine (src/cli/fused-gpu-bench.ts). Here: each matrix-vector
 * kernel issues its weight loads before the first thing it waits for (the speed of the fused step rests on it),
 * and the rows per workgroup are validated where a wrong choice would compute the wrong mix.
 */
import { describe, expect, it } from "vitest";
import { fusedShapeProblem } from "../../../src/runtime/fused/fused-rwkv.js";
import {
  chanMixIn,
  chanMixOut,
  head,
  HEAD_PREFETCH,
  headParts,
  PREFETCH,
  ROWS_OF,
  sample,
  timeMixIn,
  timeMixOut,
  WG,
} from "../../../src/runtime/fused/kernels.js";
import { SHAPES } from "../../../src/rwkv/synthetic.js";

const c = SHAPES.pile169m;
const shape = { C: c.nEmbd, F: c.ffnSize, V: c.vocabSize, eps: c.layerNormEps };

/** the body of the entry point, up to its first barrier or reduction */
function prologue(src: string): string {
  const body = src.slice(src.indexOf("fn main("));
  const stops = ["reduce_sum(", "workgroupBarrier()"].map((s) => body.indexOf(s)).filter((i) => i >= 0);
  return body.slice(0, Math.min(...stops));
}

describe("the fused kernels load their weights before their prologue", () => {
  const cases: [string, string, number, number][] = [
    ["embedMixIn", timeMixIn(shape, true), shape.C / 4, ROWS_OF.rkvIn],
    ["timeMixIn", timeMixIn(shape), shape.C / 4, ROWS_OF.rkvIn],
    ["timeMixOut", timeMixOut(shape), shape.C / 4, ROWS_OF.rkvOut],
    ["chanMixIn", chanMixIn(shape), shape.C / 4, ROWS_OF.ffnIn],
    ["chanMixOut", chanMixOut(shape), shape.F / 4, ROWS_OF.ffnOut],
    ["head", head(shape), shape.C / 4, ROWS_OF.head],
  ];
  for (const [name, src, nIn4, rows] of cases)
    it(`${name}: min(its share of a row, the prefetch limit) vec4 of W, before any barrier`, () => {
      const share = Math.ceil(nIn4 / (WG / rows));
      const expected = Math.min(share, name === "head" ? HEAD_PREFETCH : PREFETCH);
      const before = prologue(src);
      expect(before.match(/let w\d+ = W\[/g)?.length).toBe(expected);
      // the rest of a longer share is streamed after the prologue
      expect(src.includes("for (var j = lane +")).toBe(share > expected);
    });

  it("the LayerNorm reads each of its vectors once, before its first reduction", () => {
    const before = prologue(timeMixIn(shape));
    // x, ln1's weight and bias, the token-shift mix and the previous ln1 output: one load each per share
    for (const v of ["x0 = x[", "g0 = W[VOFF", "h0 = W[VOFF", "m0 = W[VOFF", "p0 = state["])
      expect(before, v).toContain(v);
  });
});

describe("a share longer than the prefetch limit", () => {
  // 430M (C = 1024, F = 4096): W'_v's rows are 1024 vec4, 64 lanes a row with the default 4 rows: 16 vec4 a thread
  const wide = { C: 1024, F: 4096, V: 50277, eps: 1e-5 };
  it("chanMixOut at C = 1024 loads PREFETCH vec4 first and streams the other 4", () => {
    const src = chanMixOut(wide);
    expect(prologue(src).match(/let w\d+ = W\[/g)?.length).toBe(PREFETCH);
    expect(src).toContain(`for (var j = lane + ${PREFETCH * (WG / ROWS_OF.ffnOut)}u; j < 1024u; j += LANES)`);
  });
  it("every block kernel caps its loads at PREFETCH, whatever its rows", () => {
    for (const src of [
      timeMixIn(wide, false, 16),
      chanMixIn(wide, 16),
      timeMixOut(wide, 16),
      chanMixOut(wide, 16),
    ])
      expect(prologue(src).match(/let w\d+ = W\[/g)!.length).toBeLessThanOrEqual(PREFETCH);
  });
});

describe("the head's argmax parts", () => {
  it("one per head workgroup, the sampler reading as many", () => {
    expect(headParts(50277, 16)).toBe(3143);
    expect(headParts(65, 128)).toBe(1);
    expect(head(shape)).toContain("parts[wg.x] = vec2<u32>(bitcast<u32>(red[0]), redi[0])");
    expect(sample(shape, 16)).toContain(`const NPARTS: u32 = ${headParts(shape.V, 16)}u;`);
  });
});

describe("fusedShapeProblem", () => {
  it("accepts RWKV-4's 169M and 430M shapes with the default rows; wider ones exceed a workgroup's memory", () => {
    for (const C of [768, 1024])
      expect(fusedShapeProblem({ ...c, nEmbd: C, ffnSize: 4 * C })).toBe(undefined);
    expect(fusedShapeProblem({ ...c, nEmbd: 2048, ffnSize: 8192 })).toMatch(
      /does not fit a workgroup's memory/,
    );
  });
  it("names the rows that do not divide C or F", () => {
    expect(fusedShapeProblem({ ...c, nEmbd: 772, ffnSize: 3088 })).toMatch(
      /C divisible by 8 and F by 8 \(C = 772/,
    );
    expect(fusedShapeProblem({ ...c, nEmbd: 772, ffnSize: 3088 }, { ...ROWS_OF, rkvIn: 4, ffnIn: 4 })).toBe(
      undefined,
    );
    expect(fusedShapeProblem({ ...c, nEmbd: 770, ffnSize: 3080 })).toMatch(/divisible by 4/);
  });
});
