/**
 * Checkpoint readers checked against files PyTorch wrote (torch.save, torch 1.13) and an independent Python
 * safetensors writer: names, shapes, dtypes, values and checksums come from test/fixtures/checkpoints/
 * manifest.json (written by make.py), never from the code under test.
 */
import { describe, expect, it } from "vitest";
import {
  CheckpointError,
  detectFormat,
  hfToBlinkName,
  loadPickle,
  loadRwkvCheckpoint,
  readSafetensors,
  readTorchZip,
  toBlinkNames,
  weightsFromTensors,
} from "../../src/rwkv/checkpoint/index.js";
import type { Tensor, TensorMap } from "../../src/rwkv/tensor.js";
import { checksums, fixtureBytes, fixtureConfig, manifest } from "../fixtures/checkpoints/fixtures.js";

const files = Object.entries(manifest.files);
const models = files.filter(([, f]) => f.kind === "model");
const { L, C, V, F } = manifest.shape;

function read(rel: string): { tensors: TensorMap; dtype: string } {
  const bytes = fixtureBytes(rel);
  return rel.endsWith(".safetensors") ? readSafetensors(bytes) : readTorchZip(bytes);
}

function expectCheckpointError(fn: () => unknown, code: string, ...fragments: string[]): CheckpointError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, "expected a CheckpointError").toBeInstanceOf(CheckpointError);
  const ce = err as CheckpointError;
  expect(ce.code, ce.message).toBe(code);
  for (const f of fragments) expect(ce.message).toContain(f);
  return ce;
}

describe("readers reproduce what Python wrote", () => {
  it("the fixtures exist and are tiny", () => {
    expect(models.length).toBe(9);
    for (const [, f] of files) expect(f.bytes).toBeLessThan(100_000);
  });

  for (const [rel, info] of [...models, ["strided.pth", manifest.files["strided.pth"]] as const]) {
    it(`${rel}: every tensor's name, shape, values and checksums`, () => {
      const { tensors, dtype } = read(rel);
      const want = info.tensors!;
      expect([...tensors.keys()].sort()).toEqual(want.map((t) => t.name).sort());
      if (info.dtype) expect(dtype).toBe(info.dtype);
      for (const w of want) {
        const t = tensors.get(w.name) as Tensor;
        expect(t.shape, w.name).toEqual(w.shape);
        expect(t.data.length, w.name).toBe(w.numel);
        // F16/BF16 -> F32 is exact, and Python printed the exact stored values: compare exactly
        expect(Array.from(t.data.subarray(0, 4)), w.name).toEqual(w.first);
        const s = checksums(t.data);
        expect(Math.abs(s.sum - w.sum), `${w.name} sum`).toBeLessThanOrEqual(1e-9 * (1 + Math.abs(w.sum)));
        expect(Math.abs(s.wsum - w.wsum), `${w.name} wsum`).toBeLessThanOrEqual(
          1e-9 * (1 + Math.abs(w.wsum)),
        );
      }
    });
  }

  it("detectFormat recognises every model file by its magic bytes", () => {
    for (const [rel] of models) {
      expect(detectFormat(fixtureBytes(rel))).toBe(
        rel.endsWith(".safetensors") ? "safetensors" : "torch-zip",
      );
    }
  });

  it("safetensors metadata is returned", () => {
    const r = readSafetensors(fixtureBytes("blinkdl-f32.safetensors"));
    expect(r.metadata).toEqual({ format: "pt", made_by: "make.py" });
  });

  it("aligned F32 tensors are views into the file bytes; unaligned ones are copied with equal values", () => {
    for (const rel of [
      "blinkdl-fp32.pth",
      "blinkdl-f32.safetensors",
      "hf-fp32/pytorch_model.bin",
      "blinkdl-fp32-zip64.pth",
    ]) {
      const bytes = fixtureBytes(rel);
      const { weights } = loadRwkvCheckpoint(bytes, { hfConfig: fixtureConfig(rel) });
      for (const m of [weights.emb, weights.head, weights.blocks[1].att.Wk, weights.blocks[1].ffn.Wv]) {
        expect(m.buffer, rel).toBe(bytes.buffer);
      }
    }
    const bytes = fixtureBytes("blinkdl-f32-unaligned.safetensors");
    const t = readSafetensors(bytes).tensors.get("head.weight") as Tensor;
    expect(t.data.buffer).not.toBe(bytes.buffer);
  });

  it("a view into a larger buffer (a Node Buffer slice) still reads correctly", () => {
    const inner = fixtureBytes("blinkdl-fp32.pth");
    for (const shift of [1, 2, 3, 4]) {
      const outer = new Uint8Array(inner.length + 8);
      outer.set(inner, shift);
      const r = readTorchZip(outer.subarray(shift, shift + inner.length));
      // against what Python wrote (manifest.json), not against another read of the same bytes
      const want = manifest.files["blinkdl-fp32.pth"].tensors!;
      expect([...r.tensors.keys()].sort()).toEqual(want.map((t) => t.name).sort());
      for (const w of want) {
        const t = r.tensors.get(w.name)!;
        expect(Array.from(t.data.subarray(0, 4)), w.name).toEqual(w.first);
        expect(Math.abs(checksums(t.data).wsum - w.wsum), w.name).toBeLessThanOrEqual(
          1e-9 * (1 + Math.abs(w.wsum)),
        );
      }
    }
  });
});

describe("loadRwkvCheckpoint: config, naming, transforms", () => {
  const paperCount = 2 * V * C + 13 * C * C * L + C * (11 * L + 4); // paper: 2VD + 13D^2 L + D(11L + 4)
  const reference = weightsFromTensors(read("blinkdl-fp32.pth").tensors);

  for (const [rel, info] of models) {
    it(`${rel}: format, naming, dtype, config, parameter count`, () => {
      const r = loadRwkvCheckpoint(fixtureBytes(rel), { hfConfig: fixtureConfig(rel) });
      expect(r.format).toBe(rel.endsWith(".safetensors") ? "safetensors" : "torch-zip");
      expect(r.naming).toBe(info.naming);
      expect(r.dtype).toBe(info.dtype);
      expect(r.weights.config).toEqual(manifest.expected.config);
      expect(F).toBe(4 * C);
      expect(r.parameterCount).toBe(manifest.expected.parameterCount);
      expect(r.parameterCount).toBe(paperCount);
      expect(r.tensorNames).toEqual(info.tensors!.map((t) => t.name));
    });
  }

  it("w = -exp(time_decay), against float64 values computed in Python", () => {
    const cases: [string, number[][]][] = [
      ["blinkdl-fp32.pth", manifest.expected.w],
      ["hf-fp32/pytorch_model.bin", manifest.expected.w],
      ["blinkdl-bf16.pth", manifest.expected.w_bf16],
      ["blinkdl-bf16.safetensors", manifest.expected.w_bf16],
    ];
    for (const [rel, w] of cases) {
      const { weights } = loadRwkvCheckpoint(fixtureBytes(rel), { hfConfig: fixtureConfig(rel) });
      for (let i = 0; i < L; i++) {
        expect(weights.blocks[i].att.w.length).toBe(C);
        weights.blocks[i].att.w.forEach((x, c) => {
          expect(Math.abs(x - w[i][c]), `${rel} block ${i} channel ${c}`).toBeLessThanOrEqual(
            6e-8 * Math.abs(w[i][c]),
          );
        });
      }
    }
  });

  it("u = time_first and the time_mix vectors squeezed from (1, 1, C) to (C), values unchanged", () => {
    const raw = read("blinkdl-fp32.pth").tensors;
    expect(raw.get("blocks.1.att.time_mix_k")!.shape).toEqual([1, 1, C]);
    const b = reference.blocks[1];
    const same = (a: Float32Array, k: string): void => {
      expect(a.length, k).toBe(C);
      expect(Array.from(a), k).toEqual(Array.from(raw.get(k)!.data));
    };
    same(b.att.u, "blocks.1.att.time_first");
    same(b.att.muK, "blocks.1.att.time_mix_k");
    same(b.att.muV, "blocks.1.att.time_mix_v");
    same(b.att.muR, "blocks.1.att.time_mix_r");
    same(b.ffn.muK, "blocks.1.ffn.time_mix_k");
    same(b.ffn.muR, "blocks.1.ffn.time_mix_r");
    same(reference.ln0.weight, "blocks.0.ln0.weight");
    same(reference.lnOut.bias, "ln_out.bias");
    expect(Array.from(b.ffn.Wv)).toEqual(Array.from(raw.get("blocks.1.ffn.value.weight")!.data));
  });

  it("all F32 files (torch zip, zip64, HF .bin, safetensors aligned or not) give identical weights", () => {
    for (const rel of [
      "hf-fp32/pytorch_model.bin",
      "blinkdl-f32.safetensors",
      "blinkdl-f32-unaligned.safetensors",
      "blinkdl-fp32-zip64.pth",
    ]) {
      const { weights } = loadRwkvCheckpoint(fixtureBytes(rel), { hfConfig: fixtureConfig(rel) });
      expect(weights, rel).toEqual(reference);
    }
    const bf = loadRwkvCheckpoint(fixtureBytes("blinkdl-bf16.pth")).weights;
    expect(loadRwkvCheckpoint(fixtureBytes("blinkdl-bf16.safetensors")).weights).toEqual(bf);
    const f16 = loadRwkvCheckpoint(fixtureBytes("hf-fp16/pytorch_model.bin"), {
      hfConfig: fixtureConfig("hf-fp16/pytorch_model.bin"),
    }).weights;
    expect(loadRwkvCheckpoint(fixtureBytes("hf-f16.safetensors")).weights).toEqual(f16);
  });

  it("Hugging Face names (renamed in Python from modeling_rwkv.py) map onto BlinkDL's exactly", () => {
    const hf = manifest.files["hf-fp32/pytorch_model.bin"].tensors!.map((t) => t.name);
    const blink = manifest.files["blinkdl-fp32.pth"].tensors!.map((t) => t.name);
    expect(hf.map(hfToBlinkName)).toEqual(blink);
    expect(hfToBlinkName("rwkv.blocks.0.pre_ln.weight")).toBe("blocks.0.ln0.weight");
    expect(hfToBlinkName("rwkv.blocks.3.attention.time_mix_receptance")).toBe("blocks.3.att.time_mix_r");
    expect(hfToBlinkName("rwkv.blocks.3.feed_forward.value.weight")).toBe("blocks.3.ffn.value.weight");
    const { naming } = toBlinkNames(read("blinkdl-fp32.pth").tensors);
    expect(naming).toBe("blinkdl");
    // weightsFromTensors accepts HF names directly
    expect(weightsFromTensors(read("hf-fp32/pytorch_model.bin").tensors)).toEqual(reference);
  });

  it("config.json: layer_norm_epsilon is used; disagreeing sizes and other model types are rejected", () => {
    const rel = "hf-fp32/pytorch_model.bin";
    const cfg = fixtureConfig(rel) as Record<string, unknown>;
    expect(
      loadRwkvCheckpoint(fixtureBytes(rel), { hfConfig: { ...cfg, layer_norm_epsilon: 1e-6 } }).weights.config
        .layerNormEps,
    ).toBe(1e-6);
    expectCheckpointError(
      () => loadRwkvCheckpoint(fixtureBytes(rel), { hfConfig: { ...cfg, hidden_size: 768 } }),
      "shape-mismatch",
      "hidden_size = 768",
      `have ${C}`,
    );
    expectCheckpointError(
      () => loadRwkvCheckpoint(fixtureBytes(rel), { hfConfig: { ...cfg, num_hidden_layers: 12 } }),
      "shape-mismatch",
      "num_hidden_layers",
    );
    expectCheckpointError(
      () => loadRwkvCheckpoint(fixtureBytes(rel), { hfConfig: { ...cfg, model_type: "rwkv6" } }),
      "unsupported-architecture",
      "rwkv6",
    );
  });
});

describe("rejections name the problem", () => {
  for (const [rel, info] of files.filter(([, f]) => f.kind === "reject")) {
    it(`${rel} -> ${info.code}`, () => {
      const e = expectCheckpointError(() => loadRwkvCheckpoint(fixtureBytes(rel)), info.code!);
      if (info.names) expect(e.message).toContain(info.names);
    });
  }

  it("the deflated entry is named, with what to do", () => {
    expectCheckpointError(
      () => readTorchZip(fixtureBytes("deflated.pth")),
      "unsupported-compression",
      "data.pkl",
      "deflate",
      "torch.save",
    );
  });

  it("a truncated zip and a truncated safetensors file", () => {
    const zip = fixtureBytes("blinkdl-fp32.pth");
    expectCheckpointError(
      () => loadRwkvCheckpoint(zip.subarray(0, zip.length - 30)),
      "truncated",
      "end-of-central-directory",
    );
    const st = fixtureBytes("blinkdl-f32.safetensors");
    expectCheckpointError(() => loadRwkvCheckpoint(st.subarray(0, 100)), "truncated", "header announces");
    expectCheckpointError(
      () => loadRwkvCheckpoint(st.subarray(0, st.length - 1)),
      "offset-out-of-range",
      "head.weight",
    );
    expectCheckpointError(() => loadRwkvCheckpoint(new Uint8Array(0)), "truncated", "empty");
    expectCheckpointError(() => detectFormat(new TextEncoder().encode("GGUF....")), "unknown-format", "GGUF");
  });
});

describe("safetensors header validation", () => {
  const enc = new TextEncoder();
  function st(header: unknown, data = new Uint8Array(16), lengthOverride?: bigint): Uint8Array {
    const h = enc.encode(typeof header === "string" ? header : JSON.stringify(header));
    const out = new Uint8Array(8 + h.length + data.length);
    new DataView(out.buffer).setBigUint64(0, lengthOverride ?? BigInt(h.length), true);
    out.set(h, 8);
    out.set(data, 8 + h.length);
    return out;
  }
  const ok = { a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] } };

  it("a valid hand-made file reads", () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    expect(Array.from(readSafetensors(st(ok, data)).tensors.get("a")!.data)).toEqual([1, 2, 3, 4]);
  });
  it("each kind of bad header", () => {
    expectCheckpointError(() => readSafetensors(st(ok, undefined, 2n ** 40n)), "bad-header", "exceeds");
    expectCheckpointError(() => readSafetensors(st(ok, undefined, 1000n)), "truncated", "1000");
    expectCheckpointError(() => readSafetensors(st("{not json")), "bad-header", "not valid JSON");
    expectCheckpointError(() => readSafetensors(st("[1,2]")), "bad-header", "not a JSON object");
    expectCheckpointError(
      () => readSafetensors(st({ a: { dtype: "I64", shape: [2], data_offsets: [0, 16] } })),
      "unsupported-dtype",
      '"a"',
      "I64",
    );
    expectCheckpointError(
      () => readSafetensors(st({ a: { dtype: "F32", shape: [3, 2], data_offsets: [0, 16] } })),
      "shape-mismatch",
      "24 bytes",
      "span 16",
    );
    expectCheckpointError(
      () => readSafetensors(st({ a: { dtype: "F32", shape: [8], data_offsets: [0, 32] } })),
      "offset-out-of-range",
      "[0, 32]",
    );
    expectCheckpointError(
      () => readSafetensors(st({ a: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } })),
      "bad-header",
      "shape",
    );
    expectCheckpointError(
      () =>
        readSafetensors(
          st({
            a: { dtype: "F32", shape: [3], data_offsets: [0, 12] },
            b: { dtype: "F32", shape: [2], data_offsets: [8, 16] },
          }),
        ),
      "bad-header",
      "overlap",
    );
    expectCheckpointError(
      () => readSafetensors(st({ __metadata__: { n: 1 } })),
      "bad-header",
      "__metadata__",
    );
  });
});

describe("the pickle reader never executes, and only speaks state-dict pickle", () => {
  const b = (...parts: (number[] | string)[]): Uint8Array =>
    new Uint8Array(parts.flatMap((p) => (typeof p === "string" ? [...new TextEncoder().encode(p)] : p)));
  const PROTO2 = [0x80, 0x02];

  it("GLOBAL os.system / builtins.exec / subprocess.Popen / torch.load are refused by name", () => {
    for (const g of [
      "os\nsystem",
      "builtins\nexec",
      "subprocess\nPopen",
      "torch\nload",
      "torch._utils\n_rebuild_tensor",
    ]) {
      const p = b(PROTO2, "c", g + "\n", "X", [3, 0, 0, 0], "abc", [0x85], "R.");
      expectCheckpointError(() => loadPickle(p), "forbidden-pickle-global", g.replace("\n", "."));
    }
  });

  it("STACK_GLOBAL is checked the same way", () => {
    const p = b([0x80, 0x04], [0x8c, 2], "os", [0x8c, 6], "system", [0x93], ")R.");
    expectCheckpointError(() => loadPickle(p), "forbidden-pickle-global", "os.system");
  });

  it("opcodes outside the state-dict subset, bad memo use, stack misuse, truncation", () => {
    expectCheckpointError(() => loadPickle(b(PROTO2, "(i__main__\nX\n.")), "bad-pickle", "INST");
    expectCheckpointError(() => loadPickle(b(PROTO2, [0x81], ".")), "bad-pickle", "NEWOBJ");
    expectCheckpointError(() => loadPickle(b(PROTO2, [0xff])), "bad-pickle", "0xff");
    expectCheckpointError(() => loadPickle(b(PROTO2, "h", [7], ".")), "bad-pickle", "memo entry 7");
    expectCheckpointError(() => loadPickle(b(PROTO2, "R.")), "bad-pickle", "underflow");
    expectCheckpointError(() => loadPickle(b(PROTO2, "X", [0xff, 0xff, 0xff, 0x7f], "ab")), "truncated");
    expectCheckpointError(() => loadPickle(b(PROTO2, "}")), "truncated");
    expectCheckpointError(() => loadPickle(b(PROTO2, "(.")), "bad-pickle", "MARK");
    // REDUCE of an allowed global with the wrong arguments
    expectCheckpointError(
      () =>
        loadPickle(
          b(PROTO2, "ctorch._utils\n_rebuild_tensor_v2\n", "(K", [1], "K", [2], "K", [3], "K", [4], "tR."),
        ),
      "bad-pickle",
      "not a storage",
    );
  });

  it("reads plain data: dicts, lists, tuples, ints, floats, strings", () => {
    // {'a': [1, -2, 70000], 'b': (1.5, None, True)} written by pickle.dumps(protocol=2)
    const p = b(
      PROTO2,
      "}q",
      [0],
      "(X",
      [1, 0, 0, 0],
      "aq",
      [1],
      "]q",
      [2],
      "(K",
      [1],
      "J",
      [0xfe, 0xff, 0xff, 0xff],
      "J",
      [0x70, 0x11, 0x01, 0x00],
      "eX",
      [1, 0, 0, 0],
      "bq",
      [3],
      "G",
      [0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
      "N",
      [0x88, 0x87],
      "q",
      [4],
      "u.",
    );
    const v = loadPickle(p) as { map: Map<string, { items: unknown[] }> };
    expect(v.map.get("a")!.items).toEqual([1, -2, 70000]);
    expect(v.map.get("b")!.items).toEqual([1.5, null, true]);
  });
});

describe("weightsFromTensors validates keys, shapes, values and architecture", () => {
  const base = (): TensorMap => new Map(read("blinkdl-fp32.pth").tensors);
  const tensor = (shape: number[], fill = 0.5): Tensor => ({
    shape,
    data: new Float32Array(shape.reduce((a, d) => a * d, 1)).fill(fill),
  });

  it("missing key", () => {
    const t = base();
    t.delete("blocks.1.ffn.value.weight");
    expectCheckpointError(() => weightsFromTensors(t), "missing-key", "blocks.1.ffn.value.weight");
    const u = base();
    u.delete("head.weight");
    expectCheckpointError(() => weightsFromTensors(u), "missing-key", "head.weight");
  });
  it("a gap in the block indices", () => {
    const t: TensorMap = new Map();
    for (const [k, v] of base()) t.set(k.replace(/^blocks\.1\./, "blocks.5."), v);
    expectCheckpointError(() => weightsFromTensors(t), "missing-key", "block 1", "up to 5");
    const huge = base();
    huge.set("blocks.999999999.ln1.weight", tensor([C]));
    expectCheckpointError(() => weightsFromTensors(huge), "missing-key", "block 2");
  });
  it("extra key", () => {
    const t = base();
    t.set("blocks.1.att.bonus", tensor([C]));
    expectCheckpointError(() => weightsFromTensors(t), "extra-key", "blocks.1.att.bonus");
    const u = base();
    u.set("blocks.1.ln0.weight", tensor([C]));
    expectCheckpointError(() => weightsFromTensors(u), "extra-key", "blocks.1.ln0.weight");
  });
  it("shape mismatch names expected and actual", () => {
    const t = base();
    t.set("blocks.1.att.key.weight", tensor([C, C + 1]));
    expectCheckpointError(
      () => weightsFromTensors(t),
      "shape-mismatch",
      "blocks.1.att.key.weight",
      `(${C}, ${C + 1})`,
      `(${C}, ${C})`,
    );
    const u = base();
    u.set("head.weight", tensor([V + 1, C]));
    expectCheckpointError(() => weightsFromTensors(u), "shape-mismatch", "head.weight", `(${V}, ${C})`);
    const w = base();
    w.set("blocks.0.att.time_decay", tensor([2, C / 2]));
    expectCheckpointError(() => weightsFromTensors(w), "shape-mismatch", "time_decay");
  });
  it("NaN and infinite weights", () => {
    for (const bad of [NaN, Infinity]) {
      const t = base();
      const d = Float32Array.from(t.get("blocks.1.ffn.key.weight")!.data);
      d[17] = bad;
      t.set("blocks.1.ffn.key.weight", { shape: [F, C], data: d });
      expectCheckpointError(() => weightsFromTensors(t), "non-finite", "blocks.1.ffn.key.weight[17]");
    }
  });
  it("other architectures are named", () => {
    const cases: [string, Tensor, string][] = [
      ["blocks.0.att.w0", tensor([1, 1, C]), "RWKV-7"],
      ["blocks.0.att.x_r", tensor([1, 1, C]), "RWKV-7"],
      ["blocks.0.att.time_maa_x", tensor([1, 1, C]), "RWKV-6"],
      ["blocks.0.att.time_faaaa", tensor([2, C / 2]), "RWKV-5"],
      ["blocks.0.att.ln_x.weight", tensor([C]), "RWKV-5"],
      ["blocks.0.tiny_q.weight", tensor([4, C]), "RWKV-4a"],
      ["head_q.weight", tensor([4, C]), "RWKV-4a"],
      ["pos_emb_x", tensor([1, 4, C]), "position"],
    ];
    for (const [key, t, arch] of cases) {
      const m = base();
      m.set(key, t);
      expectCheckpointError(() => weightsFromTensors(m), "unsupported-architecture", arch, key);
    }
    expectCheckpointError(
      () => weightsFromTensors(new Map([["model.layers.0.self_attn.q_proj.weight", tensor([C, C])]])),
      "unsupported-architecture",
      "Llama",
    );
    expectCheckpointError(
      () => weightsFromTensors(new Map([["encoder.weight", tensor([C, C])]])),
      "unsupported-architecture",
      "encoder.weight",
    );
  });
  it("a name given twice (HF and BlinkDL spelling) is refused", () => {
    const t = new Map(read("hf-fp32/pytorch_model.bin").tensors);
    t.set("emb.weight", t.get("rwkv.embeddings.weight")!);
    expectCheckpointError(() => toBlinkNames(t), "extra-key", "rwkv.embeddings.weight", "emb.weight");
  });
});
