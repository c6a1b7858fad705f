// Data loader: which optional pages exist in this build (a page links to another only if it is there).
import { existsSync } from "node:fs";
import path from "node:path";
import { chapters } from "../../observablehq.config.js";
import { repoRoot } from "../build/build-model.js";

const pages = chapters.map((c) => c.path.slice(1)); // observablehq.config.ts: one list of pages
process.stdout.write(
  JSON.stringify(
    Object.fromEntries(pages.map((p) => [p, existsSync(path.join(repoRoot, "src", `${p}.md`))])),
  ),
);
