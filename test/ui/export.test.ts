/** The pure parts of figure export (src/ui/export.ts): the caption line and the file names. */
import { describe, expect, it } from "vitest";
import { captionLine, exportName, quotePrompt } from "../../src/ui/export.js";

describe("figure export", () => {
  it("quotes a prompt on one line, cut with an ellipsis", () => {
    expect(quotePrompt("HAMLET:\nTo be")).toBe("“HAMLET:↵To be”");
    expect(quotePrompt("abcdefghij", 5)).toBe("“abcd…”");
    expect(quotePrompt("abcde", 5)).toBe("“abcde”");
  });

  it("names the page, the model and the view in one line", () => {
    expect(
      captionLine({
        page: "5. The WKV operator and its state",
        model: "tiny-rwkv (trained), live, backend wasm",
        facts: [
          { key: "prompt", value: "“HAMLET:”" },
          { key: "layer", value: "1" },
          { key: "channel", value: "71" },
          { key: "token", value: "6 “:”" },
        ],
      }),
    ).toBe(
      "5. The WKV operator and its state · tiny-rwkv (trained), live, backend wasm · prompt “HAMLET:” · layer 1 · " +
        "channel 71 · token 6 “:”",
    );
    expect(captionLine({ page: "RWKV, explained live", model: null, facts: [] })).toBe(
      "RWKV, explained live",
    );
  });

  it("names files after the page and the figure", () => {
    expect(exportName("/rwkv/05-wkv.html", "wkv-overflow", "svg")).toBe("05-wkv-wkv-overflow.svg");
    expect(exportName("/05-wkv", "wkv-state-a", "png")).toBe("05-wkv-wkv-state-a.png");
    expect(exportName("/rwkv/", "attention-cost", "png")).toBe("index-attention-cost.png");
  });
});
