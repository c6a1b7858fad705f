// Observable Framework configuration (https://observablehq.com/framework/config).
// Auto-detected by `observable build|preview` (never pass --config: it breaks .ts configs; see docs/architecture.md).
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { COI_SW_PATH, coiHeadScript } from "./src/runtime/isolation.js";

const root = "src";
const rootDir = path.join(path.dirname(fileURLToPath(import.meta.url)), root);

/**
 * The chapters, in reading order. A chapter appears in the sidebar and the pager as soon as its file exists
 * (src/<path>.md); listing a planned chapter here costs nothing until then. Add new pages to this list.
 */
export const chapters: { name: string; path: string }[] = [
  { name: "1. Overview", path: "/01-overview" },
  { name: "2. Attention's cost and linear attention", path: "/02-attention" },
  { name: "3. Token shift", path: "/03-token-shift" },
  { name: "4. Time decay and the bonus u", path: "/04-time-decay" },
  { name: "5. The WKV operator and its state", path: "/05-wkv" },
  { name: "6. Channel mixing", path: "/06-channel-mixing" },
  { name: "7. The whole model", path: "/07-whole-model" },
  { name: "8. RNN mode and parallel mode", path: "/08-rnn-and-parallel" },
  { name: "9. What the state remembers", path: "/09-what-the-state-remembers" },
  { name: "The full-size model", path: "/full-size" },
  { name: "Notation", path: "/notation" },
];

export default {
  root,
  // Any static host (README "Host it"): page links end in .html (./02-attention.html), so a plain file server
  // with no rewrite rules finds every page; the home page stays ./ (every server serves a folder's index.html).
  preserveExtension: true,
  preserveIndex: false,
  // The path the site is served under. Framework writes every link, asset, worker and wasm path relative to the
  // page, so one build works at / and under any sub-path; `base` is only the <base href> of a 404 page (none yet).
  // Set it when the site lives under a sub-path: SITE_BASE=/rwkv/ npm run build.
  base: process.env.SITE_BASE ?? "/",
  title: "RWKV, explained live",
  pages: chapters.filter((page) => existsSync(path.join(rootDir, `${page.path.slice(1)}.md`))),
  // default.css + air (light) + near-midnight (dark, by prefers-color-scheme) + our own rules.
  style: "components/style.css",
  // The default is a Google Fonts stylesheet: nothing may be loaded from another host.
  globalStylesheets: [],
  // coiHeadScript: cross-origin isolation on static hosts through a service worker (src/runtime/isolation.ts)
  head: ({ path: page }: { path: string }) =>
    '<meta name="color-scheme" content="light dark"><link rel="icon" href="data:,">' + coiHeadScript(page),
  // the service worker itself, built at the root by the data loader src/coi-sw.js.ts
  dynamicPaths: [COI_SW_PATH],
  footer:
    "An explainer of <cite>RWKV: Reinventing RNNs for the Transformer Era</cite> (Peng et al., EMNLP Findings 2023), " +
    '<a href="https://arxiv.org/abs/2305.13048">arXiv 2305.13048</a>. Equation numbers follow arXiv v4 (v1 numbers them differently: see <a href="./notation">Notation</a>). ' +
    "Code under the Apache-2.0 licence.",
  toc: true,
  pager: true,
  search: false,
  linkify: true,
  typographer: false,
};
