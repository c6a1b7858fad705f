/**
 * What the full-size page's figures and sentences say, computed from a run's numbers (DOM-free; the elements are
 * built by src/full-size/views.ts): the paper's memory equation as TeX, the prefill and generation summaries,
 * the memory facts (5LC against 2LTC, paper Sect. 3 / Table 1) and the Table 2 row of the loaded model.
 *
 * API:
 *   TEX.memory                                  5LC (RWKV state) against 2LTC (KV cache after T tokens)
 *   AGREEMENT                                   the agreement the page asks of the two modes (1e-3)
 *   prefillSummary(points) -> {T, parallelTps, rnnTps, speedup} | undefined     at the longest T run both ways
 *   generationSummary(gen) -> {...} | undefined  first/last-quarter medians, slopes (µs per position), totals
 *   memoryFacts(L, C, T?) -> {...}              state and KV-cache numbers and the token where the cache passes
 *   table2Row(name, config, stored?) -> {...}   parameters and FLOPs by the paper's formulas, Table 2's values
 *   sameOrder(eq) -> boolean                    whether both modes give the same top-5 tokens in order
 */
import { TABLE2_PRESETS, exactParams, table2Flops } from "../chapters/flops.js";
import type { RwkvConfig } from "../rwkv/weights.js";
import type { Equivalence, GenerationResult, PrefillPoint } from "./bench.js";
import { kvCacheNumbers, median, slope, stateNumbers } from "./full-size.js";

export const TEX = {
  memory: String.raw`\underbrace{5\,L\,C}_{\text{RWKV state}} \qquad\text{against}\qquad \underbrace{2\,L\,T\,C}_{\text{KV cache after } T \text{ tokens}}`,
};

/** The largest |RNN - parallel| logit difference the page accepts. */
export const AGREEMENT = 1e-3;

export interface PrefillSummary {
  T: number;
  /** tokens per second */
  parallelTps: number;
  rnnTps: number;
  /** RNN time / parallel time */
  speedup: number;
}

/** At the last point of the sweep, when RNN mode ran there too. */
export function prefillSummary(points: readonly PrefillPoint[] | undefined): PrefillSummary | undefined {
  const last = points?.at(-1);
  if (!last?.rnnMs) return undefined;
  return {
    T: last.T,
    parallelTps: (last.T / last.parallelMs) * 1000,
    rnnTps: (last.T / last.rnnMs) * 1000,
    speedup: last.rnnMs / last.parallelMs,
  };
}

export interface GenerationSummary {
  tokens: number;
  rwkv: { first: number; last: number; slopeUs: number; totalS: number };
  gpt?: { first: number; last: number; slopeUs: number; totalS: number };
}

/**
 * Per-token times: medians over the first and the last quarter of the positions, the least-squares slope in
 * µs per position, the total in seconds. Needs more than 16 positions.
 */
export function generationSummary(gen: GenerationResult | undefined): GenerationSummary | undefined {
  if (!gen || gen.rwkvMs.length <= 16) return undefined;
  // the transformer runs after RWKV (src/full-size/bench.ts generation): while it runs it has fewer positions
  const of = (ms: number[], cum: number[]) => {
    const q = Math.floor(ms.length / 4);
    return {
      first: median(ms.slice(0, q)),
      last: median(ms.slice(-q)),
      slopeUs: slope(gen.positions.slice(0, ms.length), ms) * 1000,
      totalS: (cum.at(-1) ?? NaN) / 1000,
    };
  };
  return {
    tokens: gen.positions.length,
    rwkv: of(gen.rwkvMs, gen.rwkvCumulative),
    ...(gen.gptMs.length > 16 ? { gpt: of(gen.gptMs, gen.gptCumulative) } : {}),
  };
}

export interface MemoryFacts {
  L: number;
  C: number;
  /** numbers in RWKV's state, 5LC */
  state: number;
  /** tokens after which the KV cache (2LC per token) holds more than the state: 5/2 */
  passesAfter: number;
  /** the KV cache at T tokens, 2LTC */
  T: number;
  kv: number;
}

export function memoryFacts(L: number, C: number, T = 1024): MemoryFacts {
  return {
    L,
    C,
    state: stateNumbers(L, C),
    passesAfter: stateNumbers(L, C) / kvCacheNumbers(L, C, 1),
    T,
    kv: kvCacheNumbers(L, C, T),
  };
}

export interface Table2Row {
  name: string;
  /** values stored in the file */
  stored?: number;
  /** parameters by the formula 2VD + L(5D² + 2DF) + D(11L + 4) */
  formula: number;
  /** forward FLOPs per token 2(VD + L(5D² + 2DF)) */
  flops: number;
  /** the paper's printed values, when the shape is one of Table 2's (F = 4D) */
  paper?: { params: number; flops: number };
}

export function table2Row(name: string, c: RwkvConfig, stored?: number): Table2Row {
  const shape = { L: c.nLayer, D: c.nEmbd, V: c.vocabSize, F: c.ffnSize };
  const preset = TABLE2_PRESETS.find(
    (p) => p.L === shape.L && p.D === shape.D && p.V === shape.V && c.ffnSize === 4 * c.nEmbd,
  );
  return {
    name,
    ...(stored !== undefined ? { stored } : {}),
    formula: exactParams(shape),
    flops: table2Flops(shape),
    ...(preset?.table2 ? { paper: preset.table2 } : {}),
  };
}

export function sameOrder(eq: Pick<Equivalence, "topRnn" | "topParallel">): boolean {
  return eq.topRnn.every(([id], i) => id === eq.topParallel[i]?.[0]);
}
