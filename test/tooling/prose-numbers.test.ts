/**
 * Every number the prose quotes from the model is computed from it when the page builds, not typed in: a page's
 * prose (its markdown text and the literal text of its html`...` templates, without code, TeX or ${...}) may hold
 * a number only when it is not a fact about the model: a reference into the paper or the site (Eq. 16, Table 2,
 * Section 5.2, chapter 5, arXiv 2305.13048, a citation's year), a model's name (169M, RWKV-4, GPT-2), the
 * digits 0, 1 and 2 of plain arithmetic, or an entry of ALLOWED below, each with the reason it is not the model's.
 * Anything else (a layer count, a loss, a half-life, a size) must be an interpolation of a computed value.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const SRC = path.resolve(import.meta.dirname, "..", "..", "src");

/** Numbers that may stand in a page's prose, with why each is not a number about the model. */
const RHETORICAL = {
  "10": "rhetorical: the same work at token 10 as at token 10,000",
  "10,000": "rhetorical: the same work at token 10 as at token 10,000",
};
const PAPER_169M = {
  "12": "the paper's 169M model has 12 layers (Table 2), not this site's model",
  "768": "the paper's 169M model has 768 channels (Table 2), not this site's model",
};
const ALLOWED: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "index.md": RHETORICAL,
  "01-overview.md": { "1000": "the definition of the SI kilobyte, 1 kB = 1000 bytes" },
  "04-time-decay.md": { "12": "the paper's Figure 10 labels its 169M model's layers 1 to 12" },
  "07-whole-model.md": {
    ...RHETORICAL,
    "14": "the paper's largest model, 14B (Table 2)",
  },
  "08-rnn-and-parallel.md": { ...RHETORICAL, ...PAPER_169M },
  "full-size.md": PAPER_169M,
  "09-what-the-state-remembers.md": {
    "4": "the paper's Figure 11 (the layer of its 430M model where the fact is retrieved); also a block index",
    "10": "Meng et al. (2022) average 10 noise samples per cell (their Sect. 2.1), not this site's number",
  },
  "03-token-shift.md": {
    "5": "the five token-shift mixes of an RWKV-4 block (Eq. 11-15): architecture, not a trained value",
  },
  "05-wkv.md": {
    "65504": "the largest finite fp16 number (IEEE 754 binary16): a property of the format",
  },
};

/** The prose of a page: markdown text and html`...` literal text, without code, TeX or interpolated expressions. */
export function prose(md: string): string {
  let s = md.replace(/^---\n[\s\S]*?\n---\n/, "").replace(/```[\s\S]*?```/g, " ");
  // ${...}: drop the expression, keep the literal text of html`...` templates inside it (minus their own ${...})
  let out = "";
  for (let i = 0; i < s.length;) {
    if (!s.startsWith("${", i)) {
      out += s[i++];
      continue;
    }
    let depth = 1;
    let j = i + 2;
    while (j < s.length && depth > 0) {
      if (s[j] === "`") {
        const tag = /(\w+)\s*$/.exec(s.slice(i + 2, j))?.[1] ?? "";
        let k = j + 1;
        let lit = "";
        while (k < s.length && s[k] !== "`") {
          if (s.startsWith("${", k)) {
            let d = 1;
            k += 2;
            while (k < s.length && d > 0) {
              if (s[k] === "{") d++;
              else if (s[k] === "}") d--;
              k++;
            }
            lit += " ";
            continue;
          }
          lit += s[k++];
        }
        if (tag === "html") out += ` ${lit} `;
        j = k + 1;
        continue;
      }
      if (s[j] === "{") depth++;
      else if (s[j] === "}") depth--;
      j++;
    }
    out += " ";
    i = j;
  }
  s = out
    .replace(/`[^`\n]*`/g, " ") // inline code (checkpoint keys, nn.ZeroPad2d((0, 0, 1, -1)), ...)
    .replace(/<style>[\s\S]*?<\/style>/g, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/\]\([^)]*\)/g, "] "); // link targets
  return s;
}

const REFERENCE =
  /(?:Eqs?\.|Equations?|Figures?|Fig\.|Tables?|Sections?|Sect\.|Appendix|Appendices|[Cc]hapters?)\s*(?:[\d.]+\s*(?:-|–|to|and|,)\s*)*$/;

/** The numbers of a page's prose that are neither references, names nor allowed constants. */
export function typedNumbers(md: string, allowed: Readonly<Record<string, string>> = {}): string[] {
  const s = prose(md);
  const out: string[] = [];
  for (const m of s.matchAll(/(?<![\w.,\-/])\d+(?:[.,]\d+)*(?![\w])/g)) {
    const n = m[0].replace(/[.,]$/, "");
    const before = s.slice(Math.max(0, m.index - 40), m.index);
    const after = s.slice(m.index + m[0].length, m.index + m[0].length + 12);
    if (/^[012]$/.test(n)) continue; // plain arithmetic: between 0 and 1, sums to 1, ...
    if (REFERENCE.test(before)) continue;
    if (/et al\.,?\s*$|\(\s*$|,\s*$/.test(before) && /^(19|20)\d\d$/.test(n)) continue; // a citation's year
    if (/^\d{4}\.\d{5}$/.test(n)) continue; // an arXiv identifier
    if (
      /^\s(?:January|February|March|April|May|June|July|August|September|October|November|December)\b/.test(
        after,
      )
    )
      continue; // a date
    if (
      /(?:January|February|March|April|May|June|July|August|September|October|November|December)\s$/.test(
        before,
      ) &&
      /^(19|20)\d\d$/.test(n)
    )
      continue;
    if (/^[MB]\b/.test(after) || /(?:RWKV|GPT)-$/.test(before)) continue; // 169M, RWKV-4, GPT-2
    if (/(?:^|\n)\s*#+\s*$|\[\s*$/.test(before) && /^\.\s/.test(after)) continue; // "# 5. The WKV ..." headings, links
    if (n in allowed) continue;
    out.push(`${n} (…${before.slice(-30).replace(/\s+/g, " ")}⟨${n}⟩${after.slice(0, 3)})`);
  }
  return out;
}

describe("numbers in the prose are computed, not typed in", () => {
  const pages = readdirSync(SRC).filter((f) => f.endsWith(".md"));
  for (const page of pages) {
    it(page, () => {
      const md = readFileSync(path.join(SRC, page), "utf8");
      expect(typedNumbers(md, ALLOWED[page])).toEqual([]);
    });
  }

  it("the check catches a typed number and passes an interpolated one", () => {
    expect(typedNumbers("The model has 6 layers.")).toEqual(["6 (…The model has ⟨6⟩ la)"]);
    expect(typedNumbers("The model has ${L} layers (Eq. 16, Table 2, Sections 4.1 and 5.2).")).toEqual([]);
    expect(typedNumbers('${x ? html`a loss of 1.45 nats` : ""}')).toHaveLength(1);
    expect(typedNumbers("${tex`e^{-3w}`} and `blocks.7.att` and (Peng et al., 2023), RWKV-4 169M")).toEqual(
      [],
    );
    expect(typedNumbers("```js\nconst d = 768;\n```\n# 5. The WKV")).toEqual([]);
  });
});
