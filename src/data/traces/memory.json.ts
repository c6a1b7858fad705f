// Data loader: chapter 9's precomputed figures. The causal traces of the default prompt for both tiny models
// (the reference models: only they have the hooks that restore a block's output), with 3 noise samples (Meng
// et al. average 10; see MEMORY_DEFAULTS); and the recall probes (copy, context use, prompt order) on the held-out 10% of the corpus, run on
// the ONNX graphs in onnxruntime-web's wasm EP (as the other chapters' precomputed figures), the same seeds for
// both models. Without ../shared/data/tinyshakespeare.txt the probes are left out and the page says why.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadBuildModel, repoRoot } from "../../build/build-model.js";
import { loadBuildGpt } from "../../build/gpt-build.js";
import {
  MEMORY_DEFAULTS,
  SPEAKERS,
  bothTraces,
  encodeMemoryData,
  traceRequest,
  trainingFacts,
} from "../../chapters/memory/chapter.js";
import type { MemoryData, MemoryProbes } from "../../chapters/memory/chapter.js";
import { contextUse } from "../../chapters/memory/context-use.js";
import { copyProbe } from "../../chapters/memory/copy-probe.js";
import { type SequenceModel, rwkvStateSize } from "../../chapters/memory/lm.js";
import { promptOrder } from "../../chapters/memory/prompt-order.js";
import { type GptCache, type OrtState, createOrtGpt, createOrtRwkv } from "../../runtime/node.js";

const D = MEMORY_DEFAULTS;
const seconds: Record<string, number> = {};
async function timed<T>(key: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await f();
  seconds[key] = Math.round((performance.now() - t0) / 100) / 10;
  return r;
}

const { card, model: rwkv } = loadBuildModel();
const { card: gptCard, model: gpt } = loadBuildGpt();
const req = traceRequest(D.prompt, D.subject, D.target, card.vocabulary);
const traces = await timed("causalTraces", () =>
  bothTraces({ rwkv, gpt }, req, { samples: D.precomputedSamples, seed: D.seed }),
);

let probes: MemoryProbes | null = null;
let probesMissing: string | undefined;
const corpusFile = path.resolve(repoRoot, "../shared/data/tinyshakespeare.txt");
if (!existsSync(corpusFile)) {
  probesMissing = `the corpus (../shared/data/tinyshakespeare.txt) was not there when the site was built`;
} else {
  const text = readFileSync(corpusFile, "utf-8");
  // the card's rule: the last 10% of the characters are the validation split, held out from training
  const heldOut = text.slice(Math.floor(0.9 * text.length));
  const tokens = [...heldOut].map((c) => card.vocabulary.indexOf(c));
  const ortRwkv = await createOrtRwkv(rwkv.weights, {
    mode: "parallel",
    parallelLogits: "all",
    maxTokens: 2048,
  });
  const ortGpt = await createOrtGpt(gpt.weights);
  const models: SequenceModel[] = [
    {
      label: "RWKV",
      vocabSize: rwkv.config.vocabSize,
      maxLength: Infinity,
      logits: async (t) => (await ortRwkv.forward(t)).logits,
      resume: async (after, t) => {
        const r = await ortRwkv.forward(t, after as OrtState | undefined);
        return { logits: r.logits, after: r.state };
      },
    },
    {
      label: "GPT",
      vocabSize: gpt.config.vocabSize,
      maxLength: gpt.config.blockSize,
      logits: async (t) => (await ortGpt.forward(t, ortGpt.newCache())).logits,
      resume: async (after, t) => {
        const r = await ortGpt.forward(t, (after as GptCache | undefined) ?? ortGpt.newCache());
        return { logits: r.logits, after: r.cache };
      },
    },
  ];
  const run = <T>(key: string, f: (m: SequenceModel) => Promise<T>) =>
    timed(key, async () => {
      const out: T[] = [];
      for (const m of models) out.push(await f(m));
      return out;
    });
  const vocabulary = card.vocabulary;
  probes = {
    copy: await run("copy", (m) => copyProbe(m, { vocabulary, filler: heldOut, seed: D.seed, ...D.copy })),
    context: await run("context", (m) => contextUse(m, { tokens, seed: D.seed, ...D.context })),
    order: await run("order", (m) =>
      promptOrder(m, { vocabulary, speeches: heldOut, names: SPEAKERS, seed: D.seed, ...D.order }),
    ),
  };
  await ortRwkv.dispose();
  await ortGpt.dispose();
}

// what the prose quotes of the cards (training steps, window, split): the cards as written by the training script
const rwkvFacts = trainingFacts(card.raw);
const gptFacts = trainingFacts(gptCard.raw);
const data: MemoryData = {
  synthetic: card.synthetic || gptCard.synthetic,
  request: { prompt: D.prompt, subject: D.subject, target: D.target },
  traces,
  probes,
  ...(probesMissing ? { probesMissing } : {}),
  stateSize: rwkvStateSize(rwkv.config),
  gptPositions: gpt.config.blockSize,
  ...(rwkvFacts && gptFacts
    ? { training: { rwkv: rwkvFacts, gpt: gptFacts, validationShare: rwkvFacts.validationShare } }
    : {}),
  computedWith:
    "causal traces: the reference models (JS) in Node; probes: the ONNX graphs on onnxruntime-web's wasm EP in Node",
  seconds,
};
process.stdout.write(JSON.stringify(encodeMemoryData(data)));
