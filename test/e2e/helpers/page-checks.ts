/**
 * Code evaluated inside the page (kept as strings so no test-transform helpers leak into the browser).
 *
 * The figure convention (docs/architecture.md): every figure's root element carries a `data-figure="<name>"`
 * attribute, and it is non-empty when it is visible and holds an <svg> with at least one drawn element of
 * non-zero size, a <canvas> of non-zero size, or a <table> with at least one cell.
 */
import type { Page } from "playwright-core";

export interface FigureReport {
  name: string;
  ok: boolean;
  why: string;
}

export interface PageReport {
  katex: number;
  katexErrors: number;
  figures: FigureReport[];
  cellErrors: string[];
}

/** An expression that evaluates to a PageReport. */
export const PAGE_REPORT = `(() => {
  const figures = [...document.querySelectorAll("[data-figure]")].map((el) => {
    const name = el.getAttribute("data-figure") || "(unnamed)";
    const box = el.getBoundingClientRect();
    if (!(box.width > 0 && box.height > 0)) return { name, ok: false, why: "not visible (zero size)" };
    for (const svg of el.querySelectorAll("svg")) {
      for (const shape of svg.querySelectorAll("path, rect, circle, line, polyline, polygon, ellipse, text, image, use")) {
        const b = shape.getBBox();
        if (b.width > 0 || b.height > 0) return { name, ok: true, why: "svg" };
      }
    }
    for (const canvas of el.querySelectorAll("canvas")) {
      if (canvas.width > 0 && canvas.height > 0) return { name, ok: true, why: "canvas" };
    }
    for (const table of el.querySelectorAll("table")) {
      if (table.querySelector("td")) return { name, ok: true, why: "table" };
    }
    return { name, ok: false, why: "no drawn svg element, sized canvas or table cell" };
  });
  return {
    katex: document.querySelectorAll(".katex").length,
    katexErrors: document.querySelectorAll(".katex-error").length,
    figures,
    cellErrors: [...document.querySelectorAll(".observablehq--error")].map((e) => e.textContent || "error"),
  };
})()`;

/** True once no model badge on the page says "loading" (the figures redraw when a live model arrives). */
export const MODELS_SETTLED = `[...document.querySelectorAll(".explainer-badge[data-status]")].every((b) => b.dataset.status !== "loading")`;

/**
 * Waits until no model badge says "loading"; past `timeoutMs` it fails naming the page and what its badges say.
 * (The page itself gives up on a silent model worker only after SMALL_MODEL_INIT_MS, src/runtime/client.ts,
 * longer than the tests wait: a stuck worker fails the test here, with its badges.)
 */
export async function waitForModels(page: Page, timeoutMs: number): Promise<void> {
  await page.waitForFunction(MODELS_SETTLED, null, { timeout: timeoutMs, polling: 250 }).catch(async () => {
    const badges = await page.evaluate(
      `[...document.querySelectorAll(".explainer-badge[data-status]")].map((b) => b.textContent.trim())`,
    );
    throw new Error(`${page.url()}: a model still loading after ${timeoutMs} ms: ${JSON.stringify(badges)}`);
  });
}

/** True once the page has rendered: some KaTeX, at least one figure, and every figure non-empty. */
export const PAGE_READY = `(() => {
  const r = ${PAGE_REPORT};
  return r.katex > 0 && r.figures.length > 0 && r.figures.every((f) => f.ok);
})()`;

/**
 * Asks for a WebGPU adapter and device and runs a tiny compute shader (doubling four numbers), so a test fails
 * when the browser would silently fall back to wasm.
 */
export const WEBGPU_PROBE = `(async () => {
  if (!("gpu" in navigator)) return { error: "navigator.gpu is undefined (WebGPU disabled?)" };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { error: "navigator.gpu.requestAdapter() returned null" };
  const info = adapter.info || {};
  const device = await adapter.requestDevice();
  const input = new Float32Array([1, 2, 3, 4]);
  const storage = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(storage, 0, input);
  const readback = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const module = device.createShaderModule({ code: "@group(0) @binding(0) var<storage, read_write> x: array<f32>;" +
    "@compute @workgroup_size(4) fn main(@builtin(global_invocation_id) id: vec3<u32>) { x[id.x] = 2.0 * x[id.x]; }" });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: storage } }] });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(1);
  pass.end();
  encoder.copyBufferToBuffer(storage, 0, readback, 0, 16);
  device.queue.submit([encoder.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const output = [...new Float32Array(readback.getMappedRange())];
  readback.unmap();
  device.destroy();
  return { vendor: info.vendor, architecture: info.architecture, isFallbackAdapter: adapter.isFallbackAdapter ?? info.isFallbackAdapter, output };
})()`;

/**
 * In the page: every visible text node outside KaTeX, code, tooltips and form fields, with the raw-TeX patterns
 * it matches (a backslash command, a braced sub- or superscript, x_t-style subscripts, a caret exponent, an
 * unrendered $...$ or ${...}).
 */
export const RAW_TEX = `(() => {
  const patterns = [/\\\\[A-Za-z]+/, /[_^]\\{/, /(?<![A-Za-z0-9_])[A-Za-z]{1,3}['′]?_[A-Za-z0-9](?![A-Za-z0-9_])/,
    /\\^[-A-Za-z0-9({]/, /\\$\\{/, /\\$[^$\\n]{1,60}\\$/];
  const skip = ".katex, code, pre, script, style, title, textarea, noscript, [contenteditable]";
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || el.closest(skip) || el.getClientRects().length === 0) continue;
    const text = node.textContent || "";
    for (const p of patterns) {
      const m = p.exec(text);
      if (m) found.push(JSON.stringify(text.slice(Math.max(0, m.index - 30), m.index + 30)) + " in <" + el.localName + ">");
    }
  }
  return found;
})()`;
