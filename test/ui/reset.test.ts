/** Reset view: the address keeps only the settings that are not view state (src/ui/reset.ts). */
import { describe, expect, it } from "vitest";
import { KEPT_PARAMS, resetHref, resetSearch } from "../../src/ui/reset.js";

describe("resetSearch", () => {
  it("drops every view key and keeps the page's settings, in their order of KEPT_PARAMS", () => {
    expect(resetSearch("?prompt=ROMEO%3A&layer=2&channel=17&token=4&s=1.5")).toBe("");
    expect(resetSearch("?layer=2&ep=wasm&present=1&token=4&live=0&engine=fused")).toBe(
      "?present=1&ep=wasm&engine=fused&live=0",
    );
    expect(resetSearch("weights=models%2Fx.pth&hub=http%3A%2F%2F127.0.0.1%2F&threads=2")).toBe(
      "?threads=2&weights=models%2Fx.pth&hub=http%3A%2F%2F127.0.0.1%2F",
    );
    expect(resetSearch("")).toBe("");
  });

  it("keeps exactly the settings it names", () => {
    const all = KEPT_PARAMS.map((k) => `${k}=v`).join("&");
    expect(new URLSearchParams(resetSearch(`?${all}&layer=1`).slice(1)).size).toBe(KEPT_PARAMS.length);
  });

  it("builds the page's address without its hash", () => {
    expect(resetHref({ pathname: "/rwkv/05-wkv.html", search: "?layer=3&present=1" })).toBe(
      "/rwkv/05-wkv.html?present=1",
    );
    expect(resetHref({ pathname: "/", search: "?figure=attention-cost" })).toBe("/");
  });
});
