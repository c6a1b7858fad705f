/** The CLI's input rules (src/cli/load.ts), in process: token-id lists, regular files, progress lines. */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CliError, parseTokenIds, Progress, readRegularFile } from "../../src/cli/load.js";

describe("parseTokenIds (issue 16)", () => {
  it("decimal integers in range, separated by commas and/or whitespace", () => {
    expect(parseTokenIds("3,1,4", 11, "--tokens")).toEqual([3, 1, 4]);
    expect(parseTokenIds(" 1 2,3\n", 11, "--tokens")).toEqual([1, 2, 3]);
    expect(parseTokenIds("1,\n2 ,\t3\n\n", 11, "f")).toEqual([1, 2, 3]);
    expect(parseTokenIds("007", 11, "--tokens")).toEqual([7]);
  });

  it("empty items, signs, hex, exponents, fractions, out-of-range ids and empty lists are errors naming the item", () => {
    const bad: [string, RegExp][] = [
      ["3,,4", /item 1 is empty/],
      ["1, ,2", /item 1 is empty/],
      ["5,", /item 1 is empty/],
      [",5", /item 0 is empty/],
      ["0x10,1", /item 0 \("0x10"\) is not a decimal integer/],
      ["1,1e1", /item 1 \("1e1"\) is not a decimal integer/],
      ["-1", /not a decimal integer/],
      ["+1", /not a decimal integer/],
      ["1.0", /not a decimal integer/],
      ["11", /item 0 \("11"\) is not a token id in 0\.\.10/],
      ["99999999999999999999", /not a token id/],
      ["", /no token ids/],
      [" \n ", /no token ids/],
    ];
    for (const [text, msg] of bad) {
      expect(() => parseTokenIds(text, 11, "--tokens"), JSON.stringify(text)).toThrow(CliError);
      expect(() => parseTokenIds(text, 11, "--tokens"), JSON.stringify(text)).toThrow(msg);
    }
  });
});

describe("readRegularFile (issue 16)", () => {
  const dir = mkdtempSync(join(tmpdir(), "rwkv-load-"));

  it("reads a regular file exactly", () => {
    const f = join(dir, "a.txt");
    writeFileSync(f, "hello");
    expect(readRegularFile(f, "text file", 5).toString()).toBe("hello");
  });

  it("refuses a FIFO (without blocking), a device, a directory, a missing path, an oversized file", () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const sub = join(dir, "sub");
    mkdirSync(sub);
    const huge = join(dir, "huge");
    writeFileSync(huge, "");
    truncateSync(huge, 300 * 1024 * 1024); // sparse: reading it would take 300 MB
    const cases: [string, number, RegExp][] = [
      [fifo, 1e9, /FIFO \(named pipe\), not a regular file/],
      ["/dev/zero", 1e9, /character device, not a regular file/],
      [sub, 1e9, /directory, not a regular file/],
      [join(dir, "absent"), 1e9, /no such text file/],
      [huge, 256 * 1024 * 1024, /314572800 bytes, over the 268435456-byte limit/],
    ];
    for (const [path, limit, msg] of cases)
      expect(() => readRegularFile(path, "text file", limit), path).toThrow(msg);
  });
});

describe("Progress", () => {
  function sink() {
    const lines: string[] = [];
    return {
      lines,
      out: { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream,
    };
  }

  it("is silent before its delay, then writes done/total, rate and time left; a final line at the end", () => {
    const quiet = sink();
    const p = new Progress("eval", 100, "tokens", 60_000, quiet.out);
    p.update(50);
    p.finish();
    expect(quiet.lines).toEqual([]);
    const loud = sink();
    const q = new Progress("eval", 100_000, "tokens", 0, loud.out);
    q.update(1234);
    q.update(2000); // within a second of the last line: not written
    q.finish();
    expect(loud.lines).toHaveLength(2);
    expect(loud.lines[0]).toMatch(
      /^rwkv: eval: 1,234\/100,000 tokens \(1%\), [\d.]+ tokens\/s, ~\d+ s left\n$/,
    );
    expect(loud.lines[1]).toMatch(/^rwkv: eval: 100,000\/100,000 tokens \(100%\), .* [\d.]+ s\n$/);
  });
});
