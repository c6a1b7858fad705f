import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "../..");
const TSX = resolve(ROOT, "node_modules/.bin/tsx");
const CLI = resolve(ROOT, "src/cli/rwkv.ts");

async function rwkv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [CLI, ...args], { cwd: ROOT, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("rwkv CLI --threads", () => {
  it("ORT on 2 threads gives the logits of 1 thread and of the reference model", async () => {
    const tokens = ["--tokens", "5,17,3,60,1", "--json"];
    const [ref, one, two] = await Promise.all([
      rwkv("logits", "synthetic-tiny", ...tokens),
      rwkv("logits", "synthetic-tiny", "--backend", "ort", "--threads", "1", ...tokens),
      rwkv("logits", "synthetic-tiny", "--backend", "ort", "--threads", "2", ...tokens),
    ]);
    for (const r of [ref, one, two]) expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(ref.stdout).logits as number[][];
    const b = JSON.parse(two.stdout).logits as number[][];
    const c = JSON.parse(one.stdout).logits as number[][];
    expect(b.length).toBe(5);
    let worst = 0;
    a.forEach((row, t) =>
      row.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - b[t][j]), Math.abs(c[t][j] - b[t][j])))),
    );
    expect(worst).toBeLessThan(1e-4);
  }, 120_000);

  it("bench --json reports the threads ORT ran with", async () => {
    const r = await rwkv(
      "bench",
      "synthetic-tiny",
      "--backend",
      "ort",
      "--threads",
      "2",
      "--tokens",
      "8",
      "--repeats",
      "1",
      "--json",
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.threads).toBe(2);
    expect(out.runtime).toContain("2 threads");
    const ref = await rwkv("bench", "synthetic-tiny", "--tokens", "4", "--repeats", "1", "--json");
    expect(JSON.parse(ref.stdout).threads).toBe(1);
  }, 120_000);

  it("rejects --threads for the reference model and bad counts, with one line", async () => {
    const a = await rwkv("logits", "synthetic-tiny", "--tokens", "1", "--threads", "2");
    expect(a.code).not.toBe(0);
    expect(a.stderr).toMatch(/--threads applies to --backend ort/);
    const b = await rwkv("logits", "synthetic-tiny", "--tokens", "1", "--backend", "ort", "--threads", "0");
    expect(b.code).not.toBe(0);
    expect(b.stderr).toMatch(/--threads has an invalid value/);
  }, 60_000);
});
