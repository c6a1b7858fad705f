import { describe, expect, it } from "vitest";
import { LoadMachine, type LoadContext } from "../../src/full-size/state.js";

interface Req {
  seq: number;
  name: string;
}

class Model {
  disposed = 0;
  constructor(readonly name: string) {}
  dispose(): void {
    this.disposed++;
  }
}

/** A load function whose loads the test settles by hand. */
function controlled() {
  const loads = new Map<number, { ctx: LoadContext; resolve(m: Model): void; reject(e: Error): void }>();
  const load = (req: Req, ctx: LoadContext) =>
    new Promise<Model>((resolve, reject) => {
      ctx.name(req.name);
      loads.set(req.seq, { ctx, resolve, reject });
    });
  return { load, loads };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("LoadMachine: the loaded model stays until another is ready", () => {
  it("a load goes starting -> its progress -> ready, and the model becomes current", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load);
    expect(m.snapshot()).toEqual({ seq: -1, phase: "idle" });
    m.request({ seq: 0, name: "small" });
    expect(m.snapshot()).toMatchObject({ seq: 0, phase: "starting", pending: { seq: 0, name: "small" } });
    loads.get(0)!.ctx.progress({ phase: "building", message: "Building…" });
    expect(m.snapshot().phase).toBe("building");
    const small = new Model("small");
    loads.get(0)!.resolve(small);
    await flush();
    const s = m.snapshot();
    expect(s.phase).toBe("ready");
    expect(s.pending).toBeUndefined();
    expect(s.current).toMatchObject({ seq: 0, name: "small", model: small });
    expect(s.current!.loadMs).toBeGreaterThanOrEqual(0);
  });

  it("a failed load leaves the model before loaded and working, and says what failed", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load, { message: (e) => `said: ${(e as Error).message}` });
    m.request({ seq: 0, name: "small" });
    const small = new Model("small");
    loads.get(0)!.resolve(small);
    await flush();
    m.request({ seq: 1, name: "broken.pth" });
    expect(m.snapshot()).toMatchObject({ phase: "starting", current: { model: small } });
    loads.get(1)!.reject(new Error("truncated"));
    await flush();
    expect(m.snapshot()).toEqual({
      seq: 1,
      phase: "error",
      current: expect.objectContaining({ seq: 0, model: small }),
      failed: { seq: 1, name: "broken.pth", message: "said: truncated" },
    });
    expect(small.disposed).toBe(0);
    // the next request clears the failure
    m.request({ seq: 2, name: "again" });
    expect(m.snapshot().failed).toBeUndefined();
  });

  it("a new model replaces the current one only when ready, and the one before is disposed then", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load);
    m.request({ seq: 0, name: "a" });
    const a = new Model("a");
    loads.get(0)!.resolve(a);
    await flush();
    m.request({ seq: 1, name: "b" });
    await flush();
    expect(a.disposed).toBe(0);
    expect(m.snapshot().current?.model).toBe(a);
    const b = new Model("b");
    loads.get(1)!.resolve(b);
    await flush();
    expect(m.snapshot().current?.model).toBe(b);
    expect(a.disposed).toBe(1);
    expect(b.disposed).toBe(0);
  });

  it("a newer request aborts the load in flight; what that load still makes is disposed, never shown", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load);
    m.request({ seq: 0, name: "slow" });
    m.request({ seq: 1, name: "fast" });
    expect(loads.get(0)!.ctx.signal.aborted).toBe(true);
    expect(loads.get(1)!.ctx.signal.aborted).toBe(false);
    const fast = new Model("fast");
    loads.get(1)!.resolve(fast);
    const slow = new Model("slow");
    loads.get(0)!.resolve(slow); // finished anyway, after it was superseded
    await flush();
    expect(m.snapshot().current?.model).toBe(fast);
    expect(slow.disposed).toBe(1);
    // a superseded load that fails is not reported either
    m.request({ seq: 2, name: "x" });
    m.request({ seq: 3, name: "y" });
    loads.get(2)!.reject(new Error("aborted"));
    await flush();
    expect(m.snapshot()).toMatchObject({ seq: 3, phase: "starting" });
    expect(m.snapshot().failed).toBeUndefined();
  });

  it("stop() aborts the load in flight; the model before stays", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load);
    m.request({ seq: 0, name: "a" });
    const a = new Model("a");
    loads.get(0)!.resolve(a);
    await flush();
    m.request({ seq: 1, name: "big" });
    const ctx = loads.get(1)!.ctx;
    ctx.signal.addEventListener("abort", () => loads.get(1)!.reject(new Error("the download was stopped")));
    m.stop();
    await flush();
    expect(m.snapshot()).toMatchObject({
      phase: "error",
      current: { model: a },
      failed: { message: "the download was stopped" },
    });
  });

  it("the handle's fallback reason reaches the snapshot (live: it may change after a lost device)", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load);
    m.request({ seq: 0, name: "a" });
    let reason: string | undefined = "no WebGPU adapter";
    loads.get(0)!.ctx.setFallback(() => reason);
    loads.get(0)!.resolve(new Model("a"));
    await flush();
    expect(m.snapshot().current?.fallbackReason).toBe("no WebGPU adapter");
    reason = undefined;
    expect(m.snapshot().current?.fallbackReason).toBeUndefined();
  });

  it("idle() settles once no load is in flight", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load);
    await m.idle(); // nothing in flight
    m.request({ seq: 0, name: "a" });
    let idle = false;
    void m.idle().then(() => (idle = true));
    await flush();
    expect(idle).toBe(false);
    m.request({ seq: 1, name: "b" }); // superseded: still loading
    await flush();
    expect(idle).toBe(false);
    loads.get(1)!.reject(new Error("bad"));
    await flush();
    expect(idle).toBe(true);
  });

  it("models() yields only when the loaded model changes (not on progress or failed loads)", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load, { minIntervalMs: 0 });
    const seen: string[] = [];
    const it = m.models();
    const pump = (async () => {
      for await (const slot of it) {
        seen.push(slot.current ? slot.current.model.name : `none, waiting ${slot.waiting}`);
        if (seen.length === 4) return;
      }
    })();
    await flush();
    m.request({ seq: 0, name: "a" });
    await flush();
    loads.get(0)!.ctx.progress({ phase: "reading", message: "…" });
    loads.get(0)!.resolve(new Model("a"));
    await flush();
    m.request({ seq: 1, name: "bad" });
    loads.get(1)!.ctx.progress({ phase: "building", message: "…" });
    loads.get(1)!.reject(new Error("x"));
    await flush();
    m.request({ seq: 2, name: "b" });
    loads.get(2)!.resolve(new Model("b"));
    await pump;
    expect(seen).toEqual(["none, waiting false", "none, waiting true", "a", "b"]);
  });

  it("changes() coalesces progress to one snapshot per interval and shows the end of a load at once", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load, { minIntervalMs: 60 });
    m.request({ seq: 0, name: "a" });
    const seen: string[] = [];
    const it = m.changes();
    const pump = (async () => {
      for await (const s of it) {
        seen.push(
          s.phase === "download" ? `download ${(s.pending!.progress as { loaded: number }).loaded}` : s.phase,
        );
        if (s.phase === "ready") return;
      }
    })();
    await flush();
    const ctx = loads.get(0)!.ctx;
    for (let i = 1; i <= 50; i++)
      ctx.progress({ phase: "download", file: "f", loaded: i, bytesPerSecond: 1 });
    await new Promise((r) => setTimeout(r, 100));
    loads.get(0)!.resolve(new Model("a"));
    await pump;
    expect(seen[0]).toBe("starting");
    expect(seen.at(-1)).toBe("ready");
    // 50 progress calls in one go: a snapshot or two, the last one with all 50 bytes
    const downloads = seen.filter((x) => x.startsWith("download"));
    expect(downloads.length).toBeGreaterThanOrEqual(1);
    expect(downloads.length).toBeLessThanOrEqual(2);
    expect(downloads.at(-1)).toBe("download 50");
  });

  it("dispose() aborts the load in flight and disposes the loaded model", async () => {
    const { load, loads } = controlled();
    const m = new LoadMachine<Req, Model>(load);
    m.request({ seq: 0, name: "a" });
    const a = new Model("a");
    loads.get(0)!.resolve(a);
    await flush();
    m.request({ seq: 1, name: "b" });
    m.dispose();
    await flush();
    expect(loads.get(1)!.ctx.signal.aborted).toBe(true);
    expect(a.disposed).toBe(1);
    expect(m.snapshot().current).toBeUndefined();
  });
});
