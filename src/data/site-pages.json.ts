// Data loader: which optional pages exist in this build (a page links to another only if it is there).
import { existsSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../explainer/build-model.js";

const pages = [
  "full-size",
  "01-overview",
  "02-attention",
  "03-token-shift",
  "04-time-decay",
  "05-wkv",
  "06-channel-mixing",
  "07-whole-model",
  "08-rnn-and-parallel",
];
process.stdout.write(
  JSON.stringify(
    Object.fromEntries(pages.map((p) => [p, existsSync(path.join(repoRoot, "src", `${p}.md`))])),
  ),
);
