/**
 * A graph run's introspection outputs (probes, see ./names.ts) as the reference model's Trace
 * (src/rwkv/model.ts), so that the figures read a trace from onnxruntime exactly as one from the reference model.
 *
 * API:
 *   traceFromProbes(probes, weights, T) -> Trace   throws ProbeTraceError naming a missing or mis-sized output
 */
import type { LayerTrace, Trace } from "../rwkv/model.js";
import type { RwkvWeights } from "../rwkv/weights.js";
import { PROBE_FIELD, PROBE_NAMES, X0, probeOut } from "./names.js";

export class ProbeTraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProbeTraceError";
  }
}

/** Fields of F values per token (the channel-mix hidden size); every other probe field has C. */
const F_FIELDS: ReadonlySet<keyof LayerTrace> = new Set<keyof LayerTrace>(["ffnK", "ffnAct"]);

/**
 * Build a Trace of T positions from probe outputs (arrays are used as they are, not copied). `decay` (e^w per
 * channel) is not an output: it is a function of the weights alone, computed here as the reference model does.
 */
export function traceFromProbes(
  probes: Readonly<Record<string, Float32Array>>,
  weights: RwkvWeights,
  T: number,
): Trace {
  const { nEmbd: C, ffnSize: F, nLayer: L } = weights.config;
  const get = (name: string, width: number): Float32Array => {
    const data = probes[name];
    if (!data) throw new ProbeTraceError(`the graph has no output "${name}" (was it built with probes?)`);
    if (data.length !== T * width) {
      throw new ProbeTraceError(`output "${name}" has ${data.length} values, expected ${T} x ${width}`);
    }
    return data;
  };
  const layers: LayerTrace[] = [];
  for (let l = 0; l < L; l++) {
    const lt = {} as LayerTrace;
    for (const p of PROBE_NAMES) {
      const field = PROBE_FIELD[p];
      if (field) lt[field] = get(probeOut(l, p), F_FIELDS.has(field) ? F : C);
    }
    lt.decay = Float32Array.from(weights.blocks[l].att.w, Math.exp);
    layers.push(lt);
  }
  return { T, C, F, x0: get(X0, C), layers };
}
