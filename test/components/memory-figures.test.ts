/**
 * The pure parts of chapter 9's components: the shared colour scale of the causal-trace heatmaps, their layout
 * (side by side when both fit, else stacked), and the shared extents of the line charts' small multiples.
 */
import { describe, expect, it } from "vitest";
import { rgb } from "d3";
import { traceColor, traceLayout } from "../../src/components/causal-trace.js";
import { facetDomains, symlogTicks } from "../../src/components/memory-lines.js";
import type { TracePanel } from "../../src/chapters/memory/figures.js";

const panel = (L: number, T: number): TracePanel => ({
  model: "rwkv",
  title: "x",
  color: "red",
  values: new Float64Array(L * T),
  L,
  T,
  labels: Array.from({ length: T }, () => "a"),
  subject: [0, 1],
  note: "",
});

describe("causal-trace heatmaps", () => {
  it("one colour scale: darker for more restored, clamped to the domain, nothing for NaN", () => {
    const c = traceColor([0, 1]);
    const lum = (v: number) => {
      const { r, g, b } = rgb(c(v));
      return r + g + b;
    };
    expect(lum(0)).toBeGreaterThan(lum(0.5));
    expect(lum(0.5)).toBeGreaterThan(lum(1));
    expect(c(2)).toBe(c(1));
    expect(c(-1)).toBe(c(0));
    expect(c(NaN)).toBe("none");
  });

  it("sits side by side when both panels fit and stacks on a narrow page", () => {
    expect(traceLayout(900, [panel(6, 64), panel(6, 64)]).columns).toBe(2);
    expect(traceLayout(300, [panel(6, 64), panel(6, 64)]).columns).toBe(1);
    const l = traceLayout(0, [panel(6, 64), panel(6, 64)]); // width 0 before layout: still a drawable size
    expect(l.cellW).toBeGreaterThan(0);
    expect(l.cellH).toBeGreaterThanOrEqual(10);
  });
});

describe("line facets", () => {
  it("share the extents of every series, whisker, rule and mark", () => {
    const d = facetDomains([
      { title: "a", series: [{ name: "s", color: "red", points: [{ x: 1, y: 2, err: 0.5 }] }] },
      {
        title: "b",
        series: [{ name: "t", color: "blue", points: [{ x: 4, y: 5 }] }],
        rules: [{ y: 0.5, label: "r" }],
        marks: [{ x: 256, label: "m" }],
      },
    ]);
    expect(d.x).toEqual([1, 256]);
    expect(d.y[0]).toBeLessThanOrEqual(0.5);
    expect(d.y[1]).toBeGreaterThanOrEqual(5);
    expect(facetDomains([])).toEqual({ x: [0, 1], y: [0, 1.06] });
  });

  it("log-like ticks: 0 and powers inside the domain, none crowding 0", () => {
    expect(symlogTicks([0, 960])).toEqual([0, 4, 16, 64, 256]);
    expect(symlogTicks([1, 1024])).toEqual([1, 4, 16, 64, 256, 1024]);
    expect(symlogTicks([16, 192])).toEqual([16, 32, 64, 128]);
  });
});
