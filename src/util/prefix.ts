/**
 * The length of the common prefix of two token sequences: how many leading positions a cache built for `cached`
 * can keep for `tokens` (a causal model's outputs at positions < n depend on tokens[0..n) only). The one loop
 * the prefix caches share (trace cache, chapter 2's attention caches). A leaf module: imports nothing.
 */
export function commonPrefixLength(tokens: ArrayLike<number>, cached: ArrayLike<number>): number {
  const n = Math.min(tokens.length, cached.length);
  let p = 0;
  while (p < n && tokens[p] === cached[p]) p++;
  return p;
}
