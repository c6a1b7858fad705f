/**
 * The full-size page's controls (browser). Each is an element with `.value` that dispatches `input` when the
 * value changes, for Framework's view():
 *
 *   loaderForm({models, initial, start?, stop, clear, cache}) -> element, .value: LoadRequest (the first: `start`,
 *       a checkpoint next to the site, when the address names one, else the model `initial`)
 *       the model select (the catalogue, a URL, local files), the URL and file fields, Load / Stop download /
 *       Clear cached models and the cache line. Only Load makes a new value (seq + 1); dropping files on the form
 *       picks them and loads. .showCache() refreshes the cache line.
 *   sizesControl() -> element, .value: Sizes; .show(T, N) sets the selects to the sizes that run without making a
 *       new value (src/full-size/measure.ts decides them); "Run the timings again" makes a new value (auto: false)
 *   promptBox(text) -> element, .value: the prompt text
 */
import type { LoadRequest, LocalFile } from "./loader.js";
import { DEFAULT_SIZES, SIZE_CHOICES, type Sizes } from "./measure.js";

type Child = Node | string;

function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

function options(
  values: readonly (string | number)[],
  label = (v: string | number) => String(v),
): HTMLElement[] {
  return values.map((v) => {
    const o = h("option", { value: String(v) }, label(v)) as HTMLOptionElement;
    return o;
  });
}

/** Stop the controls' own input events at the root: only the root's value reaches view(). */
function ownInput(root: HTMLElement): void {
  root.addEventListener("input", (e) => {
    if (e.target !== root) e.stopImmediatePropagation();
  });
}

function emit(root: HTMLElement): void {
  root.dispatchEvent(new Event("input", { bubbles: true }));
}

export interface CacheLine {
  /** "Cached: 2 files, 340 MB." and the file count, or a sentence why there is no cache */
  read(): Promise<{ text: string; files?: number }>;
}

export interface LoaderFormOptions {
  models: readonly { id: string; label: string }[];
  /** the model the page starts with */
  initial: string;
  /** a checkpoint at a URL to start with instead (?weights=path: a file next to the site) */
  start?: { url: string; configUrl?: string; tokenizerUrl?: string; refused?: string };
  /** "Stop download" */
  stop(): void;
  /** "Clear cached models" (then the cache line is read again) */
  clear(): Promise<void>;
  cache: CacheLine;
  /** the catalogue's host when it is not on the allow-list (a ?hub= in the address): shown above the form */
  hubHost?: string;
}

export type LoaderForm = HTMLFormElement & { value: LoadRequest; showCache(): Promise<void> };

export function loaderForm({
  models,
  initial,
  start,
  stop,
  clear,
  cache,
  hubHost,
}: LoaderFormOptions): LoaderForm {
  const input = (name: string, type: string, extra: Record<string, string> = {}) =>
    h("input", { name, type, ...extra }) as HTMLInputElement;
  const select = h(
    "select",
    { name: "model" },
    ...options(
      models.map((m) => m.id),
      (id) => models.find((m) => m.id === id)!.label,
    ),
    h("option", { value: "url" }, "A checkpoint at a URL…"),
    h("option", { value: "file" }, "A file on this computer…"),
  ) as HTMLSelectElement;
  const url = input("url", "url", { size: "60", placeholder: "https://…/model.pth or …/pytorch_model.bin" });
  const configUrl = input("configUrl", "url", { size: "60" });
  const tokenizerUrl = input("tokenizerUrl", "url", { size: "60" });
  const files = input("files", "file", { multiple: "" });
  const button = (name: string, text: string) =>
    h("button", { name, type: "button" }, text) as HTMLButtonElement;
  const [load, stopButton, clearButton] = [
    button("load", "Load"),
    button("stop", "Stop download"),
    button("clear", "Clear cached models"),
  ];
  const cacheText = h("span", { class: "fs-cache", "aria-live": "polite" });
  const urlRow = h(
    "div",
    { class: "fs-row fs-url" },
    h("label", {}, "Checkpoint URL ", url),
    h("label", {}, "config.json URL (Hugging Face format, optional) ", configUrl),
    h("label", {}, "tokenizer.json URL (optional) ", tokenizerUrl),
  );
  const fileRow = h(
    "div",
    { class: "fs-row fs-file" },
    h("label", {}, "Files (checkpoint; config.json and tokenizer.json optional) ", files),
    h("span", { class: "fs-drop" }, "…or drop them here"),
  );
  const form = h(
    "form",
    { class: "fs-loader" },
    hubHost
      ? h(
          "p",
          { class: "explainer-notice warn fs-hub" },
          `This page's address sends the catalogue's downloads to ${hubHost}, not to the Hugging Face Hub: ` +
            "the browser asks you before anything is fetched from it.",
        )
      : "",
    h("div", { class: "fs-row" }, h("label", {}, "Model ", select)),
    urlRow,
    fileRow,
    h("div", { class: "fs-row" }, load, " ", stopButton, " ", clearButton, " ", cacheText),
  ) as LoaderForm;
  form.addEventListener("submit", (e) => e.preventDefault());
  ownInput(form);
  const sync = () => {
    urlRow.hidden = select.value !== "url";
    fileRow.hidden = select.value !== "file";
  };
  select.addEventListener("change", sync);
  select.value = start ? "url" : initial;
  if (start) {
    url.value = start.url;
    configUrl.value = start.configUrl ?? "";
    tokenizerUrl.value = start.tokenizerUrl ?? "";
  }
  sync();

  form.showCache = async () => {
    const { text, files: n } = await cache.read();
    cacheText.textContent = text;
    if (n !== undefined) cacheText.dataset.files = String(n);
  };
  void form.showCache();

  let seq = 0;
  form.value = start ? { seq, kind: "url", ...start } : { seq, kind: "model", id: initial };
  load.onclick = () => {
    const v = select.value;
    const request: LoadRequest =
      v === "url"
        ? {
            seq: ++seq,
            kind: "url",
            url: url.value.trim(),
            configUrl: configUrl.value.trim(),
            tokenizerUrl: tokenizerUrl.value.trim(),
          }
        : v === "file"
          ? { seq: ++seq, kind: "file", files: [...(files.files ?? [])] as LocalFile[] }
          : { seq: ++seq, kind: "model", id: v };
    form.value = request;
    emit(form);
  };
  stopButton.onclick = () => stop();
  clearButton.onclick = async () => {
    await clear();
    await form.showCache();
  };
  form.addEventListener("dragover", (e) => e.preventDefault());
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    if (!e.dataTransfer?.files?.length) return;
    select.value = "file";
    sync();
    files.files = e.dataTransfer.files;
    load.click();
  });
  return form;
}

export type SizesControl = HTMLElement & { value: Sizes; show(T: number, N: number): void };

export function sizesControl(): SizesControl {
  const tSel = h("select", { name: "T" }, ...options(SIZE_CHOICES.T)) as HTMLSelectElement;
  const nSel = h("select", { name: "N" }, ...options(SIZE_CHOICES.N)) as HTMLSelectElement;
  const run = h("button", { type: "button", name: "run" }, "Run the timings again");
  const el = h(
    "div",
    { class: "fs-sizes" },
    h("label", {}, "Longest prompt T for the prefill chart ", tSel),
    h("label", {}, "Tokens to generate ", nSel),
    run,
  ) as SizesControl;
  ownInput(el);
  let seq = 0;
  el.value = { ...DEFAULT_SIZES, seq };
  el.show = (T, N) => {
    tSel.value = String(T);
    nSel.value = String(N);
  };
  el.show(DEFAULT_SIZES.T, DEFAULT_SIZES.N);
  run.onclick = () => {
    el.value = { T: +tSel.value, N: +nSel.value, auto: false, seq: ++seq };
    emit(el);
  };
  return el;
}

export function promptBox(text: string): HTMLElement & { value: string } {
  const ta = h("textarea", { rows: "2", cols: "70" }) as HTMLTextAreaElement;
  ta.value = text;
  const el = h(
    "label",
    { class: "fs-prompt" },
    "Prompt (real models; a synthetic model gets fixed token ids) ",
    ta,
  ) as HTMLElement & { value: string };
  el.value = text;
  ownInput(el);
  ta.addEventListener("input", () => {
    el.value = ta.value;
    emit(el);
  });
  return el;
}
