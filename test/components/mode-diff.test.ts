import { describe, expect, it } from "vitest";
import { checkList } from "../../src/components/mode-diff.js";
import { FakeElement, withFakeDocument } from "../helpers/fake-dom.js";

// modeDiffChart draws a d3 axis, which the fake document cannot host (querySelectorAll): the browser tests
// (test/e2e/chapters-b.test.ts, ch8-glue.test.ts) read its data-max-diff, data-ep and data-stale.
describe("checkList (the sentences under chapter 8's figures)", () => {
  const lines = [
    [{ text: "Ran on " }, { text: "WebAssembly", bold: true }, { text: "." }],
    [{ text: "over 3 positions: " }, { text: "2.50e-6", bold: true }],
  ];

  it("one <li> per line, bold segments in <b>, named by data-checks", () => {
    const ul = withFakeDocument(() => checkList(lines, { name: "onnx" })) as unknown as FakeElement;
    expect(ul.localName).toBe("ul");
    expect(ul.getAttribute("class")).toBe("checks");
    expect(ul.getAttribute("data-checks")).toBe("onnx");
    expect(ul.getAttribute("data-stale")).toBeNull();
    const items = ul.all("li");
    expect(items.map((li) => li.textContent)).toEqual(["Ran on WebAssembly.", "over 3 positions: 2.50e-6"]);
    expect(ul.all("b").map((b) => b.textContent)).toEqual(["WebAssembly", "2.50e-6"]);
  });

  it("a stale list says so in data-stale and is faded", () => {
    const ul = withFakeDocument(() =>
      checkList(lines, { name: "onnx", stale: true }),
    ) as unknown as FakeElement;
    expect(ul.getAttribute("data-stale")).toBe("true");
    expect(Number(ul.styles.get("opacity"))).toBeLessThan(1);
  });
});
