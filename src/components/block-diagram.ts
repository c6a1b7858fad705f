/**
 * Chapter 7: the RWKV-4 architecture as one SVG (arXiv 2305.13048, Fig. 2), left the whole
 * model (embedding, ln0, L blocks, ln_out, head), right one block opened up: LayerNorm, time mixing (token
 * shift, R/K/V, WKV with w and u, sigma(r) gate, W_o) and channel mixing (token shift, R'/K', squared ReLU,
 * W'_v, sigma(r') gate), each with its residual connection. Parts link to the chapter that explains them (the
 * links come in as an option: src/chapters/flops.ts diagramLinks). D3 only.
 *
 * The same parts as tables, for the notation page (the data: src/chapters/notation.ts):
 *   notationTable(entries, {tex, symbol, pages?}) -> <figure data-figure="notation" data-rows>   every symbol with
 *       its TeX (rendered by the page's `tex`), meaning, checkpoint key or how it is computed, shape, equations
 *       and the chapters that show it (links only to pages in this build)
 *   numberingTable(rows) -> <figure data-figure="numbering" data-rows>   where arXiv v1 numbers differently
 */
import { create } from "d3";
import type { NotationEntry, NumberingRow } from "../chapters/notation.js";

export interface DiagramPart {
  id: string;
  label: string;
  /** smaller second line (equation, shape) */
  detail?: string;
  /** chapter URL (relative), when a chapter explains it */
  href?: string;
  kind: "io" | "norm" | "time" | "channel" | "op";
}

export interface BlockDiagramOptions {
  width: number;
  /** number of blocks L and width D, printed on the stack */
  nLayer?: number;
  nEmbd?: number;
  ffnSize?: number;
  vocabSize?: number;
  /** chapter links by part id (src/chapters/flops.ts diagramLinks; default none) */
  links?: Partial<Record<string, string>>;
}

const FILL: Record<DiagramPart["kind"], string> = {
  io: "currentColor",
  norm: "currentColor",
  time: "var(--color-rwkv, #3b6fd9)",
  channel: "var(--color-channel, #2f9e44)",
  op: "currentColor",
};

/** The SVG; returns <figure data-figure="block-diagram">. Linked parts are <a> elements (keyboard focusable). */
export function blockDiagram({
  width,
  nLayer,
  nEmbd,
  ffnSize,
  vocabSize,
  links = {},
}: BlockDiagramOptions): HTMLElement {
  // a wide page (presenter mode) gets the landscape layout, drawn at about its own size so its text stays large
  const landscape = width >= 960;
  const W = landscape ? 1000 : 960;
  const H = landscape ? 500 : 780;
  const figure = create("figure").attr("data-figure", "block-diagram");
  const svg = figure
    .append("svg")
    .attr("width", Math.min(width, W))
    .attr("viewBox", `0 0 ${W} ${H}`)
    .attr("role", "group")
    .attr(
      "aria-label",
      "RWKV-4 architecture: the model stack and one block opened up; parts link to their chapters",
    )
    .style("max-width", "100%")
    .style("height", "auto");
  const defs = svg.append("defs");
  defs
    .append("marker")
    .attr("id", "bd-arrow")
    .attr("viewBox", "0 0 10 10")
    .attr("refX", 9)
    .attr("refY", 5)
    .attr("markerWidth", 7)
    .attr("markerHeight", 7)
    .attr("orient", "auto-start-reverse")
    .append("path")
    .attr("d", "M0,0L10,5L0,10z")
    .attr("fill", "currentColor");

  const arrow = (x1: number, y1: number, x2: number, y2: number, dashed = false) =>
    svg
      .append("path")
      .attr("d", `M${x1},${y1}L${x2},${y2}`)
      .attr("stroke", "currentColor")
      .attr("stroke-width", 1.6)
      .attr("stroke-dasharray", dashed ? "5 4" : null)
      .attr("fill", "none")
      .attr("marker-end", "url(#bd-arrow)");
  const path = (d: string, dashed = false) =>
    svg
      .append("path")
      .attr("d", d)
      .attr("stroke", "currentColor")
      .attr("stroke-width", 1.6)
      .attr("stroke-dasharray", dashed ? "5 4" : null)
      .attr("fill", "none")
      .attr("marker-end", "url(#bd-arrow)");

  /** a box (x, y = top-left), optionally a link */
  const box = (p: DiagramPart, x: number, y: number, w: number, h: number) => {
    const href = links[p.id];
    const parent = href
      ? svg.append("a").attr("href", href).attr("class", "bd-link").attr("data-part", p.id)
      : svg.append("g").attr("data-part", p.id);
    if (href) parent.append("title").text(`${p.label}: explained in ${href.replace(/^\.\/|\.html$/g, "")}`);
    parent
      .append("rect")
      .attr("x", x)
      .attr("y", y)
      .attr("width", w)
      .attr("height", h)
      .attr("rx", 7)
      .attr("fill", FILL[p.kind])
      .attr(
        "fill-opacity",
        p.kind === "time" || p.kind === "channel" ? 0.16 : p.kind === "norm" ? 0.08 : 0.04,
      )
      .attr("stroke", FILL[p.kind])
      .attr("stroke-width", href ? 2 : 1.2);
    const text = parent
      .append("text")
      .attr("x", x + w / 2)
      .attr("y", y + h / 2 + (p.detail ? -8 : 0))
      .attr("dy", "0.35em")
      .attr("text-anchor", "middle")
      .attr("fill", "var(--theme-foreground, currentColor)")
      .attr("font-size", 16)
      .attr("font-weight", 600)
      .text(p.label);
    if (href) text.attr("text-decoration", "underline");
    if (p.detail) {
      parent
        .append("text")
        .attr("x", x + w / 2)
        .attr("y", y + h / 2 + 12)
        .attr("dy", "0.35em")
        .attr("text-anchor", "middle")
        .attr("fill", "var(--theme-foreground-muted, currentColor)")
        .attr("font-size", 13)
        .text(p.detail);
    }
    return parent;
  };
  const plus = (cx: number, cy: number) => {
    svg
      .append("circle")
      .attr("cx", cx)
      .attr("cy", cy)
      .attr("r", 11)
      .attr("fill", "none")
      .attr("stroke", "currentColor")
      .attr("stroke-width", 1.6);
    svg
      .append("path")
      .attr("d", `M${cx - 6},${cy}H${cx + 6}M${cx},${cy - 6}V${cy + 6}`)
      .attr("stroke", "currentColor")
      .attr("stroke-width", 1.6);
  };
  const label = (x: number, y: number, s: string, size = 14, anchor = "start", weight = 400) =>
    svg
      .append("text")
      .attr("x", x)
      .attr("y", y)
      .attr("font-size", size)
      .attr("font-weight", weight)
      .attr("text-anchor", anchor)
      .attr("fill", "currentColor")
      .text(s);

  if (landscape) drawLandscape();
  else drawPortrait();

  function drawPortrait(): void {
    // ---------- left: the whole model, bottom to top as in the paper ----------
    const lx = 30;
    const lw = 230;
    const cx = lx + lw / 2;
    label(lx, 28, "The model", 18, "start", 700);
    const dims = nEmbd ? ` (D = ${nEmbd})` : "";
    box(
      {
        id: "head",
        label: "Head → softmax",
        detail: vocabSize ? `logits over V = ${vocabSize}` : "logits over V",
        kind: "io",
      },
      lx,
      60,
      lw,
      52,
    );
    box({ id: "lnOut", label: "LayerNorm ln_out", kind: "norm" }, lx, 146, lw, 40);
    box(
      { id: "blocks", label: `Block × ${nLayer ?? "L"}`, detail: "time mixing + channel mixing", kind: "op" },
      lx,
      220,
      lw,
      290,
    );
    box({ id: "ln0", label: "LayerNorm ln0", detail: "before block 0 only", kind: "norm" }, lx, 544, lw, 52);
    box({ id: "emb", label: "Embedding", detail: `emb[token]${dims}`, kind: "io" }, lx, 630, lw, 52);
    label(cx, 730, "input token xₜ", 14, "middle");
    arrow(cx, 716, cx, 684);
    arrow(cx, 630, cx, 598);
    arrow(cx, 544, cx, 512);
    arrow(cx, 220, cx, 188);
    arrow(cx, 146, cx, 114);
    // the stack of blocks, drawn as cards below the label
    for (let i = 0; i < 3; i++) {
      svg
        .append("rect")
        .attr("x", lx + 30 + i * 8)
        .attr("y", 400 - i * 8)
        .attr("width", lw - 76)
        .attr("height", 60)
        .attr("rx", 5)
        .attr("fill", "var(--theme-background, white)")
        .attr("stroke", "currentColor")
        .attr("stroke-opacity", 0.4);
    }
    const modes = links.modes;
    const stateText = "state per block: attX, a, b, p, ffnX";
    if (modes) {
      const a = svg.append("a").attr("href", modes).attr("class", "bd-link").attr("data-part", "modes");
      a.append("title").text("RNN mode and parallel mode: explained in 08-rnn-and-parallel");
      a.append("text")
        .attr("x", cx)
        .attr("y", 490)
        .attr("text-anchor", "middle")
        .attr("font-size", 13)
        .attr("fill", "currentColor")
        .attr("text-decoration", "underline")
        .text(stateText);
    } else {
      label(cx, 490, stateText, 13, "middle");
    }
    // the bracket to the opened block
    path(`M${lx + lw},${232} L${335},${48}`, true)
      .attr("marker-end", null)
      .attr("stroke-opacity", 0.5);
    path(`M${lx + lw},${498} L${335},${766}`, true)
      .attr("marker-end", null)
      .attr("stroke-opacity", 0.5);

    // ---------- right: one block, input at the bottom, output at the top ----------
    const bx = 340;
    label(bx + 12, 28, "One block", 18, "start", 700);
    const col = bx + 150; // main column centre
    const bw = 240;
    const spineX = bx + 14; // residual connections run up the left
    const side = col + bw / 2 + 36; // labels to the right
    label(col, 766, "x (residual stream)", 14, "middle");
    // --- time mixing (lower half) ---
    box({ id: "ln1", label: "LayerNorm ln1", kind: "norm" }, col - bw / 2, 690, bw, 36);
    box(
      { id: "tokenShift", label: "Token shift", detail: "μ ⊙ xₜ + (1 − μ) ⊙ xₜ₋₁", kind: "time" },
      col - bw / 2,
      626,
      bw,
      50,
    );
    box(
      { id: "rkv", label: "rₜ, kₜ, vₜ", detail: "Wᵣ, Wₖ, Wᵥ (Eq. 11–13)", kind: "time" },
      col - bw / 2,
      562,
      bw,
      50,
    );
    box(
      { id: "wkv", label: "WKV (Eq. 16)", detail: "weighted average of the v's", kind: "time" },
      col - bw / 2,
      498,
      bw,
      50,
    );
    box(
      { id: "gate", label: "σ(rₜ) ⊙ wkvₜ, then Wₒ", detail: "output gate (Eq. 17)", kind: "time" },
      col - bw / 2,
      434,
      bw,
      50,
    );
    box({ id: "decay", label: "decay w, bonus u", detail: "per channel", kind: "time" }, side, 498, 178, 50);
    arrow(side, 523, col + bw / 2 + 2, 523);
    arrow(col, 752, col, 728);
    arrow(col, 690, col, 678);
    arrow(col, 626, col, 614);
    arrow(col, 562, col, 550);
    arrow(col, 498, col, 486);
    plus(col, 410);
    arrow(col, 434, col, 423);
    path(`M${col},${744} H${spineX} V${410} H${col - 13}`); // residual around time mixing
    const tm = svg
      .append("a")
      .attr("href", links.timeMix ?? null)
      .attr("class", "bd-link")
      .attr("data-part", "timeMix");
    tm.append("title").text(
      "Time mixing: WKV as attention (chapter 2), token shift (3), decay (4), WKV state (5)",
    );
    tm.append("text")
      .attr("x", side)
      .attr("y", 630)
      .attr("font-size", 17)
      .attr("font-weight", 700)
      .attr("fill", "var(--color-rwkv, #3b6fd9)")
      .attr("text-decoration", links.timeMix ? "underline" : null)
      .text("Time mixing");
    label(side, 650, "mixes tokens", 13);
    label(side, 668, "(the attention role)", 13);

    // --- channel mixing (upper half) ---
    box({ id: "ln2", label: "LayerNorm ln2", kind: "norm" }, col - bw / 2, 330, bw, 34);
    box(
      { id: "tokenShift2", label: "Token shift", detail: "μ′ ⊙ xₜ + (1 − μ′) ⊙ xₜ₋₁", kind: "channel" },
      col - bw / 2,
      268,
      bw,
      48,
    );
    box(
      { id: "rk2", label: "r′ₜ, k′ₜ", detail: "W′ᵣ, W′ₖ (Eq. 14–15)", kind: "channel" },
      col - bw / 2,
      206,
      bw,
      48,
    );
    box(
      { id: "sqrelu", label: "W′ᵥ · max(k′ₜ, 0)²", detail: "squared ReLU (Eq. 18)", kind: "channel" },
      col - bw / 2,
      144,
      bw,
      48,
    );
    box(
      { id: "gate2", label: "σ(r′ₜ) ⊙ …", detail: "receptance gate (Eq. 18)", kind: "channel" },
      col - bw / 2,
      84,
      bw,
      46,
    );
    arrow(col, 398, col, 366);
    arrow(col, 330, col, 318);
    arrow(col, 268, col, 256);
    arrow(col, 206, col, 194);
    arrow(col, 144, col, 132);
    plus(col, 60);
    arrow(col, 84, col, 73);
    path(`M${col},${372} H${spineX + 16} V${60} H${col - 13}`); // residual around channel mixing
    arrow(col + 13, 60, side - 6, 60);
    label(side, 64, "to the next block", 13);
    const cm = svg
      .append("a")
      .attr("href", links.channelMix ?? null)
      .attr("class", "bd-link")
      .attr("data-part", "channelMix");
    cm.append("title").text("Channel mixing: chapter 6");
    cm.append("text")
      .attr("x", side)
      .attr("y", 200)
      .attr("font-size", 17)
      .attr("font-weight", 700)
      .attr("fill", "var(--color-channel, #2f9e44)")
      .attr("text-decoration", links.channelMix ? "underline" : null)
      .text("Channel mixing");
    label(side, 220, `mixes channels${ffnSize ? `, hidden ${ffnSize}` : ""}`, 13);
    label(side, 238, "(the feed-forward role)", 13);
    label(spineX - 4, 590, "residual", 13, "middle").attr("transform", `rotate(-90 ${spineX - 4} 590)`);
  }

  /** The same parts for a wide, short screen: the model left, the block's two halves side by side. */
  function drawLandscape(): void {
    // ---------- left: the whole model, bottom to top ----------
    const lx = 14;
    const lw = 220;
    const cx = lx + lw / 2;
    label(lx, 26, "The model", 18, "start", 700);
    const dims = nEmbd ? ` (D = ${nEmbd})` : "";
    box(
      {
        id: "head",
        label: "Head → softmax",
        detail: vocabSize ? `logits over V = ${vocabSize}` : "logits over V",
        kind: "io",
      },
      lx,
      44,
      lw,
      48,
    );
    box({ id: "lnOut", label: "LayerNorm ln_out", kind: "norm" }, lx, 110, lw, 34);
    box(
      { id: "blocks", label: `Block × ${nLayer ?? "L"}`, detail: "time mixing + channel mixing", kind: "op" },
      lx,
      162,
      lw,
      180,
    );
    box({ id: "ln0", label: "LayerNorm ln0", detail: "before block 0 only", kind: "norm" }, lx, 358, lw, 44);
    box({ id: "emb", label: "Embedding", detail: `emb[token]${dims}`, kind: "io" }, lx, 418, lw, 44);
    label(cx, 490, "input token xₜ", 14, "middle");
    arrow(cx, 476, cx, 464);
    arrow(cx, 418, cx, 404);
    arrow(cx, 358, cx, 344);
    arrow(cx, 162, cx, 146);
    arrow(cx, 110, cx, 94);
    for (let i = 0; i < 3; i++) {
      svg
        .append("rect")
        .attr("x", lx + 34 + i * 8)
        .attr("y", 290 - i * 8)
        .attr("width", lw - 86)
        .attr("height", 28)
        .attr("rx", 5)
        .attr("fill", "var(--theme-background, white)")
        .attr("stroke", "currentColor")
        .attr("stroke-opacity", 0.4);
    }
    const state = links.modes
      ? svg.append("a").attr("href", links.modes).attr("class", "bd-link").attr("data-part", "modes")
      : svg.append("g");
    if (links.modes)
      state.append("title").text("RNN mode and parallel mode: explained in 08-rnn-and-parallel");
    const stateText = state
      .append("text")
      .attr("x", cx)
      .attr("y", 330)
      .attr("text-anchor", "middle")
      .attr("font-size", 13)
      .attr("fill", "currentColor")
      .attr("text-decoration", links.modes ? "underline" : null);
    stateText.text("state: attX, a, b, p, ffnX");
    path(`M${lx + lw},${172} L${286},${40}`, true)
      .attr("marker-end", null)
      .attr("stroke-opacity", 0.5);
    path(`M${lx + lw},${332} L${286},${492}`, true)
      .attr("marker-end", null)
      .attr("stroke-opacity", 0.5);

    // ---------- right: one block, time mixing (left half) then channel mixing (right half) ----------
    label(300, 26, "One block", 18, "start", 700);
    const bw = 230;
    const c1 = 310 + bw / 2;
    const c2 = 750 + bw / 2;
    const rows = { plus: 116, gate: 140, wkv: 200, rk: 260, shift: 320, ln: 380 };
    const tall = 44;
    const half = (
      c: number,
      kind: "time" | "channel",
      parts: { gate: DiagramPart; wkv: DiagramPart; rk: DiagramPart; shift: DiagramPart; ln: DiagramPart },
    ) => {
      box(parts.gate, c - bw / 2, rows.gate, bw, tall);
      box(parts.wkv, c - bw / 2, rows.wkv, bw, tall);
      box(parts.rk, c - bw / 2, rows.rk, bw, tall);
      box(parts.shift, c - bw / 2, rows.shift, bw, tall);
      box(parts.ln, c - bw / 2, rows.ln, bw, 30);
      arrow(c, rows.ln, c, rows.shift + tall + 2);
      arrow(c, rows.shift, c, rows.rk + tall + 2);
      arrow(c, rows.rk, c, rows.wkv + tall + 2);
      arrow(c, rows.wkv, c, rows.gate + tall + 2);
      arrow(c, rows.gate, c, rows.plus + 13);
      plus(c, rows.plus);
      // the residual: from the stem under the LayerNorm, up the left, into the sum
      path(`M${c},${440} H${c - bw / 2 - 14} V${rows.plus} H${c - 13}`);
      const title = svg
        .append("a")
        .attr("href", links[kind === "time" ? "timeMix" : "channelMix"] ?? null)
        .attr("class", "bd-link")
        .attr("data-part", kind === "time" ? "timeMix" : "channelMix");
      title
        .append("title")
        .text(
          kind === "time"
            ? "Time mixing: WKV as attention (chapter 2), token shift (3), decay (4), WKV state (5)"
            : "Channel mixing: chapter 6",
        );
      title
        .append("text")
        .attr("x", c - bw / 2)
        .attr("y", 52)
        .attr("font-size", 17)
        .attr("font-weight", 700)
        .attr("fill", kind === "time" ? "var(--color-rwkv, #3b6fd9)" : "var(--color-channel, #2f9e44)")
        .attr("text-decoration", links[kind === "time" ? "timeMix" : "channelMix"] ? "underline" : null)
        .text(kind === "time" ? "Time mixing" : "Channel mixing");
    };
    half(c1, "time", {
      gate: { id: "gate", label: "σ(rₜ) ⊙ wkvₜ, then Wₒ", detail: "output gate (Eq. 17)", kind: "time" },
      wkv: { id: "wkv", label: "WKV (Eq. 16)", detail: "weighted average of the v's", kind: "time" },
      rk: { id: "rkv", label: "rₜ, kₜ, vₜ", detail: "Wᵣ, Wₖ, Wᵥ (Eq. 11–13)", kind: "time" },
      shift: { id: "tokenShift", label: "Token shift", detail: "μ ⊙ xₜ + (1 − μ) ⊙ xₜ₋₁", kind: "time" },
      ln: { id: "ln1", label: "LayerNorm ln1", kind: "norm" },
    });
    half(c2, "channel", {
      gate: { id: "gate2", label: "σ(r′ₜ) ⊙ …", detail: "receptance gate (Eq. 18)", kind: "channel" },
      wkv: { id: "sqrelu", label: "W′ᵥ · max(k′ₜ, 0)²", detail: "squared ReLU (Eq. 18)", kind: "channel" },
      rk: { id: "rk2", label: "r′ₜ, k′ₜ", detail: "W′ᵣ, W′ₖ (Eq. 14–15)", kind: "channel" },
      shift: {
        id: "tokenShift2",
        label: "Token shift",
        detail: "μ′ ⊙ xₜ + (1 − μ′) ⊙ xₜ₋₁",
        kind: "channel",
      },
      ln: { id: "ln2", label: "LayerNorm ln2", kind: "norm" },
    });
    label(c1 - bw / 2, 72, "mixes tokens (the attention role)", 13);
    label(c2 - bw / 2, 72, `mixes channels${ffnSize ? `, hidden ${ffnSize}` : ""}`, 13);
    label(c2 - bw / 2, 88, "(the feed-forward role)", 13);
    box(
      { id: "decay", label: "decay w, bonus u", detail: "per channel", kind: "time" },
      549,
      rows.wkv,
      174,
      tall,
    );
    arrow(549, rows.wkv + tall / 2, c1 + bw / 2 + 2, rows.wkv + tall / 2);
    // the stream: into time mixing from below, from its sum over to channel mixing, then on to the next block
    label(c1, 490, "x (residual stream)", 14, "middle");
    arrow(c1, 474, c1, rows.ln + 32);
    path(`M${c1 + 13},${rows.plus} H${729} V${456} H${c2} V${rows.ln + 32}`);
    arrow(c2 + 13, rows.plus, W - 8, rows.plus);
    label(c2 + 18, rows.plus - 6, "to the next block", 13);
  }

  figure
    .append("figcaption")
    .text(
      "Pre-LN residual blocks: x ← x + TimeMix(LN1(x)), then x ← x + ChannelMix(LN2(x)). " +
        "Underlined parts open the chapter that explains them.",
    );
  return figure.node() as HTMLElement;
}

/** "05-wkv" -> "5" */
const chapterOf = (page: string): string => String(Number(page.slice(0, 2)));

export function notationTable(
  entries: readonly NotationEntry[],
  {
    tex,
    symbol,
    pages,
  }: { tex: (s: string) => Element; symbol: (id: string) => string; pages?: readonly string[] },
): HTMLElement {
  const figure = create("figure")
    .attr("data-figure", "notation")
    .attr("data-rows", entries.length)
    .style("overflow-x", "auto")
    .style("max-width", "100%");
  const table = figure.append("table").attr("class", "notation").style("min-width", "760px");
  const head = table.append("thead").append("tr");
  for (const h of [
    "symbol",
    "what it is",
    "checkpoint key, or how it is computed",
    "shape",
    "equations",
    "chapters",
  ])
    head.append("th").text(h);
  const body = table.append("tbody");
  for (const e of entries) {
    const tr = body.append("tr").attr("data-id", e.id);
    tr.append("td")
      .style("white-space", "nowrap")
      .node()!
      .append(tex(symbol(e.id)));
    tr.append("td").style("min-width", "16rem").text(e.meaning);
    const source = tr.append("td");
    if (e.key) source.append("div").append("code").text(e.key);
    const how = e.load ?? e.computed;
    if (how && how.startsWith("Eq.")) source.append("div").text(how);
    else if (how) source.append("div").node()!.append(tex(how));
    tr.append("td").style("white-space", "nowrap").text(e.shape);
    tr.append("td").text(e.eqs);
    const where = tr.append("td");
    e.shown.forEach((page, i) => {
      if (i) where.append("span").text(", ");
      if (!pages || pages.includes(page))
        where.append("a").attr("href", `./${page}.html`).text(chapterOf(page));
      else where.append("span").text(chapterOf(page));
    });
  }
  figure
    .append("figcaption")
    .text(
      "Shapes: C channels (the paper's d, or D in Table 2 and Appendix D), F hidden units of channel mixing " +
        "(4C in the paper), T tokens. N in a key is the layer, from 0.",
    );
  return figure.node() as HTMLElement;
}

export function numberingTable(rows: readonly NumberingRow[]): HTMLElement {
  const figure = create("figure").attr("data-figure", "numbering").attr("data-rows", rows.length);
  const table = figure.append("table").style("max-width", "100%");
  const head = table.append("thead").append("tr");
  for (const h of ["", "arXiv v4 (this site)", "arXiv v1"]) head.append("th").text(h);
  const body = table.append("tbody");
  for (const r of rows) {
    const tr = body.append("tr");
    tr.append("td").text(r.what);
    tr.append("td").text(r.v4);
    tr.append("td").text(r.v1);
  }
  return figure.node() as HTMLElement;
}
