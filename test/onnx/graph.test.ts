/**
 * The ONNX graphs as data: decoded back with protobufjs, they use opset 17 standard operators only, no
 * Loop/Scan, the named inputs/outputs of src/onnx/names.ts, and introspection outputs only when asked.
 */
import { describe, expect, it } from "vitest";
import { PROBE_NAMES, STATE_NAMES, X0, probeOut, stateOut } from "../../src/onnx/names.js";
import { decodeModel } from "../../src/onnx/proto.js";
import {
  buildParallelGraph,
  buildRnnStepGraph,
  prepareOnnxWeights,
  transpose,
} from "../../src/onnx/rwkv-graph.js";
import { SHAPES, countParameters, syntheticWeights } from "../../src/rwkv/synthetic.js";
import { SMALL } from "./helpers.js";

const ow = prepareOnnxWeights(syntheticWeights(SMALL, 1));

describe("ONNX graph structure", () => {
  for (const [kind, bytes] of [
    ["rnn", buildRnnStepGraph(ow)],
    ["parallel", buildParallelGraph(ow)],
  ] as const) {
    it(`${kind}: opset 17, default domain only, no Loop/Scan/If`, () => {
      const m = decodeModel(bytes);
      expect(m.opsetImport).toEqual([{ domain: "", version: 17 }]);
      const ops = new Set(m.graph.node.map((n) => n.opType));
      for (const banned of ["Loop", "Scan", "If"]) expect(ops.has(banned)).toBe(false);
      expect(m.graph.node.every((n) => !n.domain)).toBe(true);
      expect(ops.has("MatMul")).toBe(true);
    });

    it(`${kind}: named state inputs [L, C] and outputs <name>_out`, () => {
      const m = decodeModel(bytes);
      const ins = m.graph.input.map((v) => v.name);
      const outs = m.graph.output.map((v) => v.name);
      expect(ins).toEqual([kind === "rnn" ? "token" : "tokens", ...STATE_NAMES]);
      expect(outs).toEqual(["logits", ...STATE_NAMES.map(stateOut)]);
      const attX = m.graph.input.find((v) => v.name === "attX")!;
      expect(attX.type.tensorType.shape.dim).toEqual([{ dimValue: SMALL.nLayer }, { dimValue: SMALL.nEmbd }]);
    });
  }

  it("parallel graph: tokens have a dynamic length T, logits are [T, V] (or [1, V] for 'last')", () => {
    const all = decodeModel(buildParallelGraph(ow));
    expect(all.graph.input[0].type.tensorType.shape.dim).toEqual([{ dimParam: "T" }]);
    expect(all.graph.output[0].type.tensorType.shape.dim).toEqual([
      { dimParam: "T" },
      { dimValue: SMALL.vocabSize },
    ]);
    const last = decodeModel(buildParallelGraph(ow, { logits: "last" }));
    expect(last.graph.output[0].type.tensorType.shape.dim).toEqual([
      { dimValue: 1 },
      { dimValue: SMALL.vocabSize },
    ]);
  });

  it("probes appear as outputs only with probes: true, named once in names.ts", () => {
    const plain = decodeModel(buildRnnStepGraph(ow));
    expect(plain.graph.output.length).toBe(1 + STATE_NAMES.length);
    const probed = decodeModel(buildParallelGraph(ow, { probes: true }));
    const names = probed.graph.output.map((v) => v.name);
    for (let l = 0; l < SMALL.nLayer; l++)
      for (const p of PROBE_NAMES) expect(names).toContain(probeOut(l, p));
    expect(names).toContain(X0);
    expect(names.length).toBe(1 + STATE_NAMES.length + 1 + SMALL.nLayer * PROBE_NAMES.length);
    // the plain parallel graph has none of the state probes' extra (T, T, C) work
    const plainPar = decodeModel(buildParallelGraph(ow));
    expect(plainPar.graph.initializer.some((t) => t.name.includes("state_probe"))).toBe(false);
  });

  it("initializers carry the weights bit-exactly (raw little-endian fp32, matrices transposed to (in, out))", () => {
    const m = decodeModel(buildRnnStepGraph(ow));
    const init = (name: string) => m.graph.initializer.find((t) => t.name === name)!;
    const C = SMALL.nEmbd;
    const F = SMALL.ffnSize;
    const values = (name: string) => {
      const raw = init(name).rawData!;
      return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    };
    // stacked (3, C, C) = [Wk^T; Wv^T; Wr^T]: [j, in, out] = W_j[out, in]
    const kvr = init("blocks.1.att.key_value_receptance.weight_T");
    expect(kvr.dims).toEqual([3, C, C]);
    const kvrVals = values("blocks.1.att.key_value_receptance.weight_T");
    const att = ow.source.blocks[1].att;
    [att.Wk, att.Wv, att.Wr].forEach((W, j) => {
      for (const [i, o] of [
        [3, 5],
        [0, C - 1],
        [C - 1, 2],
      ])
        expect(kvrVals[j * C * C + i * C + o]).toBe(W[o * C + i]);
    });
    const fk = values("blocks.0.ffn.key.weight_T"); // (C, F) from (F, C)
    expect(fk[7 * F + 11]).toBe(ow.source.blocks[0].ffn.Wk[11 * C + 7]);
    // the RNN step stores the embedding as [V, 1, C] (same values) so that its residual stream is (1, 1, C)
    const emb = init("emb.weight");
    expect(emb.dims).toEqual([SMALL.vocabSize, 1, SMALL.nEmbd]);
    const raw = emb.rawData!;
    const embVals = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    expect(embVals).toEqual(ow.source.emb);
    const par = decodeModel(buildParallelGraph(ow)).graph.initializer.find((t) => t.name === "emb.weight")!;
    expect(par.dims).toEqual([SMALL.vocabSize, SMALL.nEmbd]);
  });

  it("transpose is a transpose", () => {
    const m = Float32Array.from([1, 2, 3, 4, 5, 6]); // (2, 3)
    expect([...transpose(m, 2, 3)]).toEqual([1, 4, 2, 5, 3, 6]);
  });
});

/**
 * Node counts. Each node is one GPU dispatch on ORT's WebGPU EP, which costs ~50 us of CPU per node and run
 * (measured on an H200, docs/benchmarks.md), so the count is the decode speed. Bounds derived from the graph:
 *  RNN step, per layer 34 nodes: time mixing LN + stacked token shift (Mul, Add; the (1 - mu) x_{t-1} term is
 *  computed for all layers before them) + one (3, C, C) MatMul + Split (k, v, r) + WKV 13 (Add, Max, 2 Sub,
 *  2 Exp, 3 Mul, 2 Add, Div, Gather of row 0; [p; p + w] precomputed for all layers) + Sigmoid, Mul, MatMul
 *  (Wo), Add = 22; channel mixing LN + stacked token shift 2 + Split + 2 MatMul + Relu, Mul (square), MatMul,
 *  Sigmoid, Mul, Add = 12. Fixed 28: the state inputs (5 Splits; Unsqueeze + Mul + Reshape for the two shift
 *  terms, Unsqueeze + Add for [p; p + w]), embedding Gather + ln0, ln_out + head Reshape + MatMul, and 2 per
 *  state output (Concat over layers + Gather of a row).
 *  Parallel graph: 57 per layer (the WKV's final state is one extra row t = T of the same (T+1, T, C)
 *  computation, then 3 Slices, instead of 16 separate nodes) + 37 fixed (positions and masks, all layers).
 * Before this layout (per-layer Gathers of k/v/r and of the WKV rows, Identity renames, a separate final
 * state): 549 and 920 nodes for 12 layers; now 436 and 721.
 */
describe("node counts (each node is a GPU dispatch)", () => {
  const count = (bytes: Uint8Array) => {
    const m = decodeModel(bytes);
    const by: Record<string, number> = {};
    for (const n of m.graph.node) by[n.opType] = (by[n.opType] ?? 0) + 1;
    return { total: m.graph.node.length, by };
  };
  for (const L of [1, 2, 12]) {
    it(`L = ${L}: RNN step <= 34 L + 28, parallel <= 57 L + 37, no Identity renames in the RNN step`, () => {
      const o = prepareOnnxWeights(syntheticWeights({ ...SMALL, nLayer: L }, 3));
      const rnn = count(buildRnnStepGraph(o));
      const par = count(buildParallelGraph(o, { logits: "last" }));
      expect(rnn.total).toBeLessThanOrEqual(34 * L + 28);
      expect(par.total).toBeLessThanOrEqual(57 * L + 37);
      expect(rnn.by.Identity ?? 0).toBe(0);
      // one Gather per layer (the WKV output row) + the embedding + one per state output
      expect(rnn.by.Gather).toBeLessThanOrEqual(L + 6);
      expect(rnn.by.MatMul).toBe(5 * L + 1);
      if (L === 12) {
        expect(rnn.total).toBeLessThan(549);
        expect(par.total).toBeLessThan(920);
        expect(rnn.total).toBe(436);
        expect(par.total).toBe(721);
      }
    });
  }

  it("RNN step: every graph output is written by a kernel, not by a Reshape/Identity (graph capture needs it)", () => {
    // ORT implements Reshape/Identity outputs as buffer copies outside the recorded dispatches, so a captured
    // graph would replay without updating such outputs (measured in Chromium: logits wrong from step 2 on)
    const m = decodeModel(buildRnnStepGraph(ow));
    const producer = new Map(m.graph.node.flatMap((n) => n.output.map((o) => [o, n.opType] as const)));
    for (const o of m.graph.output) {
      expect(producer.get(o.name), o.name).toBeDefined();
      expect(["Reshape", "Identity", "Squeeze", "Unsqueeze", "Flatten"]).not.toContain(producer.get(o.name));
    }
  });
});

describe("the RWKV-4-Pile-169M shape", () => {
  it("both graphs build, each under protobuf's 2 GB limit, holding every parameter once", () => {
    const w = syntheticWeights(SHAPES.pile169m, 0);
    const params = countParameters(w);
    const o = prepareOnnxWeights(w);
    for (const bytes of [buildRnnStepGraph(o), buildParallelGraph(o, { logits: "last" })]) {
      expect(bytes.length).toBeLessThan(2 ** 31);
      // fp32 weights (4 bytes each) + the clamped decay copy (L*C) + 1-mu copies (5*L*C) + graph structure
      const { nLayer: L, nEmbd: C } = SHAPES.pile169m;
      expect(bytes.length).toBeGreaterThanOrEqual(4 * params);
      expect(bytes.length).toBeLessThan(4 * (params + 7 * L * C) + 1_000_000);
    }
  }, 180_000);
});
