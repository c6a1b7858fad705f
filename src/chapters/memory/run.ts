/**
 * What every long computation of chapter 9 shares: progress reports, cancellation by AbortSignal, and giving
 * the event loop a turn now and then so that a page stays responsive while the reference model (plain JS on the
 * main thread) works.
 *
 * API:
 *   interface Progress {done, total, phase}
 *   interface RunOptions {signal?, onProgress?}
 *   class Pacer           pacer.tick(done) reports progress and yields when `sliceMs` has passed;
 *                         pacer.breathe() only yields (inside a long unit of work)
 *   throwIfAborted(signal)
 *   yieldToEventLoop()
 */

export interface Progress {
  /** units of work done (cells of a causal trace, runs of a probe) */
  done: number;
  total: number;
  /** what is being computed, for a status line ("RWKV: sample 1 of 3") */
  phase: string;
}

export interface RunOptions {
  /** abort to stop: the promise rejects with the signal's reason (an AbortError by default) */
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** the longest stretch of work between two turns of the event loop, in ms (default 25) */
  sliceMs?: number;
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (!signal?.aborted) return;
  throw signal.reason ?? new DOMException("The computation was aborted", "AbortError");
}

/** Let other tasks run (input, painting): a macrotask turn, via MessageChannel where there is one. */
export function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel === "function") {
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());

/** Progress, cancellation and yielding for one computation of `total` units. */
export class Pacer {
  private last = now();
  constructor(
    private readonly total: number,
    private readonly opts: RunOptions = {},
  ) {
    throwIfAborted(opts.signal);
  }

  /** Inside a unit of work: yield to the event loop when a slice has passed; throw if aborted. */
  async breathe(): Promise<void> {
    if (now() - this.last >= (this.opts.sliceMs ?? 25)) {
      await yieldToEventLoop();
      this.last = now();
      throwIfAborted(this.opts.signal);
    }
  }

  /** Report `done` units in `phase`; yield to the event loop when a slice has passed; throw if aborted. */
  async tick(done: number, phase: string): Promise<void> {
    this.opts.onProgress?.({ done, total: this.total, phase });
    if (now() - this.last >= (this.opts.sliceMs ?? 25)) {
      await yieldToEventLoop();
      this.last = now();
    }
    throwIfAborted(this.opts.signal);
  }
}
