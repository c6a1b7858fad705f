/**
 * Every TeX string on the site renders with KaTeX in strict mode: the equations of every module that exports a
 * TEX object, the notation table's symbols, the TeX the modules build with the model's numbers, and every TeX
 * literal of every page (```tex blocks and tex`...` / eq`...` templates, their ${...} replaced by a number).
 * Strict means KaTeX's `strict: "error"` for everything except the one extension the site uses on purpose,
 * \htmlData (hover links), which KaTeX reports as "htmlExtension"; `trust` admits only \htmlData and \htmlClass,
 * as src/ui/page.ts EQ does.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import katex from "katex";
import { describe, expect, it } from "vitest";
import { sciTex, wholeModelFacts } from "../../src/chapters/flops.js";
import { NOTATION, plain, tx } from "../../src/chapters/notation.js";
import { outputGate } from "../../src/chapters/wkv.js";
import { RwkvModel } from "../../src/rwkv/model.js";
import { syntheticWeights } from "../../src/rwkv/synthetic.js";
import { viewOfTrace } from "../../src/trace/trace.js";
import { EQ } from "../../src/ui/page.js";

const SRC = path.resolve(import.meta.dirname, "..", "..", "src");

const STRICT = {
  throwOnError: true,
  trust: EQ.trust,
  strict: (code: string) => (code === "htmlExtension" ? "ignore" : "error"),
} as const;

function render(tex: string, displayMode: boolean): void {
  katex.renderToString(tex, { ...STRICT, displayMode });
}

/** Every string inside an exported TEX object (nested objects too). */
function strings(x: unknown, at: string, out: [string, string][]): [string, string][] {
  if (typeof x === "string") out.push([at, x]);
  else if (x && typeof x === "object") for (const [k, v] of Object.entries(x)) strings(v, `${at}.${k}`, out);
  return out;
}

/** The TeX literals of a page: ```tex blocks (display) and the templates of tex`...` and eq`...` (inline/display). */
export function pageTex(md: string): { tex: string; display: boolean; at: string }[] {
  const out: { tex: string; display: boolean; at: string }[] = [];
  for (const m of md.matchAll(/```tex\n([\s\S]*?)```/g)) out.push({ tex: m[1], display: true, at: "```tex" });
  for (const m of md.matchAll(/\b(tex|eq)(\.options\([^)`]*\)|\.block)?`((?:[^`\\]|\\[\s\S])*)`/g)) {
    const display = m[1] === "eq" || m[2] === ".block" || /EQ\b/.test(m[2] ?? "");
    out.push({ tex: m[3].replace(/\$\{[^}]*\}/g, "1"), display, at: m[0].slice(0, 60) });
  }
  return out;
}

const pages = readdirSync(SRC).filter((f) => f.endsWith(".md"));

describe("every TeX string on the site renders with KaTeX in strict mode", () => {
  const modules = [
    ...readdirSync(path.join(SRC, "chapters")).map((f) => `chapters/${f}`),
    ...readdirSync(path.join(SRC, "full-size")).map((f) => `full-size/${f}`),
  ].filter((f) => f.endsWith(".ts"));

  it("the TEX objects of every module", async () => {
    let n = 0;
    for (const f of modules) {
      const mod = (await import(path.join(SRC, f))) as { TEX?: unknown };
      if (!mod.TEX) continue;
      for (const [at, tex] of strings(mod.TEX, `${f} TEX`, [])) {
        expect(() => render(tex, true), at).not.toThrow();
        n++;
      }
    }
    expect(n).toBeGreaterThan(25);
  });

  it("the notation table's symbols, loads and definitions", () => {
    for (const e of NOTATION) {
      for (const tex of [
        tx(e.id),
        plain(e.id),
        e.load,
        e.computed?.startsWith("Eq.") ? undefined : e.computed,
      ])
        if (tex) expect(() => render(tex, false), e.id).not.toThrow();
    }
  });

  it("the TeX the modules build with the model's numbers (Eq. 17's readout, Table 2's arithmetic)", () => {
    const config = { nLayer: 1, nEmbd: 4, ffnSize: 16, vocabSize: 5, layerNormEps: 1e-5 };
    const tokens = [1, 3, 2];
    const trace = new RwkvModel(syntheticWeights(config, 2)).forward(tokens, undefined, {
      trace: true,
    }).trace!;
    const view = viewOfTrace(trace, tokens, {
      labels: [..."bdc"],
      text: "bdc",
      backend: "reference (JS)",
      synthetic: true,
    });
    for (let channel = 0; channel < 4; channel++)
      render(outputGate(view, { layer: 0, channel, token: 2 }).tex, true);
    const facts = wholeModelFacts({ L: 12, D: 768, V: 50277, F: 3072 }, { actualParams: 0 });
    for (const tex of [
      facts.flops169M,
      facts.table169M,
      facts.v4Printed169M,
      facts.v1Printed169M,
      sciTex(1e-7),
    ])
      render(tex, false);
  });

  it("a strict renderer does reject what it should (the test can fail)", () => {
    expect(() => render("x_t^\\undefinedmacro", false)).toThrow();
    expect(() => render("x = é", false)).toThrow(); // a non-ASCII letter in math mode is a strict error
    expect(() => render("\\tag{1} x", false)).toThrow(); // \tag only in display mode
  });

  for (const page of pages) {
    it(`${page}: every TeX literal`, () => {
      const found = pageTex(readFileSync(path.join(SRC, page), "utf8"));
      for (const { tex, display, at } of found)
        expect(() => render(tex, display), `${page}: ${at}`).not.toThrow();
    });
  }

  it("finds the literals it should in a page", () => {
    const md = "```tex\na^2\n```\n${tex`\\mu_r`} and ${eq`${TEX.x}`} and ${tex`L = ${L}, D = ${D}`}";
    expect(pageTex(md).map((t) => [t.tex, t.display])).toEqual([
      ["a^2\n", true],
      ["\\mu_r", false],
      ["1", true],
      ["L = 1, D = 1", false],
    ]);
  });
});
