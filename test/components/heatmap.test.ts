import { describe, expect, it } from "vitest";
import { heatmapScale } from "../../src/components/heatmap.js";

describe("heatmap colour scale", () => {
  it("is symmetric around zero for signed data and ignores non-finite values", () => {
    const s = heatmapScale(Float32Array.of(-1, 0.5, 3, Number.NaN, Infinity), "diverging");
    expect(s.domain[0]).toBe(-s.domain[1]);
    expect(s.domain[1]).toBe(3);
    expect(heatmapScale(Float32Array.of(2, 2), "sequential").domain).toEqual([2, 3]);
  });
});
