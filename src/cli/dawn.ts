/**
 * WebGPU in Node for the GPU benchmarks (src/cli/ort-gpu-bench.ts, src/cli/full-size-gpu.ts): Dawn for Node made
 * navigator.gpu through scripts/bench-gpu/gpuinit.mjs (loaded at run time from GPUINIT, default beside the bundle).
 * Runs on the NVIDIA machine only; never imported by the site.
 */
export interface DawnAdapter {
  info: unknown;
  limits: Record<string, number>;
  features: string[];
}

export async function installDawnWebGpu(
  gpuinit = process.env.GPUINIT ?? "./gpuinit.mjs",
): Promise<DawnAdapter> {
  const gi = (await import(gpuinit)) as {
    patchSAB(): void;
    makeGPU(): { requestAdapter(o: object): Promise<object | null> };
    adapterSummary(a: unknown): DawnAdapter;
  };
  gi.patchSAB();
  const gpu = gi.makeGPU();
  const nav = ((globalThis as { navigator?: object }).navigator ??= {});
  Object.defineProperty(nav, "gpu", { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new Error("no WebGPU adapter");
  return gi.adapterSummary(adapter);
}
