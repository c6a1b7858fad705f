/**
 * `npm run bench -- ref [--tokens T]`: prompt-ingestion throughput of the reference model in RNN and
 * parallel mode, for the RWKV-4-Pile-169M shape and the tiny model's shape (deterministic random
 * weights made in process), written into docs/benchmarks.md with the machine it ran on.
 * Later backends add their own sections (`npm run bench -- ort`).
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RwkvModel } from "../rwkv/model.js";
import { SHAPES, syntheticWeights } from "../rwkv/synthetic.js";
import { benchRef } from "./bench-ref.js";
import { REPO_ROOT } from "./load.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { tokens: { type: "string", default: "64" }, "no-write": { type: "boolean", default: false } },
});
const which = positionals[0] ?? "ref";
if (which !== "ref") {
  process.stderr.write(`bench: unknown suite '${which}' (available: ref)\n`);
  process.exit(1);
}
const T = Number(values.tokens);

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

const rows: string[] = [];
const results: Record<string, unknown>[] = [];
for (const [name, shape] of [
  ["synthetic-tiny", SHAPES.tiny],
  ["synthetic-169m", SHAPES.pile169m],
] as const) {
  const model = new RwkvModel(syntheticWeights(shape, 0));
  const r = benchRef(model, { tokens: T });
  results.push({ model: name, backend: "ref", tokens: T, ...r });
  rows.push(
    `| ${name} | L=${shape.nLayer} D=${shape.nEmbd} V=${shape.vocabSize} | ${T} | ${r.rnn_tokens_per_second.toFixed(1)} | ${r.parallel_tokens_per_second.toFixed(1)} | ${r.parallel_over_rnn.toFixed(2)}x | ${r.repeats} |`,
  );
  console.log(JSON.stringify(results[results.length - 1]));
}

const section = [
  "<!-- bench:ref:start -->",
  "## Reference model (TypeScript, `npm run bench -- ref`)",
  "",
  `Prompt ingestion of T random tokens: RNN mode (T steps of \`step\`) against parallel mode (one \`forward\`, last-position logits and the final state). Medians over repeats after a warm-up run. Single-threaded JavaScript.`,
  "",
  `Machine: ${machine()}. Run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`,
  "",
  "| model | shape | T | RNN tokens/s | parallel tokens/s | parallel / RNN | repeats |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...rows,
  "<!-- bench:ref:end -->",
].join("\n");

if (!values["no-write"]) {
  const file = join(REPO_ROOT, "docs/benchmarks.md");
  let doc = existsSync(file)
    ? readFileSync(file, "utf8")
    : "# Benchmarks\n\nSpeed targets are checked here, not by timed tests. Each section names the machine it ran on.\n\n";
  doc = /<!-- bench:ref:start -->[\s\S]*<!-- bench:ref:end -->/.test(doc)
    ? doc.replace(/<!-- bench:ref:start -->[\s\S]*<!-- bench:ref:end -->/, section)
    : doc.trimEnd() + "\n\n" + section + "\n";
  writeFileSync(file, doc);
  console.log(`wrote ${file}`);
}
