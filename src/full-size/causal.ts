/**
 * The causal trace of the paper's own kind of example on the full-size page (tracker issue 13, item 6): its
 * Figure 11 (Appendix I, arXiv v4) traces "The Eiffel Tower is located in the city of" -> " Paris" through
 * RWKV-4 430M, with Meng et al.'s (2022) causal tracing. With a real RWKV-4-Pile checkpoint loaded, the same
 * prompt, subject and target go through the GPT-NeoX tokenizer the worker read, and the trace runs on the
 * reference model (src/rwkv/model.ts: only it has the hooks that noise the subject's embeddings and restore one
 * block's output) built from the same weights on this page (src/chapters/memory/causal-trace.ts, RNN mode with
 * the prefix reused). A synthetic model has random weights and no tokenizer: it shows the mechanics only, on
 * stand-in token ids, and says so.
 *
 * API:
 *   FACT                                      the prompt, subject and target
 *   factRequest(tokenizer | null, vocabSize) -> Promise<FactRequest>   token ids, the subject's span, labels
 *   traceFact(weights, request, opts) -> Promise<CausalTraceResult>    one noise sample unless asked for more
 *   observeFact(model, notify) -> dispose      the page cell: the request, the weights, the trace as it goes
 */
import { type CausalTraceResult, causalTrace } from "../chapters/memory/causal-trace.js";
import type { RunOptions } from "../chapters/memory/run.js";
import { RwkvModel } from "../rwkv/model.js";
import type { RwkvWeights } from "../rwkv/weights.js";

export const FACT = {
  prompt: "The Eiffel Tower is located in the city of",
  subject: "The Eiffel Tower",
  target: " Paris",
} as const;

export interface FactTokenizer {
  tokenize(text: string): Promise<number[]>;
  tokenTexts(ids: readonly number[]): Promise<(string | null)[]>;
}

export interface FactRequest {
  tokens: number[];
  subject: [number, number];
  target: number[];
  /** one label per prompt token */
  labels: string[];
  /** true without a tokenizer (a synthetic model): stand-in ids, random weights, the mechanics only */
  mechanicsOnly: boolean;
  /** what the ids are, for the figure's note */
  note: string;
}

/**
 * The request for a model. With a tokenizer, the subject is the prompt's first tokens: tokenizing it alone must
 * give exactly the prompt's first ids (a BPE could merge across the boundary: then it says so). Without one,
 * each character stands for the token id (its code mod the vocabulary size).
 */
export async function factRequest(tokenizer: FactTokenizer | null, vocabSize: number): Promise<FactRequest> {
  if (!tokenizer) {
    const ids = (s: string) => [...s].map((c) => c.codePointAt(0)! % vocabSize);
    const chars = [...FACT.prompt];
    return {
      tokens: ids(FACT.prompt),
      subject: [0, [...FACT.subject].length],
      target: ids(FACT.target),
      labels: chars.map((c) => (c === " " ? "␣" : c)),
      mechanicsOnly: true,
      note: "synthetic weights: the mechanics of the trace only (random weights store no fact; one character per token, its code as the id)",
    };
  }
  const tokens = await tokenizer.tokenize(FACT.prompt);
  const subject = await tokenizer.tokenize(FACT.subject);
  const target = await tokenizer.tokenize(FACT.target);
  if (!subject.every((id, i) => tokens[i] === id)) {
    throw new Error(`the tokenizer does not split ${JSON.stringify(FACT.subject)} off the prompt's start`);
  }
  if (tokens.length === 0 || subject.length === 0 || target.length === 0) {
    throw new Error("the tokenizer gave no tokens for the prompt, the subject or the target");
  }
  const texts = await tokenizer.tokenTexts(tokens);
  return {
    tokens,
    subject: [0, subject.length],
    target,
    labels: texts.map((t, i) => (t ?? `#${tokens[i]}`).replace(/^[ Ġ]/, "␣")),
    mechanicsOnly: false,
    note: `the GPT-NeoX tokenizer's ${tokens.length} tokens; target ${JSON.stringify(FACT.target)} (${target.length} token${target.length === 1 ? "" : "s"})`,
  };
}

export interface TraceFactOptions extends RunOptions {
  samples?: number;
  seed?: number;
  onPartial?: (partial: CausalTraceResult) => void;
}

/** The trace itself, on the reference model built from `weights`. */
export function traceFact(
  weights: RwkvWeights,
  req: FactRequest,
  opts: TraceFactOptions = {},
): Promise<CausalTraceResult> {
  return causalTrace(
    { kind: "rwkv", model: new RwkvModel(weights) },
    {
      tokens: req.tokens,
      subject: req.subject,
      target: req.target,
      samples: opts.samples ?? 1,
      seed: opts.seed ?? 1,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.onPartial ? { onPartial: opts.onPartial } : {}),
      ...(opts.sliceMs !== undefined ? { sliceMs: opts.sliceMs } : {}),
    },
  );
}

/** What the page shows while a fact trace runs, and after. */
export interface FactRun {
  req: FactRequest | null;
  /** the trace so far (NaN cells not reached yet), final when `done` */
  trace: CausalTraceResult | null;
  status: string;
  done: boolean;
  error: unknown;
}

/** The loaded model as the trace needs it (the full-size page's LoadedModel). */
export interface FactModel {
  name: string;
  synthetic: boolean;
  tokenizerVocab?: number;
  rwkv: FactTokenizer & { config: { vocabSize: number } };
  referenceWeights(): Promise<RwkvWeights>;
}

/**
 * Run the fact's trace for the page (Framework's Generators.observe): notify gets a FactRun as it goes (at most
 * every `everyMs`, and at the end); the returned disposer aborts the run.
 */
export function observeFact(model: FactModel, notify: (r: FactRun) => void, everyMs = 250): () => void {
  const ac = new AbortController();
  const t0 = performance.now();
  const run: FactRun = {
    req: null,
    trace: null,
    status: "reading the weights on this page…",
    done: false,
    error: null,
  };
  let last = -Infinity;
  const send = (force = false) => {
    const now = performance.now();
    if (!force && now - last < everyMs) return;
    last = now;
    notify({ ...run });
  };
  send(true);
  void (async () => {
    try {
      const tokenizer = !model.synthetic && model.tokenizerVocab !== undefined ? model.rwkv : null;
      const req = await factRequest(tokenizer, model.rwkv.config.vocabSize);
      if (!tokenizer && !model.synthetic) {
        req.note =
          "no tokenizer.json with this checkpoint: stand-in ids (one character per token), the mechanics only";
      }
      run.req = req;
      const weights = await model.referenceWeights();
      if (ac.signal.aborted) return;
      run.trace = await traceFact(weights, req, {
        signal: ac.signal,
        onProgress: (p) => {
          const secs = ((performance.now() - t0) / 1000).toFixed(0);
          run.status = `${model.name}, reference model (JS) on this page: ${Math.floor((100 * p.done) / p.total)}% of the cells, ${secs} s`;
          send();
        },
        onPartial: (partial) => {
          run.trace = partial;
          send();
        },
      });
      run.status = `${model.name}, reference model (JS) on this page: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
      run.done = true;
      send(true);
    } catch (error) {
      if (ac.signal.aborted) return;
      Object.assign(run, { error, done: true });
      send(true);
    }
  })();
  return () => ac.abort();
}
