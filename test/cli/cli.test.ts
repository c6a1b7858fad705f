import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { paperParameterCount, SHAPES, syntheticWeights } from "../../src/rwkv/synthetic.js";
import { mulberry32 } from "../../src/rwkv/random.js";
import { blinkTensors, safetensorsF32 } from "../rwkv/checkpoint-writers.js";

const run = promisify(execFile);
const ROOT = resolve(__dirname, "../..");
const TSX = resolve(ROOT, "node_modules/.bin/tsx");
const CLI = resolve(ROOT, "src/cli/rwkv.ts");
const FIX = resolve(ROOT, "test/fixtures/checkpoints");

async function rwkv(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return rwkvWith({}, ...args);
}

/** the CLI with extra environment variables; killed after 60 s (a FIFO must never block it) */
async function rwkvWith(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(TSX, [CLI, ...args], {
      cwd: ROOT,
      maxBuffer: 64 << 20,
      timeout: 60_000,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string; killed?: boolean };
    return { code: err.killed ? -1 : err.code, stdout: err.stdout, stderr: err.stderr };
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

const NEOX = resolve(ROOT, "../shared/data/20B_tokenizer.json");
const TINY = resolve(ROOT, "data/models/tiny-rwkv.safetensors");

describe("rwkv CLI refuses what it cannot mean (issue 16)", () => {
  const dir = mkdtempSync(join(tmpdir(), "rwkv-cli-16-"));
  const model = resolve(FIX, "blinkdl-fp32.pth"); // V = 11

  it("token ids: decimal integers in range, no empty items; whitespace separates too", async () => {
    // every rule is unit-tested in load.test.ts; here, end to end, that the CLI applies them
    const bad: [string, RegExp][] = [
      ["3,,4", /item 1 is empty/],
      ["0x10,1e1", /item 0 \("0x10"\) is not a decimal integer/],
    ];
    const results = await Promise.all(bad.map(([t]) => rwkv("logits", model, `--tokens=${t}`, "--json")));
    bad.forEach(([t, msg], i) => {
      expect(results[i].code, t).not.toBe(0);
      expect(results[i].stderr, t).toMatch(msg);
      expect(results[i].stdout, t).toBe("");
    });
    const ok = await rwkv("logits", model, "--tokens", " 1 2,3\n", "--json");
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).logits).toHaveLength(3);
  }, 120_000);

  it("--tokens-file carries 100,000 ids (too many for a command line); eval on it shows progress", async () => {
    const r = mulberry32(16);
    const ids = Array.from({ length: 100_000 }, () => Math.floor(r() * 11));
    const file = join(dir, "ids.txt");
    // commas, spaces and newlines, as a person or a script would write them
    writeFileSync(
      file,
      ids
        .map((x, i) => (i % 20 === 19 ? `${x}\n` : `${x}, `))
        .join("")
        .replace(/, $/, "\n"),
    );
    const fifty = join(dir, "50.txt");
    writeFileSync(fifty, ids.slice(0, 50).join(","));
    const [big, small, viaArg] = await Promise.all([
      rwkvWith(
        { RWKV_PROGRESS_AFTER_MS: "0" },
        ...["eval", model, "--tokens-file", file, "--mode", "parallel", "--json"],
      ),
      rwkv("eval", model, "--tokens-file", fifty, "--json"),
      rwkv("eval", model, "--tokens", ids.slice(0, 50).join(","), "--json"),
    ]);
    expect(big.code, big.stderr).toBe(0);
    expect(JSON.parse(big.stdout).tokens).toBe(99_999);
    expect(big.stderr).toMatch(/^rwkv: eval \(parallel mode\): [\d,]+\/99,999 tokens/m);
    expect(small.code, small.stderr).toBe(0);
    expect(JSON.parse(small.stdout).nats_per_token).toBe(JSON.parse(viaArg.stdout).nats_per_token);
  }, 120_000);

  it("only regular files within a size limit: a FIFO, /dev/zero, a directory, a 300 MB text are refused at once", async () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const sub = join(dir, "a-directory.pth");
    mkdirSync(sub);
    const huge = join(dir, "huge.txt");
    writeFileSync(huge, "");
    truncateSync(huge, 300 * 1024 * 1024); // sparse: nothing is written, and nothing may be read
    // every kind is unit-tested in load.test.ts; here, end to end, each path of the CLI that reads a file
    const cases: [string[], RegExp][] = [
      [["info", fifo], /FIFO \(named pipe\), not a regular file/],
      [["logits", model, "--tokens-file", "/dev/zero"], /character device/],
      [["eval", TINY, "--text-file", huge], /314572800 bytes, over the \d+-byte limit/],
      [["info", sub], /directory, not a regular file/],
    ];
    const t0 = Date.now();
    const results = await Promise.all(cases.map(([a]) => rwkv(...a)));
    cases.forEach(([a, msg], i) => {
      expect(results[i].code, a.join(" ")).toBeGreaterThan(0); // an error exit, not killed by the timeout
      expect(results[i].stderr, a.join(" ")).toMatch(msg);
    });
    expect(Date.now() - t0).toBeLessThan(55_000);
  }, 120_000);

  it("eval needs at least two tokens", async () => {
    const one = join(dir, "one.txt");
    writeFileSync(one, "A");
    const [a, b] = await Promise.all([
      rwkv("eval", TINY, "--text-file", one),
      rwkv("eval", model, "--tokens", "3"),
    ]);
    for (const r of [a, b]) {
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/at least two tokens/);
      expect(r.stdout).not.toMatch(/NaN/);
    }
  }, 60_000);

  it.skipIf(!existsSync(NEOX))(
    "--tokenizer is used when given, or refused with the reason",
    async () => {
      const notTok = join(dir, "not-a-tokenizer.json");
      writeFileSync(notTok, JSON.stringify({ model: { type: "WordPiece" } }));
      const [synth, char, bad] = await Promise.all([
        rwkv("info", "synthetic-169m", "--tokenizer", NEOX, "--json"),
        rwkv("info", TINY, "--tokenizer", NEOX),
        rwkv("info", "synthetic-169m", "--tokenizer", notTok),
      ]);
      expect(synth.code, synth.stderr).toBe(0);
      expect(JSON.parse(synth.stdout).tokenizer).toBe(`GPT-NeoX BPE (${NEOX})`);
      expect(char.code).toBe(1); // the char model's card had silently won before
      expect(char.stderr).toMatch(/has 50277 ids, the model only 65/);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/not a Hugging Face tokenizer\.json/);
    },
    120_000,
  );

  it("a model whose outputs overflow: logits, eval and generate fail; nothing prints NaN with exit 0", async () => {
    // finite weights (the loader accepts them) whose final LayerNorm scale overflows fp32 on the way to the head
    const cfg = { nLayer: 1, nEmbd: 8, ffnSize: 32, vocabSize: 5, layerNormEps: 1e-5 };
    const tensors = blinkTensors(syntheticWeights(cfg, 1)).map((t) =>
      t.name === "ln_out.weight" ? { ...t, data: new Float32Array(8).fill(3e38) } : t,
    );
    const file = join(dir, "overflow.safetensors");
    writeFileSync(file, safetensorsF32(tensors));
    writeFileSync(join(dir, "overflow.json"), JSON.stringify({ vocabulary: "abcde" })); // a char model card
    const results = await Promise.all([
      rwkv("logits", file, "--tokens", "1,2,3", "--json"),
      rwkv("eval", file, "--tokens", "1,2,3", "--mode", "parallel", "--json"),
      rwkv("generate", file, "--prompt", "abc", "--max-tokens", "5", "--temperature", "0"),
    ]);
    for (const r of results) {
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr).toMatch(/non-finite/);
      expect(r.stdout).not.toMatch(/NaN|null/);
    }
  }, 120_000);
});
