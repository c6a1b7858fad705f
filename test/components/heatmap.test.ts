import { describe, expect, it } from "vitest";
import { heatmapScale, paintCells } from "../../src/components/heatmap.js";

describe("heatmap colour scale", () => {
  it("is symmetric around zero for signed data and ignores non-finite values", () => {
    const s = heatmapScale(Float32Array.of(-1, 0.5, 3, Number.NaN, Infinity), "diverging");
    expect(s.domain[0]).toBe(-s.domain[1]);
    expect(s.domain[1]).toBe(3);
    expect(heatmapScale(Float32Array.of(2, 2), "sequential").domain).toEqual([2, 3]);
  });
});

/** A canvas stand-in: the 2D context's createImageData and putImageData, the pixels put kept as RGBA bytes. */
function standInCanvas() {
  const canvas = {
    width: 0,
    height: 0,
    put: null as Uint8ClampedArray | null,
    getContext: () => ({
      createImageData: (w: number, h: number) => ({
        width: w,
        height: h,
        data: new Uint8ClampedArray(w * h * 4),
      }),
      putImageData: (img: { data: Uint8ClampedArray }) => (canvas.put = img.data),
    }),
  };
  return canvas;
}

describe("heatmap cells (paintCells)", () => {
  // a colour table whose entry i is (i, 255 - i, 7): each pixel says which entry it took, and R/B order shows
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set([i, 255 - i, 7], i * 3);
  const scale = heatmapScale([], "sequential", [0, 10]);

  it("paints one opaque RGBA pixel a cell: time across, channels down in the given row order", () => {
    // T = 3 tokens, C = 2 channels, row-major (T, C)
    const m = { rows: 3, cols: 2, data: Float32Array.of(0, 10, 5, 2.5, 10, 0) };
    const canvas = standInCanvas();
    expect(paintCells(canvas as unknown as HTMLCanvasElement, m, 3, [1, 0], scale, lut)).toBe(true);
    expect([canvas.width, canvas.height]).toEqual([3, 2]);
    const px = Array.from(canvas.put!);
    const at = (r: number, t: number) => px.slice((r * 3 + t) * 4, (r * 3 + t) * 4 + 4);
    const entry = (v: number) => Math.round((v / 10) * 255);
    // row 0 is channel 1: values 10, 2.5, 0 over time
    expect([0, 1, 2].map((t) => at(0, t))).toEqual(
      [10, 2.5, 0].map((v) => [entry(v), 255 - entry(v), 7, 255]),
    );
    // row 1 is channel 0: values 0, 5, 10
    expect([0, 1, 2].map((t) => at(1, t))).toEqual([0, 5, 10].map((v) => [entry(v), 255 - entry(v), 7, 255]));
  });

  it("clamps values outside the domain to its ends, paints NaN and infinities black, and only `revealed` tokens", () => {
    const m = { rows: 4, cols: 1, data: Float32Array.of(-3, 42, Number.NaN, Infinity) };
    const canvas = standInCanvas();
    paintCells(canvas as unknown as HTMLCanvasElement, m, 4, [0], scale, lut);
    expect(Array.from(canvas.put!)).toEqual([0, 255, 7, 255, 255, 0, 7, 255, 0, 0, 0, 255, 0, 0, 0, 255]);
    paintCells(canvas as unknown as HTMLCanvasElement, m, 2, [0], scale, lut);
    expect(canvas.width).toBe(2);
    expect(Array.from(canvas.put!)).toEqual([0, 255, 7, 255, 255, 0, 7, 255]);
  });

  it("a domain that is not finite paints black, not transparent", () => {
    const m = { rows: 1, cols: 1, data: Float32Array.of(1) };
    const canvas = standInCanvas();
    paintCells(
      canvas as unknown as HTMLCanvasElement,
      m,
      1,
      [0],
      heatmapScale([], "sequential", [Number.NaN, 10]),
      lut,
    );
    expect(Array.from(canvas.put!)).toEqual([0, 0, 0, 255]);
  });
});
