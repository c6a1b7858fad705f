/**
 * The hostile checkpoints of issue 16, built in memory, each read in its own child process (hostile-child.ts)
 * whose resident memory is watched: the reader must answer with the expected CheckpointError (or load), within
 * the documented memory bound (docs/hostile-inputs.md), and quickly. Before the fixes the 32M-EMPTY_DICT
 * pickle died of V8's heap limit at 4.8 GB, the 400 shared views peaked at 3.4 GB and the 100 MB header took
 * 32 s and 5 GB; here a child that passes HARD_LIMIT is killed and the case fails.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HOSTILE_CASES, runChild } from "./hostile-cases.js";

const ROOT = resolve(import.meta.dirname, "../..");
const MB = 1024 * 1024;

describe("hostile checkpoints: a typed error (or a load) in bounded memory and time (issue 16)", () => {
  const dir = mkdtempSync(join(tmpdir(), "rwkv-hostile-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let baseline = 0;

  it("baseline: a child reading a 20 KB fixture", async () => {
    const r = await runChild(resolve(ROOT, "test/fixtures/checkpoints/blinkdl-fp32.pth"), "load");
    expect(r.outcome, r.stderr).toBe("loaded");
    baseline = r.peakRss!;
    console.log(`hostile: baseline child peak RSS ${(baseline / MB).toFixed(0)} MB`);
  }, 60_000);

  for (const c of HOSTILE_CASES) {
    it(
      c.name,
      async () => {
        const bytes = c.build();
        const file = join(dir, "case.bin");
        writeFileSync(file, bytes);
        const r = await runChild(file, c.api);
        const peak = Math.max(r.peakRss ?? 0, r.watchedRss);
        console.log(
          `hostile: ${c.name}: ${r.outcome} in ${r.ms?.toFixed(0)} ms, file ${(bytes.length / MB).toFixed(1)} MB, ` +
            `peak RSS ${(peak / MB).toFixed(0)} MB (baseline ${(baseline / MB).toFixed(0)})` +
            (r.killed ? `; KILLED: ${r.killed}` : "") +
            (c.issue ? `; issue 16 saw: ${c.issue}` : ""),
        );
        expect(r.killed, r.stderr).toBeUndefined();
        expect(r.exit, r.stderr).toBe(0);
        expect(c.expect, r.message).toContain(r.outcome);
        // time is reported above, not asserted (docs/hostile-inputs.md has the figures); a hang is caught by
        // the child's kill timer (r.killed) and the test's own timeout
        // the documented bound: the file, plus a few times its size, plus the fixed budgets
        expect(peak - baseline).toBeLessThanOrEqual(3 * bytes.length + 160 * MB);
      },
      90_000,
    );
  }
});
