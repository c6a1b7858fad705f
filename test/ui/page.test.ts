/** Full screen's fit (src/ui/page.ts fullscreenZoom): a figure grows to fill the screen, or shrinks to fit it. */
import { describe, expect, it } from "vitest";
import { fullscreenZoom } from "../../src/ui/page.js";

describe("fullscreenZoom", () => {
  const screen = { width: 1280, height: 720 };
  it("enlarges a small figure until its width or its height reaches the margin", () => {
    // 600 × 300: the width limits (1280 / 600 = 2.133 < 720 / 300 = 2.4)
    expect(fullscreenZoom({ width: 600, height: 300 }, screen)).toBeCloseTo(2.1333, 4);
    // a figure already the screen's width (presenter mode) is not made smaller
    expect(fullscreenZoom({ width: 1248, height: 560 }, screen)).toBeGreaterThan(1);
    // 400 × 400: the height limits (720 / 400 = 1.8)
    expect(fullscreenZoom({ width: 400, height: 400 }, screen)).toBeCloseTo(1.8, 6);
  });
  it("never shrinks a figure taller than the screen (it scrolls), and leaves an empty one alone", () => {
    expect(fullscreenZoom({ width: 960, height: 1000 }, screen)).toBe(1);
    expect(fullscreenZoom({ width: 0, height: 0 }, screen)).toBe(1);
  });
});
