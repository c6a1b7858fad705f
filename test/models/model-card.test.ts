/**
 * The shipped models (data/models/tiny-rwkv.*, tiny-gpt.*) against their machine-readable model cards and the
 * corpus (issue 4, "Ship"): what the card says about the weights file is true of the file, the vocabulary is the
 * corpus's and round-trips through our tokenizer, the card's own numbers agree with each other, and our
 * TypeScript model reproduces the training script's validation loss on a prefix of the validation split.
 *
 * References are independent of the code under test: the safetensors header is parsed here by hand (not by our
 * reader), parameter counts are products of the header's shapes, the vocabulary and split are recomputed from the
 * corpus with the rule the card states, and the loss reference is the training script's PyTorch number
 * (`results.rnn_cross_check`, fp32 on CPU). Skipped, with one line, while the files are absent.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadRwkvCheckpoint } from "../../src/rwkv/checkpoint/index.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { logSoftmaxAt } from "../../src/rwkv/sampling.js";
import { CharTokenizer } from "../../src/rwkv/tokenizer.js";
import { committedFixtures } from "../helpers/fixtures.js";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const MODELS = path.join(ROOT, "data", "models");
// the corpus is shared data beside the checkout (../shared), not committed: its tests skip with a line without it
const CORPUS_PATH = path.resolve(ROOT, "../shared/data/tinyshakespeare.txt");
const CORPUS = existsSync(CORPUS_PATH) ? CORPUS_PATH : undefined;
const MAX_BYTES = 8 * 1024 * 1024; // issue 4: each shipped model <= 8 MB in git

interface Card {
  name: string;
  weights: { file: string; dtype: string; bytes: number };
  config: {
    n_layer: number;
    n_embd: number;
    ffn_size: number;
    vocab_size: number;
    ctx_len: number;
    n_head?: number;
  };
  vocabulary: string;
  corpus: { sha256: string; chars: number };
  split: { train_chars: [number, number]; validation_chars: [number, number] };
  training: {
    steps: number;
    batch_size: number;
    ctx_len: number;
    tokens_seen: number;
    seed: number;
    training_time_s: number;
    hardware: string;
    command: string;
    kept_best?: { step: number; val_estimate: number };
  };
  parameters: number;
  results: Record<string, { nats_per_char?: number; bits_per_char?: number } & Record<string, unknown>>;
  licence: { weights: string; corpus: string };
  loss_curve: { points: { step: number; train_loss: number; val_loss: number }[] };
  samples: { prompt: string; text: string }[];
}

/** The safetensors header, parsed here without the project's reader: 8-byte LE length, then JSON. */
function header(
  bytes: Buffer,
): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const n = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + n).toString("utf-8"));
}

for (const name of ["tiny-rwkv", "tiny-gpt"]) {
  const files = [`${name}.safetensors`, `${name}.json`, `${name}.curve.json`].map((f) =>
    path.join(MODELS, f),
  );
  const gate = committedFixtures(`${name} model card`, files);

  describe.runIf(gate.run)(`${name}: the model card describes the shipped weights`, () => {
    it("has its committed files", gate.check);
    const card = (): Card => JSON.parse(readFileSync(files[1], "utf-8")) as Card;

    it("file name, size (<= 8 MB), dtype and metadata match the card", () => {
      const c = card();
      const bytes = readFileSync(files[0]);
      expect(c.weights.file).toBe(`${name}.safetensors`);
      expect(statSync(files[0]).size).toBe(c.weights.bytes);
      expect(c.weights.bytes).toBeLessThanOrEqual(MAX_BYTES);
      const h = header(bytes);
      const meta = h.__metadata__ as unknown as Record<string, string>;
      expect(meta.card).toBe(`${name}.json`);
      const tensors = Object.entries(h).filter(([k]) => k !== "__metadata__");
      expect(tensors.length).toBeGreaterThan(0);
      for (const [k, t] of tensors) expect(t.dtype, k).toBe(c.weights.dtype);
      // the data section is exactly the tensors (2 bytes per F16 value), nothing missing or trailing
      const n = Number(bytes.readBigUInt64LE(0));
      const values = tensors.reduce((s, [, t]) => s + t.shape.reduce((a, b) => a * b, 1), 0);
      expect(bytes.length - 8 - n).toBe(values * (c.weights.dtype === "F16" ? 2 : 4));
    });

    it("parameter count and shapes match the card's config", () => {
      const c = card();
      const h = header(readFileSync(files[0]));
      const tensors = Object.entries(h).filter(([k]) => k !== "__metadata__");
      const count = tensors.reduce((s, [, t]) => s + t.shape.reduce((a, b) => a * b, 1), 0);
      expect(count).toBe(c.parameters);
      const { n_layer: L, n_embd: D, ffn_size: F, vocab_size: V } = c.config;
      const blocks = new Set(
        tensors.map(([k]) => /^blocks\.(\d+)\./.exec(k)?.[1]).filter((x) => x !== undefined),
      );
      expect(blocks.size).toBe(L);
      if (name === "tiny-rwkv") {
        expect(h["emb.weight"].shape).toEqual([V, D]);
        expect(h["head.weight"].shape).toEqual([V, D]);
        expect(h["blocks.0.ffn.key.weight"].shape).toEqual([F, D]);
        expect(h["blocks.0.att.time_decay"].shape).toEqual([D]);
        // the paper's Table 2 formula (arXiv 2305.13048 v4), valid for F = 4D
        expect(F).toBe(4 * D);
        expect(count).toBe(2 * V * D + 13 * D * D * L + D * (11 * L + 4));
      } else {
        expect(h["wte.weight"].shape).toEqual([V, D]);
        expect(h["wpe.weight"].shape).toEqual([c.config.ctx_len, D]);
        expect(h["blocks.0.attn.qkv.weight"].shape).toEqual([3 * D, D]);
        expect(h["blocks.0.mlp.fc.weight"].shape).toEqual([F, D]);
      }
    });

    it("the card's numbers agree with each other and with the curve file", () => {
      const c = card();
      const t = c.training;
      expect(t.tokens_seen).toBe(t.steps * t.batch_size * t.ctx_len);
      expect(t.ctx_len).toBe(c.config.ctx_len);
      expect(t.training_time_s).toBeGreaterThan(0);
      expect(t.hardware.length).toBeGreaterThan(0);
      expect(t.command).toContain("data/train/train.py");
      for (const [key, r] of Object.entries(c.results)) {
        if (r.nats_per_char !== undefined && r.bits_per_char !== undefined)
          expect(r.bits_per_char, key).toBeCloseTo(r.nats_per_char / Math.LN2, 4);
      }
      const curve = JSON.parse(readFileSync(files[2], "utf-8"));
      expect(curve).toEqual(c.loss_curve.points);
      const points = c.loss_curve.points;
      expect(points[points.length - 1].step).toBe(t.steps);
      if (t.kept_best) {
        // the kept step is the curve's lowest validation estimate
        const best = points.reduce((a, b) => (b.val_loss < a.val_loss ? b : a));
        expect(t.kept_best.step).toBe(best.step);
        expect(t.kept_best.val_estimate).toBeCloseTo(best.val_loss, 5);
      }
      expect(c.licence.weights).toBe("Apache-2.0");
      expect(c.samples.length).toBeGreaterThan(0);
      for (const s of c.samples) expect(s.text.startsWith(s.prompt)).toBe(true);
    });

    it("the vocabulary round-trips through the tokenizer and covers the samples", () => {
      const c = card();
      const chars = Array.from(c.vocabulary);
      expect(chars).toHaveLength(c.config.vocab_size);
      expect(new Set(chars).size).toBe(chars.length);
      const tok = new CharTokenizer(c.vocabulary, { onUnknown: "error" });
      chars.forEach((ch, i) => expect(tok.encode(ch)).toEqual([i]));
      for (const s of c.samples) expect(tok.decode(tok.encode(s.text))).toBe(s.text);
    });

    describe.runIf(CORPUS !== undefined)("against the corpus", () => {
      it("sha256, length, the split rule and the vocabulary (sorted unique characters) match", () => {
        const c = card();
        const buf = readFileSync(CORPUS!);
        expect(createHash("sha256").update(buf).digest("hex")).toBe(c.corpus.sha256);
        const text = buf.toString("utf-8");
        const n = Array.from(text).length;
        expect(n).toBe(c.corpus.chars);
        const cut = Math.floor(0.9 * n); // "first 90% train, last 10% validation"
        expect(c.split.train_chars).toEqual([0, cut]);
        expect(c.split.validation_chars).toEqual([cut, n]);
        expect(c.vocabulary).toBe([...new Set(Array.from(text))].sort().join(""));
        const tok = new CharTokenizer(c.vocabulary, { onUnknown: "error" });
        expect(tok.decode(tok.encode(text))).toBe(text);
      });
    });
  });
}

const rwkvCard = path.join(MODELS, "tiny-rwkv.json");
const rwkvWeights = path.join(MODELS, "tiny-rwkv.safetensors");
const evalGate = committedFixtures("tiny-rwkv validation prefix", [rwkvCard, rwkvWeights]);
if (CORPUS === undefined)
  console.log(`SKIP tiny-rwkv validation prefix: ${CORPUS_PATH} (shared data) missing`);

describe.runIf(CORPUS !== undefined && evalGate.run)(
  "tiny-rwkv: our TypeScript model reproduces the training script's loss",
  () => {
    it("has its committed model", evalGate.check);
    it("NLL of the first validation characters (state carried) equals PyTorch's rnn_cross_check to 1e-4", () => {
      const c = JSON.parse(readFileSync(rwkvCard, "utf-8")) as Card;
      const check = c.results.rnn_cross_check as { chars: number; nats_rnn_step_cpu: number };
      expect(check.chars).toBeGreaterThan(100);
      const text = Array.from(readFileSync(CORPUS!, "utf-8"));
      const val = text.slice(c.split.validation_chars[0], c.split.validation_chars[0] + check.chars).join("");
      const ids = new CharTokenizer(c.vocabulary, { onUnknown: "error" }).encode(val);
      const model = new RwkvModel(loadRwkvCheckpoint(readFileSync(rwkvWeights)).weights);
      const V = model.config.vocabSize;
      // parallel mode in blocks of 256 with the state carried: each character predicted from all before it
      let nll = 0;
      let state = model.initialState();
      for (let s = 0; s + 1 < ids.length; s += 256) {
        const piece = ids.slice(s, Math.min(s + 256, ids.length - 1));
        const r = model.forward(piece, state);
        state = r.state;
        for (let t = 0; t < piece.length; t++)
          nll -= logSoftmaxAt(r.logits.subarray(t * V, (t + 1) * V), ids[s + t + 1]);
      }
      // train.py's cross-check averages over the chars - 1 predictions of its 1,500-character prefix
      const ours = nll / (ids.length - 1);
      console.log(
        `tiny-rwkv, first ${check.chars} validation characters: ours ${ours.toFixed(7)} nats/char, ` +
          `PyTorch ${check.nats_rnn_step_cpu.toFixed(7)}`,
      );
      expect(Math.abs(ours - check.nats_rnn_step_cpu)).toBeLessThanOrEqual(1e-4);
    });
  },
);
