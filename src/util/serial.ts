/**
 * One call at a time: `serial.run(fn)` starts fn after every earlier call has settled (resolved or rejected) and
 * returns fn's own promise, so a failure reaches its caller and never blocks the calls behind it. Used wherever
 * one stateful engine (a worker's kept state, a trace cache, an ONNX session) must not see interleaved calls.
 * A leaf module: it imports nothing, so every folder may import it (docs/architecture.md).
 *
 * API:
 *   new SerialQueue()
 *   run<T>(fn: () => Promise<T> | T) -> Promise<T>
 *   idle() -> Promise<void>                 settles when every call queued so far has settled
 *   lock() -> Promise<() => void>           for async generators: await the turn, call the release when done
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  idle(): Promise<void> {
    return this.tail.then(() => undefined);
  }

  async lock(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => held);
    await previous;
    return release;
  }
}
