/**
 * Chapter 9's page-facing pieces: the reader's request, both traces with one progress count, the live run's
 * reporting and cancellation, the build data's JSON round trip, the badge line, the equations (KaTeX parses
 * them), and the figure builders.
 */
import katex from "katex";
import { describe, expect, it } from "vitest";
import {
  type LiveTrace,
  type MemoryData,
  bothTraces,
  decodeMemoryData,
  encodeMemoryData,
  observeLive,
  observeTraces,
  traceRequest,
  traceStatus,
} from "../../../src/chapters/memory/chapter.js";
import { causalTrace } from "../../../src/chapters/memory/causal-trace.js";
import {
  contextFacets,
  copyFacets,
  orderFacets,
  orderSummary,
  sharedDomain,
  strongestReadout,
  tracePanels,
} from "../../../src/chapters/memory/figures.js";
import { TEX } from "../../../src/chapters/memory/tex.js";
import type { Progress } from "../../../src/chapters/memory/run.js";
import { tinyModels } from "./helpers.js";

const { rwkv, gpt, vocabulary } = tinyModels();
const models = { rwkv, gpt };

describe("traceRequest", () => {
  it("finds the subject's last occurrence and labels the tokens", () => {
    const r = traceRequest("ab ab\nc", "ab", "d", vocabulary);
    expect(r.problems).toEqual([]);
    expect(r.subject).toEqual([3, 5]);
    expect(r.labels).toEqual(["a", "b", "␣", "a", "b", "↵", "c"]);
    expect(r.tokens).toEqual([..."ab ab\nc"].map((c) => vocabulary.indexOf(c)));
    expect(r.target).toEqual([vocabulary.indexOf("d")]);
  });

  it("says what is wrong instead of guessing", () => {
    expect(traceRequest("abc", "x", "d", vocabulary).problems.join()).toMatch(/not in the prompt/);
    expect(traceRequest("abc", "", "d", vocabulary).problems.join()).toMatch(/subject is empty/);
    expect(traceRequest("abc", "a", "", vocabulary).problems.join()).toMatch(/target/);
    expect(traceRequest("ab€", "a", "d", vocabulary).problems.join()).toMatch(/vocabulary/);
    expect(traceRequest("abcdef", "a", "d", vocabulary, 4).problems.join()).toMatch(/at most 4/);
  });
});

describe("both traces and the live run", () => {
  const req = traceRequest("KING HENRY:\nNow", "HENRY", " m", vocabulary);

  it("counts one progress over both models and equals the single-model traces", async () => {
    const seen: Progress[] = [];
    const both = await bothTraces(models, req, { onProgress: (p) => seen.push(p) });
    const L = rwkv.config.nLayer;
    const T = req.tokens.length;
    expect(seen.at(-1)).toMatchObject({ done: 2 * L * T, total: 2 * L * T });
    const single = await causalTrace(
      { kind: "gpt", model: gpt },
      { tokens: req.tokens, subject: req.subject, target: req.target },
    );
    expect(both[1].pRestored).toEqual(single.pRestored);
    expect(both.map((r) => r.model)).toEqual(["rwkv", "gpt"]);
  });

  it("observeTraces reports until done; disposing stops it without a report", async () => {
    const events: LiveTrace[] = [];
    const finished = new Promise<void>((resolve) => {
      observeTraces(
        models,
        req,
        1,
        (s) => {
          events.push(s);
          if (s.done) resolve();
        },
        0,
      );
    });
    await finished;
    const last = events.at(-1)!;
    expect(last.error).toBeNull();
    expect(last.traces).toHaveLength(2);
    expect(
      events.some(
        (e) => e.traces !== null && !e.done && e.traces.some((t) => t.pRestored.some(Number.isNaN)),
      ),
    ).toBe(true);
    const after: LiveTrace[] = [];
    const stop = observeTraces(models, req, 1, (s) => after.push(s), 0);
    stop();
    await stop.finished;
    expect(after.every((s) => !s.done)).toBe(true);
  });
});

describe("build data", () => {
  it("round-trips through JSON, Infinity and typed arrays included", async () => {
    const req = traceRequest("AB:\nc", "AB", "d", vocabulary);
    const traces = await bothTraces(models, req);
    const data: MemoryData = {
      synthetic: false,
      request: { prompt: "AB:\nc", subject: "AB", target: "d" },
      traces,
      probes: {
        copy: [],
        context: [
          {
            model: "RWKV",
            maxLength: Infinity,
            windows: 1,
            seed: 1,
            points: [{ d: 1, dEnd: 2, loss: null }],
          },
        ],
        order: [],
      },
      stateSize: 5760,
      gptPositions: 256,
      computedWith: "test",
      seconds: { a: 1 },
    };
    const back = decodeMemoryData(JSON.parse(JSON.stringify(encodeMemoryData(data))));
    expect(back.traces[0].pRestored).toEqual(traces[0].pRestored);
    expect(back.probes!.context[0].maxLength).toBe(Infinity);
    expect(back.probes!.context[0].points[0].loss).toBeNull();
    const status = traceStatus(null, back);
    expect(status.text).toMatch(/precomputed/);
    expect(status.text).toMatch(/reference \(JS\)/);
  });
});

describe("equations", () => {
  it("parse in KaTeX with the explainer's options and carry their hover links", () => {
    for (const [name, src] of Object.entries(TEX)) {
      const html = katex.renderToString(src, {
        displayMode: true,
        trust: true,
        strict: "ignore",
        throwOnError: true,
      });
      expect(html, name).toContain("data-sym=");
    }
    expect(TEX.corrupt).toContain("(9.1)");
    // "\\nu" written as "\nu" in a plain string would be a newline and a "u": check the symbol really renders
    const corrupt = katex.renderToString(TEX.corrupt, { displayMode: true, trust: true, strict: "ignore" });
    expect(corrupt).toContain("ν");
  });
});

describe("figure builders", () => {
  it("trace panels show P*,clean / P on one scale; the readout names the strongest cell", async () => {
    const req = traceRequest("KING HENRY:\nNow", "HENRY", " m", vocabulary);
    const traces = await bothTraces(models, req);
    const panels = tracePanels(traces, req.labels);
    expect(panels[0].values[7]).toBeCloseTo(traces[0].pRestored[7] / traces[0].pClean, 12);
    const [lo, hi] = sharedDomain(panels);
    expect(lo).toBe(0);
    expect(hi).toBeGreaterThanOrEqual(1);
    expect(hi).toBeGreaterThanOrEqual(Math.max(...panels.flatMap((p) => [...p.values])));
    expect(strongestReadout(traces[0], req.labels, 2)).toHaveLength(2);
  });

  it("probe facets keep only measured points and mark the GPT's positions", () => {
    const stat = (mean: number) => ({ mean, stderr: 0.1, n: 4 });
    const copy = copyFacets([
      {
        model: "GPT",
        maxLength: 256,
        alphabetSize: 64,
        uniformLoss: Math.log(64),
        trials: 4,
        seed: 1,
        cells: [
          { n: 4, d: 0, length: 8, first: stat(4), second: stat(3), gain: stat(1), secondByChar: [] },
          { n: 4, d: 300, length: 308, first: null, second: null, gain: null, secondByChar: null },
        ],
      },
    ]);
    expect(copy).toHaveLength(1);
    expect(copy[0].series[0].points).toEqual([{ x: 0, y: 3, err: 0.1 }]);
    expect(copy[0].rules![0].y).toBeCloseTo(Math.log(64), 12);
    const ctx = contextFacets(
      [
        {
          model: "GPT",
          maxLength: 256,
          windows: 2,
          seed: 1,
          points: [
            { d: 8, dEnd: 16, loss: stat(2) },
            { d: 512, dEnd: 1024, loss: null },
          ],
        },
      ],
      256,
    );
    expect(ctx[0].series[0].points).toHaveLength(1);
    expect(ctx[0].marks![0].x).toBe(256);
    const order = orderFacets([
      {
        model: "RWKV",
        trials: 2,
        seed: 1,
        points: [
          {
            speechLength: 16,
            farDistance: 40,
            far: stat(1),
            near: stat(0.5),
            absent: stat(2),
            orderEffect: stat(0.5),
          },
        ],
      },
    ]);
    expect(order[0].series.map((s) => s.points[0].y)).toEqual([0.5, 1, 2]);
    const sum = orderSummary([
      {
        model: "RWKV",
        trials: 2,
        seed: 1,
        points: [
          {
            speechLength: 16,
            farDistance: 40,
            far: stat(1),
            near: stat(0.5),
            absent: stat(2),
            orderEffect: null,
          },
          {
            speechLength: 64,
            farDistance: 90,
            far: stat(1.5),
            near: stat(0.5),
            absent: stat(2),
            orderEffect: null,
          },
          { speechLength: 900, farDistance: 900, far: null, near: null, absent: null, orderEffect: null },
        ],
      },
    ]);
    expect(sum.RWKV.near).toBeCloseTo(1.5, 12);
    expect(sum.RWKV.far).toBeCloseTo(0.75, 12);
    expect(sum.RWKV.effect).toBeCloseTo(0.75, 12);
  });
});

describe("observeLive", () => {
  const req = traceRequest("AB:\nc", "AB", "d", vocabulary);

  it("does not start when disposed while the models load, and reports a failed load", async () => {
    let release!: (m: typeof models) => void;
    const loading = new Promise<typeof models>((r) => (release = r));
    const seen: LiveTrace[] = [];
    const dispose = observeLive(
      () => loading,
      req,
      1,
      (s) => seen.push(s),
    );
    dispose();
    release(models);
    await loading;
    await Promise.resolve();
    expect(seen).toEqual([]);
    const failed: LiveTrace[] = [];
    observeLive(
      () => Promise.reject(new Error("no weights")),
      req,
      1,
      (s) => failed.push(s),
    );
    await new Promise<void>((r) => queueMicrotask(r));
    await Promise.resolve();
    expect(failed).toHaveLength(1);
    expect(failed[0].done).toBe(true);
    expect(String(failed[0].error)).toMatch(/no weights/);
    expect(traceStatus(failed[0], {} as MemoryData).kind).toBe("error");
  });
});
