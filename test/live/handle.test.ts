import { describe, expect, it, vi } from "vitest";
import { startHandle } from "../../src/live/handle.js";

describe("startHandle: one lifecycle for everything a page loads", () => {
  it("goes loading -> ready, with the load time and the value", async () => {
    const h = startHandle(async () => 42);
    expect(h.status).toBe("loading");
    expect(await h.ready).toBe(42);
    expect(h.status).toBe("ready");
    expect(typeof h.loadMs).toBe("number");
    expect(h.fallbackReason).toBeUndefined();
  });

  it("a failed load sets status and error, and its rejection is handled", async () => {
    const h = startHandle(async () => {
      throw new Error("no bytes");
    });
    await expect(h.ready).rejects.toThrow("no bytes");
    expect(h.status).toBe("failed");
    expect(h.error?.message).toBe("no bytes");
  });

  it("reports a fallback reason, fixed or live", async () => {
    let ep = "webgpu";
    const h = startHandle(async (setFallback) => {
      setFallback(() => (ep === "wasm" ? "the GPU device was lost" : undefined));
      return 1;
    });
    await h.ready;
    expect(h.fallbackReason).toBeUndefined();
    ep = "wasm";
    expect(h.fallbackReason).toBe("the GPU device was lost");
  });

  it("off: never settles and never loads", async () => {
    const load = vi.fn(async () => 1);
    const h = startHandle(load, { off: true });
    expect(h.status).toBe("off");
    const settled = await Promise.race([
      h.ready.then(() => "settled"),
      new Promise((r) => setTimeout(() => r("pending"), 20)),
    ]);
    expect(settled).toBe("pending");
    expect(load).not.toHaveBeenCalled();
  });

  it("dispose releases the loaded value once, also when called while loading", async () => {
    const released: number[] = [];
    const h = startHandle(async () => 5, { dispose: (v) => void released.push(v) });
    const d = h.dispose();
    await h.ready;
    await d;
    await h.dispose();
    expect(released).toEqual([5]);
  });
});
