/**
 * Reset to defaults (issue 14): the page again with none of its view state (prompt, layer, channel, token, sliders)
 * in the address, keeping only the settings that are not part of a view (presenter mode, the backend and engine,
 * the live model switch, threads, the full-size page's weights and Hub). The chapter kit reads its view state from the
 * address at start (src/ui/url-state.ts), so reloading with this address restores every default at once.
 *
 * API:
 *   KEPT_PARAMS                        the query keys a reset keeps
 *   resetSearch(search) -> "?..."      the query string with only KEPT_PARAMS ("" if none)
 *   resetHref(location) -> string      pathname + resetSearch(search) (no hash: the page opens at its top)
 *   resetButton() -> HTMLButtonElement "Reset view": goes to resetHref(location)
 */

/** Settings that outlive a reset: they choose how the page runs, not what it shows. */
export const KEPT_PARAMS = ["present", "ep", "engine", "live", "threads", "weights", "hub"] as const;

export function resetSearch(search: string): string {
  const from = new URLSearchParams(search.startsWith("?") ? search.slice(1) : search);
  const kept = new URLSearchParams();
  for (const key of KEPT_PARAMS) for (const value of from.getAll(key)) kept.append(key, value);
  const s = kept.toString();
  return s ? `?${s}` : "";
}

export function resetHref({ pathname, search }: { pathname: string; search: string }): string {
  return pathname + resetSearch(search);
}

export function resetButton(): HTMLButtonElement {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "explainer-reset";
  button.textContent = "Reset view";
  button.title = "Every control of this page back to its default (keeps presenter mode and the backend)";
  button.addEventListener("click", () => window.location.assign(resetHref(window.location)));
  return button;
}
