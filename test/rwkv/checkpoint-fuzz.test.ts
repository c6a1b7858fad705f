/**
 * Bounded, seeded fuzz of the checkpoint loader: thousands of mutated and truncated versions of every fixture
 * (random byte flips aimed at headers, pickles and zip records, inserted/deleted bytes, truncation, header-
 * length edits, zip field edits, pickle opcode edits, pickle slices repeated many times, safetensors JSON
 * edits). Every outcome must be one of the classes of issue 16:
 *   - a CheckpointError (typed, with a message), or
 *   - a fully validated model (finite weights of the shapes its config says) and, for a zip (.pth/.bin), with
 *     exactly the original's weights: every entry read is CRC-checked, so changed data cannot load;
 * never another exception type, never a hang (each case < 2 s), never a heap death (the run would crash).
 * Reproduce a failure with its printed seed and case number. scripts/fuzz-checkpoints.ts runs the same
 * mutations at length (docs/hostile-inputs.md).
 */
import { describe, expect, it } from "vitest";
import { CheckpointError, loadPickle, loadRwkvCheckpoint } from "../../src/rwkv/checkpoint/index.js";
import { fixtureBytes, fixtureConfig, manifest } from "../fixtures/checkpoints/fixtures.js";
import { fuzzFixtures, int, pick, PICKLE_OPS, prng } from "./checkpoint-mutate.js";

// FUZZ_SEED / FUZZ_CASES override these for a longer local run (CI uses the defaults)
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_2305);
const CASES_PER_FIXTURE = Number(process.env.FUZZ_CASES ?? 300);

describe("checkpoint fuzz", () => {
  const targets = Object.keys(manifest.files);

  it(`${targets.length} fixtures x ${CASES_PER_FIXTURE} mutations: only CheckpointError or a valid model`, () => {
    const { cases, ms, slowest, slowestCase, outcomes, kinds } = fuzzFixtures(SEED, CASES_PER_FIXTURE);
    console.log(
      `checkpoint fuzz: ${cases} cases over ${targets.length} fixtures in ${ms.toFixed(0)} ms ` +
        `(slowest case ${slowest.toFixed(1)} ms: ${slowestCase})\n  mutations: ${JSON.stringify(Object.fromEntries(kinds))}\n` +
        `  outcomes:  ${JSON.stringify(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])))}`,
    );
    expect(cases).toBeGreaterThanOrEqual(3000);
    // the slowest case is reported above, not asserted: timings belong to benchmarks (docs/hostile-inputs.md)
    // the fuzz reaches both sides: some mutations still load (safetensors data bytes, zip fields nobody reads),
    // most are rejected
    expect(outcomes.get("loaded") ?? 0).toBeGreaterThan(0);
    expect(outcomes.get("loaded (zip, original data)") ?? 0).toBeGreaterThan(0);
    expect(outcomes.get("checksum-mismatch") ?? 0).toBeGreaterThan(0);
    expect(outcomes.size).toBeGreaterThan(6);
  });

  it("every truncation of one torch zip and one safetensors file is a CheckpointError", () => {
    let n = 0;
    for (const rel of ["blinkdl-bf16.safetensors", "hf-fp16/pytorch_model.bin"]) {
      const bytes = fixtureBytes(rel);
      const hfConfig = fixtureConfig(rel);
      for (let len = 0; len < bytes.length; len += 1) {
        expect(() => loadRwkvCheckpoint(bytes.subarray(0, len), hfConfig ? { hfConfig } : {})).toThrow(
          CheckpointError,
        );
        n++;
      }
    }
    console.log(`checkpoint fuzz: ${n} truncations, all CheckpointError`);
  });

  it("5,000 random opcode streams: the pickle VM returns a value or throws CheckpointError, never hangs", () => {
    const r = prng(SEED ^ 0x9e3779b9);
    const codes = new Map<string, number>();
    const t0 = performance.now();
    for (let i = 0; i < 5000; i++) {
      const len = 1 + int(r, 96);
      const body = Array.from({ length: len }, () => (r() < 0.7 ? pick(r, PICKLE_OPS) : int(r, 256)));
      const p = Uint8Array.from([0x80, 0x02, ...body]);
      let outcome = "value";
      try {
        loadPickle(p);
      } catch (e) {
        if (!(e instanceof CheckpointError)) {
          throw new Error(
            `opcode stream ${i} (seed ${SEED}) threw ${String(e)}: [${Array.from(p).join(", ")}]`,
            { cause: e },
          );
        }
        outcome = e.code;
      }
      codes.set(outcome, (codes.get(outcome) ?? 0) + 1);
    }
    console.log(
      `pickle fuzz: 5000 streams in ${(performance.now() - t0).toFixed(0)} ms: ${JSON.stringify(Object.fromEntries(codes))}`,
    );
    expect(codes.get("bad-pickle") ?? 0).toBeGreaterThan(0);
  });
});
