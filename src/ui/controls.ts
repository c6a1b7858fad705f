/**
 * Controls for the chapters (browser). Each returns an element with `.value` that dispatches `input` events,
 * so a page can write `const x = view(control(...))`.
 *
 * API:
 *   promptInput({value, vocabulary, maxTokens, label?, rows?})  .value = the raw text; shows under the box what
 *                                   the model will read (unknown characters left out, too long cut) live
 *   tokenPicker(labels, {value?, label?})  .value = a token index; click a character, or ←/→ while focused
 *   slider({min, max, step, value, label, format?})  .value = number; an <input type=range> with a readout
 *   addressSlider(key, {min, max, step, value, label, format?})  the same, its value kept in the address (?key=)
 *   snapToRange(v, {min, max, step})                 v on [min, max] at the nearest min + k·step (NaN: undefined)
 *   select(options, {value, label, format?})          .value = one of options
 */
import { encodePrompt } from "../trace/prompt.js";
import { readUrlState, writeUrlState } from "./url-state.js";

type ValueElement<T> = HTMLElement & { value: T };

function defineValue<T>(el: HTMLElement, get: () => T, set: (v: T) => void): ValueElement<T> {
  Object.defineProperty(el, "value", { get, set, configurable: true });
  return el as ValueElement<T>;
}

export interface PromptInputOptions {
  value: string;
  vocabulary: string;
  maxTokens: number;
  label?: string;
  rows?: number;
}

export function promptInput({
  value,
  vocabulary,
  maxTokens,
  label = "Prompt",
  rows = 2,
}: PromptInputOptions): ValueElement<string> {
  const root = document.createElement("div");
  root.className = "explainer-prompt";
  const id = `prompt-${Math.random().toString(36).slice(2, 8)}`;
  const lab = document.createElement("label");
  lab.htmlFor = id;
  lab.textContent = label;
  const area = document.createElement("textarea");
  area.id = id;
  area.rows = rows;
  area.spellcheck = false;
  area.value = value;
  area.setAttribute("data-prompt", "");
  const info = document.createElement("div");
  info.className = "count";
  info.setAttribute("aria-live", "polite");
  const warn = document.createElement("div");
  warn.className = "explainer-notice warn";
  warn.setAttribute("role", "status");
  const update = (): void => {
    const enc = encodePrompt(area.value, vocabulary, { maxTokens });
    info.textContent = `${enc.tokens.length} of at most ${maxTokens} characters (one token each)`;
    warn.textContent =
      enc.tokens.length === 0 ? "The prompt is empty: type at least one character." : enc.message;
  };
  update();
  area.addEventListener("input", (event) => {
    update();
    // re-dispatch from the root so Framework's view() sees it
    event.stopPropagation();
    root.dispatchEvent(new Event("input", { bubbles: true }));
  });
  root.append(lab, area, info, warn);
  return defineValue(
    root,
    () => area.value,
    (v: string) => {
      area.value = v;
      update();
    },
  );
}

export function tokenPicker(
  labels: readonly string[],
  { value = labels.length - 1, label = "Token" }: { value?: number; label?: string } = {},
): ValueElement<number> {
  const root = document.createElement("div");
  const lab = document.createElement("div");
  lab.style.font = "600 15px var(--sans-serif)";
  lab.textContent = label;
  const strip = document.createElement("div");
  strip.className = "token-strip";
  strip.setAttribute("role", "listbox");
  strip.setAttribute("aria-label", label);
  let current = Math.min(Math.max(0, value), labels.length - 1);
  const buttons = labels.map((ch, t) => {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = ch;
    b.title = `position ${t}`;
    b.dataset.token = String(t);
    if (ch === "␣" || ch === "↵") b.classList.add("ws");
    b.addEventListener("click", () => select(t, true));
    return b;
  });
  const select = (t: number, emit: boolean): void => {
    current = Math.min(Math.max(0, t), labels.length - 1);
    buttons.forEach((b, i) => {
      b.setAttribute("aria-pressed", String(i === current));
      b.tabIndex = i === current ? 0 : -1;
    });
    if (emit) root.dispatchEvent(new Event("input", { bubbles: true }));
  };
  strip.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    event.preventDefault(); // not a chapter change
    event.stopPropagation();
    select(current + (event.key === "ArrowLeft" ? -1 : 1), true);
    buttons[current]?.focus();
  });
  strip.append(...buttons);
  select(current, false);
  root.append(lab, strip);
  return defineValue(
    root,
    () => current,
    (v: number) => select(v, false),
  );
}

export interface SliderOptions {
  min: number;
  max: number;
  step: number;
  value: number;
  label: string;
  format?: (v: number) => string;
}

export function slider({
  min,
  max,
  step,
  value,
  label,
  format = String,
}: SliderOptions): ValueElement<number> {
  const root = document.createElement("div");
  root.className = "explainer-controls";
  const lab = document.createElement("label");
  const text = document.createElement("span");
  text.textContent = label;
  const input = document.createElement("input");
  input.type = "range";
  input.min = String(min);
  input.max = String(max);
  input.step = String(step);
  input.value = String(value);
  input.setAttribute("aria-label", label);
  const out = document.createElement("output");
  out.textContent = format(value);
  input.addEventListener("input", (event) => {
    out.textContent = format(Number(input.value));
    event.stopPropagation();
    root.dispatchEvent(new Event("input", { bubbles: true }));
  });
  lab.append(text, input, out);
  root.append(lab);
  return defineValue(
    root,
    () => Number(input.value),
    (v: number) => {
      input.value = String(v);
      out.textContent = format(Number(input.value));
    },
  );
}

/** `v` on [min, max] at the nearest min + k·step (undefined if v is not a finite number). */
export function snapToRange(
  v: number,
  { min, max, step }: Pick<SliderOptions, "min" | "max" | "step">,
): number | undefined {
  if (!Number.isFinite(v)) return undefined;
  // as <input type=range> does: the nearest step, and at most the last step at or under the maximum
  const k = Math.min(Math.round((Math.max(min, v) - min) / step), Math.floor((max - min) / step));
  return min + k * step;
}

/**
 * A slider whose value lives in the page's address (?key=N), for a page that is not a chapter (the home page;
 * chapters keep theirs through src/ui/chapter.ts): it starts from the address, snapped to its range and step (a
 * bad value gives `value`), writes each change back (no reload, no history entry), and carries data-key, so a
 * figure's Link reproduces the view (src/ui/export.ts).
 */
export function addressSlider(key: string, opts: SliderOptions): ValueElement<number> {
  const defaults = { [key]: opts.value };
  const start = snapToRange(Number(readUrlState(defaults, { real: [key] })[key]), opts) ?? opts.value;
  const el = slider({ ...opts, value: start });
  el.dataset.key = key;
  el.addEventListener("input", () => writeUrlState({ [key]: el.value }, defaults));
  return el;
}

export function select<T extends string | number>(
  options: readonly T[],
  { value, label, format = String }: { value: T; label: string; format?: (v: T) => string },
): ValueElement<T> {
  const root = document.createElement("div");
  root.className = "explainer-controls";
  const lab = document.createElement("label");
  const text = document.createElement("span");
  text.textContent = label;
  const sel = document.createElement("select");
  options.forEach((o, i) => {
    const opt = document.createElement("option");
    opt.value = String(i);
    opt.textContent = format(o);
    if (o === value) opt.selected = true;
    sel.append(opt);
  });
  sel.addEventListener("input", (event) => {
    event.stopPropagation();
    root.dispatchEvent(new Event("input", { bubbles: true }));
  });
  lab.append(text, sel);
  root.append(lab);
  return defineValue(
    root,
    () => options[Number(sel.value)] ?? options[0],
    (v: T) => {
      const i = options.indexOf(v);
      if (i >= 0) sel.value = String(i);
    },
  );
}
