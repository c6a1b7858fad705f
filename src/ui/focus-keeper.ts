/**
 * Keyboard focus across a cell's re-run. Framework replaces a cell's output when the cell runs again, so a control
 * made by a cell that depends on something else (chapter 5's token picker on the trace, its channel slider on the
 * layer) is a new element after each change. If the old one held the focus, the focus falls to the page, and the
 * reader's next ← or → turns the chapter (src/ui/presenter.ts) instead of moving the control. The keeper moves the
 * focus to the new control once it is on the page, to the same tab stop inside it (the token picker's current
 * character; a control with one tab stop, such as the slider's range, gets it back on that one).
 *
 *   const keeper = new FocusKeeper(document)
 *   keeper.adopt(key, element)   element is now the control of `key` (the view-state key, src/ui/chapter.ts)
 *
 * Two ways a re-run takes the control away: Framework swaps the cell's output once the cell has run (the old control
 * holds the focus when the new one is made), or the cell's first display() clears its output before it makes the
 * control (the focus has already fallen; a focusin listener remembers which control held it). The focus is moved
 * only if it is still lost (on the page's body) when the new control arrives: a reader who has clicked or tabbed
 * elsewhere meanwhile keeps their choice. DOM-light (the few members below), for unit tests.
 */

/** The members of an element the keeper reads. */
export interface FocusTarget {
  readonly isConnected: boolean;
  contains(other: unknown): boolean;
  focus(options?: { preventScroll?: boolean }): void;
  querySelectorAll(selectors: string): ArrayLike<FocusTarget & { tabIndex: number }>;
  matches(selectors: string): boolean;
  tabIndex: number;
}

export interface FocusDocument {
  readonly activeElement: unknown;
  readonly body: unknown;
  addEventListener(type: "focusin" | "focusout", listener: (event: { target: unknown }) => void): void;
}

/** Elements that can take the focus by keyboard (tab stops when their tabIndex is >= 0). */
const FOCUSABLE = "input, select, textarea, button, [tabindex]";

/** The frames the keeper waits for the new control to replace the old one (Framework does it within one or two). */
const MAX_FRAMES = 60;

/** The element's tab stops, itself first if it is one. */
export function tabStops(el: FocusTarget): FocusTarget[] {
  const inside = Array.from(el.querySelectorAll(FOCUSABLE)).filter(
    (e) => e.tabIndex >= 0 && !(e as { disabled?: boolean }).disabled,
  );
  return el.matches(FOCUSABLE) && el.tabIndex >= 0 ? [el, ...inside] : inside;
}

/** which of the control's tab stops `target` is (0 if none) */
function stopOf(control: FocusTarget, target: unknown): number {
  return Math.max(0, tabStops(control).indexOf(target as FocusTarget));
}

interface Held {
  key: string;
  control: FocusTarget;
  /** which of the control's tab stops */
  stop: number;
}

export class FocusKeeper {
  private readonly current = new Map<string, FocusTarget>();
  /** the control that holds the focus, or held it when it was taken off the page */
  private held: Held | null = null;
  /** per key, the control that lost the focus, while its replacement is awaited */
  private readonly lost = new Map<string, Held>();
  /** focus moves made (tests read it) */
  readonly stats = { kept: 0 };

  constructor(
    private readonly doc: FocusDocument,
    private readonly nextFrame: (callback: () => void) => void = (cb) => requestAnimationFrame(() => cb()),
  ) {
    doc.addEventListener("focusin", ({ target }) => (this.held = this.holder(target)));
    // the focus left the control: by the reader's doing if it is still on the page (forget it; a move inside the
    // control, from one character of the token picker to the next, is no leaving), else it was taken off with it
    // (remember it for a while: its replacement may come a few frames later)
    doc.addEventListener("focusout", ({ target }) =>
      queueMicrotask(() => {
        const held = this.held;
        const t = target as FocusTarget | null;
        if (!held || !t || !held.control.contains(t)) return;
        if (!t.isConnected) this.expire(held);
        else if (!held.control.contains(this.doc.activeElement)) this.held = null;
      }),
    );
  }

  adopt<E extends FocusTarget>(key: string, el: E): E {
    const previous = this.current.get(key);
    this.current.set(key, el);
    const active = this.doc.activeElement;
    const dropped = active === null || active === this.doc.body;
    if (previous && previous !== el && active && previous.contains(active)) {
      // the old control still on the page, with the focus: it goes when Framework swaps the cell's output
      this.lost.set(key, { key, control: previous, stop: stopOf(previous, active) });
    } else if (
      dropped &&
      this.held?.key === key &&
      this.held.control !== el &&
      !this.held.control.isConnected
    ) {
      // the cell cleared its output (an earlier display() of the re-run) before it made this control
      this.lost.set(key, this.held);
      this.held = null; // claimed: the wait below restores it
    }
    const lost = this.lost.get(key);
    if (!lost) return el;
    this.watch(
      () => {
        if (this.current.get(key) !== el) return true; // a newer control took over the wait
        if (!el.isConnected || lost.control.isConnected) return false;
        this.lost.delete(key);
        const now = this.doc.activeElement;
        if (now === null || now === this.doc.body) {
          const stops = tabStops(el);
          (stops[lost.stop] ?? stops[0] ?? el).focus({ preventScroll: true });
          this.stats.kept++;
        }
        return true;
      },
      () => this.lost.delete(key),
    );
    return el;
  }

  /** forget a control taken off the page if no replacement has claimed its focus within MAX_FRAMES frames */
  private expire(held: Held): void {
    this.watch(
      () => this.held !== held,
      () => (this.held = null),
    );
  }

  /** `done()` on each of the next MAX_FRAMES frames until it returns true; then `giveUp()` if it never did */
  private watch(done: () => boolean, giveUp: () => void): void {
    let frames = 0;
    const tick = () => {
      if (done()) return;
      if (++frames < MAX_FRAMES) this.nextFrame(tick);
      else giveUp();
    };
    this.nextFrame(tick);
  }

  /** the adopted control that contains `target`, and which of its tab stops `target` is */
  private holder(target: unknown): Held | null {
    for (const [key, control] of this.current) {
      if (control.contains(target)) {
        return { key, control, stop: stopOf(control, target) };
      }
    }
    return null;
  }
}
