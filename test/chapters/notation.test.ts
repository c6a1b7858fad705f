/**
 * The notation table against the loader: every key it names is one the loader requires (removing it fails with
 * "missing-key" naming it), exists in checkpoints PyTorch wrote in both naming schemes (test/fixtures/checkpoints,
 * BlinkDL and Hugging Face), and the Hugging Face spelling maps back through src/rwkv/checkpoint/names.ts; every
 * key of a block the loader reads has an entry. Shapes are checked against the fixture's tensors.
 */
import katex from "katex";
import { describe, expect, it } from "vitest";
import {
  NOTATION,
  entry,
  hfKey,
  layerKey,
  paperW,
  plain,
  subscript,
  tx,
  uni,
} from "../../src/chapters/notation.js";
import {
  CheckpointError,
  hfToBlinkName,
  readTorchZip,
  weightsFromTensors,
} from "../../src/rwkv/checkpoint/index.js";
import type { TensorMap } from "../../src/rwkv/tensor.js";
import { EQ } from "../../src/ui/page.js";
import { fixtureBytes, manifest } from "../fixtures/checkpoints/fixtures.js";

const blink = (): TensorMap => new Map(readTorchZip(fixtureBytes("blinkdl-fp32.pth")).tensors);
const hf = (): TensorMap => new Map(readTorchZip(fixtureBytes("hf-fp32/pytorch_model.bin")).tensors);
const keyed = NOTATION.filter((e) => e.key !== undefined);
const { L, C, F } = manifest.shape;

describe("the notation table agrees with the checkpoint keys the loader reads", () => {
  it("names the stored parameters of Eq. 11-18: mixes, decay, bonus and every matrix of a block", () => {
    expect(keyed.map((e) => e.id).sort()).toEqual(
      [
        "mu_r",
        "mu_k",
        "mu_v",
        "W_r",
        "W_k",
        "W_v",
        "w",
        "u",
        "W_o",
        "mu_rp",
        "mu_kp",
        "Wp_r",
        "Wp_k",
        "Wp_v",
      ].sort(),
    );
  });

  it("every key is required by the loader: without it, loading fails naming that key", () => {
    for (const e of keyed) {
      for (const layer of [0, L - 1]) {
        const key = layerKey(e.key!, layer);
        const t = blink();
        expect(t.has(key), `${e.id}: ${key} in the BlinkDL fixture`).toBe(true);
        t.delete(key);
        let err: unknown;
        try {
          weightsFromTensors(t);
        } catch (x) {
          err = x;
        }
        expect(err, key).toBeInstanceOf(CheckpointError);
        expect((err as CheckpointError).code).toBe("missing-key");
        expect((err as CheckpointError).message).toContain(key);
      }
    }
  });

  it("the Hugging Face spelling exists in the HF fixture and maps back through names.ts", () => {
    const keys = hf();
    for (const e of keyed) {
      const h = hfKey(layerKey(e.key!, 1));
      expect(keys.has(h), h).toBe(true);
      expect(hfToBlinkName(h)).toBe(layerKey(e.key!, 1));
    }
  });

  it("every time- and channel-mixing key the loader reads has an entry", () => {
    const covered = new Set(keyed.map((e) => e.key));
    const blockKeys = [...blink().keys()]
      .filter((k) => /^blocks\.0\.(att|ffn)\./.test(k))
      .map((k) => k.replace(/^blocks\.0\./, "blocks.N."));
    expect(blockKeys.length).toBeGreaterThan(0);
    for (const k of blockKeys) expect(covered.has(k), k).toBe(true);
  });

  it("the shapes match the stored tensors (vectors (C) may be stored (1, 1, C))", () => {
    const t = blink();
    const dims: Record<string, number> = { C, F };
    for (const e of keyed) {
      const want = e.shape
        .replace(/[()]/g, "")
        .split(",")
        .map((d) => dims[d.trim()]);
      const got = t
        .get(layerKey(e.key!, 0))!
        .shape.filter((d, i, s) => !(d === 1 && s.length > want.length && i < s.length - want.length));
      expect(got, e.id).toEqual(want);
    }
  });

  it("w = e^{time_decay} >= 0 as the paper writes it: paperW undoes the loader's -e^{time_decay}", () => {
    const t = blink();
    const weights = weightsFromTensors(t);
    const stored = t.get("blocks.0.att.time_decay")!.data;
    for (let c = 0; c < C; c++) {
      expect(paperW(weights.blocks[0].att.w[c])).toBeCloseTo(Math.exp(stored[c]), 5);
      expect(paperW(weights.blocks[0].att.w[c])).toBeGreaterThanOrEqual(0);
    }
    expect(entry("w").load).toContain("time\\_decay");
  });
});

describe("symbols", () => {
  it("every entry renders with KaTeX in strict mode, hover-linked and plain", () => {
    const strict = { ...EQ, strict: "error" as const, trust: true, throwOnError: true };
    for (const e of NOTATION) {
      const html = katex.renderToString(tx(e.id), {
        ...strict,
        strict: (code: string) => (code === "htmlExtension" ? "ignore" : "error"),
      });
      expect(html, e.id).toContain(`data-sym="${e.hover ?? e.id}"`);
      katex.renderToString(plain(e.id), strict);
      for (const t of [e.load, e.computed]) if (t) katex.renderToString(t, strict);
    }
  });

  it("subscripts as the paper writes them, in TeX and Unicode", () => {
    expect(plain("xprev")).toBe("x_{t-1}");
    expect(plain("k", "i")).toBe("k_i");
    expect(plain("aprime", "t-1")).toBe("a'_{t-1}");
    expect(uni("xprev")).toBe("xₜ₋₁");
    expect(uni("kp")).toBe("k′ₜ");
    expect(subscript("t,i")).toBe("ₜ,ᵢ");
    expect(() => subscript("z")).toThrow(/no Unicode subscript/);
    expect(() => entry("nope")).toThrow(/no symbol/);
  });

  it("no Unicode form or meaning carries raw TeX", () => {
    for (const e of NOTATION) {
      for (const s of [uni(e.id), e.meaning]) expect(s, e.id).not.toMatch(/[\\{}^]|_\{|_[a-z]\b/);
    }
  });

  it("ids are unique and hover groups point at entries", () => {
    const ids = NOTATION.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of NOTATION) if (e.hover) expect(ids).toContain(e.hover);
  });
});
