/**
 * TeX helpers shared by the chapters' equations (pure strings: the pages render them with Framework's `tex`
 * and the KaTeX options EQ of src/ui/page.ts).
 *
 * API:
 *   sym(name, tex) -> string     `\htmlData{sym=name}{tex}`: hovering the symbol highlights every figure part
 *                                tagged data-sym="name" (and vice versa)
 */
export function sym(name: string, tex: string): string {
  if (!/^[A-Za-z][\w-]*$/.test(name)) throw new Error(`sym: bad symbol name ${JSON.stringify(name)}`);
  return `\\htmlData{sym=${name}}{${tex}}`;
}
