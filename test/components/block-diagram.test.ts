import { describe, expect, it } from "vitest";
import { NOTATION, V1_NUMBERING, tx } from "../../src/chapters/notation.js";
import { notationTable, numberingTable } from "../../src/components/block-diagram.js";
import { FakeElement, withFakeDocument } from "../helpers/fake-dom.js";

describe("the notation page's tables", () => {
  it("one row per symbol: TeX through the page's renderer, the key in <code>, links only to pages built", () => {
    const rendered: string[] = [];
    const fig = withFakeDocument(() =>
      notationTable(NOTATION, {
        tex: (s) => {
          rendered.push(s);
          return document.createElement("span");
        },
        symbol: tx,
        pages: ["05-wkv"],
      }),
    ) as unknown as FakeElement;
    expect(fig.getAttribute("data-figure")).toBe("notation");
    const rows = fig.all("tbody")[0].all("tr");
    expect(rows).toHaveLength(NOTATION.length);
    expect(rendered).toContain(tx("w"));
    expect(rendered).toContain(NOTATION.find((e) => e.id === "w")!.load);
    const w = rows.find((r) => r.getAttribute("data-id") === "w")!;
    expect(w.all("code").map((c) => c.textContent)).toEqual(["blocks.N.att.time_decay"]);
    const links = w.all("a").map((a) => a.getAttribute("href"));
    expect(links).toEqual(["./05-wkv.html"]); // the page file (a plain static host has no clean URLs); chapters 1, 2 and 4 are not in this build
    expect(w.textContent).toContain("1, 2, 4, 5");
  });

  it("v1 against v4: the WKV operator is Eq. 14 in v1, Eq. 16 here; no raw TeX in the text", () => {
    const fig = withFakeDocument(() => numberingTable(V1_NUMBERING)) as unknown as FakeElement;
    const wkv = fig.all("tr").find((r) => r.textContent.includes("WKV operator"))!;
    expect(wkv.textContent).toContain("Eq. 16");
    expect(wkv.textContent).toContain("Eq. 14");
    expect(fig.textContent).not.toMatch(/_\{|\^\{|\\|\b[a-z]_[a-z0-9]\b/i);
  });
});
