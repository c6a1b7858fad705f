/**
 * A page on a 390 px phone and by keyboard (issue 14), checked on a page a test has already opened and loaded:
 *  - at 390 x 844 nothing overflows horizontally, and every figure has a text alternative with numbers in it (or
 *    is a table);
 *  - back at the test's size (a laptop's), every control is reached by Tab and shows a focus ring, and the first
 *    slider, select, checkbox and text box are operated by keyboard (arrows, Space, typing) and change value.
 *
 *   const step = stepTimer("/05-wkv");   ...   await checkPhoneAndKeyboard(page, problems, step);   step.report()
 */
import type { Page } from "playwright-core";
import { expect } from "vitest";
import { CONTROL_KEY, CONTROLS, FIGURE_LAYOUT, FOCUS, type FigureLayout } from "./layout-checks.js";

/** A value control's kind ("range", "select", "checkbox", "text"), or "" for anything else. As a function expression. */
const VALUE_KIND = `((el) => !el ? "" : el.tagName === "SELECT" ? (el.options.length > 1 ? "select" : "")
  : el.tagName === "TEXTAREA" ? "text" : el.tagName !== "INPUT" ? ""
  : el.type === "range" ? "range" : el.type === "checkbox" ? "checkbox"
  : ["text", "search", "number", ""].includes(el.type) ? "text" : "")`;

/**
 * Operates the focused control with the keys a keyboard user has (arrows for a slider or a select, Space for a
 * checkbox, typing for a text box) and says "changed" when its value changed, else what stayed.
 */
async function operateByKeyboard(page: Page, kind: string, key: string): Promise<string> {
  const read = `(() => { const el = document.activeElement; return el.type === "checkbox" ? String(el.checked) : el.value; })()`;
  const before = (await page.evaluate(read)) as string;
  if (kind === "range") {
    const atMax = (await page.evaluate(`(() => { const el = document.activeElement;
      return Number(el.value) >= Number(el.max || 100); })()`)) as boolean;
    await page.keyboard.press(atMax ? "ArrowLeft" : "ArrowRight");
  } else if (kind === "select") {
    const atEnd = (await page.evaluate(`(() => { const el = document.activeElement;
      return el.selectedIndex === el.options.length - 1; })()`)) as boolean;
    await page.keyboard.press(atEnd ? "ArrowUp" : "ArrowDown");
  } else if (kind === "checkbox") {
    await page.keyboard.press("Space");
  } else {
    await page.keyboard.press("End");
    await page.keyboard.type("e");
  }
  const after = (await page.evaluate(read)) as string;
  return after !== before ? "changed" : `${key}: ${kind} stayed ${JSON.stringify(before)}`;
}

/**
 * Times the steps of a long test and prints them when it ends (pass or fail), so a slow step shows in CI's log:
 * `const step = stepTimer("/05-wkv phone"); await step("open", open(...)); ... step.report()`.
 */
export function stepTimer(name: string) {
  const t0 = Date.now();
  const done: string[] = [];
  let current = "";
  const step = async <T>(label: string, work: Promise<T> | (() => Promise<T>)): Promise<T> => {
    const t = Date.now();
    current = label;
    const value = await (typeof work === "function" ? work() : work);
    done.push(`${label} ${((Date.now() - t) / 1000).toFixed(1)} s`);
    current = "";
    return value;
  };
  step.note = (text: string) => done.push(text);
  step.report = () =>
    console.log(
      `${name}: ${done.join(", ")}${current ? `, still in “${current}”` : ""} (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
    );
  return step;
}

export type StepTimer = ReturnType<typeof stepTimer>;

/** Waits until the page has not changed for `ms` (figures redraw as late results arrive), at most 20 s. */
export async function quiet(page: Page, ms = 800): Promise<void> {
  await page.evaluate(`new Promise((done) => {
    let timer = setTimeout(finish, ${ms});
    const observer = new MutationObserver(() => { clearTimeout(timer); timer = setTimeout(finish, ${ms}); });
    observer.observe(document.body, { childList: true, subtree: true });
    const limit = setTimeout(finish, 20000);
    function finish() { observer.disconnect(); clearTimeout(limit); clearTimeout(timer); done(); }
  })`);
}

const figureLayout = (page: Page) => page.evaluate(`(${FIGURE_LAYOUT})(null)`) as Promise<FigureLayout[]>;

/**
 * `work`, and if it has not finished after `afterMs`, a 3 s CPU profile of the page's main thread printed (the
 * functions with the most samples): a step that hangs (CI saw one) then says what the page was running.
 */
async function watched<T>(page: Page, label: string, work: Promise<T>, afterMs = 30_000): Promise<T> {
  const timer = setTimeout(() => {
    void (async () => {
      try {
        const cdp = await page.context().newCDPSession(page);
        await cdp.send("Profiler.enable");
        await cdp.send("Profiler.start");
        await new Promise((done) => setTimeout(done, 3000));
        const { profile } = (await cdp.send("Profiler.stop")) as {
          profile: {
            nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
            samples: number[];
          };
        };
        const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
        const count = new Map<string, number>();
        for (const id of profile.samples) {
          const f = byId.get(id)!;
          const key = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber + 1}`;
          count.set(key, (count.get(key) ?? 0) + 1);
        }
        const top = [...count].sort((a, b) => b[1] - a[1]).slice(0, 12);
        console.log(
          `${page.url()}: “${label}” still running after ${afterMs / 1000} s; main thread over 3 s: ${top.map(([k, n]) => `${k} ×${n}`).join(", ")}`,
        );
      } catch (e) {
        console.log(
          `${page.url()}: “${label}” still running after ${afterMs / 1000} s; no profile (${String(e)})`,
        );
      }
    })();
  }, afterMs);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}

/** The phone and keyboard checks of an open, loaded page, each step timed by `step`; the viewport is restored. */
export async function checkPhoneAndKeyboard(page: Page, problems: string[], step: StepTimer): Promise<void> {
  const back = page.viewportSize() ?? { width: 1280, height: 900 };
  await page.setViewportSize({ width: 390, height: 844 });
  await step("quiet at 390 px", quiet(page));
  try {
    const overflow = (await page.evaluate(`[document.documentElement.scrollWidth,
        ...[...document.querySelectorAll("figure[data-figure]")].filter((f) => f.getBoundingClientRect().right > 391)
          .map((f) => f.dataset.figure + " " + Math.round(f.getBoundingClientRect().right))]`)) as (
      number | string
    )[];
    expect(overflow, "page width, then figures past the screen's edge").toEqual([390]);
    // every figure has a text alternative, with numbers in it (or is a table of them)
    const alts = await step("text alternatives", figureLayout(page));
    expect(
      alts.filter((f) => f.alt !== "table" && !/\d/.test(f.alt)).map((f) => `${f.name}: “${f.alt}”`),
    ).toEqual([]);
    expect(problems).toEqual([]);
    // every control can be reached with Tab, and shows where the focus is
    await page.setViewportSize(back);
    await step("quiet", quiet(page));
    const controls = (await page.evaluate(`${CONTROLS}.length`)) as number;
    expect(controls).toBeGreaterThan(0);
    // the controls there are now (a figure drawn later, e.g. after a long measurement, is not required)
    const all = (await page.evaluate(`${CONTROLS}.map(${CONTROL_KEY})`)) as string[];
    const noRing = new Set<string>();
    const reached = new Set<string>();
    // the kinds of value control on the page: the first of each reached by Tab is operated by keyboard
    const kinds = (await page.evaluate(
      `[...new Set(${CONTROLS}.map((el) => ${VALUE_KIND}(el)).filter(Boolean))]`,
    )) as string[];
    const operated = new Map<string, string>();
    await page.mouse.click(1, 1);
    const tabbed = Date.now();
    for (let i = 0; i < controls + 40; i++) {
      await page.keyboard.press("Tab");
      const focused = (await page.evaluate(FOCUS)) as { key: string; ring: boolean } | null;
      if (!focused) continue;
      reached.add(focused.key);
      if (!focused.ring) noRing.add(focused.key);
    }
    step.note(`Tab ×${controls + 40} ${((Date.now() - tabbed) / 1000).toFixed(1)} s`);
    const missed = [...new Set(all)].filter((k) => !reached.has(k));
    expect(missed, "controls Tab never reached").toEqual([]);
    expect([...noRing], "focused without a visible focus ring").toEqual([]);
    // then the first control of each kind (Tab reached them all above) is focused and operated by keyboard
    for (const [i, kind] of kinds.entries()) {
      // the previous operation re-runs cells, and a re-run replaces their controls: wait for that (400 ms with no
      // change to the page: chapter 5's slowest re-run waits 200 ms for the prompt to settle), so that the control
      // focused next is the one on the page, not one about to be replaced
      if (i > 0) await step(`quiet before ${kind}`, quiet(page, 400));
      const key = (await page.evaluate(`(() => {
          const el = ${CONTROLS}.find((c) => ${VALUE_KIND}(c) === ${JSON.stringify(kind)});
          el.focus();
          return ${CONTROL_KEY}(el);
        })()`)) as string;
      operated.set(
        kind,
        await step(`operate ${kind}`, watched(page, `operate ${kind}`, operateByKeyboard(page, kind, key))),
      );
    }
    expect([...operated.keys()].sort(), "kinds of control operated by keyboard").toEqual([...kinds].sort());
    expect(
      [...operated.values()].filter((r) => r !== "changed"),
      "controls whose value the keyboard did not change",
    ).toEqual([]);
    expect(problems).toEqual([]);
  } finally {
    await page.setViewportSize(back);
  }
}
