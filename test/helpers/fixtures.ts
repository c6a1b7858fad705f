/**
 * Committed fixtures (files in this repository: test/fixtures/, data/models/) are never optional in CI: a test
 * that needs one runs under CI=true even when the file is missing, and fails there with the missing paths,
 * instead of skipping. Outside CI a missing fixture skips with one line saying what is missing (a partial
 * checkout while developing). Data that is not committed (../shared beside the checkout, opt-in big files) is
 * not a committed fixture: those tests keep their own skip line.
 *
 *   const gate = committedFixtures("tiny-gpt parity", [weights, card]);
 *   describe.runIf(gate.run)("...", () => { it("has its committed fixtures", gate.check); ... });
 */
import { existsSync } from "node:fs";
import { expect } from "vitest";

export interface FixtureGate {
  /** run the tests: the files are there, or CI requires them */
  run: boolean;
  missing: string[];
  /** an `it` body that fails with the missing paths */
  check: () => void;
}

export const IN_CI = /^(1|true)$/i.test(process.env.CI ?? "");

export function committedFixtures(what: string, paths: readonly string[]): FixtureGate {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length > 0 && !IN_CI) console.log(`SKIP ${what}: ${missing.join(", ")} missing`);
  return {
    run: missing.length === 0 || IN_CI,
    missing,
    check: () => expect(missing, `${what}: committed fixtures missing`).toEqual([]),
  };
}
