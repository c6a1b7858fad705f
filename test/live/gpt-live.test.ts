/**
 * Chapter 2's live transformer (openGpt): the precomputed attention shows at once for the default prompt, the
 * live attention follows every prompt and equals the whole-prompt forward of the JS transformer, a prompt it
 * cannot take gives null with the reason, ?live=0 keeps it off, and a worker that cannot start falls back to the
 * JS transformer with a reason (Node has no Worker: the fallback path runs here).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { encodeGptAttention, type GptAttention } from "../../src/chapters/attention.js";
import { gptAttention } from "../../src/live/gpt-attention.js";
import { openGpt, type GptFile, type GptFiles } from "../../src/live/gpt-live.js";
import { gptFromCard, syntheticGptCard } from "../../src/live/gpt-source.js";
import { encodePrompt, TINY_SHAKESPEARE_VOCABULARY } from "../../src/trace/prompt.js";

const card = syntheticGptCard();
const model = gptFromCard(card, null);
const vocabulary = TINY_SHAKESPEARE_VOCABULARY;
const DEFAULT = "KING:\nNo more";
const defaultPrompt = encodePrompt(DEFAULT, vocabulary);
const precomputed = gptAttention(model, defaultPrompt.tokens, {
  text: defaultPrompt.text,
  synthetic: true,
  source: "precomputed",
});

const file = (json: unknown, href = "x"): GptFile => ({
  json: async () => json,
  arrayBuffer: async () => new ArrayBuffer(0),
  href,
});

function files(withRuntime = false): GptFiles {
  return {
    card: file({ synthetic: true }),
    weights: file(null),
    precomputed: file(JSON.parse(JSON.stringify(encodeGptAttention(precomputed)))),
    ...(withRuntime ? { worker: file(null, "worker.js"), wasm: file(null, "ort.wasm") } : {}),
  };
}

async function all(gen: AsyncGenerator<GptAttention | null>): Promise<(GptAttention | null)[]> {
  const out: (GptAttention | null)[] = [];
  for await (const v of gen) out.push(v);
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("openGpt", () => {
  it("the default prompt: precomputed at once, then live; another prompt: live, equal to the whole forward", async () => {
    const gpt = await openGpt(files());
    expect(gpt.warning).toMatch(/synthetic GPT \(untrained\) stand-in/);
    expect(gpt.handle.status).toBe("loading");
    const first = await all(gpt.stream(defaultPrompt, vocabulary));
    expect(first.map((a) => a?.source)).toEqual(["precomputed", "live"]);
    expect(maxDiff(first[1]!.data, precomputed.data)).toBeLessThan(1e-6);
    expect(first[1]!.backend).toBe("reference (JS)");
    expect(gpt.handle.fallbackReason).toBeUndefined(); // no runtime files given: the JS transformer is the plan

    const other = encodePrompt("ROMEO:\nBut soft", vocabulary);
    const live = await all(gpt.stream(other, vocabulary));
    expect(live).toHaveLength(1); // no precomputed attention for this prompt
    const want = gptAttention(model, other.tokens, { text: other.text, synthetic: true });
    expect(live[0]!.text).toBe(other.text);
    expect(maxDiff(live[0]!.data, want.data)).toBeLessThan(1e-6);
    expect(gpt.problem).toBeNull();
    await gpt.dispose();
  });

  it("a prompt it cannot take gives null, and note() says why", async () => {
    const gpt = await openGpt(files());
    const long = encodePrompt("a".repeat(model.config.blockSize + 1), vocabulary);
    expect(await all(gpt.stream(long, vocabulary))).toEqual([null]);
    expect(gpt.note()).toBe(
      `The transformer's attention is not shown: the prompt is longer than its context of ${model.config.blockSize} characters.`,
    );
    expect(await all(gpt.stream(encodePrompt("abc", vocabulary), "abc"))).toEqual([null]);
    expect(gpt.note()).toMatch(/vocabulary differs/);
    expect(await all(gpt.stream(encodePrompt("", vocabulary), vocabulary))).toEqual([null]);
  });

  it("?live=0: only the precomputed attention, for the default prompt only", async () => {
    vi.stubGlobal("location", { search: "?live=0" });
    const gpt = await openGpt(files(true));
    expect(gpt.handle.status).toBe("off");
    expect((await all(gpt.stream(defaultPrompt, vocabulary))).map((a) => a?.source)).toEqual(["precomputed"]);
    expect(await all(gpt.stream(encodePrompt("Hello", vocabulary), vocabulary))).toEqual([null]);
    expect(gpt.note()).toMatch(/live models are off/);
  });

  it("a worker that cannot start: the JS transformer, with the reason", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const gpt = await openGpt(files(true));
    const [, live] = await all(gpt.stream(defaultPrompt, vocabulary));
    expect(live!.backend).toBe("reference (JS)");
    expect(maxDiff(live!.data, precomputed.data)).toBeLessThan(1e-6);
    expect(gpt.handle.fallbackReason).toMatch(/onnxruntime-web could not start the transformer/);
    expect(warn).toHaveBeenCalledWith(gpt.handle.fallbackReason);
  });

  it("while the model loads, the note says so", async () => {
    const gpt = await openGpt(files());
    expect(gpt.note()).toMatch(/still being computed/);
  });
});
