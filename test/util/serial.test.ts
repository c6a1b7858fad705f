import { describe, expect, it } from "vitest";
import { commonPrefixLength } from "../../src/util/prefix.js";
import { SerialQueue } from "../../src/util/serial.js";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("SerialQueue", () => {
  it("runs calls one after another, in order, even when an earlier one is slower", async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const slow = q.run(async () => {
      log.push("a start");
      await tick();
      await tick();
      log.push("a end");
      return 1;
    });
    const fast = q.run(async () => {
      log.push("b start");
      log.push("b end");
      return 2;
    });
    expect(await Promise.all([slow, fast])).toEqual([1, 2]);
    expect(log).toEqual(["a start", "a end", "b start", "b end"]);
  });

  it("a rejection reaches its caller and does not block the next call", async () => {
    const q = new SerialQueue();
    const bad = q.run(async () => {
      throw new Error("boom");
    });
    const good = q.run(() => 7);
    await expect(bad).rejects.toThrow("boom");
    expect(await good).toBe(7);
  });

  it("lock() holds the queue until released (async generators)", async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const release = await q.lock();
    const after = q.run(() => log.push("run"));
    await tick();
    expect(log).toEqual([]);
    release();
    await after;
    expect(log).toEqual(["run"]);
    await q.idle();
  });
});

describe("commonPrefixLength", () => {
  it("counts the equal leading tokens", () => {
    expect(commonPrefixLength([1, 2, 3], [1, 2, 4, 5])).toBe(2);
    expect(commonPrefixLength([], [1])).toBe(0);
    expect(commonPrefixLength([1, 2], [1, 2])).toBe(2);
    expect(commonPrefixLength([1, 2, 3], [1, 2])).toBe(2);
    expect(commonPrefixLength([9], [1, 2])).toBe(0);
  });
});
