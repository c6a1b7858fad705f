/**
 * The layout's rules, checked on every run (docs/architecture.md, "Who may import what"): each folder of src/
 * imports only the folders its role allows, components import d3 and types only, pages hold glue only (at most
 * 60 lines of JavaScript each, 450 in all), no folder holds more than 15 modules, and there is no import cycle.
 * The same figures as ../shared/tools/layer_check.py, computed here so CI needs nothing beside the checkout.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname, "..", "..", "src");

/** folder -> the folders of src/ it may import (value imports; `import type` is free, it leaves no code). */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  rwkv: ["util"],
  transformer: ["rwkv", "util"],
  onnx: ["rwkv", "transformer"],
  runtime: ["onnx", "rwkv", "transformer", "util"],
  trace: ["rwkv", "util"],
  chapters: ["rwkv", "transformer", "trace", "util"],
  live: ["runtime", "onnx", "trace", "chapters", "rwkv", "transformer", "util"],
  components: [],
  ui: ["live", "trace", "chapters", "components", "runtime", "util"],
  "full-size": ["live", "runtime", "rwkv", "transformer", "chapters", "components", "ui", "util"],
  build: ["live", "trace", "chapters", "onnx", "runtime", "rwkv", "transformer", "util"],
  data: ["config", "build", "chapters", "trace", "live", "onnx", "runtime", "rwkv", "transformer", "util"],
  cli: ["full-size", "onnx", "runtime", "rwkv", "transformer", "chapters", "trace", "live", "util"],
};

interface Module {
  file: string;
  folder: string;
  imports: { spec: string; typeOnly: boolean; target?: string }[];
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name.startsWith(".")) return []; // Framework's cache
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : /\.(ts|js)$/.test(name) ? [p] : [];
  });
}

const IMPORT = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?["']([^"']+)["']/gm;

function modules(): Module[] {
  return walk(SRC).map((file) => {
    const text = readFileSync(file, "utf8");
    const imports = [...text.matchAll(IMPORT)].map((m) => {
      const spec = m[3];
      let target: string | undefined;
      if (spec.startsWith(".")) {
        const base = path.resolve(path.dirname(file), spec);
        target = [base, base.replace(/\.js$/, ".ts")].find((c) => {
          try {
            return statSync(c).isFile();
          } catch {
            return false;
          }
        });
      }
      return { spec, typeOnly: !!m[2], target };
    });
    return { file, folder: path.relative(SRC, file).split(path.sep)[0], imports };
  });
}

describe("the layout by role (docs/architecture.md)", () => {
  const mods = modules();

  it("every folder of src/ has a rule, and imports only what its role allows", () => {
    const bad: string[] = [];
    for (const m of mods) {
      if (!m.file.includes(path.sep, SRC.length + 1)) continue; // src/*.ts at the root: none expected
      const allowed = ALLOWED[m.folder];
      if (!allowed) {
        bad.push(`${m.folder}/: no rule in ALLOWED (add one, and to docs/architecture.md)`);
        continue;
      }
      for (const i of m.imports) {
        if (!i.target || i.typeOnly) continue;
        const rel = path.relative(SRC, i.target);
        // outside src/: only the build-time loaders read the site's config (the chapter list)
        const to = rel.startsWith("..")
          ? rel === path.join("..", "observablehq.config.ts")
            ? "config"
            : rel
          : rel.split(path.sep)[0];
        if (to !== m.folder && !allowed.includes(to))
          bad.push(`${path.relative(SRC, m.file)} imports ${to}/ (${i.spec})`);
      }
    }
    expect([...new Set(bad)]).toEqual([]);
  });

  it("components import d3 and types only (and their own frame helper)", () => {
    const bad = mods
      .filter((m) => m.folder === "components")
      .flatMap((m) =>
        m.imports
          .filter((i) => !i.typeOnly && i.spec !== "d3" && !/^\.\/[\w-]+\.js$/.test(i.spec))
          .map((i) => `${path.basename(m.file)}: ${i.spec}`),
      );
    expect(bad).toEqual([]);
  });

  it("no folder holds more than 15 modules", () => {
    const counts = new Map<string, number>();
    for (const m of mods) counts.set(path.dirname(m.file), (counts.get(path.dirname(m.file)) ?? 0) + 1);
    const big = [...counts].filter(([, n]) => n > 15).map(([d, n]) => `${path.relative(SRC, d)}: ${n}`);
    expect(big).toEqual([]);
  });

  it("the checks see the imports (resolved relative imports in every folder)", () => {
    const resolved = mods.flatMap((m) => m.imports.filter((i) => i.target)).length;
    expect(resolved).toBeGreaterThan(mods.length);
    const ui = mods.find((m) => m.file.endsWith(path.join("ui", "chapter.ts")));
    expect(ui?.imports.some((i) => i.target?.endsWith(path.join("live", "live-model.ts")))).toBe(true);
  });

  it("no import cycle among src/ modules", () => {
    const graph = new Map(mods.map((m) => [m.file, m.imports.flatMap((i) => (i.target ? [i.target] : []))]));
    const state = new Map<string, 1 | 2>();
    const cycles: string[] = [];
    const visit = (f: string, stack: string[]): void => {
      state.set(f, 1);
      for (const g of graph.get(f) ?? []) {
        if (state.get(g) === 1)
          cycles.push(
            [...stack.slice(stack.indexOf(g)), f, g].map((x) => path.relative(SRC, x)).join(" -> "),
          );
        else if (!state.has(g)) visit(g, [...stack, f]);
      }
      state.set(f, 2);
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it("pages are glue: at most 60 lines of JavaScript each, 450 in all", () => {
    const perPage: Record<string, number> = {};
    for (const name of readdirSync(SRC).filter((n) => n.endsWith(".md"))) {
      let n = 0;
      let inside = false;
      for (const line of readFileSync(path.join(SRC, name), "utf8").split("\n")) {
        if (/^```\s*(js|javascript)\b/.test(line)) inside = true;
        else if (inside && line.startsWith("```")) inside = false;
        else if (inside && line.trim()) n++;
      }
      perPage[name] = n;
    }
    const over = Object.entries(perPage).filter(([, n]) => n > 60);
    expect(over).toEqual([]);
    expect(Object.values(perPage).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(450);
  });
});
