import katex from "katex";
import { describe, expect, it } from "vitest";
import {
  PAPER_169M,
  TEX,
  TRY_IT_DEFAULTS,
  bytesLabel,
  kvPassesState,
  memoryRows,
  memoryShapes,
  siBytes,
  stateMeterData,
  trainingNote,
} from "../../src/chapters/overview.js";
import { formatBytes } from "../../src/full-size/full-size.js";
import { countStateNumbers } from "../../src/live/live-model.js";
import { syntheticCard } from "../../src/live/model-source.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";

const config = { nLayer: 3, nEmbd: 8, ffnSize: 32, vocabSize: 7, layerNormEps: 1e-5 };

/** KaTeX with the options of src/ui/page.ts (EQ): \htmlData needs `trust`. */
const render = (tex: string) =>
  katex.renderToString(tex, { displayMode: true, trust: true, strict: "ignore", throwOnError: true });

describe("chapter 1: the state meter's numbers", () => {
  it("the RWKV side is the size of the state the model really carries, at every length", () => {
    const model = new RwkvModel(syntheticWeights(config, 3));
    let state = model.initialState();
    for (const [T, tok] of [1, 2, 3, 4, 5].entries()) {
      state = model.step(tok, state).state;
      const d = stateMeterData({ nLayer: 3, nEmbd: 8, T: T + 1 });
      expect(d.rwkvNumbers).toBe(countStateNumbers(state));
      expect(d.kvNumbers).toBe(2 * 3 * (T + 1) * 8); // a key and a value of C per layer per token
    }
  });

  it("the paper's 169M model: 46,080 numbers of state, 18,874,368 in a KV cache at T = 1024", () => {
    expect(PAPER_169M).toMatchObject({ nLayer: 12, nEmbd: 768, T: 1024, rwkvNumbers: 46_080 });
    expect(PAPER_169M.kvNumbers).toBe(18_874_368);
    expect(PAPER_169M.rwkvSize).toBe("184 kB"); // 46,080 × 4 bytes / 1000
    expect(PAPER_169M.kvSize).toBe("75.5 MB"); // 18,874,368 × 4 / 10^6
    expect(() => stateMeterData({ nLayer: 1, nEmbd: 1, T: -1 })).toThrow(RangeError);
    expect(() => stateMeterData({ nLayer: 1, nEmbd: 1, T: 1.5 })).toThrow(RangeError);
    expect(stateMeterData({ nLayer: 1, nEmbd: 1, T: 0, measuredState: 5 }).measuredState).toBe(5);
  });

  it("bytesLabel: fp32 bytes in SI units (1 kB = 1000 B), 3 significant digits", () => {
    expect(bytesLabel(249)).toBe("996 B");
    expect(bytesLabel(250)).toBe("1.00 kB");
    expect(bytesLabel(5120)).toBe("20.5 kB"); // the tiny model's state: 5 · 4 · 256 numbers
    expect(bytesLabel(249_999)).toBe("1000 kB");
    expect(bytesLabel(250_000)).toBe("1.00 MB");
    expect(siBytes(-1)).toBe("?");
  });

  it("one unit system: chapter 1 writes every size as the full-size page does", () => {
    for (const n of [0, 999, 1000, 1500, 20_480, 184_320, 75_497_472, 338_718_755, 3.2e9]) {
      expect(siBytes(n)).toBe(formatBytes(n));
    }
  });

  it("memoryRows: the state (5·L·C) and the KV cache (2·L·T·C) in fp32 bytes at T = 1024 and 8192", () => {
    const rows = memoryRows(memoryShapes({ nLayer: 4, nEmbd: 256 }));
    expect(rows.map((r) => [r.nLayer, r.nEmbd, r.T])).toEqual([
      [4, 256, 1024],
      [4, 256, 8192],
      [12, 768, 1024],
      [12, 768, 8192],
    ]);
    for (const r of rows) {
      expect(r.stateBytes).toBe(4 * 5 * r.nLayer * r.nEmbd);
      expect(r.kvBytes).toBe(4 * 2 * r.nLayer * r.T * r.nEmbd);
      expect(r.ratio).toBeCloseTo((2 * r.T) / 5, 12);
    }
    expect(rows[3]).toMatchObject({ stateLabel: "184 kB", kvLabel: "604 MB" }); // 4 · 2 · 12 · 8192 · 768
    expect(rows[0].model).toContain("4 × 256");
  });

  it("kvPassesState is the first length at which the cache holds more numbers than the state", () => {
    for (const [nLayer, nEmbd] of [
      [1, 1],
      [4, 256],
      [12, 768],
    ]) {
      let T = 0;
      while (2 * nLayer * T * nEmbd <= 5 * nLayer * nEmbd) T++;
      expect(kvPassesState({ nLayer, nEmbd })).toBe(T);
    }
  });

  it("the try-it box's defaults: real-valued sampling settings, an integer seed and length", () => {
    expect(Number.isInteger(TRY_IT_DEFAULTS.temperature)).toBe(false); // read back as reals from the URL
    expect(Number.isInteger(TRY_IT_DEFAULTS.topP)).toBe(false);
    expect(Number.isInteger(TRY_IT_DEFAULTS.seed) && Number.isInteger(TRY_IT_DEFAULTS.n)).toBe(true);
  });
});

describe("chapter 1: the trained model's card", () => {
  const card = {
    name: "tiny-rwkv",
    synthetic: false,
    vocabulary: "ab",
    raw: {
      parameters: 1234567,
      training: { training_time_s: 301.6 },
      results: { validation_continuous: { nats_per_char: 1.4567, bits_per_char: 2.1015 } },
      corpus: { chars: 1000 },
      split: { train_chars: [0, 850] },
    },
  };

  it("formats size, training time and validation loss", () => {
    expect(trainingNote(card)).toEqual({
      parameters: "1,234,567",
      seconds: "302",
      nats: "1.46",
      bits: "2.10",
      trainShare: "85%",
      validationShare: "15%",
    });
  });

  it("says nothing for synthetic weights or a card without the numbers", () => {
    expect(trainingNote(syntheticCard())).toBeNull();
    expect(trainingNote({ ...card, raw: { parameters: 5 } })).toBeNull();
    expect(trainingNote({ ...card, raw: undefined })).toBeNull();
  });
});

describe("chapter 1's equations", () => {
  it("render in KaTeX, with Eq. 16's and the recurrence's symbols hover-linked", () => {
    const wkv = render(TEX.wkv);
    for (const s of ["wkv", "w", "u", "k", "v"]) expect(wkv).toContain(`data-sym="${s}"`);
    expect(TEX.wkv).toContain("\\tag{16}");
    const rec = render(TEX.recurrent);
    for (const s of ["wkv", "a", "b", "w", "u", "k", "v"]) expect(rec).toContain(`data-sym="${s}"`);
  });
});
