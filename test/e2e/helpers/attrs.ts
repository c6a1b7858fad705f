/**
 * A number read from a figure's data-* attribute. `Number(null)` and `Number("")` are 0, which passes every
 * "error < tolerance" check: a missing attribute must fail the test instead.
 */
export function numberAttr(raw: string | null | undefined, what: string): number {
  if (raw === null || raw === undefined || raw.trim() === "")
    throw new Error(`${what}: attribute missing or empty`);
  const n = Number(raw);
  if (Number.isNaN(n)) throw new Error(`${what}: not a number (${JSON.stringify(raw)})`);
  return n;
}
