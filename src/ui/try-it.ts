/**
 * Chapter 1's try-it box (browser): the tiny RWKV continues the reader's text, one character at a time, with
 * seeded sampling (temperature, top-p), beside a live meter of its state size against a transformer's KV cache
 * (the numbers: stateMeterData of src/chapters/overview.ts). Generation runs on the reference model until the
 * onnxruntime-web handle (openOrtModel, src/live/ort-model.ts) is ready, then on it, never switching mid-run.
 *
 *   tryIt({handle, ort?, settings, maxPromptTokens, config, width?, onSettings}) -> HTMLElement
 *     settings: {prompt, temperature, topP, seed, n} (n: characters to generate; the keys of chapter 1's address);
 *     onSettings(s) is called when the reader changes them or the prompt (for the URL). The element has
 *     data-state="idle" | "running" | "done" | "error" for tests.
 */
import { stateMeterData } from "../chapters/overview.js";
import { stateMeter } from "../components/state-meter.js";
import { promptInput, slider } from "./controls.js";
import type { LiveModel, ModelHandle } from "../live/live-model.js";
import type { OrtHandle } from "../live/ort-model.js";
import { notice } from "./page.js";
import { encodePrompt } from "../trace/prompt.js";

export interface TryItSettings {
  prompt: string;
  temperature: number;
  topP: number;
  seed: number;
  /** characters to generate */
  n: number;
}

export interface TryItOptions {
  handle: ModelHandle;
  settings: TryItSettings;
  maxPromptTokens: number;
  /** the model's shape, known before the weights load (from the params JSON) */
  config: { nLayer: number; nEmbd: number };
  /** width of the meter in pixels (default: the box's own width once on the page) */
  width?: number;
  onSettings?: (s: TryItSettings) => void;
  /** the onnxruntime-web backend: generation switches to it once it is ready (the reference model until then) */
  ort?: OrtHandle;
}

export function tryIt({
  handle,
  settings,
  maxPromptTokens,
  config: shape,
  width,
  onSettings,
  ort,
}: TryItOptions): HTMLElement {
  const root = document.createElement("div");
  root.className = "explainer-try-it";
  root.dataset.state = "idle";
  const s = { ...settings };
  const vocabulary = handle.card.vocabulary;

  const prompt = promptInput({
    value: s.prompt,
    vocabulary,
    maxTokens: maxPromptTokens,
    label: "Your text (the model continues it)",
    rows: 3,
  });
  const temperature = slider({
    min: 0,
    max: 2,
    step: 0.05,
    value: s.temperature,
    label: "temperature",
    format: (v) => (v === 0 ? "0 (greedy)" : v.toFixed(2)),
  });
  const topP = slider({
    min: 0.05,
    max: 1,
    step: 0.05,
    value: s.topP,
    label: "top-p",
    format: (v) => v.toFixed(2),
  });
  const length = slider({
    min: 20,
    max: 600,
    step: 10,
    value: s.n,
    label: "characters",
    format: String,
  });
  const seedLabel = document.createElement("label");
  seedLabel.textContent = "seed ";
  const seed = document.createElement("input");
  seed.type = "number";
  seed.min = "0";
  seed.step = "1";
  seed.value = String(s.seed);
  seed.style.width = "6em";
  seedLabel.append(seed);
  const button = document.createElement("button");
  button.type = "button";
  button.className = "explainer-generate";
  button.style.font = "600 16px var(--sans-serif)";
  button.style.padding = ".35rem 1rem";
  const controls = document.createElement("div");
  controls.className = "explainer-controls";
  controls.append(temperature, topP, length, seedLabel, button);

  const output = document.createElement("div");
  output.className = "explainer-generated";
  output.setAttribute("aria-live", "off");
  output.dataset.output = "";
  const promptPart = document.createElement("span");
  promptPart.className = "prompt-part";
  const genPart = document.createElement("span");
  genPart.className = "gen-part";
  output.append(promptPart, genPart);
  const speed = document.createElement("div");
  speed.className = "explainer-badge";
  const message = document.createElement("div");
  const meterSlot = document.createElement("div");

  let running: { stop: boolean } | null = null;
  let lastMeter: [number, number | undefined] = [0, undefined];
  let model: LiveModel | null = null;

  const drawMeter = (T: number, measured?: number): void => {
    lastMeter = [T, measured];
    const config = model?.config ?? shape;
    const w = width ?? (root.clientWidth || 720);
    meterSlot.replaceChildren(
      stateMeter(stateMeterData({ nLayer: config.nLayer, nEmbd: config.nEmbd, T, measuredState: measured }), {
        width: w,
      }),
    );
  };
  const readSettings = (): void => {
    s.prompt = prompt.value;
    s.temperature = temperature.value;
    s.topP = topP.value;
    s.n = length.value;
    s.seed = Math.max(0, Math.floor(Number(seed.value) || 0));
    onSettings?.({ ...s });
  };
  const backendLine = document.createElement("div");
  backendLine.className = "explainer-badge";
  backendLine.dataset.backendLine = "";
  const setBackend = (): void => {
    root.dataset.backend = model?.backend ?? "";
    const pill = (text: string, cls = ""): HTMLElement => {
      const span = document.createElement("span");
      span.className = `pill ${cls}`.trim();
      span.textContent = text;
      return span;
    };
    const parts: HTMLElement[] = [pill(`generation backend: ${model?.backend ?? "…"}`, "backend")];
    if (ort?.status === "loading") parts.push(pill("starting onnxruntime-web…", "loading"));
    if (ort?.status === "failed")
      parts.push(pill(`onnxruntime-web failed, using the reference model: ${ort.error?.message}`, "failed"));
    if (ort?.status === "ready" && ort.fallbackReason) parts.push(pill(`no WebGPU: ${ort.fallbackReason}`));
    backendLine.replaceChildren(...parts);
  };
  const setButton = (): void => {
    button.disabled = !model;
    button.textContent = !model
      ? handle.status === "failed"
        ? "model failed to load"
        : handle.status === "off"
          ? "live model off (?live=0)"
          : "loading model…"
      : running
        ? "Stop"
        : "Generate";
  };

  const start = async (): Promise<void> => {
    if (!model) return;
    readSettings();
    const enc = encodePrompt(s.prompt, vocabulary, { maxTokens: maxPromptTokens });
    if (enc.tokens.length === 0) {
      message.replaceChildren(
        notice("Type some text first: the model needs at least one character.", "warn"),
      );
      return;
    }
    message.replaceChildren(enc.message ? notice(enc.message, "warn") : "");
    promptPart.textContent = enc.text;
    genPart.textContent = "";
    const run = { stop: false };
    running = run;
    root.dataset.state = "running";
    setButton();
    drawMeter(enc.tokens.length);
    let total = 0;
    let count = 0;
    try {
      for await (const tok of model.generate(enc.tokens, {
        temperature: s.temperature,
        topP: s.topP,
        seed: s.seed,
        maxTokens: s.n,
      })) {
        if (run.stop) break;
        genPart.textContent += tok.char;
        if (tok.index > 0) {
          total += tok.ms;
          count++;
        }
        drawMeter(tok.position, tok.stateNumbers);
        speed.textContent =
          `${tok.index + 1} characters · ${count ? (total / count).toFixed(1) : "–"} ms per character ` +
          `(${model.backend}, RNN mode, one token in, one state update)`;
      }
      root.dataset.state = "done";
    } catch (error) {
      root.dataset.state = "error";
      message.replaceChildren(notice(error instanceof Error ? error.message : String(error), "error"));
    } finally {
      if (running === run) running = null;
      setButton();
    }
  };

  button.addEventListener("click", () => {
    if (running) running.stop = true;
    else void start();
  });
  for (const el of [prompt, temperature, topP, length]) {
    el.addEventListener("input", (e) => {
      e.stopPropagation();
      readSettings();
    });
  }
  seed.addEventListener("change", readSettings);

  setButton();
  drawMeter(encodePrompt(s.prompt, vocabulary, { maxTokens: maxPromptTokens }).tokens.length);
  // the backend that generates: the reference model as soon as it is ready, then onnxruntime-web if it starts
  let settledOrt = !ort || ort.status === "off";
  const settle = (): void => {
    root.dataset.backendSettled = String(settledOrt && handle.status !== "loading");
    setButton();
    setBackend();
  };
  handle.ready.then(
    (m) => {
      if (!model) model = m;
      settle();
    },
    () => settle(),
  );
  ort?.ready.then(
    (m) => {
      const swap = (): void => {
        if (running)
          setTimeout(swap, 50); // never switch in the middle of a generation
        else {
          model = m;
          settledOrt = true;
          settle();
        }
      };
      swap();
    },
    () => {
      settledOrt = true;
      settle();
    },
  );
  settle();
  root.append(prompt, controls, backendLine, message, output, speed, meterSlot);
  // the box's width is known once it is on the page: redraw the meter at that width, and on resize
  if (width === undefined && typeof ResizeObserver !== "undefined") {
    let lastWidth = 0;
    new ResizeObserver(() => {
      if (root.clientWidth > 0 && root.clientWidth !== lastWidth) {
        lastWidth = root.clientWidth;
        drawMeter(...lastMeter);
      }
    }).observe(root);
  }
  return root;
}
