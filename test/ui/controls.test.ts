import { describe, expect, it } from "vitest";
import { snapToRange } from "../../src/ui/controls.js";

describe("snapToRange: a value from the address, onto a slider's range and step", () => {
  const range = { min: 8, max: 8192, step: 8 };
  it("keeps a value on the grid, rounds one between to the nearest step", () => {
    expect(snapToRange(1024, range)).toBe(1024);
    expect(snapToRange(1027, range)).toBe(1024);
    expect(snapToRange(1029, range)).toBe(1032);
  });
  it("clamps to the ends, and stays on the grid: the last step at or under the maximum", () => {
    expect(snapToRange(-5, range)).toBe(8);
    expect(snapToRange(1e9, range)).toBe(8192);
    expect(snapToRange(10, { min: 0, max: 10, step: 3 })).toBe(9);
    expect(snapToRange(11, { min: 0, max: 10, step: 4 })).toBe(8);
  });
  it("has no answer for what is not a finite number", () => {
    expect(snapToRange(Number.NaN, range)).toBeUndefined();
    expect(snapToRange(Infinity, range)).toBeUndefined();
  });
});
