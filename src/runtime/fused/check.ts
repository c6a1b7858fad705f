/**
 * The fused step checked against the reference model (src/rwkv/model.ts: float64 sums, written independently of
 * the kernels). `runFusedCheck` drives a FusedRwkv (wherever its device lives: a browser page, Dawn for Node on
 * the NVIDIA machine) and returns plain numbers; `judgeFusedCheck` recomputes everything with the reference model
 * and reports the errors. Used by test/e2e/fused-webgpu.test.ts (Chromium's WebGPU, the tiny shapes) and by the
 * GPU benchmark (src/cli/fused-gpu-bench.ts, 169M on the H200).
 */
import { RwkvModel } from "../../rwkv/model.js";
import { argmax, softmax } from "../../rwkv/sampling.js";
import type { RwkvState, RwkvWeights } from "../../rwkv/weights.js";
import type { FusedRwkv } from "./fused-rwkv.js";

export interface FusedCheckRequest {
  /** prompt: stepped one at a time (logits read each), then as one steps() call */
  tokens: number[];
  /** greedy tokens generated on the GPU after the prompt */
  greedy: number;
  /** [temperature, topP, seed]: `sampled` tokens each, generated from the prompt's end (its state and logits set back) */
  sampling: [number, number, number][];
  sampled: number;
  /** the sampler alone: these token ids with these probabilities as logits, `draws` single draws at top-p */
  freq?: { ids: number[]; probs: number[]; topP: number; draws: number };
}

type PlainState = Record<string, number[]>[];

/**
 * Logits written with setLogits for greedy draws (the sampler's argmax then reads the parts computed from them, not
 * the head's): the first of two equal maxima, a maximum in the last row (the last, partial group of rows), all
 * equal, and a pattern without ties.
 */
export function setLogitsCases(V: number): Float32Array[] {
  const tie = new Float32Array(V).fill(-1e4);
  tie[V - 1] = 5;
  tie[Math.min(3, V - 1)] = 5;
  const last = new Float32Array(V).fill(-1e4);
  last[V - 1] = 1;
  const pattern = Float32Array.from({ length: V }, (_, i) => Math.sin(i * 12.9898) * 3);
  return [tie, last, new Float32Array(V), pattern];
}

export interface FusedCheckOutput {
  steps: number[][];
  stepState: PlainState;
  stepsLogits: number[];
  stepsState: PlainState;
  greedy: number[];
  greedyState: PlainState;
  greedyLogits: number[];
  sampled: number[][];
  /** greedy again with every step's logits read back (generateReading, pipelined): tokens and logits */
  pipelined?: { tokens: number[]; logits: number[][] };
  freq?: number[];
  /** greedy draws from setLogitsCases(V), in order */
  greedyFromSet: number[];
}

export interface FusedCheckReport {
  /** max |fused - reference| over the prompt's step logits, over max |reference| */
  stepLogitsRel: number;
  /** max |fused - reference| over every state number after the prompt (steps one by one) */
  stepStateAbs: number;
  /** the same for one steps() call over the prompt (last logits only) */
  stepsLogitsRel: number;
  stepsStateAbs: number;
  /** greedy tokens equal to the reference's greedy loop (index of the first difference, or -1) */
  greedyFirstMismatch: number;
  greedyStateAbs: number;
  greedyLogitsRel: number;
  /** sampled tokens outside the reference's nucleus (Sampler's: the smallest top set reaching top-p) */
  sampledOutsideNucleus: number;
  sampledTotal: number;
  /** the pipelined read-back: its tokens against the reference's greedy loop (-1: all equal), and the largest
   * relative error of the logits it read back at each step */
  pipelinedFirstMismatch?: number;
  pipelinedLogitsRel?: number;
  pipelinedTokens?: number;
  /** frequency of each id among the draws, and the expected (renormalised nucleus) probability */
  freq?: { id: number; observed: number; expected: number }[];
  /** draws of ids outside the nucleus */
  freqOutside?: number;
  /** greedy draws from logits given with setLogits that are not the reference argmax (of setLogitsCases) */
  greedyFromSetMismatch: number;
}

const KEYS = ["attX", "a", "b", "p", "ffnX"] as const;

const plain = (s: RwkvState): PlainState =>
  s.map((l) => Object.fromEntries(KEYS.map((k) => [k, Array.from(l[k])])));

export async function runFusedCheck(f: FusedRwkv, req: FusedCheckRequest): Promise<FusedCheckOutput> {
  f.reset();
  const steps: number[][] = [];
  for (const t of req.tokens) steps.push(Array.from(await f.step(t)));
  const stepState = plain(await f.getState());
  f.reset();
  const promptLogits = (await f.steps(req.tokens))!;
  const promptState = await f.getState();
  const stepsLogits = Array.from(promptLogits);
  const stepsState = plain(promptState);
  const greedy = await f.generate(req.greedy, { temperature: 0, topP: 1 });
  const greedyState = plain(await f.getState());
  const greedyLogits = Array.from(await f.readLogits());
  /** back to the prompt's end (its state and logits, as steps() left them) without running it again */
  const atPrompt = () => {
    f.setState(promptState);
    f.setLogits(promptLogits);
  };
  const sampled: number[][] = [];
  for (const [temperature, topP, seed] of req.sampling) {
    atPrompt();
    sampled.push(await f.generate(req.sampled, { temperature, topP, seed }));
  }
  atPrompt();
  const pipelined = { tokens: [] as number[], logits: [] as number[][] };
  pipelined.tokens = await f.generateReading(req.greedy, { temperature: 0, topP: 1 }, (_t, l) =>
    pipelined.logits.push(Array.from(l)),
  );
  let freq: number[] | undefined;
  if (req.freq) {
    const logits = new Float32Array(f.config.vocabSize).fill(-1e4);
    req.freq.ids.forEach((id, i) => (logits[id] = Math.log(req.freq!.probs[i])));
    f.setLogits(logits);
    freq = [];
    // the sampler alone: every draw from the same logits (no step between draws)
    for (let s = 0; s < req.freq.draws; s++)
      freq.push(await f.sample({ temperature: 1, topP: req.freq.topP, seed: 1000 + s }));
  }
  const greedyFromSet: number[] = [];
  for (const logits of setLogitsCases(f.config.vocabSize)) {
    f.setLogits(logits);
    greedyFromSet.push(await f.sample({ temperature: 0, topP: 1 }));
  }
  f.reset();
  return {
    greedyFromSet,
    steps,
    stepState,
    stepsLogits,
    stepsState,
    greedy,
    greedyState,
    greedyLogits,
    sampled,
    pipelined,
    freq,
  };
}

/** The smallest set of the most probable tokens whose probability reaches topP (Sampler.sample's nucleus). */
export function nucleus(logits: ArrayLike<number>, temperature: number, topP: number): Set<number> {
  const p = softmax(logits, temperature);
  const order = Array.from(p.keys()).sort((i, j) => p[j] - p[i]);
  const keep = new Set<number>();
  let cum = 0;
  for (const i of order) {
    keep.add(i);
    cum += p[i];
    if (cum >= topP) break;
  }
  return keep;
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    m = Number.isNaN(d) ? Infinity : Math.max(m, d);
  }
  return m;
}

function maxMag(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function stateAbs(got: PlainState, want: RwkvState): number {
  if (got.length !== want.length) return Infinity;
  let m = 0;
  got.forEach((l, i) => KEYS.forEach((k) => (m = Math.max(m, maxAbs(l[k], want[i][k])))));
  return m;
}

export function judgeFusedCheck(
  weights: RwkvWeights,
  req: FusedCheckRequest,
  out: FusedCheckOutput,
): FusedCheckReport {
  const ref = new RwkvModel(weights);
  // the prompt, one step at a time
  let state = ref.initialState();
  let stepLogitsRel = 0;
  req.tokens.forEach((t, i) => {
    const r = ref.step(t, state);
    state = r.state;
    stepLogitsRel = Math.max(stepLogitsRel, maxAbs(out.steps[i], r.logits) / maxMag(r.logits));
  });
  const stepStateAbs = stateAbs(out.stepState, state);
  const fw = ref.forward(req.tokens, undefined, { wkv: "scan", lastOnly: true });
  const stepsLogitsRel = maxAbs(out.stepsLogits, fw.logits) / maxMag(fw.logits);
  const stepsStateAbs = stateAbs(out.stepsState, fw.state);
  // greedy: the reference's own loop (argmax, then its step)
  let logits = fw.logits;
  state = fw.state;
  let greedyFirstMismatch = -1;
  for (let i = 0; i < req.greedy; i++) {
    const t = argmax(logits);
    if (greedyFirstMismatch < 0 && out.greedy[i] !== t) greedyFirstMismatch = i;
    // follow the GPU's token, so that a near-tie does not change every later comparison
    ({ logits, state } = ref.step(out.greedy[i] ?? t, state));
  }
  const greedyStateAbs = stateAbs(out.greedyState, state);
  const greedyLogitsRel = maxAbs(out.greedyLogits, logits) / maxMag(logits);
  // sampling: every token inside the nucleus of the reference's logits at that point
  let sampledOutsideNucleus = 0;
  let sampledTotal = 0;
  req.sampling.forEach(([temperature, topP], run) => {
    let l = fw.logits;
    let s = fw.state;
    for (const t of out.sampled[run]) {
      sampledTotal++;
      if (!nucleus(l, temperature, topP).has(t)) sampledOutsideNucleus++;
      ({ logits: l, state: s } = ref.step(t, s));
    }
  });
  // the pipelined read-back: the reference's greedy loop, every step's logits compared
  let pipelinedFirstMismatch: number | undefined;
  let pipelinedLogitsRel: number | undefined;
  if (out.pipelined) {
    pipelinedFirstMismatch = -1;
    pipelinedLogitsRel = out.pipelined.logits.length === out.pipelined.tokens.length ? 0 : Infinity;
    let l = fw.logits;
    let s = fw.state;
    out.pipelined.tokens.forEach((t, i) => {
      if (pipelinedFirstMismatch! < 0 && t !== argmax(l)) pipelinedFirstMismatch = i;
      ({ logits: l, state: s } = ref.step(t, s));
      const got = out.pipelined!.logits[i] ?? [];
      pipelinedLogitsRel = Math.max(pipelinedLogitsRel!, maxAbs(got, l) / maxMag(l));
    });
  }
  const report: FusedCheckReport = {
    stepLogitsRel,
    stepStateAbs,
    stepsLogitsRel,
    stepsStateAbs,
    greedyFirstMismatch,
    greedyStateAbs,
    greedyLogitsRel,
    sampledOutsideNucleus,
    sampledTotal,
    pipelinedFirstMismatch,
    pipelinedLogitsRel,
    pipelinedTokens: out.pipelined?.tokens.length,
    greedyFromSetMismatch: setLogitsCases(weights.config.vocabSize).filter(
      (l, i) => argmax(l) !== out.greedyFromSet[i],
    ).length,
  };
  if (req.freq && out.freq) {
    const { ids, probs, topP } = req.freq;
    const logitsF = new Float32Array(weights.config.vocabSize).fill(-1e4);
    ids.forEach((id, i) => (logitsF[id] = Math.log(probs[i])));
    const keep = nucleus(logitsF, 1, topP);
    const mass = [...keep].reduce((a, id) => a + probs[ids.indexOf(id)], 0);
    report.freq = [...keep].map((id) => ({
      id,
      observed: out.freq!.filter((t) => t === id).length / out.freq!.length,
      expected: probs[ids.indexOf(id)] / mass,
    }));
    report.freqOutside = out.freq.filter((t) => !keep.has(t)).length;
  }
  return report;
}
