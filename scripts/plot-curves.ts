/**
 * Draw the training loss curves of the shipped models (docs/loss-curves.svg) from the points their model cards
 * carry (data/models/<name>.json, `loss_curve.points`; the same points as <name>.curve.json). No network, no DOM:
 * the SVG is written as text. Usage: `npx tsx scripts/plot-curves.ts [out.svg]`.
 *
 * Each point is an estimate during training: mean NLL in nats/char over 64 fixed windows of each split, eval
 * mode. The step whose weights were kept (early stopping, `training.kept_best.step`) is marked.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

interface CurvePoint {
  step: number;
  train_loss: number;
  val_loss: number;
}
interface Series {
  name: string;
  label: string;
  color: string;
  points: CurvePoint[];
  kept: number;
}

function readCard(name: string, label: string, color: string): Series {
  const file = path.join(root, "data", "models", `${name}.json`);
  const card = JSON.parse(readFileSync(file, "utf-8")) as {
    loss_curve?: { points?: CurvePoint[] };
    training?: { kept_best?: { step?: number }; steps?: number };
  };
  const points = card.loss_curve?.points;
  if (!Array.isArray(points) || points.length < 2) throw new Error(`${file}: no loss_curve.points`);
  for (const p of points) {
    if (![p.step, p.train_loss, p.val_loss].every(Number.isFinite))
      throw new Error(`${file}: a loss_curve point is not numeric: ${JSON.stringify(p)}`);
  }
  const kept = card.training?.kept_best?.step ?? card.training?.steps ?? points[points.length - 1].step;
  return { name, label, color, points, kept };
}

const series = [readCard("tiny-rwkv", "RWKV-4", "#3b6fd9"), readCard("tiny-gpt", "GPT", "#e8590c")];

// Layout
const W = 760;
const H = 420;
const m = { top: 56, right: 170, bottom: 48, left: 58 };
const iw = W - m.left - m.right;
const ih = H - m.top - m.bottom;
// Step 0 (about ln 65 = 4.17 for both: a uniform guess over the 65 characters) is far above the rest; the y
// axis starts at step 100's scale and step 0 is left out (said in the note).
const shown = series.map((s) => ({ ...s, points: s.points.filter((p) => p.step > 0) }));
const maxStep = Math.max(...series.flatMap((s) => s.points.map((p) => p.step)));
const allLoss = shown.flatMap((s) => s.points.flatMap((p) => [p.train_loss, p.val_loss]));
const yMin = Math.floor(Math.min(...allLoss) * 10) / 10;
const yMax = Math.ceil(Math.max(...allLoss) * 10) / 10;
const x = (step: number): number => m.left + (step / maxStep) * iw;
const y = (loss: number): number => m.top + ((yMax - loss) / (yMax - yMin)) * ih;
const f = (v: number): string => v.toFixed(1);

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

const out: string[] = [];
out.push(
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="system-ui, sans-serif" font-size="12">`,
);
out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
out.push(
  `<text x="${m.left}" y="22" font-size="15" font-weight="bold">Training curves: RWKV-4 and GPT on Tiny Shakespeare</text>`,
);
out.push(
  `<text x="${m.left}" y="40" fill="#555">mean NLL (nats/char) over 64 fixed windows of each split, eval mode; ` +
    `solid: validation, dashed: train</text>`,
);
// grid and y axis
for (let v = Math.ceil(yMin * 10) / 10; v <= yMax + 1e-9; v += 0.1) {
  const yy = y(v);
  const major = Math.abs(v * 2 - Math.round(v * 2)) < 1e-6; // every 0.5
  out.push(
    `<line x1="${m.left}" x2="${m.left + iw}" y1="${f(yy)}" y2="${f(yy)}" stroke="${major ? "#ccc" : "#eee"}"/>`,
  );
  out.push(`<text x="${m.left - 6}" y="${f(yy + 4)}" text-anchor="end" fill="#333">${v.toFixed(1)}</text>`);
}
out.push(
  `<text transform="translate(16 ${m.top + ih / 2}) rotate(-90)" text-anchor="middle" fill="#333">loss (nats/char)</text>`,
);
// x axis
const xStep = maxStep > 2000 ? 500 : 250;
for (let s = 0; s <= maxStep; s += xStep) {
  out.push(`<line x1="${f(x(s))}" x2="${f(x(s))}" y1="${m.top + ih}" y2="${m.top + ih + 5}" stroke="#333"/>`);
  out.push(`<text x="${f(x(s))}" y="${m.top + ih + 18}" text-anchor="middle" fill="#333">${s}</text>`);
}
out.push(
  `<line x1="${m.left}" x2="${m.left + iw}" y1="${m.top + ih}" y2="${m.top + ih}" stroke="#333"/>` +
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ih}" stroke="#333"/>`,
);
out.push(
  `<text x="${m.left + iw / 2}" y="${H - 10}" text-anchor="middle" fill="#333">training step (batch of 64 × 256 characters)</text>`,
);
// curves
for (const s of shown) {
  const line = (key: "train_loss" | "val_loss"): string =>
    s.points.map((p, i) => `${i ? "L" : "M"}${f(x(p.step))},${f(y(p[key]))}`).join("");
  out.push(
    `<path d="${line("train_loss")}" fill="none" stroke="${s.color}" stroke-width="1.8" stroke-dasharray="5 4"/>`,
  );
  out.push(`<path d="${line("val_loss")}" fill="none" stroke="${s.color}" stroke-width="2.4"/>`);
  const k = s.points.find((p) => p.step === s.kept);
  if (k) {
    out.push(
      `<circle cx="${f(x(k.step))}" cy="${f(y(k.val_loss))}" r="5" fill="white" stroke="${s.color}" stroke-width="2.4"/>`,
    );
  }
}
// legend (right), with the kept step
let ly = m.top + 8;
for (const s of shown) {
  const k = s.points.find((p) => p.step === s.kept);
  out.push(
    `<text x="${m.left + iw + 16}" y="${ly}" font-weight="bold" fill="${s.color}">${esc(s.label)}</text>`,
  );
  ly += 18;
  out.push(
    `<line x1="${m.left + iw + 16}" x2="${m.left + iw + 40}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2.4"/>` +
      `<text x="${m.left + iw + 46}" y="${ly}">validation</text>`,
  );
  ly += 16;
  out.push(
    `<line x1="${m.left + iw + 16}" x2="${m.left + iw + 40}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="1.8" stroke-dasharray="5 4"/>` +
      `<text x="${m.left + iw + 46}" y="${ly}">train</text>`,
  );
  ly += 16;
  if (k) {
    out.push(
      `<circle cx="${m.left + iw + 28}" cy="${ly - 4}" r="4.5" fill="white" stroke="${s.color}" stroke-width="2.2"/>` +
        `<text x="${m.left + iw + 46}" y="${ly}">kept: step ${k.step}</text>`,
    );
    ly += 16;
    out.push(`<text x="${m.left + iw + 46}" y="${ly}" fill="#555">(val ${k.val_loss.toFixed(3)})</text>`);
    ly += 16;
  }
  ly += 14;
}
const first = series.map((s) => `${s.label} ${s.points[0].val_loss.toFixed(2)}`).join(", ");
out.push(
  `<text x="${m.left + iw + 16}" y="${ly + 4}" fill="#555" font-size="11">step 0 not drawn:</text>` +
    `<text x="${m.left + iw + 16}" y="${ly + 18}" fill="#555" font-size="11">val ${esc(first)}</text>` +
    `<text x="${m.left + iw + 16}" y="${ly + 32}" fill="#555" font-size="11">(ln 65 = ${Math.log(65).toFixed(2)})</text>`,
);
out.push(`</svg>`);

const target = process.argv[2] ?? path.join(root, "docs", "loss-curves.svg");
writeFileSync(target, out.join("\n") + "\n");
console.log(`plot-curves: wrote ${path.relative(root, target)} (${series.map((s) => s.name).join(", ")})`);
