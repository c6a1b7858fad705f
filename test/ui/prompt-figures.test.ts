import { describe, expect, it } from "vitest";
import type { LiveModel, ModelHandle } from "../../src/live/live-model.js";
import { syntheticCard } from "../../src/live/model-source.js";
import { encodePrompt, type EncodedPrompt } from "../../src/trace/prompt.js";
import type { TraceView } from "../../src/trace/trace.js";
import { PromptFigures, type FigureBox } from "../../src/ui/prompt-figures.js";

const card = syntheticCard();
const encode = (text: string) => encodePrompt(text, card.vocabulary);
const viewOf = (prompt: EncodedPrompt) =>
  ({ text: prompt.text, T: prompt.tokens.length, source: "live", backend: "wasm" }) as TraceView;

/** A box that records what it was given (what the page's <div> would show). */
class Box implements FigureBox<string> {
  shown: string[] = [];
  replaceChildren(...content: string[]): void {
    this.shown = content;
  }
}

/** A ready model whose traces resolve when the test says (or at once). */
function setup({ status = "ready" as ModelHandle["status"], manual = false } = {}) {
  const pending: (() => void)[] = [];
  const traced: string[] = [];
  const model = {
    trace: (prompt: EncodedPrompt) => {
      traced.push(prompt.text);
      const view = viewOf(prompt);
      return manual ? new Promise<TraceView>((r) => pending.push(() => r(view))) : Promise.resolve(view);
    },
  } as unknown as LiveModel;
  const handle = { status, ready: Promise.resolve(model) };
  const boxes: Box[] = [];
  const figures = new PromptFigures<string>({
    encode,
    handle,
    token: (view) => view.T - 1,
    container: () => {
      const box = new Box();
      boxes.push(box);
      return box;
    },
  });
  const draws: string[] = [];
  const draw = (view: TraceView, token: number) => {
    const s = `${view.text}@${token}`;
    draws.push(s);
    return s;
  };
  return { figures, boxes, draws, draw, traced, pending };
}

describe("figures that follow the prompt box (chapter 5's state heatmaps)", () => {
  it("a page cell draws once per (trace, token, inputs): a rerun with the same ones keeps the drawing", () => {
    const { figures, draws, draw, boxes } = setup();
    const v = viewOf(encode("To be"));
    const box = figures.figure("state", v, 4, [1, 2], draw);
    expect(boxes).toEqual([box]);
    expect(figures.figure("state", { ...v }, 4, [1, 2], draw)).toBe(box);
    expect(draws).toEqual(["To be@4"]);
    figures.figure("state", v, 2, [1, 2], draw); // another token
    figures.figure("state", v, 2, [0, 2], draw); // another layer
    expect(draws).toEqual(["To be@4", "To be@2", "To be@2"]);
    expect((box as Box).shown).toEqual(["To be@2"]);
  });

  it("a keystroke redraws from the input event; the reactive update for that text then draws nothing", async () => {
    const { figures, draws, draw, boxes, traced } = setup();
    figures.figure("state", viewOf(encode("To b")), 3, [1], draw);
    expect(await figures.input("To be")).toBe(1);
    expect(traced).toEqual(["To be"]);
    expect(draws).toEqual(["To b@3", "To be@4"]);
    expect(boxes[0].shown).toEqual(["To be@4"]);
    figures.figure("state", viewOf(encode("To be")), 4, [1], draw);
    expect(draws).toHaveLength(2);
    expect(figures.stats).toEqual({ fast: 1, reactive: 1, skipped: 1 });
  });

  it("a reactive update older than the prompt box is not drawn over the newer figure", async () => {
    const { figures, draws, draw, boxes } = setup();
    figures.figure("state", viewOf(encode("To")), 1, [1], draw);
    await figures.input("To be");
    figures.figure("state", viewOf(encode("To b")), 3, [1], draw); // the runtime still catching up
    expect(boxes[0].shown).toEqual(["To be@4"]);
    expect(draws).toEqual(["To@1", "To be@4"]);
    // a change of the figure's own inputs for the current text is drawn
    figures.figure("state", viewOf(encode("To be")), 4, [2], draw);
    expect(boxes[0].shown).toEqual(["To be@4"]);
    expect(draws).toEqual(["To@1", "To be@4", "To be@4"]);
  });

  it("of two quick keystrokes only the later one draws, even when the earlier trace arrives last", async () => {
    const { figures, draws, draw, pending } = setup({ manual: true });
    figures.figure("state", viewOf(encode("To")), 1, [], draw);
    const first = figures.input("To ");
    const second = figures.input("To b");
    await new Promise((r) => setTimeout(r, 0));
    expect(pending).toHaveLength(2);
    pending[1]();
    expect(await second).toBe(1);
    pending[0]();
    expect(await first).toBe(0);
    expect(draws).toEqual(["To@1", "To b@3"]);
  });

  it("before the model is ready, or for an empty prompt, the keystroke leaves the figures to the page", async () => {
    for (const [status, text] of [
      ["loading", "To be"],
      ["ready", "###"],
    ] as const) {
      const { figures, draws, draw, traced } = setup({ status });
      figures.figure("state", viewOf(encode("To")), 1, [], draw);
      expect(await figures.input(text)).toBe(0);
      expect(traced).toEqual([]);
      figures.figure("state", viewOf(encode("To b")), 3, [], draw); // the reactive update draws
      expect(draws).toEqual(["To@1", "To b@3"]);
    }
  });

  it("a drawing that throws on the fast path is left for the page's cell (which shows the error)", async () => {
    const { figures, draws } = setup();
    let fail = false;
    const draw = (view: TraceView, token: number) => {
      if (fail) throw new Error("no");
      draws.push(`${view.text}@${token}`);
      return `${view.text}@${token}`;
    };
    figures.figure("state", viewOf(encode("To")), 1, [], draw);
    fail = true;
    expect(await figures.input("To b")).toBe(0);
    fail = false;
    figures.figure("state", viewOf(encode("To b")), 3, [], draw);
    expect(draws).toEqual(["To@1", "To b@3"]);
  });

  it("the page's trace stream waits for a paint only for the text the keystroke already drew", async () => {
    const { figures, draw } = setup();
    const frames: string[] = [];
    const paced = new PromptFigures<string>({
      encode,
      handle: {
        status: "ready",
        ready: Promise.resolve({ trace: async (p: EncodedPrompt) => viewOf(p) } as unknown as LiveModel),
      },
      token: (view) => view.T - 1,
      container: () => new Box(),
      nextFrame: async () => {
        frames.push("frame");
      },
    });
    paced.figure("state", viewOf(encode("To")), 1, [], draw);
    await paced.input("To b");
    async function* stream() {
      yield viewOf(encode("To b"));
      yield viewOf(encode("To be"));
      yield null;
    }
    const seen: (string | null)[] = [];
    for await (const v of paced.follow(stream())) seen.push(v ? v.text : null);
    expect(seen).toEqual(["To b", "To be", null]);
    expect(frames).toEqual(["frame"]); // only before "To b", the drawn one
    // without nextFrame (or nothing drawn by a keystroke) the stream passes through unchanged
    const plain: (string | null)[] = [];
    for await (const v of figures.follow(stream())) plain.push(v ? v.text : null);
    expect(plain).toEqual(["To b", "To be", null]);
  });

  it("a drawing is given what its box shows, and one redrawn in place is not put in again", async () => {
    const { figures, boxes } = setup();
    const given: (string | null)[] = [];
    let puts = 0;
    const draw = (view: TraceView, token: number, previous: string | null) => {
      given.push(previous);
      return previous ?? `${view.text}@${token}`; // "in place": the same drawing back
    };
    figures.figure("state", viewOf(encode("To")), 1, [], draw);
    const box = boxes[0];
    const put = box.replaceChildren.bind(box);
    box.replaceChildren = (...c: string[]) => {
      puts++;
      put(...c);
    };
    expect(await figures.input("To b")).toBe(1);
    expect(given).toEqual([null, "To@1"]);
    expect(puts).toBe(0);
    expect(box.shown).toEqual(["To@1"]);
  });

  it("a trace the model has at once is drawn before the engine's, which then replaces it", async () => {
    const engine: (() => void)[] = [];
    const quickly = (prompt: EncodedPrompt) =>
      prompt.text.length <= 5 ? { ...viewOf(prompt), backend: "reference (JS)" as const } : undefined;
    const figures = new PromptFigures<string>({
      encode,
      handle: {
        status: "ready",
        ready: Promise.resolve({
          quickTrace: quickly,
          trace: (p: EncodedPrompt) => new Promise<TraceView>((r) => engine.push(() => r(viewOf(p)))),
        } as unknown as LiveModel),
      },
      token: (view) => view.T - 1,
      container: () => new Box(),
    });
    const draws: string[] = [];
    const draw = (view: TraceView, token: number) => {
      const s = `${view.text}@${token} ${view.backend}`;
      draws.push(s);
      return s;
    };
    figures.figure("state", viewOf(encode("To b")), 3, [], draw);
    const typed = figures.input("To be");
    await Promise.resolve(); // the keystroke's own microtasks: the quick trace is drawn, the engine still runs
    await Promise.resolve();
    expect(draws).toEqual(["To b@3 wasm", "To be@4 reference (JS)"]);
    engine.shift()!();
    expect(await typed).toBe(2);
    expect(draws).toEqual(["To b@3 wasm", "To be@4 reference (JS)", "To be@4 wasm"]);
    // the reactive update with the engine's trace finds it drawn
    figures.figure("state", viewOf(encode("To be")), 4, [], draw);
    expect(draws).toHaveLength(3);
    // two keystrokes, both quick: the first one's engine answer, superseded, is not drawn over the second's
    const one = figures.input("To b");
    await new Promise((r) => setTimeout(r, 0)); // drawn from the quick trace; the engine still runs
    const two = figures.input("To be");
    await new Promise((r) => setTimeout(r, 0));
    expect(draws.slice(3)).toEqual(["To b@3 reference (JS)", "To be@4 reference (JS)"]);
    engine.shift()!();
    expect(await one).toBe(1); // its quick drawing only
    expect(draws).toHaveLength(5);
    engine.shift()!();
    expect(await two).toBe(2);
    expect(draws.at(-1)).toBe("To be@4 wasm");
    // no quick trace (a long addition): only the engine's
    const longer = figures.input("To be or");
    await new Promise((r) => setTimeout(r, 0));
    engine.shift()!();
    expect(await longer).toBe(1);
    expect(draws.at(-1)).toBe("To be or@7 wasm");
  });
});
