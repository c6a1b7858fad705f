/**
 * The notation page's tables (the data: src/chapters/notation.ts): every symbol with its TeX (rendered by the
 * `tex` function the page passes, KaTeX), meaning, checkpoint key and how it is loaded (or how it is computed),
 * shape, equations and the chapters that show it; and where arXiv v1's numbering differs from v4's.
 *
 *   notationTable(entries, {tex, pages?}) -> <figure data-figure="notation" data-rows>
 *       tex(s) -> Element renders a TeX string inline; pages: the page paths of this build (links to the others
 *       are left out, so the table has no broken links)
 *   numberingTable(rows) -> <figure data-figure="numbering" data-rows>
 */
import { create } from "d3";
import type { NotationEntry, NumberingRow } from "../chapters/notation.js";

/** "05-wkv" -> "5" */
const chapterOf = (page: string): string => String(Number(page.slice(0, 2)));

export function notationTable(
  entries: readonly NotationEntry[],
  {
    tex,
    symbol,
    pages,
  }: { tex: (s: string) => Element; symbol: (id: string) => string; pages?: readonly string[] },
): HTMLElement {
  const figure = create("figure")
    .attr("data-figure", "notation")
    .attr("data-rows", entries.length)
    .style("overflow-x", "auto")
    .style("max-width", "100%");
  const table = figure.append("table").attr("class", "notation").style("min-width", "760px");
  const head = table.append("thead").append("tr");
  for (const h of [
    "symbol",
    "what it is",
    "checkpoint key, or how it is computed",
    "shape",
    "equations",
    "chapters",
  ])
    head.append("th").text(h);
  const body = table.append("tbody");
  for (const e of entries) {
    const tr = body.append("tr").attr("data-id", e.id);
    tr.append("td")
      .style("white-space", "nowrap")
      .node()!
      .append(tex(symbol(e.id)));
    tr.append("td").style("min-width", "16rem").text(e.meaning);
    const source = tr.append("td");
    if (e.key) source.append("div").append("code").text(e.key);
    const how = e.load ?? e.computed;
    if (how && how.startsWith("Eq.")) source.append("div").text(how);
    else if (how) source.append("div").node()!.append(tex(how));
    tr.append("td").style("white-space", "nowrap").text(e.shape);
    tr.append("td").text(e.eqs);
    const where = tr.append("td");
    e.shown.forEach((page, i) => {
      if (i) where.append("span").text(", ");
      if (!pages || pages.includes(page)) where.append("a").attr("href", `./${page}`).text(chapterOf(page));
      else where.append("span").text(chapterOf(page));
    });
  }
  figure
    .append("figcaption")
    .text(
      "Shapes: C channels (the paper's d, or D in Table 2 and Appendix D), F hidden units of channel mixing " +
        "(4C in the paper), T tokens. N in a key is the layer, from 0.",
    );
  return figure.node() as HTMLElement;
}

export function numberingTable(rows: readonly NumberingRow[]): HTMLElement {
  const figure = create("figure").attr("data-figure", "numbering").attr("data-rows", rows.length);
  const table = figure.append("table").style("max-width", "100%");
  const head = table.append("thead").append("tr");
  for (const h of ["", "arXiv v4 (this site)", "arXiv v1"]) head.append("th").text(h);
  const body = table.append("tbody");
  for (const r of rows) {
    const tr = body.append("tr");
    tr.append("td").text(r.what);
    tr.append("td").text(r.v4);
    tr.append("td").text(r.v1);
  }
  return figure.node() as HTMLElement;
}
