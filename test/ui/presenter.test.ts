/** Presenter mode's address switch and the pager links that keep it (src/ui/presenter.ts). */
import { describe, expect, it } from "vitest";
import { PRESENT_ZOOM, MIN_FIGURE_TEXT, presenterFromSearch, withPresent } from "../../src/ui/presenter.js";
import { MIN_TEXT } from "../../src/components/frame.js";

describe("presenter mode", () => {
  it("is on for ?present, ?present=1 and ?present=true, off without it or with 0/false", () => {
    for (const s of ["?present", "?present=1", "?present=true", "layer=2&present=1"])
      expect(presenterFromSearch(s), s).toBe(true);
    for (const s of ["", "?layer=2", "?present=0", "?present=false"])
      expect(presenterFromSearch(s), s).toBe(false);
  });

  it("adds and removes present=1 on same-origin links, keeping their view state", () => {
    const here = "http://127.0.0.1:8000/rwkv/03-token-shift.html?layer=2";
    expect(withPresent("./04-time-decay.html", true, here)).toBe(
      "http://127.0.0.1:8000/rwkv/04-time-decay.html?present=1",
    );
    expect(withPresent("http://127.0.0.1:8000/rwkv/05-wkv.html?layer=1&present=1", false, here)).toBe(
      "http://127.0.0.1:8000/rwkv/05-wkv.html?layer=1",
    );
    expect(withPresent("https://arxiv.org/abs/2305.13048", true, here)).toBe(
      "https://arxiv.org/abs/2305.13048",
    );
  });

  it("zooms figure text drawn at the smallest size to at least 16 px", () => {
    expect(MIN_FIGURE_TEXT).toBe(MIN_TEXT);
    expect(MIN_TEXT * PRESENT_ZOOM).toBeGreaterThanOrEqual(16);
  });
});
