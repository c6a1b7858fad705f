/**
 * The full-size page's elements (browser): the status box of the load state machine, and each figure and list
 * from a run's numbers. Charts are drawn by the D3 components (costLines, decayOverview); the numbers and
 * sentences come from src/full-size/figures.ts; nothing here runs a model.
 *
 * API (each returns a Node; a DocumentFragment where there is nothing to show yet):
 *   statusBox(snapshot)                 data-phase / data-seq of the latest request; data-ep, data-model, ... of
 *                                       the model that is loaded (which stays loaded when a newer load fails)
 *   agreementChart(bench, width), topFive(bench), prefillChart(bench, width), prefillText(bench),
 *   latencyChart(bench, width), cumulativeChart(bench, width), generationList(bench),
 *   memoryChart(slot, width), memoryList(slot, bench), decayChart(slot, width), table2(slot), syntheticNote(slot),
 *   factTrace(run, width)               the fact's causal trace (src/full-size/causal.ts) as it fills in
 */
import { costLines } from "../components/cost-lines.js";
import { decaySeries } from "../chapters/time-decay.js";
import { decayOverview } from "../components/time-decay.js";
import { notice } from "../ui/page.js";
import { causalTraceFigure } from "../components/causal-trace.js";
import { sharedDomain, strongestReadout, tracePanels } from "../chapters/memory/figures.js";
import type { FactRun } from "./causal.js";
import {
  AGREEMENT,
  generationSummary,
  memoryFacts,
  prefillSummary,
  sameOrder,
  table2Row,
} from "./figures.js";
import { formatBytes, formatSeconds, kvCacheNumbers, memoryRows } from "./full-size.js";
import type { LoadedModel, RemoteFile } from "./loader.js";
import type { Bench } from "./measure.js";
import type { ModelSlot, Snapshot } from "./state.js";

/** A run's numbers, or why there are none (no model loaded yet, or none at all). */
export type BenchView = Bench | { empty: string };

const RWKV_COLOR = "var(--color-rwkv, #3b6fd9)";
const GPT_COLOR = "var(--color-softmax, #e8590c)";
const en = (n: number) => n.toLocaleString("en-US");

type Child = Node | string | number | null | undefined | false;

/** A small element builder: h("li", {class: "x", "data-y": 1}, "text", child). */
function h(
  tag: string,
  attrs: Record<string, string | number | undefined> = {},
  ...children: Child[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c as Node | string);
  return el;
}

const nothing = (): Node => document.createDocumentFragment();
const measured = (b: BenchView): b is Bench => !("empty" in b);

/** The message a chart shows while it has no points. */
function emptyText(b: BenchView, running: string): string {
  return measured(b) ? (b.error ?? running) : b.empty;
}

export function statusBox(s: Snapshot<LoadedModel>): HTMLElement {
  const box = h("div", { class: "fs-status", "data-phase": s.phase, "data-seq": s.seq, role: "status" });
  const current = s.current?.model;
  const p = s.pending?.progress;
  if (p?.phase === "download") {
    const file = p.file as RemoteFile;
    const total = p.total ?? file.bytes;
    box.append(
      h("div", {}, "Downloading ", h("code", {}, file.url)),
      h("progress", { max: total ?? 1, value: total ? p.loaded : 0 }),
      h(
        "div",
        {},
        `${formatBytes(p.loaded)}${total ? ` of ${formatBytes(total)}` : ""} · ` +
          `${p.bytesPerSecond ? `${formatBytes(p.bytesPerSecond)}/s` : "…"} · ` +
          `${p.etaSeconds !== undefined ? `${formatSeconds(p.etaSeconds)} left` : "time left unknown"}`,
      ),
    );
  } else if (p) box.append(notice(p.message, "info"));
  if (p && current) box.append(notice(`Until it is ready, ${current.name} stays loaded.`, "info"));
  if (s.phase === "error" && s.failed) {
    const f = s.failed;
    box.append(
      notice(
        `${f.name ? `${f.name}: ` : ""}${f.message} ` +
          (current
            ? `The model loaded before, ${current.name}, is still loaded; its figures below stay.`
            : "Nothing was loaded; pick another model or file and press Load."),
        "error",
      ),
    );
  }
  if (current && s.current) box.append(modelDetails(box, current, s.current.fallbackReason));
  return box;
}

function modelDetails(box: HTMLElement, m: LoadedModel, epNote: string | undefined): HTMLElement {
  const i = m.init;
  const ep = m.rwkv.ep;
  Object.assign(box.dataset, {
    ep,
    origin: m.origin,
    model: m.name,
    format: i.loaded?.format ?? "",
    dtype: i.loaded?.dtype ?? "",
    graphCapture: String(!!i.graphCapture && ep === "webgpu"),
    weights: i.weights ?? "fp32",
  });
  const c = i.config;
  const adapter = i.adapter;
  const readS = (i.loaded?.readMs ?? 0) / 1000;
  return h(
    "ul",
    { class: "checks" },
    h(
      "li",
      {},
      "Model: ",
      h("b", {}, m.name),
      m.synthetic && " ",
      m.synthetic && h("span", { class: "pill synthetic" }, "synthetic: random weights"),
      ` — ${c.nLayer} layers × ${c.nEmbd} channels, FFN ${c.ffnSize}, vocabulary ${en(c.vocabSize)}; ` +
        `${i.loaded ? `${i.loaded.format}, ${i.loaded.dtype}, ${en(i.loaded.parameterCount)} stored values` : ""}; ` +
        `from: ${m.origin}${m.cacheNote ? ` (${m.cacheNote})` : ""}.`,
    ),
    h(
      "li",
      {},
      "Runs on: ",
      h("b", {}, ep === "webgpu" ? "WebGPU" : "WebAssembly (1 thread)"),
      ` in onnxruntime-web ${i.ortVersion}` +
        (adapter
          ? `; adapter: ${[adapter.vendor, adapter.architecture, adapter.description].filter(Boolean).join(" ") || "unnamed"}` +
            (adapter.isFallbackAdapter ? " (software fallback)" : "")
          : "") +
        `${epNote ? ` — not WebGPU: ${epNote}` : ""}.`,
    ),
    h(
      "li",
      {},
      "Weights in the graphs: ",
      h("b", {}, i.weights ?? "fp32"),
      `${i.weightsNote ? ` (${i.weightsNote})` : ""}` +
        `${i.weights === "fp16" ? " — matrices stored and multiplied in fp16; WKV, LayerNorms and the state stay fp32" : ""}.`,
    ),
    i.graphCapture !== undefined &&
      ep === "webgpu" &&
      h(
        "li",
        {},
        "RNN steps: ",
        i.graphCapture
          ? h("b", {}, "ORT graph capture")
          : `dispatched node by node (${i.graphCaptureFallback ?? "graph capture unavailable"})`,
        i.graphCapture ? " (each token replays one recorded sequence of GPU dispatches)." : ".",
      ),
    h(
      "li",
      {},
      `Read, checked and converted in ${readS < 0.05 ? "under 0.05" : readS.toFixed(2)} s, both graphs built in ` +
        `${i.buildSeconds.toFixed(1)} s (${m.loadSeconds.toFixed(1)} s in all). Inputs: ${m.tokenizerNote}.`,
    ),
  );
}

export function agreementChart(b: BenchView, width: number): HTMLElement {
  const axes = { xLabel: "position t", yLabel: "max |Δ logit|", yLog: true, name: "mode-agreement", width };
  if (!measured(b) || !b.eq) {
    return costLines([], {
      ...axes,
      title: "Largest |logit difference| per position, RNN mode against parallel mode",
      empty: emptyText(b, "Running both modes…"),
    });
  }
  const e = b.eq;
  const fig = costLines(
    [
      {
        label: "max over the vocabulary of |RNN − parallel| (exact 0 drawn at 1e-9)",
        color: RWKV_COLOR,
        points: e.diffs.map((d, t) => [t, Math.max(d, 1e-9)]),
      },
      {
        label: "1e-3 (the agreement this page asks for)",
        color: GPT_COLOR,
        dashed: true,
        points: [
          [0, AGREEMENT],
          [e.T - 1, AGREEMENT],
        ],
      },
    ],
    {
      ...axes,
      title: `Largest |logit difference| per position: at most ${e.worst === 0 ? "0" : e.worst.toExponential(2)} (logits up to ${e.scale.toFixed(1)})`,
      note: `${b.name} · ${b.ep} · ${b.promptNote} · RNN ${e.rnnMs.toFixed(1)} ms, parallel ${e.parallelMs.toFixed(1)} ms`,
    },
  );
  fig.dataset.maxDiff = String(e.worst);
  fig.dataset.seq = String(b.seq);
  fig.dataset.run = String(b.run);
  fig.dataset.ep = b.ep;
  return fig;
}

export function topFive(b: BenchView): Node {
  if (!measured(b) || !b.eq || !b.topNames) return nothing();
  const e = b.eq;
  const names = b.topNames;
  const frag = document.createDocumentFragment();
  frag.append(
    h(
      "figure",
      { "data-figure": "top-5" },
      h(
        "table",
        { class: "fs-top5" },
        h(
          "caption",
          {},
          `The five most likely next tokens after the last prompt position, from each mode (${b.promptNote})`,
        ),
        h(
          "thead",
          {},
          h("tr", {}, ...["rank", "RNN mode", "logit", "parallel mode", "logit"].map((t) => h("th", {}, t))),
        ),
        h(
          "tbody",
          {},
          ...e.topRnn.map(([, l], i) =>
            h(
              "tr",
              {},
              h("td", {}, i + 1),
              h("td", {}, names.rnn[i]),
              h("td", {}, l.toFixed(4)),
              h("td", {}, names.parallel[i]),
              h("td", {}, e.topParallel[i][1].toFixed(4)),
            ),
          ),
        ),
      ),
    ),
    h(
      "p",
      {},
      `${sameOrder(e) ? "The same five tokens, in the same order." : "The order differs: some logits are closer than the difference between the modes."} ` +
        (e.worst <= AGREEMENT
          ? `The two modes agree to within ${e.worst.toExponential(1)}.`
          : `The modes differ by ${e.worst.toExponential(2)}: MORE than 1e-3, something is wrong.`),
    ),
  );
  return frag;
}

export function prefillChart(b: BenchView, width: number): HTMLElement {
  const pts = measured(b) ? (b.prefill ?? []) : [];
  const fig = costLines(
    [
      {
        label: "parallel mode (one call, chunks inside)",
        color: RWKV_COLOR,
        points: pts.map((p) => [p.T, p.parallelMs]),
      },
      {
        label: "RNN mode (T steps)",
        color: "currentColor",
        points: pts.flatMap((p) => (p.rnnMs !== undefined ? [[p.T, p.rnnMs] as [number, number]] : [])),
      },
    ],
    {
      width,
      name: "prefill-time",
      xLog: true,
      yLog: true,
      title: "Time to take in a prompt of T tokens",
      note: measured(b)
        ? `${b.name} · ${b.ep} · T up to ${b.T} · times inside the worker` +
          `${(b.repeat ?? 1) > 1 ? `, median of ${b.repeat} runs up to T = 128` : ""}`
        : "",
      xLabel: "prompt length T (tokens)",
      yLabel: "milliseconds",
      empty: emptyText(b, "Measuring…"),
    },
  );
  const last = pts.at(-1);
  if (last?.rnnMs) fig.dataset.speedup = String(last.rnnMs / last.parallelMs);
  return fig;
}

export function prefillText(b: BenchView): Node {
  const s = measured(b) ? prefillSummary(b.prefill) : undefined;
  if (!s || !measured(b)) return nothing();
  return h(
    "p",
    {},
    `At T = ${s.T}: parallel mode ${s.parallelTps.toFixed(0)} tokens/s, RNN mode ${s.rnnTps.toFixed(0)} tokens/s, `,
    h("b", {}, `${s.speedup.toFixed(1)} ×`),
    ` (${b.ep}).`,
  );
}

function genNote(b: Bench): string {
  return `${b.name} against a GPT of the same L × C · ${b.ep} · ${b.N} tokens from an empty state/cache`;
}

export function latencyChart(b: BenchView, width: number): HTMLElement {
  const gen = measured(b) ? b.gen : undefined;
  return costLines(
    [
      {
        label: "RWKV, RNN step",
        color: RWKV_COLOR,
        points: gen ? gen.positions.map((p, i) => [p, gen.rwkvMs[i]]) : [],
      },
      {
        label: "transformer, KV-cache step",
        color: GPT_COLOR,
        points: gen
          ? gen.positions.flatMap((p, i) =>
              i < gen.gptMs.length ? [[p, gen.gptMs[i]] as [number, number]] : [],
            )
          : [],
      },
    ],
    {
      width,
      name: "token-latency",
      title: "Time per generated token against its position",
      note: measured(b) ? genNote(b) : "",
      xLabel: "position of the token",
      yLabel: "ms per token",
      yLog: true,
      empty: emptyText(b, "Measuring (after the prefill chart)…"),
    },
  );
}

export function cumulativeChart(b: BenchView, width: number): HTMLElement {
  const gen = measured(b) ? b.gen : undefined;
  return costLines(
    [
      {
        label: "RWKV (RNN mode)",
        color: RWKV_COLOR,
        points: gen ? gen.positions.map((p, i) => [p, gen.rwkvCumulative[i] / 1000]) : [],
      },
      {
        label: "transformer (KV cache)",
        color: GPT_COLOR,
        points: gen?.gptCumulative.length
          ? gen.positions
              .slice(0, gen.gptCumulative.length)
              .map((p, i) => [p, gen.gptCumulative[i] / 1000] as [number, number])
          : [],
      },
    ],
    {
      width,
      name: "cumulative-time",
      title: "Cumulative generation time",
      note: measured(b) ? genNote(b) : "",
      xLabel: "tokens generated",
      yLabel: "seconds",
      empty: emptyText(b, "Measuring…"),
    },
  );
}

export function generationList(b: BenchView): Node {
  const s = measured(b) ? generationSummary(b.gen) : undefined;
  if (!s || !measured(b)) return nothing();
  const f = (x: number) => x.toFixed(2);
  return h(
    "ul",
    { class: "checks", "data-generation": "" },
    h("li", {}, `Transformer baseline: ${b.gptInfo}.`),
    h(
      "li",
      {},
      `RWKV: ${f(s.rwkv.first)} ms per token over the first quarter, ${f(s.rwkv.last)} ms over the last ` +
        `(medians); slope ${f(s.rwkv.slopeUs)} µs per position.`,
    ),
    s.gpt &&
      h(
        "li",
        {},
        `Transformer: ${f(s.gpt.first)} ms, then ${f(s.gpt.last)} ms; slope ${f(s.gpt.slopeUs)} µs per position. ` +
          `Total for ${s.tokens} tokens: RWKV ${f(s.rwkv.totalS)} s, transformer ${f(s.gpt.totalS)} s.`,
      ),
  );
}

/** L and C of the loaded model; the 169M shape while none is loaded. */
function shapeOf(slot: ModelSlot<LoadedModel>): { L: number; C: number } {
  const c = slot.current?.model.rwkv.config;
  return c ? { L: c.nLayer, C: c.nEmbd } : { L: 12, C: 768 };
}

const MEMORY_TS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

export function memoryChart(slot: ModelSlot<LoadedModel>, width: number): HTMLElement {
  const { L, C } = shapeOf(slot);
  const rows = memoryRows(L, C, MEMORY_TS);
  return costLines(
    [
      {
        label: "RWKV state, 5LC × 4 bytes",
        color: RWKV_COLOR,
        points: rows.map((r) => [r.T, r.rwkvBytes / 1e6]),
      },
      {
        label: "KV cache, 2LTC × 4 bytes",
        color: GPT_COLOR,
        points: rows.map((r) => [r.T, r.kvBytes / 1e6]),
      },
    ],
    {
      width,
      name: "memory",
      xLog: true,
      yLog: true,
      title: `Memory carried between tokens, fp32, L = ${L}, C = ${C} (computed)`,
      xLabel: "tokens so far T",
      yLabel: "MB",
    },
  );
}

export function memoryList(slot: ModelSlot<LoadedModel>, b: BenchView): HTMLElement {
  const { L, C } = shapeOf(slot);
  const m = memoryFacts(L, C, 1024);
  const run = measured(b) && b.seq === slot.current?.seq ? b : undefined;
  const gen = run?.gen;
  const uaMemory =
    typeof (performance as { measureUserAgentSpecificMemory?: unknown }).measureUserAgentSpecificMemory ===
      "function" && self.crossOriginIsolated;
  return h(
    "ul",
    { class: "checks", "data-memory": "" },
    h(
      "li",
      {},
      `Computed for this model: the RWKV state is ${en(m.state)} numbers (${formatBytes(4 * m.state)}); the KV ` +
        `cache passes it after ${m.passesAfter.toFixed(1)} tokens and holds ${en(m.kv)} numbers ` +
        `(${formatBytes(4 * m.kv)}) at T = ${m.T}.`,
    ),
    h(
      "li",
      {},
      `Measured in the runtime: ${
        run?.stateNumbers !== undefined
          ? `the state read back from the worker after generation holds ${en(run.stateNumbers)} numbers`
          : "the state has not been read back yet"
      }${
        gen?.kvNumbers !== undefined
          ? `; the transformer's KV-cache tensors after ${gen.positions.length} tokens hold ${en(gen.kvNumbers)} ` +
            `numbers (2LTC = ${en(kvCacheNumbers(L, C, gen.positions.length))})`
          : ""
      }.`,
    ),
    h(
      "li",
      {},
      `The browser's own memory figure (performance.measureUserAgentSpecificMemory): ${
        uaMemory ? "available on this page" : "not exposed here (it needs a cross-origin isolated page)"
      }.`,
    ),
  );
}

function noModel(slot: ModelSlot<LoadedModel>): string {
  return slot.waiting ? "Waiting for the model…" : "No model loaded.";
}

export function decayChart(slot: ModelSlot<LoadedModel>, width: number): HTMLElement {
  const l = slot.current?.model.init.loaded;
  if (l) return decayOverview(decaySeries(l.w.map((w, i) => ({ w, u: l.u[i] }))), { width });
  return h(
    "figure",
    { "data-figure": "time-decay" },
    h(
      "table",
      {},
      h("tr", {}, h("td", {}, slot.current ? "This model has no decay to show." : noModel(slot))),
    ),
  );
}

export function table2(slot: ModelSlot<LoadedModel>): HTMLElement {
  const m = slot.current?.model;
  const sci = (x: number | undefined) => (x === undefined ? "–" : x.toExponential(3));
  const r = m ? table2Row(m.name, m.rwkv.config, m.init.loaded?.parameterCount) : undefined;
  const cells = (...xs: string[]) => h("tr", {}, ...xs.map((x) => h("td", {}, x)));
  return h(
    "figure",
    { "data-figure": "table-2" },
    h(
      "table",
      { class: "fs-table2" },
      h(
        "caption",
        {},
        "Table 2 for the loaded model: parameters 2VD + 13D²L + D(11L + 4) (for FFN = 4D), forward FLOPs per token 2(VD + 13D²L)",
      ),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ...[
            "model",
            "values stored in the file",
            "parameters by the formula",
            "FLOPs per token",
            "the paper's Table 2",
          ].map((t) => h("th", {}, t)),
        ),
      ),
      h(
        "tbody",
        {},
        r
          ? cells(
              r.name,
              r.stored !== undefined ? en(r.stored) : "–",
              `${en(r.formula)} (${sci(r.formula)})`,
              `${en(r.flops)} (${sci(r.flops)})`,
              r.paper
                ? `${sci(r.paper.params)} parameters, ${sci(r.paper.flops)} FLOPs`
                : "not in Table 2 (another shape)",
            )
          : h("tr", {}, h("td", { colspan: 5 }, noModel(slot))),
      ),
    ),
  );
}

/** " — random, synthetic weights: ..." after "drawn from the weights that were loaded", for a synthetic model. */
export function syntheticNote(slot: ModelSlot<LoadedModel>): Node {
  if (!slot.current?.model.synthetic) return nothing();
  const frag = document.createDocumentFragment();
  frag.append(" — ", h("b", {}, "random, synthetic weights"), ": the real curves need the real checkpoint");
  return frag;
}

/**
 * The fact's causal trace (src/full-size/causal.ts): the heatmap of the loaded model as it fills in, the status
 * line, and for a synthetic model (or one without a tokenizer) the label that it shows the mechanics only.
 */
export function factTrace(run: FactRun | null, width: number): HTMLElement {
  const box = document.createElement("div");
  box.dataset.factTrace = run ? (run.error ? "error" : run.done ? "done" : "running") : "idle";
  if (!run) {
    box.append(
      notice(
        "Press “Trace the fact” to run it on the loaded model (it takes a while on the 169M model).",
        "info",
      ),
    );
    return box;
  }
  if (run.error) {
    box.append(
      notice(
        `The trace failed: ${run.error instanceof Error ? run.error.message : String(run.error)}`,
        "error",
      ),
    );
    return box;
  }
  if (run.req?.mechanicsOnly) box.append(notice(`Mechanics only: ${run.req.note}.`, "warn"));
  box.append(notice(run.status, "info"));
  if (run.req && run.trace) {
    const panels = tracePanels([run.trace], run.req.labels);
    box.append(
      causalTraceFigure(panels, {
        width,
        domain: sharedDomain(panels),
        name: "fact-trace",
        readout: run.done ? [strongestReadout(run.trace, run.req.labels)] : [],
        caption: run.req.note,
      }),
    );
  }
  return box;
}
