/**
 * `npm run bench -- ref [--tokens T]`: prompt-ingestion throughput of the reference model in RNN and
 * parallel mode, for the RWKV-4-Pile-169M shape and the tiny model's shape (deterministic random
 * weights made in process), written into docs/benchmarks.md with the machine it ran on.
 * `npm run bench -- ort`: the ONNX graphs on ORT wasm in Node (src/cli/ort.ts ortSuite): ingestion at T = 64, 256,
 * 1024 in both modes and generation, beside rooflines measured in the same runtime. `npm run bench` runs both;
 * `npm run bench:gpu` is the WebGPU counterpart (it needs the NVIDIA machine). `--threads N`: ORT's wasm threads for
 * the `ort` suite (default 1, as a page without cross-origin isolation runs).
 */
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RwkvModel } from "../rwkv/model.js";
import { SHAPES, syntheticWeights } from "../rwkv/synthetic.js";
import { benchGeneration, benchRef } from "./bench-ref.js";
import { REPO_ROOT } from "./load.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tokens: { type: "string", default: "64" },
    "no-write": { type: "boolean", default: false },
    threads: { type: "string", default: "1" },
  },
});
const which = positionals[0] ?? "all";
if (!["ref", "ort", "all"].includes(which)) {
  process.stderr.write(`bench: unknown suite '${which}' (available: ref, ort, all)\n`);
  process.exit(1);
}
const T = Number(values.tokens);
const threads = Number(values.threads);
if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
  process.stderr.write(`bench: --threads must be an integer in 1..64, got ${values.threads}\n`);
  process.exit(1);
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `${cpu}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}`;
}

function writeSection(key: string, section: string): void {
  if (values["no-write"]) return;
  const file = join(REPO_ROOT, "docs/benchmarks.md");
  let doc = existsSync(file)
    ? readFileSync(file, "utf8")
    : "# Benchmarks\n\nSpeed targets are checked here, not by timed tests. Each section names the machine it ran on.\n\n";
  const re = new RegExp(`<!-- bench:${key}:start -->[\\s\\S]*<!-- bench:${key}:end -->`);
  doc = re.test(doc) ? doc.replace(re, () => section) : doc.trimEnd() + "\n\n" + section + "\n";
  writeFileSync(file, doc);
  console.log(`wrote ${file} (${key})`);
}

async function runRef(): Promise<void> {
  const rows: string[] = [];
  const genRows: string[] = [];
  const results: Record<string, unknown>[] = [];
  // --tokens T runs one length; by default T = 64, 256, 1024 (the 169M shape: 64 and 256, a 1024-token run of
  // each mode takes minutes in single-threaded JavaScript and the RNN rate does not depend on T)
  const custom = values.tokens !== "64";
  for (const [name, shape, Ts, gen] of [
    ["synthetic-tiny", SHAPES.tiny, custom ? [T] : [64, 256, 1024], 200],
    ["synthetic-169m", SHAPES.pile169m, custom ? [T] : [64, 256], 16],
  ] as const) {
    const model = new RwkvModel(syntheticWeights(shape, 0));
    for (const t of Ts) {
      const r = benchRef(model, { tokens: t, ...(t >= 256 ? { repeats: shape.nEmbd >= 512 ? 1 : 3 } : {}) });
      results.push({ model: name, backend: "ref", tokens: t, ...r });
      rows.push(
        `| ${name} | L=${shape.nLayer} D=${shape.nEmbd} V=${shape.vocabSize} | ${t} | ${r.rnn_tokens_per_second.toFixed(1)} | ${r.parallel_tokens_per_second.toFixed(1)} | ${r.parallel_over_rnn.toFixed(2)}x | ${r.repeats} |`,
      );
      console.log(JSON.stringify(results[results.length - 1]));
    }
    const g = await benchGeneration(model, gen);
    genRows.push(`| ${name} | ${gen} | ${g.median.toFixed(2)} | ${g.p95.toFixed(2)} |`);
  }

  const section = [
    "<!-- bench:ref:start -->",
    "## Reference model (TypeScript, `npm run bench -- ref`)",
    "",
    `Prompt ingestion of T random tokens: RNN mode (T steps of \`step\`) against parallel mode (one \`forward\`, last-position logits and the final state). Medians over repeats after a warm-up run. Generation: RNN steps from the empty state, greedy, ms per token. Single-threaded JavaScript. The 169M shape runs T = 64 and 256 only: a 1024-token run of each mode takes minutes here, and the RNN rate does not depend on T.`,
    "",
    `Machine: ${machine()}. Run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`,
    "",
    "| model | shape | T | RNN tokens/s | parallel tokens/s | parallel / RNN | repeats |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    "| model | generated tokens | ms/token median | p95 |",
    "| --- | --- | --- | --- |",
    ...genRows,
    "<!-- bench:ref:end -->",
  ].join("\n");
  writeSection("ref", section);
}

async function runOrt(): Promise<void> {
  const { ortSuite } = await import("./ort.js");
  const out: Awaited<ReturnType<typeof ortSuite>>[] = [];
  const { loadBuildModel } = await import("../build/build-model.js");
  for (const [name, weights, gen, big] of [
    ["tiny-rwkv (trained)", loadBuildModel().weights, 200, false],
    ["synthetic-169m", syntheticWeights(SHAPES.pile169m, 0), 32, true],
  ] as const) {
    const r = await ortSuite(name, weights, {
      Ts: [64, 256, 1024],
      gen,
      repeats: (T) => (big ? (T >= 1024 ? 1 : 2) : T >= 1024 ? 2 : 5),
      threads,
    });
    console.log(JSON.stringify(r));
    out.push(r);
  }
  const f = (x: number, d = 1) => x.toFixed(d);
  // one section per thread count (the single-threaded one keeps its key)
  const key = threads === 1 ? "ort" : `ort-threads-${threads}`;
  const lines = [
    `<!-- bench:${key}:start -->`,
    `## ONNX graphs on onnxruntime-web wasm in Node (\`npm run bench -- ort${threads === 1 ? "" : ` --threads ${threads}`}\`)`,
    "",
    `Prompt ingestion of T random tokens in both modes (parallel: the parallel graph, chunks of ${out[0].chunk}, last-position logits and the final state; RNN: \`steps()\`, one run of the step graph per token) and generation (RNN steps with the logits read every token, greedy), medians after a warm-up run. Rooflines measured in the same runtime (src/runtime/roofline.ts): a (chunk, C) x (C, F) MatMul for the matmul rate, a matrix-vector product over as many bytes as one token's weights (at least 64 MiB: this machine's L3 cache is 260 MiB) for the streaming-read bandwidth. ${out[0].runtime}${out[0].threads === 1 ? ", as in a page without cross-origin isolation" : ""}.`,
    "",
    `Machine: ${machine()}. Run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.`,
    "",
    "| model | shape | roofline matmul GFLOP/s | roofline read GB/s |",
    "| --- | --- | --- | --- |",
    ...out.map(
      (r) => `| ${r.model} | ${r.shape} | ${f(r.roofline.matmulGflops)} | ${f(r.roofline.bandwidthGBs)} |`,
    ),
    "",
    "| model | T | RNN tokens/s | parallel tokens/s | parallel / RNN | parallel matmul efficiency | repeats |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...out.flatMap((r) =>
      r.ingestion.map(
        (i) =>
          `| ${r.model} | ${i.T} | ${f(i.rnnTokensPerSecond)} | ${f(i.parallelTokensPerSecond)} | ${f(i.parallelOverRnn, 2)}x | ${f(100 * i.parallelEfficiency)}% | ${i.repeats} |`,
      ),
    ),
    "",
    "| model | generated tokens | ms/token median | p95 | bandwidth bound ms/token | median / bound |",
    "| --- | --- | --- | --- | --- | --- |",
    ...out.map(
      (r) =>
        `| ${r.model} | ${r.generation.tokens} | ${f(r.generation.msPerTokenMedian, 2)} | ${f(r.generation.msPerTokenP95, 2)} | ${f(r.generation.boundMs, 3)} | ${f(r.generation.msPerTokenMedian / r.generation.boundMs, 1)}x |`,
    ),
    `<!-- bench:${key}:end -->`,
  ];
  writeSection(key, lines.join("\n"));
}

if (which === "ref" || which === "all") await runRef();
if (which === "ort" || which === "all") await runOrt();
