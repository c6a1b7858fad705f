/**
 * Cross-origin isolation wherever the site is served, so that onnxruntime-web's WebAssembly runs on several
 * threads (SharedArrayBuffer exists only in a cross-origin-isolated page; ./threads.ts decides how many).
 *
 * A page is cross-origin isolated when its response carries
 *   Cross-Origin-Opener-Policy: same-origin        and
 *   Cross-Origin-Embedder-Policy: credentialless | require-corp.
 *
 *  - `npm run dev` sends both headers itself (scripts/dev.ts wraps Framework's preview server, which has no
 *    option for headers).
 *  - A static host that cannot set headers (GitHub Pages, a plain file server): every page's <head> carries
 *    COI_HEAD_SCRIPT (observablehq.config.ts), which registers a small service worker, /coi-sw.js
 *    (COI_SW_SOURCE, emitted by the data loader src/coi-sw.js.ts). The worker answers the site's own
 *    (same-origin) requests with the two headers added, so after one reload on the first visit every page
 *    loads isolated. Pages already isolated by their host never register it.
 *
 * Which COEP. `credentialless` where the browser has it (Chromium 96+, Firefox 119+): cross-origin requests made
 * without CORS are then sent without cookies instead of needing the other host's Cross-Origin-Resource-Policy.
 * Browsers without it (Safari) ignore that value and stay unisolated; the head script then switches the service
 * worker to `require-corp` and reloads once more. The Hugging Face Hub download of a checkpoint works under both:
 * the full-size page fetches it with `fetch(url)`, a CORS request, and the Hub (huggingface.co and the storage
 * host it redirects to) answers with `Access-Control-Allow-Origin: *`; COEP's CORP requirement applies only to
 * no-cors requests (images, scripts without `crossorigin`), and the site makes none to another host. The service
 * worker leaves cross-origin requests alone (the browser fetches them as it would without it).
 *
 * At most two reloads per tab session (sessionStorage counts them), so a browser that never isolates (an
 * insecure origin, service workers disabled) costs nothing but the thread count; the badge then says
 * "1 thread" and why (./threads.ts NOT_ISOLATED_REASON).
 *
 * API:
 *   COI_SW_PATH                         "/coi-sw.js" (site root: a service worker controls pages under its folder)
 *   COI_SW_SOURCE                       the service worker's source (plain JS; reads ?coep= from its own URL)
 *   coiHeadScript(pagePath) -> string   the inline <script> for a page at `pagePath` ("/01-overview")
 *   ISOLATION_HEADERS                   the two headers, for servers that can send them (scripts/dev.ts, tests)
 */

export const COI_SW_PATH = "/coi-sw.js";

export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "credentialless",
};

export const COI_SW_SOURCE = `// Cross-origin isolation for static hosts (src/runtime/isolation.ts): adds COOP/COEP to this site's responses.
"use strict";
const COEP = new URL(self.location.href).searchParams.get("coep") === "require-corp" ? "require-corp" : "credentialless";
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (new URL(request.url).origin !== self.location.origin) return; // another host: the browser's own fetch
  if (request.cache === "only-if-cached" && request.mode !== "same-origin") return;
  event.respondWith(
    fetch(request).then((response) => {
      if (response.status === 0) return response; // opaque or a redirect to follow: pass on unchanged
      const headers = new Headers(response.headers);
      headers.set("Cross-Origin-Opener-Policy", "same-origin");
      headers.set("Cross-Origin-Embedder-Policy", COEP);
      headers.set("Cross-Origin-Resource-Policy", "same-origin");
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    }),
  );
});
`;

/** The service worker's URL relative to a page at `pagePath` (Framework's page paths: "/index", "/a/b"). */
export function swUrlFrom(pagePath: string): string {
  const up = Math.max(0, pagePath.split("/").filter(Boolean).length - 1);
  return (up ? "../".repeat(up) : "./") + COI_SW_PATH.slice(1);
}

/**
 * The registering script (classic, inline, runs before the page's modules), per tab session:
 *  - isolated: clear the reload count, nothing else;
 *  - no service worker controls the page: register it (COEP credentialless) and reload once it does (on a hard
 *    reload, which bypasses an installed worker, reload at once);
 *  - controlled but not isolated: this browser ignores credentialless: register it with require-corp, reload;
 *  - after two reloads: give up (1 thread; the badge says why).
 */
export function coiHeadScript(pagePath: string): string {
  const url = JSON.stringify(swUrlFrom(pagePath));
  return `<script>(() => {
  const KEY = "rwkv-coi-reloads";
  const store = (() => { try { return window.sessionStorage; } catch { return null; } })();
  if (window.crossOriginIsolated) { store?.removeItem(KEY); return; }
  if (!window.isSecureContext || !("serviceWorker" in navigator) || !store) return;
  const n = Number(store.getItem(KEY) || 0);
  if (n >= 2) return;
  const sw = navigator.serviceWorker;
  const coep = sw.controller ? "require-corp" : "credentialless";
  let done = false;
  const reload = () => { if (done) return; done = true; store.setItem(KEY, String(n + 1)); window.location.reload(); };
  sw.addEventListener("controllerchange", reload);
  sw.register(new URL(${url}, window.location.href).href + "?coep=" + coep).then((reg) => {
    if (!reg.installing && !reg.waiting && reg.active) reload(); // nothing new will take over: reload now
  }, (error) => console.warn("cross-origin isolation: the service worker did not register:", error));
})();</script>`;
}
