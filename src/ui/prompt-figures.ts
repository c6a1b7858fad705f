/**
 * Figures that follow the prompt box without waiting for the page's reactive update. Framework recomputes a page
 * on animation frames: a keystroke reaches a figure of the trace only after the prompt's new value, the trace cell,
 * the token picker and the figure's cell have each had their turn, two or three frames (33-50 ms) even when
 * nothing is slow. Here the prompt box's `input` event traces the new text at once (the live model extends its
 * last trace by the appended token: src/trace/trace.ts TraceCache) and redraws the figures registered with it in
 * place; the reactive update that follows finds them drawn for what it would draw and leaves them alone.
 *
 *   const figures = new PromptFigures({encode, handle, token, container})
 *   figures.figure(key, view, token, deps, draw) -> container   for a page cell: draw(view, token, previous) into the key's
 *       container unless it already shows (view, token, deps); a view older than the prompt box is not drawn
 *   await figures.input(text) -> number   the prompt box's input event: the drawings made (0 when the model is
 *       not ready, the prompt is empty, or a later keystroke came before anything was drawn). A trace the model
 *       has at once (LiveModel.quickTrace: a prefix of the last one, or an edit that leaves at most two tokens
 *       after the first change, typically a character typed at the end, run on the reference model in the page)
 *       is drawn first, in the keystroke's own frame; the engine's trace then replaces it.
 *
 *   figures.follow(stream)   the page's trace stream, each trace the figures here already show for the prompt box's
 *       text passed on only after `nextFrame()` (the browser paints them before the page's other cells run)
 *
 * `token(view)` is the token the page's picker will start at for that view (the last one while the reader has not
 * picked another). DOM-free: `container()` makes a figure's box, anything with replaceChildren.
 */
import type { ModelHandle } from "../live/live-model.js";
import type { EncodedPrompt } from "../trace/prompt.js";
import type { TraceView } from "../trace/trace.js";

export interface FigureBox<C> {
  replaceChildren(...content: C[]): void;
}

/** draw(view, token, previous): the figure, or `previous` (what the box shows) redrawn in place */
export type DrawFigure<C> = (view: TraceView, token: number, previous: C | null) => C;

interface Entry<C> {
  box: FigureBox<C>;
  /** what the box shows (drawnKey), and how to draw it again for a new view */
  shown: string;
  deps: readonly unknown[];
  draw: DrawFigure<C>;
  /** what the box holds */
  content: C | null;
}

export interface PromptFiguresOptions<C> {
  encode(text: string): EncodedPrompt;
  handle: Pick<ModelHandle, "status" | "ready">;
  token(view: TraceView): number;
  container(): FigureBox<C>;
  /** resolves once the browser has painted (a frame, then a task); none: no wait */
  nextFrame?: () => Promise<void>;
}

/** What a figure shows: the trace (text, length, where it ran), the token, and the drawing's other inputs. */
export function drawnKey(view: TraceView, token: number, deps: readonly unknown[]): string {
  return JSON.stringify([view.text, view.T, view.source, view.backend, token, ...deps]);
}

export class PromptFigures<C> {
  private readonly entries = new Map<string, Entry<C>>();
  /** the text of the latest keystroke traced here (the prompt box's value, encoded) */
  private latest: string | undefined;
  private seq = 0;
  /** the text whose trace the last keystroke drew here */
  private fastText: string | undefined;
  readonly stats = { fast: 0, reactive: 0, skipped: 0 };

  constructor(private readonly o: PromptFiguresOptions<C>) {}

  figure(
    key: string,
    view: TraceView,
    token: number,
    deps: readonly unknown[],
    draw: DrawFigure<C>,
  ): FigureBox<C> {
    let entry = this.entries.get(key);
    if (!entry)
      this.entries.set(key, (entry = { box: this.o.container(), shown: "", deps, draw, content: null }));
    entry.deps = deps;
    entry.draw = draw;
    const wanted = drawnKey(view, token, deps);
    if (entry.shown === wanted || (this.latest !== undefined && view.text !== this.latest)) {
      this.stats.skipped++;
      return entry.box;
    }
    this.show(entry, draw(view, token, entry.content));
    entry.shown = wanted;
    this.stats.reactive++;
    return entry.box;
  }

  async input(text: string): Promise<number> {
    const seq = ++this.seq;
    const prompt = this.o.encode(text);
    if (!prompt.tokens.length || this.o.handle.status !== "ready" || this.entries.size === 0) {
      this.latest = undefined; // the reactive update draws whatever comes
      return 0;
    }
    this.latest = prompt.text;
    this.fastText = undefined;
    let drawn = 0;
    let view: TraceView;
    try {
      const model = await this.o.handle.ready;
      // a prefix of the last trace, or a character typed at the end: drawn in this keystroke's frame
      const quick = model.quickTrace?.(prompt);
      if (quick && seq === this.seq) {
        drawn += this.drawAll(quick);
        this.fastText = quick.text;
      }
      view = await model.trace(prompt);
    } catch {
      if (seq === this.seq) this.latest = undefined; // the reactive update shows why
      return 0;
    }
    if (seq !== this.seq) return drawn; // a later keystroke draws its own
    drawn += this.drawAll(view); // nothing when the quick trace was the engine's (a prefix)
    this.fastText = view.text;
    return drawn;
  }

  /** every registered figure drawn for `view`, unless it already shows it; the number drawn */
  private drawAll(view: TraceView): number {
    const token = this.o.token(view);
    let drawn = 0;
    for (const entry of this.entries.values()) {
      const wanted = drawnKey(view, token, entry.deps);
      if (entry.shown === wanted) continue;
      try {
        this.show(entry, entry.draw(view, token, entry.content));
        entry.shown = wanted;
        drawn++;
      } catch {
        entry.shown = ""; // the page's own cell draws it again, with its error handling
      }
    }
    this.stats.fast += drawn;
    return drawn;
  }

  /** put a drawing in its box (a drawing redrawn in place is already there) */
  private show(entry: Entry<C>, content: C): void {
    if (content !== entry.content) entry.box.replaceChildren(content);
    entry.content = content;
  }

  async *follow<V extends TraceView | null>(stream: AsyncIterable<V>): AsyncGenerator<V> {
    for await (const view of stream) {
      if (view && this.o.nextFrame && this.fastText === view.text) await this.o.nextFrame();
      yield view;
    }
  }
}
