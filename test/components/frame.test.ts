import { create } from "d3";
import { describe, expect, it } from "vitest";
import {
  MIN_FIGURE_WIDTH,
  frame,
  frameSize,
  layerColor,
  layerLegend,
  panelGrid,
  usableWidth,
} from "../../src/components/frame.js";
import { FakeElement, withFakeDocument } from "../helpers/fake-dom.js";

describe("usableWidth (Framework's width before layout)", () => {
  it("keeps a real width, raises 0, negatives and NaN to the minimum", () => {
    expect(usableWidth(900)).toBe(900);
    expect(usableWidth(0)).toBe(MIN_FIGURE_WIDTH);
    expect(usableWidth(-5)).toBe(MIN_FIGURE_WIDTH);
    expect(usableWidth(Number.NaN)).toBe(MIN_FIGURE_WIDTH);
    expect(usableWidth(300, 320)).toBe(320);
    expect(usableWidth(Number.NaN, 320)).toBe(320);
  });
});

describe("frameSize", () => {
  it("puts the plot area inside the margins: the svg is the plot's height plus the top and bottom margins", () => {
    const s = frameSize({ width: 500, height: 200, margin: { top: 10, right: 20, bottom: 30, left: 40 } });
    expect(s).toMatchObject({ width: 500, height: 240, left: 40, right: 480, top: 10, bottom: 210 });
    expect(s.right - s.left).toBe(500 - 20 - 40);
    expect(s.bottom - s.top).toBe(200);
  });

  it("draws at the minimum width while Framework's width is 0, and has no margins unless asked", () => {
    expect(frameSize({ width: 0, height: 100 })).toMatchObject({
      width: MIN_FIGURE_WIDTH,
      height: 100,
      left: 0,
      right: MIN_FIGURE_WIDTH,
      top: 0,
      bottom: 100,
    });
    expect(frameSize({ width: 100, height: 1, minWidth: 320 }).width).toBe(320);
  });
});

describe("panelGrid", () => {
  const columns = [
    [1000, 5],
    [640, 3],
    [420, 2],
  ] as const;

  it("takes the first breakpoint the width reaches, and fills the width with the columns and gaps", () => {
    const g = panelGrid(5, 1100, { gap: 18, panelHeight: 100, columns });
    expect([g.cols, g.rows, g.height]).toEqual([5, 1, 100]);
    expect(5 * g.panelWidth + 4 * 18).toBeCloseTo(1100, 9);
    expect(g.x(4) + g.panelWidth).toBeCloseTo(1100, 9);
  });

  it("wraps into rows, row-major", () => {
    const g = panelGrid(5, 710, { gap: 10, panelHeight: 80, columns });
    expect([g.cols, g.rows, g.height, g.panelWidth]).toEqual([3, 2, 160, 230]); // (710 - 2 gaps) / 3
    expect([0, 1, 2, 3, 4].map((i) => [g.x(i), g.y(i)])).toEqual([
      [0, 0],
      [240, 0],
      [480, 0],
      [0, 80],
      [240, 80],
    ]);
  });

  it("uses one column below every breakpoint, and never more columns than panels", () => {
    const narrow = panelGrid(3, 300, { gap: 10, panelHeight: 50, columns });
    expect([narrow.cols, narrow.rows, narrow.panelWidth, narrow.y(2)]).toEqual([1, 3, 300, 100]);
    const few = panelGrid(2, 1200, { gap: 20, panelHeight: 50, columns });
    expect([few.cols, few.panelWidth]).toEqual([2, 590]);
    expect(() => panelGrid(0, 500, { gap: 0, panelHeight: 1, columns })).toThrow(RangeError);
  });
});

describe("frame (a fake document: vitest has no DOM)", () => {
  it("builds <figure data-figure> around an svg whose viewBox is its size, and a caption when given", () => {
    const { fig, f } = withFakeDocument(() => {
      const f = frame("demo", {
        width: 600,
        height: 100,
        margin: { top: 20, right: 10, bottom: 30, left: 40 },
        label: "what it shows",
        data: { t: 7 },
      });
      return { f, fig: f.done("the caption") as unknown as FakeElement };
    });
    expect(fig.localName).toBe("figure");
    expect(fig.getAttribute("data-figure")).toBe("demo");
    expect(fig.getAttribute("data-t")).toBe("7");
    const [svg] = fig.all("svg");
    expect(svg.namespaceURI).toBe("http://www.w3.org/2000/svg");
    expect(Object.fromEntries(svg.attributes)).toEqual({
      width: "600",
      height: "150",
      viewBox: "0 0 600 150",
      role: "img",
      "aria-label": "what it shows",
    });
    expect(svg.styles.size).toBe(0);
    expect(fig.all("figcaption").map((c) => c.textContent)).toEqual(["the caption"]);
    expect([f.left, f.right, f.top, f.bottom]).toEqual([40, 590, 20, 120]);
  });

  it("a fluid svg shrinks with its container; no caption unless given; a 0 width draws at the minimum", () => {
    const fig = withFakeDocument(
      () => frame("demo", { width: 0, height: 50, label: "x", fluid: true }).done() as unknown as FakeElement,
    );
    const [svg] = fig.all("svg");
    expect(svg.getAttribute("width")).toBe(String(MIN_FIGURE_WIDTH));
    expect(Object.fromEntries(svg.styles)).toEqual({ "max-width": "100%", height: "auto" });
    expect(fig.all("figcaption")).toEqual([]);
  });

  it("layerLegend writes one coloured line and label per layer, 92 px apart", () => {
    const g = withFakeDocument(() => {
      const svg = create("svg");
      layerLegend(svg, 3, { x: 40, y: 18 });
      return svg.node() as unknown as FakeElement;
    });
    const [legend] = g.all("g");
    expect(legend.getAttribute("transform")).toBe("translate(40,18)");
    expect(legend.all("line").map((l) => l.getAttribute("stroke"))).toEqual([0, 1, 2].map(layerColor));
    expect(legend.all("text").map((t) => t.textContent)).toEqual(["layer 0", "layer 1", "layer 2"]);
    expect(legend.children.map((c) => (c as FakeElement).getAttribute("transform")).slice(0, 3)).toEqual([
      "translate(0,0)",
      "translate(92,0)",
      "translate(184,0)",
    ]);
    expect(new Set([0, 1, 2, 3, 4, 5, 6, 7].map(layerColor)).size).toBe(8);
    expect(layerColor(8)).toBe(layerColor(0));
  });
});

describe("text estimates", () => {
  it("wraps a title at spaces to fit a width, a longer word kept whole", async () => {
    const { textWidth, wrapLines } = await import("../../src/components/frame.js");
    expect(textWidth("abcd", 10)).toBeCloseTo(24);
    expect(textWidth("abcd", 10, { mono: true })).toBeCloseTo(24.8);
    // 16 px: 9.6 px a character; 100 px hold 10 characters
    expect(wrapLines("a_t (numerator, stored relative to e^p)", 100, 16)).toEqual([
      "a_t",
      "(numerator,",
      "stored",
      "relative",
      "to e^p)",
    ]);
    expect(wrapLines("short", 500, 16)).toEqual(["short"]);
    expect(wrapLines("", 500, 16)).toEqual([""]);
    for (const line of wrapLines("p_t (running maximum exponent)", 150, 16))
      expect(textWidth(line, 16) <= 150 || !line.includes(" ")).toBe(true);
  });
});

describe("legible and labelStep", () => {
  it("raises every font size under 13 px to 13, d3's 10 px axes included, and leaves larger ones", async () => {
    const { legible, MIN_TEXT } = await import("../../src/components/frame.js");
    const svg = withFakeDocument(() => {
      const s = create("svg").attr("font-size", 10);
      const axis = s.append("g").attr("font-size", 10);
      axis.append("text").attr("font-size", 12).text("0.5");
      s.append("text").attr("font-size", 16).text("title");
      s.append("text").text("inherits");
      legible(s);
      return s.node() as unknown as FakeElement;
    });
    expect(MIN_TEXT).toBe(13);
    expect(svg.getAttribute("font-size")).toBe("13");
    expect(svg.all("g").map((e) => e.getAttribute("font-size"))).toEqual(["13"]);
    expect(svg.all("text").map((e) => e.getAttribute("font-size"))).toEqual(["13", "16", null]);
  });

  it("labels every k-th position so that labels of the given width never touch", async () => {
    const { labelStep } = await import("../../src/components/frame.js");
    expect(labelStep(13.3, 8.7)).toBe(1); // chapter 4 at 720 px: every character
    expect(labelStep(5.1, 8.06)).toBe(2); // a 250 px panel of 49 tokens
    expect(labelStep(5.1, 13)).toBe(3);
    expect(labelStep(0, 8)).toBe(1);
    // the gap holds: k × spacing >= width + gap, and (k - 1) × spacing < width + gap
    for (const [sp, w] of [
      [3, 8],
      [7.5, 13],
      [20, 8],
    ]) {
      const k = labelStep(sp, w);
      expect(k * sp).toBeGreaterThanOrEqual(w + 2);
      expect((k - 1) * sp).toBeLessThan(w + 2);
    }
  });
});
