/**
 * View state in the URL, so a presenter can open and share an exact view:
 *   /05-wkv?prompt=ROMEO%3A&layer=2&channel=17&token=4
 *
 * API:
 *   interface ViewState { prompt?, layer?, channel?, token?, [key]: string | number | undefined }
 *   parseViewState(search, defaults, {real?}) -> state   typed from the defaults: a key whose default is an
 *                                               integer is read as an integer, one whose default is not (or that
 *                                               `real` lists) as any finite number; a bad value falls back to
 *                                               the default
 *   formatViewState(state, defaults) -> "?..."  only the keys that differ from the defaults ("" if none)
 *   readUrlState(defaults)                      page: parse location.search
 *   writeUrlState(partial)                      page: merge into location.search with history.replaceState
 *                                               (no reload, no history entry per keystroke)
 *   flushUrlState()                             page: write what writeUrlState still holds back, now
 *   clampInt(value, lo, hi)                     helper for indices read from a URL
 * DOM is touched only inside readUrlState/writeUrlState.
 */

export type ViewValue = string | number;
export type ViewState = Record<string, ViewValue>;

/** Parse a query string with the defaults as schema (their types decide how each key is read). */
export function parseViewState<S extends ViewState>(
  search: string,
  defaults: S,
  { real = [] }: { real?: readonly string[] } = {},
): S {
  const params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  const out: ViewState = { ...defaults };
  for (const [key, def] of Object.entries(defaults)) {
    const raw = params.get(key);
    if (raw === null) continue;
    if (typeof def === "number") {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n)) continue;
      // an integer default (a layer, a channel, a seed) takes integers only; a real-valued default (temperature
      // 0.8, top-p 0.9), or a key listed in `real`, takes any finite number
      if (Number.isInteger(def) && !real.includes(key) && !Number.isInteger(n)) continue;
      out[key] = n;
    } else {
      out[key] = raw;
    }
  }
  return out as S;
}

/** The query string for a state: keys equal to their defaults are left out, so a default view has a clean URL. */
export function formatViewState(state: ViewState, defaults: ViewState = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state)) {
    if (value === undefined || value === defaults[key]) continue;
    params.set(key, String(value));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

/** Merge `partial` into an existing query string (a key set to its default, or undefined, is removed). */
export function mergeSearch(
  search: string,
  partial: Record<string, ViewValue | undefined>,
  defaults: ViewState = {},
): string {
  const params = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  for (const [key, value] of Object.entries(partial)) {
    if (value === undefined || value === defaults[key]) params.delete(key);
    else params.set(key, String(value));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

export function clampInt(value: number, lo: number, hi: number): number {
  if (!Number.isFinite(value)) return lo;
  return Math.min(hi, Math.max(lo, Math.round(value)));
}

/** Page: the view state in the current URL (defaults for what it lacks). */
export function readUrlState<S extends ViewState>(defaults: S, opts: { real?: readonly string[] } = {}): S {
  return parseViewState(globalThis.location?.search ?? "", defaults, opts);
}

let pending: Record<string, ViewValue | undefined> = {};
let pendingDefaults: ViewState = {};
let timer: ReturnType<typeof setTimeout> | undefined;

function flush(): void {
  timer = undefined;
  const loc = globalThis.location;
  if (!loc || !globalThis.history) return;
  const search = mergeSearch(loc.search, pending, pendingDefaults);
  pending = {};
  pendingDefaults = {};
  if (search === loc.search) return;
  globalThis.history.replaceState(globalThis.history.state, "", `${loc.pathname}${search}${loc.hash}`);
}

/**
 * Page: write part of the view state into the URL without reloading (history.replaceState). Writes are batched
 * for 100 ms (several cells write on one keystroke, and replaceState is not free).
 */
export function writeUrlState(
  partial: Record<string, ViewValue | undefined>,
  defaults: ViewState = {},
): void {
  if (!globalThis.location || !globalThis.history) return;
  Object.assign(pending, partial);
  Object.assign(pendingDefaults, defaults);
  if (timer === undefined) timer = setTimeout(flush, 100);
}

/** Page: write the batched view state now (a link copied right after a change must hold it). */
export function flushUrlState(): void {
  if (timer === undefined) return;
  clearTimeout(timer);
  flush();
}
