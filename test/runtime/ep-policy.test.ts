import { describe, expect, it } from "vitest";
import { decideEp, epFromUrl, parseEp, SOFTWARE_ADAPTER_REASON } from "../../src/runtime/ep-policy.js";

describe("the execution-provider policy", () => {
  it("a hardware adapter means WebGPU (auto, wasm as the fallback), with no reason", () => {
    expect(decideEp({ adapter: { kind: "adapter", isFallbackAdapter: false } })).toEqual({ ep: "auto" });
  });
  it("a software adapter means wasm, with the reason", () => {
    expect(decideEp({ adapter: { kind: "adapter", isFallbackAdapter: true } })).toEqual({
      ep: "wasm",
      reason: SOFTWARE_ADAPTER_REASON,
    });
  });
  it("no WebGPU, no adapter or a failed request mean wasm, each with its own reason", () => {
    const reasons = (["no-webgpu", "no-adapter"] as const).map((kind) => decideEp({ adapter: { kind } }));
    reasons.push(decideEp({ adapter: { kind: "request-failed", message: "x" } }));
    for (const r of reasons) expect(r.ep).toBe("wasm");
    expect(new Set(reasons.map((r) => r.reason)).size).toBe(3);
  });
  it("?ep= in the address wins over everything, and says so", () => {
    const r = decideEp({
      fromUrl: "webgpu",
      requested: "wasm",
      adapter: { kind: "adapter", isFallbackAdapter: true },
    });
    expect(r).toEqual({ ep: "webgpu", reason: "?ep= in the address" });
  });
  it("a caller's explicit request beats detection", () => {
    expect(decideEp({ requested: "wasm", adapter: { kind: "adapter", isFallbackAdapter: false } }).ep).toBe(
      "wasm",
    );
  });
  it("parses only the three names", () => {
    expect(parseEp("wasm")).toBe("wasm");
    expect(parseEp("WASM")).toBeUndefined();
    expect(parseEp(null)).toBeUndefined();
    expect(epFromUrl("?a=1&ep=auto")).toBe("auto");
    expect(epFromUrl("?ep=cuda")).toBeUndefined();
  });
});

describe("?engine= for the RNN step", () => {
  it("reads fused or ort from the address, nothing else", async () => {
    const { engineFromUrl } = await import("../../src/runtime/ep-policy.js");
    expect(engineFromUrl("?engine=fused")).toBe("fused");
    expect(engineFromUrl("?ep=webgpu&engine=ort")).toBe("ort");
    expect(engineFromUrl("?engine=FUSED")).toBeUndefined();
    expect(engineFromUrl("")).toBeUndefined();
  });
});
