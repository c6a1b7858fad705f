import { describe, expect, it } from "vitest";
import { MIN_FIGURE_WIDTH, usableWidth } from "../../src/components/size.js";

describe("usableWidth (Framework's width before layout)", () => {
  it("keeps a real width, raises 0, negatives and NaN to the minimum", () => {
    expect(usableWidth(900)).toBe(900);
    expect(usableWidth(0)).toBe(MIN_FIGURE_WIDTH);
    expect(usableWidth(-5)).toBe(MIN_FIGURE_WIDTH);
    expect(usableWidth(Number.NaN)).toBe(MIN_FIGURE_WIDTH);
  });
});
