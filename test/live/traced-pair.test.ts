/** Chapter 9's pair of reference models behind one handle (src/live/traced-pair.ts). */
import { describe, expect, it } from "vitest";
import { startHandle } from "../../src/live/handle.js";
import type { LiveModel, ModelHandle } from "../../src/live/live-model.js";
import { openTracedPair, readyOrOff } from "../../src/live/traced-pair.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import type { GptModel } from "../../src/transformer/gpt.js";

const weights = syntheticWeights({ nLayer: 2, nEmbd: 16, ffnSize: 32, vocabSize: 11, layerNormEps: 1e-5 }, 0);
const gpt = { config: { nLayer: 1 } } as unknown as GptModel;
const chapterHandle = (load: () => Promise<LiveModel>, off = false) =>
  startHandle(load, { off }) as unknown as ModelHandle;

describe("openTracedPair", () => {
  it("builds the reference RWKV from the chapter handle's weights, with the GPT beside it", async () => {
    const pair = openTracedPair(
      chapterHandle(async () => ({ weights }) as unknown as LiveModel),
      async () => gpt,
    );
    const { rwkv, gpt: g } = await readyOrOff(pair);
    expect(rwkv.weights).toBe(weights);
    expect(rwkv.step(3).logits.length).toBe(11);
    expect(g).toBe(gpt);
    expect(pair.status).toBe("ready");
  });

  it("is off when the chapter's handle is off, and a live run is told so at once", async () => {
    const pair = openTracedPair(
      chapterHandle(async () => ({ weights }) as unknown as LiveModel, true),
      async () => gpt,
    );
    expect(pair.status).toBe("off");
    await expect(readyOrOff(pair)).rejects.toThrow(/switched off/);
  });

  it("fails when either model fails to load", async () => {
    const pair = openTracedPair(
      chapterHandle(async () => ({ weights }) as unknown as LiveModel),
      async () => Promise.reject(new Error("no GPT file")),
    );
    await expect(readyOrOff(pair)).rejects.toThrow("no GPT file");
    expect(pair.status).toBe("failed");
  });
});
