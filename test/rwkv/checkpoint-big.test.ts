/**
 * Opt-in: a full-size 169M-shaped checkpoint (made by `make.py --big DIR`, not committed) loads without a
 * second copy of its bytes: every F32 matrix is a view into the file buffer, and loading allocates only the
 * small vectors. Run with RWKV_BIG_CHECKPOINT_DIR=DIR npx vitest run test/rwkv/checkpoint-big.test.ts
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadRwkvCheckpoint } from "../../src/rwkv/checkpoint/index.js";

const DIR = process.env.RWKV_BIG_CHECKPOINT_DIR;
const BIN = DIR ? join(DIR, "pytorch_model.bin") : "";

describe.skipIf(!DIR || !existsSync(BIN))("169M-shaped checkpoint (opt-in)", () => {
  it("the 677 MB fp32 pytorch_model.bin loads as views of the file, without a second copy", () => {
    const buf = readFileSync(BIN);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    const before = process.memoryUsage().arrayBuffers;
    const r = loadRwkvCheckpoint(bytes, {
      hfConfig: JSON.parse(readFileSync(join(DIR!, "config.json"), "utf8")),
    });
    const grown = process.memoryUsage().arrayBuffers - before;
    const { nLayer: L, nEmbd: D, vocabSize: V } = r.weights.config;
    expect([L, D, r.weights.config.ffnSize, V]).toEqual([12, 768, 3072, 50277]);
    expect(r.parameterCount).toBe(2 * V * D + 13 * D * D * L + D * (11 * L + 4)); // 169,342,464
    const matrices = [
      r.weights.emb,
      r.weights.head,
      ...r.weights.blocks.flatMap((b) => [b.att.Wk, b.att.Wo, b.ffn.Wk, b.ffn.Wv]),
    ];
    for (const m of matrices) expect(m.buffer).toBe(bytes.buffer);
    expect(grown).toBeLessThan(16 * 2 ** 20); // the vectors: far below the 646 MiB a copy would take
  });
});
