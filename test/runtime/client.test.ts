/**
 * The page side of the model worker (src/runtime/client.ts) against a stand-in Worker: a worker that never answers
 * its init is stopped after `initTimeoutMs` and `create` rejects with a "timeout" error (the page then falls back
 * instead of saying "loading" for ever); one that answers in time is kept; `dispose` stops a hung worker after its
 * grace period instead of waiting for ever.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  DISPOSE_GRACE_MS,
  GptWorkerClient,
  RwkvWorkerClient,
  SMALL_MODEL_INIT_MS,
  TraceWorkerClient,
} from "../../src/runtime/client.js";
import { OrtRwkvError } from "../../src/runtime/errors.js";

/** A Worker that records what it is sent and answers only when `answer` says so. */
class StandInWorker {
  onmessage: ((e: MessageEvent) => void) | null = null;
  onerror: ((e: ErrorEvent) => void) | null = null;
  sent: { type: string; id: number }[] = [];
  terminated = false;
  postMessage(m: { type: string; id: number }): void {
    this.sent.push(m);
  }
  terminate(): void {
    this.terminated = true;
  }
  answer(id: number, result: unknown): void {
    this.onmessage?.({ data: { id, ok: true, result } } as MessageEvent);
  }
}

const initResult = {
  ep: "wasm",
  threads: 1,
  threadsReason: "one thread",
  engine: "ort",
  config: { nLayer: 1, nEmbd: 4, vocabSize: 8 },
  buildSeconds: 0.1,
};
const source = { weights: {} } as never;

/** `create` on a stand-in worker, with `initTimeoutMs` when given; what it settles with (the client or the error). */
function start(worker: StandInWorker, initTimeoutMs?: number): Promise<RwkvWorkerClient | unknown> {
  return RwkvWorkerClient.create({
    worker: worker as unknown as Worker,
    wasmUrl: "ort.wasm",
    source,
    ...(initTimeoutMs ? { initTimeoutMs } : {}),
  }).then(
    (client) => client,
    (e: unknown) => e,
  );
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("a model worker that never answers its init", () => {
  it("is stopped after initTimeoutMs and create rejects with a timeout error that says so", async () => {
    const worker = new StandInWorker();
    const outcome = start(worker, 10_000);
    await vi.advanceTimersByTimeAsync(9_999);
    expect(worker.terminated).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    const error = await outcome;
    expect(error).toBeInstanceOf(OrtRwkvError);
    expect((error as OrtRwkvError).code).toBe("timeout");
    expect((error as Error).message).toMatch(/did not start within 10 s/);
    expect(worker.terminated).toBe(true);
    expect(worker.sent.map((m) => m.type)).toEqual(["init"]);
  });

  it("the GPT and trace workers take the same limit", async () => {
    for (const create of [
      (w: Worker) =>
        GptWorkerClient.create({ worker: w, wasmUrl: "x.wasm", source: {} as never, initTimeoutMs: 5_000 }),
      (w: Worker) =>
        TraceWorkerClient.create({ worker: w, wasmUrl: "x.wasm", source: {} as never, initTimeoutMs: 5_000 }),
    ]) {
      const worker = new StandInWorker();
      const outcome = create(worker as unknown as Worker).then(
        () => "resolved",
        (e: unknown) => e,
      );
      await vi.advanceTimersByTimeAsync(4_999);
      expect(worker.terminated).toBe(false);
      await vi.advanceTimersByTimeAsync(2);
      expect(((await outcome) as OrtRwkvError).code).toBe("timeout");
      expect(worker.terminated).toBe(true);
    }
  });

  it("without a limit it waits (a full-size checkpoint may take minutes)", async () => {
    const worker = new StandInWorker();
    let settled = false;
    void RwkvWorkerClient.create({
      worker: worker as unknown as Worker,
      wasmUrl: "ort.wasm",
      source,
    }).finally(() => (settled = true));
    await vi.advanceTimersByTimeAsync(10 * SMALL_MODEL_INIT_MS);
    expect(settled).toBe(false);
    expect(worker.terminated).toBe(false);
  });
});

describe("a model worker that fails to start within the limit", () => {
  it("crashing: create rejects with the crash at once, the limit's timer is cleared, the worker stopped", async () => {
    const worker = new StandInWorker();
    const outcome = start(worker, SMALL_MODEL_INIT_MS);
    worker.onerror?.({ message: "wasm instantiation failed" } as ErrorEvent);
    // the clean-up's "dispose" is not answered either: the grace period, then the worker is stopped
    await vi.advanceTimersByTimeAsync(DISPOSE_GRACE_MS + 1);
    expect(((await outcome) as Error).message).toMatch(/model worker crashed: wasm instantiation failed/);
    expect(worker.terminated).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("answering with an error: create rejects with it and no timer is left", async () => {
    const worker = new StandInWorker();
    const outcome = start(worker, SMALL_MODEL_INIT_MS);
    worker.onmessage?.({
      data: { id: worker.sent[0].id, ok: false, error: { name: "Error", message: "bad checkpoint" } },
    } as MessageEvent);
    // the clean-up's "dispose", answered
    await vi.advanceTimersByTimeAsync(0);
    expect(worker.sent.at(-1)?.type).toBe("dispose");
    worker.answer(worker.sent.at(-1)!.id, undefined);
    expect(((await outcome) as Error).message).toMatch(/bad checkpoint/);
    expect(worker.terminated).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("a model worker that answers in time", () => {
  it("is kept, and later calls go to it", async () => {
    const worker = new StandInWorker();
    const created = RwkvWorkerClient.create({
      worker: worker as unknown as Worker,
      wasmUrl: "ort.wasm",
      source,
      initTimeoutMs: SMALL_MODEL_INIT_MS,
    });
    await vi.advanceTimersByTimeAsync(SMALL_MODEL_INIT_MS - 1);
    worker.answer(worker.sent[0].id, initResult);
    const client = await created;
    expect(vi.getTimerCount()).toBe(0); // the limit's timer is cleared with the answer
    await vi.advanceTimersByTimeAsync(2 * SMALL_MODEL_INIT_MS);
    expect(worker.terminated).toBe(false);
    expect(client.ep).toBe("wasm");
    const reset = client.reset();
    expect(worker.sent.at(-1)?.type).toBe("reset");
    worker.answer(worker.sent.at(-1)!.id, undefined);
    await expect(reset).resolves.toBeUndefined();
  });
});

describe("dispose", () => {
  async function started(): Promise<{ worker: StandInWorker; client: RwkvWorkerClient }> {
    const worker = new StandInWorker();
    const created = RwkvWorkerClient.create({
      worker: worker as unknown as Worker,
      wasmUrl: "ort.wasm",
      source,
    });
    worker.answer(worker.sent[0].id, initResult);
    return { worker, client: await created };
  }

  it("stops a worker that does not answer within the grace period, and later calls reject", async () => {
    const { worker, client } = await started();
    const pending = client.reset().catch((e: Error) => e.message);
    let done = false;
    void client.dispose().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(DISPOSE_GRACE_MS - 1);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(done).toBe(true);
    expect(worker.terminated).toBe(true);
    expect(await pending).toBe("this model was disposed");
    await expect(client.reset()).rejects.toThrow(/disposed/);
  });

  it("stops a worker as soon as it has released its sessions", async () => {
    const { worker, client } = await started();
    const disposed = client.dispose();
    const again = client.dispose(); // a second caller waits for the same release
    expect(worker.sent.map((m) => m.type)).toEqual(["init", "dispose"]);
    worker.answer(worker.sent.at(-1)!.id, undefined);
    await Promise.all([disposed, again]);
    expect(worker.terminated).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
});
