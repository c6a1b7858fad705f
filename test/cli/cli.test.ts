import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { paperParameterCount, SHAPES } from "../../src/rwkv/synthetic.js";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "../..");
const TSX = resolve(ROOT, "node_modules/.bin/tsx");
const CLI = resolve(ROOT, "src/cli/rwkv.ts");
const FIX = resolve(ROOT, "test/fixtures/checkpoints");

async function rwkv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [CLI, ...args], { cwd: ROOT, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe("rwkv CLI", () => {
  it("info reports the 169M shape and the paper's parameter formula (169,342,464)", async () => {
    const r = await rwkv("info", "synthetic-169m", "--json");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info.config).toMatchObject({ nLayer: 12, nEmbd: 768, ffnSize: 3072, vocabSize: 50277 });
    // the formula evaluated by hand for V = 50277, D = 768, L = 12
    expect(2 * 50277 * 768 + 13 * 768 * 768 * 12 + 768 * (11 * 12 + 4)).toBe(169_342_464);
    expect(info.parameters).toBe(169_342_464);
    expect(paperParameterCount(SHAPES.pile169m)).toBe(169_342_464);
  }, 60_000);

  it("info counts the tensors of a real checkpoint file against the formula", async () => {
    const r = await rwkv("info", resolve(FIX, "blinkdl-bf16.pth"), "--json");
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    const { vocabSize: V, nEmbd: D, nLayer: L } = info.config;
    expect(info.parameters).toBe(2 * V * D + 13 * D * D * L + D * (11 * L + 4));
    expect(info.format).toBe("torch-zip");
    expect(info.naming).toBe("blinkdl");
  }, 30_000);

  it("logits --json prints T rows of V floats, the same in rnn and parallel mode", async () => {
    const file = resolve(FIX, "hf-fp32/pytorch_model.bin");
    const a = await rwkv("logits", file, "--tokens", "3,1,4,1,5", "--mode", "rnn", "--json");
    const b = await rwkv("logits", file, "--tokens", "3,1,4,1,5", "--mode", "parallel", "--json");
    expect(a.code).toBe(0);
    const la = JSON.parse(a.stdout).logits as number[][];
    const lb = JSON.parse(b.stdout).logits as number[][];
    expect(la).toHaveLength(5);
    expect(la[0]).toHaveLength(11);
    let m = 0;
    la.forEach((row, t) => row.forEach((x, i) => (m = Math.max(m, Math.abs(x - lb[t][i])))));
    expect(m).toBeLessThanOrEqual(1e-5);
  }, 30_000);

  it("fails with one clear line and a non-zero exit on bad input", async () => {
    const cases: [string[], RegExp][] = [
      [["logits", resolve(FIX, "blinkdl-fp32.pth"), "--tokens", "1,2,99"], /not a token id in 0\.\.10/],
      [["info", resolve(FIX, "malicious-os-system.pth")], /not allowed/],
      [["info", resolve(FIX, "rwkv5-like.pth")], /RWKV-5/],
      [["info", "no/such/file.pth"], /no such model file/],
      [["frobnicate", "x"], /unknown command/],
      [["logits", resolve(FIX, "blinkdl-fp32.pth"), "--tokens", "1", "--mode", "sideways"], /--mode/],
    ];
    const results = await Promise.all(cases.map(([args]) => rwkv(...args)));
    for (const [i, [args, msg]] of cases.entries()) {
      const r = results[i];
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr.trim().split("\n")[0]).toMatch(/^rwkv: /);
    }
  }, 90_000);

  it("eval and generate run the same model on --backend ort as on ref (tiny-rwkv)", async () => {
    const model = resolve(ROOT, "data/models/tiny-rwkv.safetensors");
    const dir = mkdtempSync(join(tmpdir(), "rwkv-cli-"));
    const text = join(dir, "text.txt");
    const content = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east.\n";
    writeFileSync(text, content);
    const nll: Record<string, number> = {};
    for (const backend of ["ref", "ort"])
      for (const mode of ["rnn", "parallel"]) {
        const r = await rwkv(
          "eval",
          model,
          "--text-file",
          text,
          "--mode",
          mode,
          "--backend",
          backend,
          "--json",
        );
        expect(r.code, r.stderr).toBe(0);
        const j = JSON.parse(r.stdout) as { nats_per_token: number; backend: string; tokens: number };
        expect(j.backend).toBe(backend);
        expect(j.tokens).toBe(content.length - 1); // one character a token, each predicted from the ones before
        nll[`${backend}/${mode}`] = j.nats_per_token;
      }
    // a trained model: far below the uniform 65-way guess (ln 65 = 4.17 nats)
    expect(nll["ref/rnn"]).toBeLessThan(3);
    for (const k of Object.keys(nll)) expect(Math.abs(nll[k] - nll["ref/rnn"]), k).toBeLessThanOrEqual(1e-5);
    // greedy decoding: the same characters from both backends
    const args = ["generate", model, "--prompt", "JULIET:", "--max-tokens", "40", "--temperature", "0"];
    const [g1, g2] = await Promise.all([rwkv(...args), rwkv(...args, "--backend", "ort")]);
    expect(g1.code, g1.stderr).toBe(0);
    expect(g2.code, g2.stderr).toBe(0);
    expect(g1.stdout.length).toBeGreaterThan("JULIET:".length + 20);
    expect(g2.stdout).toBe(g1.stdout);
  }, 120_000);
});
