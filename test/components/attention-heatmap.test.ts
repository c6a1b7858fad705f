import { describe, expect, it } from "vitest";
import { cellOpacity, tokenLabel } from "../../src/components/attention-heatmap.js";

describe("heatmap helpers", () => {
  it("opacity is 0 for masked cells, grows with the weight, and saturates at 1", () => {
    expect(cellOpacity(0, "log")).toBe(0);
    expect(cellOpacity(1, "log")).toBeCloseTo(1, 9);
    expect(cellOpacity(1e-6, "log")).toBeCloseTo(0.04, 9);
    expect(cellOpacity(0.01, "log")).toBeGreaterThan(cellOpacity(0.001, "log"));
    expect(cellOpacity(0.5, "linear")).toBeCloseTo(0.52, 9);
  });
  it("makes whitespace visible on the axes", () => {
    expect([" ", "\n", "a"].map(tokenLabel)).toEqual(["␣", "↵", "a"]);
  });
});
