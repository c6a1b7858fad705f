import { describe, expect, it } from "vitest";
import { FocusKeeper, tabStops, type FocusTarget } from "../../src/ui/focus-keeper.js";

/** A stand-in page: elements with children, a body, and the focused element. */
class Page {
  activeElement: unknown;
  readonly body = new El("body", this, -1);
  private readonly listeners: Record<string, ((event: { target: unknown }) => void)[]> = {};
  constructor() {
    this.activeElement = this.body;
  }
  addEventListener(type: string, listener: (event: { target: unknown }) => void): void {
    (this.listeners[type] ??= []).push(listener);
  }
  fire(type: string, target: unknown): void {
    for (const l of this.listeners[type] ?? []) l({ target });
  }
}

class El implements FocusTarget {
  children: El[] = [];
  parent: El | null = null;
  disabled = false;
  constructor(
    readonly name: string,
    readonly page: Page,
    public tabIndex = 0,
    readonly focusable = true,
  ) {}
  get isConnected(): boolean {
    return this.parent === this.page.body || (this.parent !== null && this.parent.isConnected);
  }
  append(...kids: El[]): this {
    for (const k of kids) {
      k.parent = this;
      this.children.push(k);
    }
    return this;
  }
  remove(): void {
    const had = this.contains(this.page.activeElement) ? this.page.activeElement : null;
    if (this.parent) this.parent.children = this.parent.children.filter((c) => c !== this);
    this.parent = null;
    if (had) {
      this.page.activeElement = this.page.body;
      this.page.fire("focusout", had);
    }
  }
  contains(other: unknown): boolean {
    return other === this || this.children.some((c) => c.contains(other));
  }
  focus(): void {
    const was = this.page.activeElement;
    if (was !== this.page.body) this.page.fire("focusout", was);
    this.page.activeElement = this;
    this.page.fire("focusin", this);
  }
  matches(): boolean {
    return this.focusable;
  }
  querySelectorAll(): El[] {
    return this.children.flatMap((c) => [...(c.focusable ? [c] : []), ...c.querySelectorAll()]);
  }
}

/** A token picker: a box of character buttons with a roving tab stop (only the current one has tabIndex 0). */
function picker(page: Page, current: number, n = 5): El {
  const box = new El("picker", page, -1, false);
  for (let i = 0; i < n; i++) box.append(new El(`char ${i}`, page, i === current ? 0 : -1));
  return box;
}

function setup() {
  const page = new Page();
  const frames: (() => void)[] = [];
  const keeper = new FocusKeeper(page, (cb) => frames.push(cb));
  const flush = (n = 1) => {
    for (let i = 0; i < n; i++) frames.splice(0).forEach((cb) => cb());
  };
  return { page, keeper, frames, flush };
}

describe("FocusKeeper: the focus stays on a control that a cell's re-run replaces", () => {
  it("a focused token picker replaced by a new one: the new one's current character gets the focus", () => {
    const { page, keeper, flush } = setup();
    const old = keeper.adopt("token", picker(page, 4));
    page.body.append(old);
    old.children[4].focus();
    const next = keeper.adopt("token", picker(page, 4));
    flush(); // Framework has not swapped the cell's output yet
    expect(page.activeElement).toBe(old.children[4]);
    old.remove(); // the swap: the focus falls to the page
    page.body.append(next);
    expect(page.activeElement).toBe(page.body);
    flush();
    expect(page.activeElement).toBe(next.children[4]);
    expect(keeper.stats.kept).toBe(1);
  });

  it("a cell that clears its output before it makes the control (display() first): the focus comes back", async () => {
    const { page, keeper, flush } = setup();
    const old = keeper.adopt("token", picker(page, 2));
    page.body.append(old);
    old.children[2].focus();
    old.remove(); // the re-run's first display() clears the cell's output
    await Promise.resolve(); // the focusout check
    expect(page.activeElement).toBe(page.body);
    const next = keeper.adopt("token", picker(page, 3));
    page.body.append(next);
    flush();
    expect(page.activeElement).toBe(next.children[3]);
  });

  it("a move inside the control (one character of the picker to the next) does not make the keeper forget it", async () => {
    const { page, keeper, flush } = setup();
    const old = keeper.adopt("token", picker(page, 2));
    page.body.append(old);
    old.children[2].focus();
    old.children[3].focus(); // ← →: focusout of one character, focusin of the next
    await Promise.resolve();
    old.remove();
    await Promise.resolve();
    const next = keeper.adopt("token", picker(page, 3));
    page.body.append(next);
    flush();
    expect(page.activeElement).toBe(next.children[3]);
  });

  it("a control taken off the page with no replacement is forgotten after a while", async () => {
    const { page, keeper, flush } = setup();
    const old = keeper.adopt("token", picker(page, 2));
    page.body.append(old);
    old.children[2].focus();
    old.remove();
    await Promise.resolve();
    flush(100); // a second and more: no new picker came
    const later = keeper.adopt("token", picker(page, 2));
    page.body.append(later);
    flush();
    expect(page.activeElement).toBe(page.body);
  });

  it("a control the reader left (focus moved to the page, the control still there) takes nothing back", async () => {
    const { page, keeper, flush } = setup();
    const old = keeper.adopt("token", picker(page, 2));
    page.body.append(old);
    old.children[2].focus();
    page.activeElement = page.body; // a click on the page's background
    page.fire("focusout", old.children[2]);
    await Promise.resolve();
    old.remove();
    const next = keeper.adopt("token", picker(page, 3));
    page.body.append(next);
    flush();
    expect(page.activeElement).toBe(page.body);
  });

  it("the same tab stop inside a control with several (a slider's range and its number box)", () => {
    const { page, keeper, flush } = setup();
    const make = () =>
      new El("slider", page, -1, false).append(new El("range", page), new El("number", page));
    const old = keeper.adopt("channel", make());
    page.body.append(old);
    old.children[1].focus();
    const next = keeper.adopt("channel", make());
    old.remove();
    page.body.append(next);
    flush();
    expect(page.activeElement).toBe(next.children[1]);
  });

  it("a control that did not hold the focus is replaced without taking it", () => {
    const { page, keeper, flush, frames } = setup();
    const prompt = new El("prompt", page);
    page.body.append(prompt);
    prompt.focus();
    const old = keeper.adopt("token", picker(page, 1));
    page.body.append(old);
    const next = keeper.adopt("token", picker(page, 2));
    expect(frames).toHaveLength(0); // nothing to watch
    old.remove();
    page.body.append(next);
    flush();
    expect(page.activeElement).toBe(prompt);
  });

  it("a reader who moved the focus elsewhere before the new control arrived keeps it", () => {
    const { page, keeper, flush } = setup();
    const other = new El("layer", page);
    page.body.append(other);
    const old = keeper.adopt("token", picker(page, 0));
    page.body.append(old);
    old.children[0].focus();
    const next = keeper.adopt("token", picker(page, 0));
    old.remove();
    other.focus();
    page.body.append(next);
    flush();
    expect(page.activeElement).toBe(other);
    expect(keeper.stats.kept).toBe(0);
  });

  it("two re-runs before the swap: only the newest control takes the focus; the wait is bounded", () => {
    const { page, keeper, flush, frames } = setup();
    const old = keeper.adopt("token", picker(page, 0));
    page.body.append(old);
    old.children[0].focus();
    const stale = keeper.adopt("token", picker(page, 0));
    const newest = keeper.adopt("token", picker(page, 0)); // the old one still holds the focus: watched too
    old.remove();
    page.body.append(newest);
    flush();
    expect(page.activeElement).toBe(newest.children[0]);
    expect(stale.contains(page.activeElement)).toBe(false);
    // a control that never arrives: the keeper stops asking for frames
    newest.children[0].focus();
    keeper.adopt("token", picker(page, 0));
    flush(100);
    expect(frames).toHaveLength(0);
  });

  it("tabStops skips disabled and negative-tabIndex elements", () => {
    const page = new Page();
    const box = new El("box", page, -1, false);
    const off = new El("off", page);
    off.disabled = true;
    box.append(new El("a", page, -1), off, new El("b", page, 0));
    expect(tabStops(box).map((e) => (e as El).name)).toEqual(["b"]);
  });
});
