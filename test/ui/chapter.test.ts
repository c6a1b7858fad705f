import { describe, expect, it } from "vitest";
import type { LiveModel, ModelHandle } from "../../src/live/live-model.js";
import { syntheticCard } from "../../src/live/model-source.js";
import { encodePrompt } from "../../src/trace/prompt.js";
import type { TraceView } from "../../src/trace/trace.js";
import { summaryStream } from "../../src/ui/chapter.js";

const card = syntheticCard();
const prompt = encodePrompt("To be", card.vocabulary);
const liveView = { text: prompt.text, source: "live", backend: "wasm", T: prompt.tokens.length } as TraceView;
const model = { trace: async () => liveView } as unknown as LiveModel;

/** A model handle in a given state (what src/live/handle.ts reports); only status and ready are read. */
function handle(status: ModelHandle["status"]): ModelHandle {
  const ready =
    status === "failed"
      ? Promise.reject(new Error("no weights"))
      : status === "off"
        ? new Promise<LiveModel>(() => {})
        : Promise.resolve(model);
  ready.catch(() => {});
  return { card, status, ready, dispose: async () => {} } as ModelHandle;
}

const collect = async <T>(g: AsyncGenerator<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const x of g) out.push(x);
  return out;
};
const summarise = (v: TraceView) => ({ from: v.source, T: v.T });
const pre = { text: prompt.text, from: "precomputed" };

describe("the chapter kit's summary stream (chapter 6: figures read a summary of the trace)", () => {
  it("the default prompt: the precomputed summary at once, then the live trace's summary", async () => {
    expect(await collect(summaryStream(prompt, pre, handle("loading"), summarise))).toEqual([
      pre,
      { from: "live", T: prompt.tokens.length },
    ]);
  });

  it("the live model already ready: only the live summary", async () => {
    expect(await collect(summaryStream(prompt, pre, handle("ready"), summarise))).toEqual([
      { from: "live", T: prompt.tokens.length },
    ]);
  });

  it("the live model off or failed: the precomputed summary stays; without one, null (the page says why)", async () => {
    for (const status of ["off", "failed"] as const) {
      expect(await collect(summaryStream(prompt, pre, handle(status), summarise))).toEqual([pre]);
      expect(await collect(summaryStream(prompt, null, handle(status), summarise))).toEqual([null]);
    }
  });
});
