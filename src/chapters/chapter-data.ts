/**
 * Data for chapters 7 and 8, in the compact JSON the build-time loaders write (src/data/traces/*) and the
 * pages read, computed by the same functions in both places. DOM-free. (Chapter 2's is src/chapters/attention.ts,
 * chapter 6's src/chapters/channel-mixing.ts.)
 *
 * API:
 *   modelCounts(weights) -> ModelCounts                     chapter 7: parameters and FLOPs counted on tensors
 *   encodeModes / decodeModes                               chapter 8: both modes' logits and times
 */
import { matmulFlops, rwkvMatrices, type RwkvShape } from "../components/flops-calculator.js";
import type { ModeRun } from "../components/mode-diff.js";
import { countParameters } from "../rwkv/synthetic.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import { TraceError, base64ToBytes, bytesToBase64 } from "../trace/trace.js";

function f32ToBase64(a: Float32Array): string {
  return bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function base64ToF32(text: string, expected: number, what: string): Float32Array {
  const bytes = base64ToBytes(text);
  const out = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  if (out.length !== expected) throw new TraceError(`${what}: ${out.length} values, expected ${expected}`);
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 7: counts from the loaded tensors
// ---------------------------------------------------------------------------------------------------------

export interface ModelCounts {
  shape: Required<RwkvShape>;
  /** every value of every tensor */
  actualParams: number;
  /** 2 per weight of every matrix multiplied per token */
  actualFlops: number;
}

export function modelCounts(weights: RwkvWeights): ModelCounts {
  const { nLayer, nEmbd, vocabSize, ffnSize } = weights.config;
  return {
    shape: { L: nLayer, D: nEmbd, V: vocabSize, F: ffnSize },
    actualParams: countParameters(weights),
    actualFlops: matmulFlops(rwkvMatrices(weights)),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Chapter 8: both modes
// ---------------------------------------------------------------------------------------------------------

export interface ModesData {
  text: string;
  labels: string[];
  V: number;
  runs: [ModeRun, ModeRun];
  /** "precomputed at build time (Node)" or where the live run happened */
  where: string;
  synthetic: boolean;
}

export function encodeModes(m: ModesData): unknown {
  return {
    format: "rwkv-modes/1",
    ...m,
    runs: m.runs.map((r) => ({ ...r, logits: f32ToBase64(r.logits) })),
  };
}

export function decodeModes(json: unknown): ModesData {
  const e = json as Omit<ModesData, "runs"> & {
    format: string;
    runs: (Omit<ModeRun, "logits"> & { logits: string })[];
  };
  if (!e || e.format !== "rwkv-modes/1" || e.runs?.length !== 2)
    throw new TraceError("not a modes file (format rwkv-modes/1)");
  const n = e.labels.length * e.V;
  const runs = e.runs.map((r) => ({ ...r, logits: base64ToF32(r.logits, n, `${r.name} logits`) })) as [
    ModeRun,
    ModeRun,
  ];
  return { text: e.text, labels: e.labels, V: e.V, runs, where: e.where, synthetic: e.synthetic };
}
