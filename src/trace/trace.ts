/**
 * Traces for the explainer's figures: what a figure reads, where it came from, and how to slice it.
 * DOM-free (runs in Node for the build-time loaders and in vitest); imports only src/rwkv/.
 *
 * API (other chapters import this):
 *   type TraceField            one of the per-layer tensor names of src/rwkv/model.ts `LayerTrace`
 *   interface TraceView        a trace plus its prompt, tokens and provenance ("precomputed" | "live", backend)
 *   tensorOf(view, l, name)    the (T, C) or (T, F) data of one layer's tensor, with a clear error if absent
 *   rowOf / columnOf           one token's vector (C) / one channel over time (T)
 *   matrixOf(view, l, name)    {rows: T, cols: C|F, data} for heatmaps
 *   fieldWidth(view, name)     C, or F for ffnK/ffnAct
 *   sliceTrace(view, T')       the first T' positions (causal: a prefix's trace is a prefix of the trace)
 *   concatTraces(a, b)         trace of tokens a ++ b when b was run from the state after a
 *   encodeTrace / decodeTrace  compact JSON form (selected fields/layers as base64 fp32), for data loaders
 *   Tracer, referenceTracer    tokens + state -> Trace (the reference model; src/live/ort-trace.ts: the graphs)
 *   TraceCache(tracer, weights, meta, quick?)   incremental live tracing: typing at the end runs only the new
 *       tokens; cache.quick(tokens, labels, text) answers a prefix or a short extension at once (QuickTracing)
 *
 * Shapes: every per-layer tensor is row-major (T, C), except ffnK and ffnAct (T, F), and decay (C).
 * A view's arrays are read-only: views share storage (a prefix is a subarray of the longer trace, and typing at
 * the end appends in place into spare capacity that no view has ever shown).
 */
import type { LayerTrace, RwkvModel, Trace } from "../rwkv/model.js";
import { layerNormRow } from "../rwkv/ops.js";
import type { RwkvState, RwkvWeights } from "../rwkv/weights.js";
import { commonPrefixLength } from "../util/prefix.js";
import { SerialQueue } from "../util/serial.js";

export type TraceField = keyof LayerTrace;

/** Fields whose rows have F (channel-mix hidden size) values instead of C. */
const F_FIELDS: ReadonlySet<TraceField> = new Set<TraceField>(["ffnK", "ffnAct"]);
/** Fields with no time axis: one row of C values. */
const STATIC_FIELDS: ReadonlySet<TraceField> = new Set<TraceField>(["decay"]);

export type Backend = "reference (JS)" | "webgpu" | "wasm";
export type TraceSource = "precomputed" | "live";

/** A trace with what the figures need to label it. Layers may hold a subset of the fields (precomputed). */
export interface TraceView {
  /** the prompt text that was run (after dropping unknown characters) */
  text: string;
  /** its token ids */
  tokens: number[];
  /** one display string per token (the character; "↵" for a newline) */
  labels: string[];
  T: number;
  C: number;
  F: number;
  /** embedding after ln0, (T, C), when present */
  x0?: Float32Array;
  layers: Partial<LayerTrace>[];
  source: TraceSource;
  backend: Backend;
  /** true when the weights are the synthetic stand-in, not the trained model */
  synthetic: boolean;
}

export class TraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TraceError";
  }
}

/** Display string of one character token: visible stand-ins for whitespace. */
export function tokenLabel(ch: string): string {
  if (ch === "\n") return "↵";
  if (ch === " ") return "␣";
  if (ch === "\t") return "⇥";
  return ch;
}

export function fieldWidth(view: Pick<TraceView, "C" | "F">, name: TraceField): number {
  return F_FIELDS.has(name) ? view.F : view.C;
}

function checkLayer(view: TraceView, layer: number): Partial<LayerTrace> {
  if (!Number.isInteger(layer) || layer < 0 || layer >= view.layers.length) {
    throw new TraceError(
      `layer ${layer} is out of range: this trace has layers 0..${view.layers.length - 1}`,
    );
  }
  return view.layers[layer];
}

/** The data of one layer's tensor; throws a TraceError naming the missing field. */
export function tensorOf(view: TraceView, layer: number, name: TraceField): Float32Array {
  const data = checkLayer(view, layer)[name];
  if (!data) throw new TraceError(`this ${view.source} trace has no "${name}" for layer ${layer}`);
  return data;
}

/** Row t of a (T, width) tensor: one token's vector. A view (no copy). */
export function rowOf(view: TraceView, layer: number, name: TraceField, t: number): Float32Array {
  const data = tensorOf(view, layer, name);
  const width = fieldWidth(view, name);
  if (STATIC_FIELDS.has(name)) return data;
  if (!Number.isInteger(t) || t < 0 || t >= view.T) {
    throw new TraceError(`token ${t} is out of range: the prompt has positions 0..${view.T - 1}`);
  }
  return data.subarray(t * width, (t + 1) * width);
}

/** Column c of a (T, width) tensor: one channel over time, (T). */
export function columnOf(view: TraceView, layer: number, name: TraceField, c: number): Float32Array {
  const data = tensorOf(view, layer, name);
  const width = fieldWidth(view, name);
  if (!Number.isInteger(c) || c < 0 || c >= width) {
    throw new TraceError(`channel ${c} is out of range: "${name}" has channels 0..${width - 1}`);
  }
  const out = new Float32Array(view.T);
  for (let t = 0; t < view.T; t++) out[t] = data[t * width + c];
  return out;
}

export interface Matrix {
  rows: number;
  cols: number;
  /** row-major (rows, cols) */
  data: Float32Array;
}

/** A layer's tensor as a (T, width) matrix, for heatmaps. */
export function matrixOf(view: TraceView, layer: number, name: TraceField): Matrix {
  const data = tensorOf(view, layer, name);
  if (STATIC_FIELDS.has(name)) return { rows: 1, cols: data.length, data };
  return { rows: view.T, cols: fieldWidth(view, name), data };
}

/** The first `T` positions of a trace (exact: the model is causal, so a prefix's trace is this prefix). */
export function sliceTrace(view: TraceView, T: number): TraceView {
  if (!Number.isInteger(T) || T < 1 || T > view.T) {
    throw new TraceError(`cannot slice a trace of ${view.T} positions to ${T}`);
  }
  const layers = view.layers.map((lt) => {
    const out: Partial<LayerTrace> = {};
    for (const name of Object.keys(lt) as TraceField[]) {
      if (STATIC_FIELDS.has(name)) out[name] = lt[name];
      else {
        const slice = () => shown(lt[name]!.subarray(0, T * fieldWidth(view, name)));
        // a field not joined yet (see joinField) stays unjoined until read
        if (isLazy(lt, name) && lazyDepth(lt, name) < MAX_LAZY_DEPTH)
          lazyField(out, name, slice, lazyDepth(lt, name) + 1);
        else out[name] = slice();
      }
    }
    return out;
  });
  const result: TraceView = {
    ...view,
    text: view.labels.length === view.T ? [...view.text].slice(0, T).join("") : view.text,
    tokens: view.tokens.slice(0, T),
    labels: view.labels.slice(0, T),
    T,
    layers,
  };
  if (view.x0) result.x0 = shown(view.x0.subarray(0, T * view.C));
  return result;
}

/**
 * The buffers this module allocated for growing traces, each with how far into it some view has ever reached (in
 * numbers). Writing beyond that mark cannot change anything a view shows, so a trace can grow into its buffer's
 * spare capacity in place. Buffers from elsewhere (the model, decoded traces, which may pack several fields into
 * one buffer) are never written.
 */
const highWater = new WeakMap<ArrayBufferLike, number>();

function shown(arr: Float32Array): Float32Array {
  const mark = highWater.get(arr.buffer);
  const end = arr.byteOffset / 4 + arr.length;
  if (mark !== undefined && mark < end) highWater.set(arr.buffer, end);
  return arr;
}

/**
 * a's first `na` numbers followed by b. In place when a starts a buffer of ours with room, and no view has ever
 * shown anything past a's first `na` numbers (typing at the end of a prompt); otherwise one copy into a new
 * buffer with some room, so that the next appends are in place.
 */
function concatArrays(a: Float32Array, b: Float32Array, na = a.length, inPlace = true): Float32Array {
  const need = na + b.length;
  if (!inPlace) {
    // an exact copy in a buffer of no one's (never grown in place), leaving a's room to the next trace
    const out = new Float32Array(need);
    out.set(na === a.length ? a : a.subarray(0, na));
    out.set(b, na);
    return out;
  }
  const mark = highWater.get(a.buffer);
  if (mark !== undefined && mark <= na && a.byteOffset === 0 && a.buffer.byteLength / 4 >= need) {
    const grown = new Float32Array(a.buffer, 0, need);
    grown.set(b, na);
    return shown(grown);
  }
  // room for eight more appends of b's size (typing adds a token at a time), at most half again as much
  const out = new Float32Array(Math.min(Math.ceil(need * 1.5), need + 8 * b.length));
  out.set(na === a.length ? a : a.subarray(0, na));
  out.set(b, na);
  highWater.set(out.buffer, 0);
  return shown(out.subarray(0, need));
}

/**
 * out[name] = a's first `na` numbers followed by b. In place (at once: it only writes b's numbers) when
 * concatArrays can; otherwise the copy is made the first time the field is read, so fields no figure reads are
 * never copied (a chapter reads a few of a trace's 18 fields). Deferring is safe: a's first `na` numbers never
 * change (in-place appends only write past every view's end) and b is this trace's own.
 */
function joinField(
  out: Partial<LayerTrace>,
  name: TraceField,
  a: Float32Array,
  b: Float32Array,
  na: number,
  inPlace: boolean,
): void {
  const mark = highWater.get(a.buffer);
  if (
    inPlace &&
    mark !== undefined &&
    mark <= na &&
    a.byteOffset === 0 &&
    a.buffer.byteLength / 4 >= na + b.length
  ) {
    out[name] = concatArrays(a, b, na);
    return;
  }
  lazyField(out, name, () => concatArrays(a, b, na, inPlace));
}

/**
 * How many deferred joins/slices a lazy field waits on (each keystroke that reads nothing adds one); past
 * MAX_LAZY_DEPTH the field is computed at once, which bounds the chain's length and the recursion when it is read.
 */
const lazyDepths = new WeakMap<Partial<LayerTrace>, Map<TraceField, number>>();
const MAX_LAZY_DEPTH = 32;

function isLazy(layer: Partial<LayerTrace>, name: TraceField): boolean {
  return !!Object.getOwnPropertyDescriptor(layer, name)?.get;
}

function lazyDepth(layer: Partial<LayerTrace>, name: TraceField): number {
  return lazyDepths.get(layer)?.get(name) ?? 0;
}

/** out[name] computed on first read, then kept as a plain property. */
function lazyField(out: Partial<LayerTrace>, name: TraceField, compute: () => Float32Array, depth = 1): void {
  let depths = lazyDepths.get(out);
  if (!depths) lazyDepths.set(out, (depths = new Map()));
  depths.set(name, depth);
  Object.defineProperty(out, name, {
    enumerable: true,
    configurable: true,
    get() {
      const value = compute();
      Object.defineProperty(out, name, { value, enumerable: true, configurable: true, writable: true });
      depths.delete(name);
      return value;
    },
  });
}

/**
 * The trace of tokens a[0..aT) ++ b, where b's trace was computed starting from the state after a's first aT
 * tokens. Equal to concatTraces(sliceTrace(a, aT), b) without the intermediate copy (typing edits the end of a
 * prompt, so this runs on every keystroke). `inPlace: false`: no field is appended into a's spare room (each is an
 * exact copy, made when first read), which stays for a later trace (TraceCache.quick's provisional trace).
 */
export function concatTraces(a: TraceView, b: TraceView, aT = a.T, { inPlace = true } = {}): TraceView {
  if (a.C !== b.C || a.F !== b.F || a.layers.length !== b.layers.length) {
    throw new TraceError("cannot join traces of different models");
  }
  if (!Number.isInteger(aT) || aT < 1 || aT > a.T) {
    throw new TraceError(`cannot take ${aT} positions of a trace of ${a.T}`);
  }
  const layers = a.layers.map((la, l) => {
    const lb = b.layers[l];
    const out: Partial<LayerTrace> = {};
    for (const name of Object.keys(la) as TraceField[]) {
      const db = lb[name];
      if (!db) continue;
      const na = aT * fieldWidth(a, name);
      if (STATIC_FIELDS.has(name)) out[name] = la[name];
      // a's field not computed yet: this one waits for it too (up to a depth, then it is computed now)
      else if (isLazy(la, name) && lazyDepth(la, name) < MAX_LAZY_DEPTH)
        lazyField(out, name, () => concatArrays(la[name]!, db, na, inPlace), lazyDepth(la, name) + 1);
      else joinField(out, name, la[name]!, db, na, inPlace);
    }
    return out;
  });
  const prefixText = aT === a.T || a.labels.length !== a.T ? a.text : [...a.text].slice(0, aT).join("");
  const result: TraceView = {
    ...b,
    text: prefixText + b.text,
    tokens: [...a.tokens.slice(0, aT), ...b.tokens],
    labels: [...a.labels.slice(0, aT), ...b.labels],
    T: aT + b.T,
    layers,
  };
  if (a.x0 && b.x0) result.x0 = concatArrays(a.x0, b.x0, aT * a.C, inPlace);
  return result;
}

// ---------------------------------------------------------------------------------------------------------
// Compact JSON form for the build-time loaders: fp32 bytes as base64 (exact, ~5.3 characters per number).
// ---------------------------------------------------------------------------------------------------------

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

export function bytesToBase64(bytes: Uint8Array): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += B64[n >> 18] + B64[(n >> 12) & 63] + "==";
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + "=";
  }
  return out;
}

export function base64ToBytes(text: string): Uint8Array {
  if (text.length % 4 !== 0) throw new TraceError("base64: length is not a multiple of 4");
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const ch = text.charCodeAt(i + j);
      const v = ch === 61 /* = */ && i + j >= text.length - pad ? 0 : ch < 128 ? B64_INDEX[ch] : -1;
      if (v < 0) throw new TraceError(`base64: invalid character at ${i + j}`);
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

function f32ToBase64(a: Float32Array): string {
  return bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

function base64ToF32(text: string): Float32Array {
  const bytes = base64ToBytes(text);
  if (bytes.length % 4 !== 0) throw new TraceError("trace: tensor bytes are not a multiple of 4");
  // copy into an aligned buffer, little-endian (every browser and Node platform we target)
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

/** The JSON form of a TraceView (see encodeTrace). */
export interface EncodedTrace {
  format: "rwkv-explainer-trace/1";
  text: string;
  tokens: number[];
  labels: string[];
  T: number;
  C: number;
  F: number;
  nLayer: number;
  synthetic: boolean;
  backend: Backend;
  /** layer index -> field -> base64 fp32 */
  layers: Record<string, Partial<Record<TraceField, string>>>;
  x0?: string;
}

export interface EncodeOptions {
  /** which fields to keep (default: all the trace has) */
  fields?: readonly TraceField[];
  /** which layers to keep (default: all); the others decode as empty objects */
  layers?: readonly number[];
  /** keep x0 (default false) */
  x0?: boolean;
}

export function encodeTrace(view: TraceView, opts: EncodeOptions = {}): EncodedTrace {
  const layers: EncodedTrace["layers"] = {};
  const keepLayers = opts.layers ?? view.layers.map((_, l) => l);
  for (const l of keepLayers) {
    const lt = checkLayer(view, l);
    const enc: Partial<Record<TraceField, string>> = {};
    for (const name of opts.fields ?? (Object.keys(lt) as TraceField[])) {
      enc[name] = f32ToBase64(tensorOf(view, l, name));
    }
    layers[String(l)] = enc;
  }
  const out: EncodedTrace = {
    format: "rwkv-explainer-trace/1",
    text: view.text,
    tokens: view.tokens,
    labels: view.labels,
    T: view.T,
    C: view.C,
    F: view.F,
    nLayer: view.layers.length,
    synthetic: view.synthetic,
    backend: view.backend,
    layers,
  };
  if (opts.x0 && view.x0) out.x0 = f32ToBase64(view.x0);
  return out;
}

export function decodeTrace(json: unknown): TraceView {
  const e = json as EncodedTrace;
  if (!e || typeof e !== "object" || e.format !== "rwkv-explainer-trace/1") {
    throw new TraceError("not an explainer trace (expected format rwkv-explainer-trace/1)");
  }
  const layers: Partial<LayerTrace>[] = Array.from({ length: e.nLayer }, () => ({}));
  for (const [key, enc] of Object.entries(e.layers)) {
    const l = Number(key);
    if (!Number.isInteger(l) || l < 0 || l >= e.nLayer) throw new TraceError(`trace: bad layer key ${key}`);
    for (const [name, b64] of Object.entries(enc) as [TraceField, string][]) {
      const data = base64ToF32(b64);
      const expected = STATIC_FIELDS.has(name) ? e.C : e.T * (F_FIELDS.has(name) ? e.F : e.C);
      if (data.length !== expected) {
        throw new TraceError(`trace: layer ${l} "${name}" has ${data.length} values, expected ${expected}`);
      }
      layers[l][name] = data;
    }
  }
  const view: TraceView = {
    text: e.text,
    tokens: e.tokens,
    labels: e.labels,
    T: e.T,
    C: e.C,
    F: e.F,
    layers,
    source: "precomputed",
    backend: e.backend,
    synthetic: e.synthetic,
  };
  if (e.x0) view.x0 = base64ToF32(e.x0);
  return view;
}

// ---------------------------------------------------------------------------------------------------------
// Incremental tracing (reference model): keep the last run's state, extend or slice instead of rerunning.
// ---------------------------------------------------------------------------------------------------------

export interface TraceMeta {
  labels: string[];
  text: string;
  backend: Backend;
  synthetic: boolean;
}

/** Wrap a model Trace as a TraceView. */
export function viewOfTrace(trace: Trace, tokens: readonly number[], meta: TraceMeta): TraceView {
  return {
    text: meta.text,
    tokens: [...tokens],
    labels: meta.labels,
    T: trace.T,
    C: trace.C,
    F: trace.F,
    x0: trace.x0,
    layers: trace.layers,
    source: "live",
    backend: meta.backend,
    synthetic: meta.synthetic,
  };
}

/**
 * The RNN state after position t, rebuilt from a live trace and the weights (no rerun): per layer, a, b, p are
 * in the trace; the token-shift states are the LayerNorm outputs the next token mixes with (attX = ln1 of the
 * layer's input at t, ffnX = ln2 of the residual after time mixing at t). Needs x0, xOut, xAfterAtt, a, b, p.
 */
export function stateAt(view: TraceView, weights: RwkvWeights, t: number): RwkvState {
  const { C } = view;
  if (!view.x0) throw new TraceError("stateAt needs x0 in the trace");
  if (!Number.isInteger(t) || t < 0 || t >= view.T) throw new TraceError(`stateAt: no position ${t}`);
  const eps = weights.config.layerNormEps;
  return weights.blocks.map((blk, l) => {
    const input = l === 0 ? view.x0! : tensorOf(view, l - 1, "xOut");
    const attX = new Float32Array(C);
    const ffnX = new Float32Array(C);
    layerNormRow(input, t * C, C, blk.ln1, eps, attX, 0);
    layerNormRow(tensorOf(view, l, "xAfterAtt"), t * C, C, blk.ln2, eps, ffnX, 0);
    return {
      attX,
      a: rowOf(view, l, "a", t).slice(),
      b: rowOf(view, l, "b", t).slice(),
      p: rowOf(view, l, "p", t).slice(),
      ffnX,
    };
  });
}

/**
 * Runs a model with tracing on: the tokens from the given state (undefined: the empty state) -> the Trace of those
 * tokens. The reference model (`referenceTracer`) or the ONNX graphs in the runtime's worker (src/explainer/
 * ort-trace.ts); both give the same fields.
 */
export type Tracer = (tokens: readonly number[], state: RwkvState | undefined) => Trace | Promise<Trace>;

/** The reference model as a Tracer; synchronous, so it also serves as a QuickTracing tracer. */
export function referenceTracer(
  model: RwkvModel,
): (tokens: readonly number[], state: RwkvState | undefined) => Trace {
  return (tokens, state) => model.forward(tokens, state, { trace: true }).trace!;
}

/** A tracer that answers at once (the reference model in the page) for the few tokens typed at a prompt's end. */
export interface QuickTracing {
  /** synchronous: the trace of `tokens` run from `state` */
  tracer(tokens: readonly number[], state: RwkvState): Trace;
  backend: Backend;
  /** the most tokens it runs; a longer extension waits for the engine */
  maxTokens: number;
}

/**
 * Traces prompts incrementally: the positions shared with the last prompt are reused (their trace is exact: the
 * model is causal) and only the tokens after the first change run, from the state rebuilt at that point
 * (stateAt). Calls run one after another, so a burst of keystrokes extends each other's traces.
 * `stats.tokensRun` counts the tokens actually run (tests read it).
 */
export class TraceCache {
  private view: TraceView | undefined;
  private readonly serial = new SerialQueue();
  readonly stats = { tokensRun: 0, calls: 0, quickTokensRun: 0 };

  constructor(
    private readonly tracer: Tracer,
    private readonly weights: RwkvWeights,
    private readonly meta: { backend: Backend | (() => Backend); synthetic: boolean },
    private readonly quickTracing?: QuickTracing,
  ) {}

  trace(tokens: readonly number[], labels: readonly string[], text: string): Promise<TraceView> {
    return this.serial.run(() => this.traceNow(tokens, labels, text));
  }

  /**
   * The trace of `tokens` at once (synchronously), when the last trace answers it without the engine: a prefix of
   * it (a slice: the engine's numbers, under its label), or it extended by at most `quickTracing.maxTokens` tokens
   * run on the quick tracer (labelled with the quick tracer's backend). Undefined otherwise, and undefined for any
   * extension without a quick tracer. Typing at the end of a prompt is the case: the page draws this trace in the
   * keystroke's own frame, while `trace` runs the engine, whose trace then replaces it. The cache is left as it
   * was: only `trace` moves it on. A call running meanwhile does not matter (the model is causal: the last trace's
   * positions stay exact).
   */
  quick(tokens: readonly number[], labels: readonly string[], text: string): TraceView | undefined {
    const last = this.view;
    if (!last || tokens.length === 0 || labels.length !== tokens.length) return undefined;
    const common = commonPrefixLength(tokens, last.tokens);
    if (common === 0) return undefined;
    if (common === tokens.length) {
      const view = common === last.T ? last : sliceTrace(last, common);
      return { ...view, labels: [...labels], text };
    }
    const q = this.quickTracing;
    const rest = tokens.slice(common);
    if (!q || rest.length > q.maxTokens) return undefined;
    const trace = q.tracer(rest, stateAt(last, this.weights, common - 1));
    this.stats.quickTokensRun += rest.length;
    const meta = {
      backend: q.backend,
      synthetic: this.meta.synthetic,
      labels: labels.slice(common),
      text: "",
    };
    // copied, not appended in place: the room after the last trace stays for the worker's trace that replaces it
    const view = concatTraces(last, viewOfTrace(trace, rest, meta), common, { inPlace: false });
    return { ...view, labels: [...labels], text }; // b's label: the quick tracer's
  }

  private async traceNow(
    tokens: readonly number[],
    labels: readonly string[],
    text: string,
  ): Promise<TraceView> {
    if (tokens.length === 0) throw new TraceError("the prompt is empty: type at least one character");
    if (labels.length !== tokens.length) throw new TraceError("one label per token is needed");
    this.stats.calls++;
    const last = this.view;
    const common = last ? commonPrefixLength(tokens, last.tokens) : 0;
    const backend = typeof this.meta.backend === "function" ? this.meta.backend() : this.meta.backend;
    const meta = { backend, synthetic: this.meta.synthetic, labels: [...labels], text };
    let view: TraceView;
    if (last && common === tokens.length) {
      view = common === last.T ? last : sliceTrace(last, common);
    } else if (last && common > 0) {
      const rest = tokens.slice(common);
      const trace = await this.tracer(rest, stateAt(last, this.weights, common - 1));
      this.stats.tokensRun += rest.length;
      view = concatTraces(
        last,
        viewOfTrace(trace, rest, { ...meta, labels: labels.slice(common), text: "" }),
        common,
      );
    } else {
      const trace = await this.tracer(tokens, undefined);
      this.stats.tokensRun += tokens.length;
      view = viewOfTrace(trace, tokens, meta);
    }
    view = { ...view, labels: [...labels], text };
    this.view = view;
    return view;
  }
}
