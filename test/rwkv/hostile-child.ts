/**
 * Runs one reader call on one file and prints one JSON line: the outcome (a CheckpointError code or "loaded"),
 * the time, and the process's peak resident memory. hostile-inputs.test.ts runs it in a child process per
 * case, so that a runaway allocation shows as a killed child (or V8's fatal heap error), never as a crash of
 * the test runner, and so that the peak memory is the reader's alone.
 *   node --import tsx test/rwkv/hostile-child.ts <file> <load|readTorchZip|readSafetensors>
 */
import { readFileSync } from "node:fs";
import {
  CheckpointError,
  loadRwkvCheckpoint,
  readSafetensors,
  readTorchZip,
} from "../../src/rwkv/checkpoint/index.js";

const [file, api] = process.argv.slice(2);
const buf = readFileSync(file); // the file's one copy in memory, as the CLI holds it
const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
const t0 = performance.now();
let outcome = "loaded";
let message = "";
try {
  if (api === "readTorchZip") readTorchZip(bytes);
  else if (api === "readSafetensors") readSafetensors(bytes);
  else loadRwkvCheckpoint(bytes);
} catch (e) {
  if (!(e instanceof CheckpointError)) {
    console.log(JSON.stringify({ outcome: "untyped", message: String(e) }));
    process.exit(2);
  }
  outcome = e.code;
  message = e.message.slice(0, 300);
}
console.log(
  JSON.stringify({
    outcome,
    message,
    ms: performance.now() - t0,
    fileBytes: bytes.length,
    peakRss: process.resourceUsage().maxRSS * 1024,
  }),
);
