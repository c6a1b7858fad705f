/**
 * The long checkpoint fuzz run of docs/hostile-inputs.md (the CI test, test/rwkv/checkpoint-fuzz.test.ts, runs
 * the same mutations at 300 a fixture):
 *   1. N seeded mutations of every fixture (test/rwkv/checkpoint-mutate.ts), each classified: a typed
 *      CheckpointError code, "loaded" (safetensors: finite weights of the right shapes) or "loaded (zip,
 *      original data)" (a zip may only load with the original's weights, bit for bit). An untyped error or a
 *      zip loading changed weights stops the run with the seed and case to reproduce it.
 *   2. M random pickle opcode streams through the pickle VM.
 *   3. The hostile cases of test/rwkv/hostile-cases.ts, each in a child process with its RSS watched.
 * Prints cases, outcomes, the slowest case, and the peak resident memory of this process (steps 1-2) and of
 * each child (step 3).
 *
 *   npx tsx scripts/fuzz-checkpoints.ts [--cases N] [--streams M] [--seed S] [--no-hostile]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CheckpointError, loadPickle } from "../src/rwkv/checkpoint/index.js";
import { fuzzFixtures, int, pick, PICKLE_OPS, prng } from "../test/rwkv/checkpoint-mutate.js";
import { HOSTILE_CASES, runChild } from "../test/rwkv/hostile-cases.js";

const { values } = parseArgs({
  options: {
    cases: { type: "string", default: "5000" },
    streams: { type: "string", default: "200000" },
    seed: { type: "string", default: String(0x5eed_2305) },
    "no-hostile": { type: "boolean", default: false },
  },
});
const casesPerFixture = Number(values.cases);
const streams = Number(values.streams);
const seed = Number(values.seed);
const MB = 1024 * 1024;
const mb = (b: number): string => `${(b / MB).toFixed(0)} MB`;
const peak = (): number => process.resourceUsage().maxRSS * 1024;
const show = (m: Map<string, number>): string =>
  JSON.stringify(Object.fromEntries([...m].sort((a, b) => b[1] - a[1])));

console.log(
  `fuzz-checkpoints: seed ${seed}, ${casesPerFixture} mutations a fixture, ${streams} pickle streams`,
);
const f = fuzzFixtures(seed, casesPerFixture, (s) => {
  if (s.cases % 10_000 === 0) process.stderr.write(`  ${s.cases} cases, ${(s.ms / 1000).toFixed(0)} s\n`);
});
console.log(
  `1. fixture mutations: ${f.cases} cases in ${(f.ms / 1000).toFixed(1)} s ` +
    `(${((1000 * f.ms) / f.cases).toFixed(0)} us a case; slowest ${f.slowest.toFixed(0)} ms: ${f.slowestCase})\n` +
    `   mutations: ${show(f.kinds)}\n   outcomes:  ${show(f.outcomes)}\n   peak RSS so far ${mb(peak())}`,
);

const r = prng(seed ^ 0x9e3779b9);
const codes = new Map<string, number>();
const t0 = performance.now();
for (let i = 0; i < streams; i++) {
  const len = 1 + int(r, 256);
  const body = Array.from({ length: len }, () => (r() < 0.7 ? pick(r, PICKLE_OPS) : int(r, 256)));
  const p = Uint8Array.from([0x80, 0x02, ...body]);
  let outcome = "value";
  try {
    loadPickle(p);
  } catch (e) {
    if (!(e instanceof CheckpointError))
      throw new Error(`pickle stream ${i} (seed ${seed}) threw ${String(e)}`);
    outcome = e.code;
  }
  codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
}
console.log(
  `2. pickle streams: ${streams} in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${show(codes)}\n` +
    `   peak RSS of this process ${mb(peak())}`,
);

if (!values["no-hostile"]) {
  const dir = mkdtempSync(join(tmpdir(), "rwkv-fuzz-"));
  try {
    console.log("3. hostile cases, one child process each (outcome, time, file, peak RSS):");
    for (const c of HOSTILE_CASES) {
      const bytes = c.build();
      const file = join(dir, "case.bin");
      writeFileSync(file, bytes);
      const res = await runChild(file, c.api);
      const ok = c.expect.includes(res.outcome) && !res.killed;
      console.log(
        `   ${ok ? "ok  " : "FAIL"} ${c.name}: ${res.outcome}, ${res.ms?.toFixed(0)} ms, ${mb(bytes.length)}, ` +
          `peak ${mb(Math.max(res.peakRss ?? 0, res.watchedRss))}${res.killed ? ` (killed: ${res.killed})` : ""}`,
      );
      if (!ok) process.exitCode = 1;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
