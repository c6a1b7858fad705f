/**
 * Prefix caches of causal models: a model's outputs at positions < n depend on tokens[0..n) only, so when the
 * reader edits a prompt every position before the first change keeps its result. A leaf module: imports nothing.
 *
 * API:
 *   commonPrefixLength(tokens, cached) -> n     how many leading positions a cache built for `cached` can keep
 *   new PrefixRows<R>()                         one result ("row") per position of the latest token sequence:
 *     keep(tokens) -> n                         cut back to the prefix shared with `tokens`; the caller then
 *                                               push()es the rows of positions n.. in order
 *     push(token, row)                          the row of the next position, computed for `token`
 *     rows, tokens                              the rows held and the tokens they were computed for (same length)
 *   Used by chapter 2's attention caches (src/live/gpt-attention.ts, src/live/gpt-ort-attention.ts).
 */
export function commonPrefixLength(tokens: ArrayLike<number>, cached: ArrayLike<number>): number {
  const n = Math.min(tokens.length, cached.length);
  let p = 0;
  while (p < n && tokens[p] === cached[p]) p++;
  return p;
}

export class PrefixRows<R> {
  /** held[t] is the token row t was computed for: always as long as `rows`, so a failed computation that pushed
   * only some rows leaves a consistent cache */
  private readonly held: number[] = [];
  private readonly list: R[] = [];

  get rows(): readonly R[] {
    return this.list;
  }

  get tokens(): readonly number[] {
    return this.held;
  }

  keep(tokens: ArrayLike<number>): number {
    const p = commonPrefixLength(tokens, this.held);
    this.held.length = p;
    this.list.length = p;
    return p;
  }

  push(token: number, row: R): void {
    this.held.push(token);
    this.list.push(row);
  }
}
