/**
 * Chapter 7: the RWKV-4 architecture as one SVG (arXiv 2305.13048 v4, Fig. 2 and Sect. 3), left the whole
 * model (embedding, ln0, L blocks, ln_out, head), right one block opened up: LayerNorm, time mixing (token
 * shift, R/K/V, WKV with w and u, sigma(r) gate, W_o) and channel mixing (token shift, R'/K', squared ReLU,
 * W'_v, sigma(r') gate), each with its residual connection. Parts link to the chapter that explains them.
 */
import { create } from "d3";

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
  /** chapter links by part id (default: the explainer's chapter paths) */
  links?: Partial<Record<string, string>>;
}

export const DEFAULT_LINKS: Record<string, string> = {
  tokenShift: "./03-token-shift",
  tokenShift2: "./03-token-shift",
  rkv: "./02-attention",
  wkv: "./05-wkv",
  decay: "./04-time-decay",
  gate: "./02-attention",
  timeMix: "./02-attention",
  channelMix: "./06-channel-mixing",
  sqrelu: "./06-channel-mixing",
  gate2: "./06-channel-mixing",
  rk2: "./06-channel-mixing",
  modes: "./08-rnn-and-parallel",
};

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
  links = DEFAULT_LINKS,
}: BlockDiagramOptions): HTMLElement {
  const W = 960;
  const H = 640;
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
    if (href) parent.append("title").text(`${p.label}: explained in ${href.replace("./", "")}`);
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
      .attr("fill", "currentColor")
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
        .attr("fill", "currentColor")
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

  // ---------- left: the whole model, bottom to top as in the paper ----------
  const lx = 30;
  const lw = 220;
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
    50,
    lw,
    52,
  );
  box({ id: "lnOut", label: "LayerNorm ln_out", kind: "norm" }, lx, 130, lw, 40);
  box(
    {
      id: "blocks",
      label: `Block × ${nLayer ?? "L"}`,
      detail: "time mixing + channel mixing",
      kind: "op",
    },
    lx,
    200,
    lw,
    220,
  );
  box({ id: "ln0", label: "LayerNorm ln0", detail: "before block 0 only", kind: "norm" }, lx, 450, lw, 52);
  box({ id: "emb", label: "Embedding", detail: `emb[token]${dims}`, kind: "io" }, lx, 530, lw, 52);
  label(cx, 622, "input token x_t", 14, "middle");
  arrow(cx, 610, cx, 584);
  arrow(cx, 530, cx, 504);
  arrow(cx, 450, cx, 422);
  arrow(cx, 200, cx, 172);
  arrow(cx, 130, cx, 104);
  // the stack inside "Block × L"
  for (let i = 0; i < 3; i++) {
    svg
      .append("rect")
      .attr("x", lx + 24 + i * 6)
      .attr("y", 290 + i * 6)
      .attr("width", lw - 60)
      .attr("height", 90)
      .attr("rx", 5)
      .attr("fill", "none")
      .attr("stroke", "currentColor")
      .attr("stroke-opacity", 0.35);
  }
  const modes = links.modes;
  if (modes) {
    const a = svg.append("a").attr("href", modes).attr("class", "bd-link").attr("data-part", "modes");
    a.append("title").text("RNN mode and parallel mode: explained in 08-rnn-and-parallel");
    a.append("text")
      .attr("x", cx)
      .attr("y", 402)
      .attr("text-anchor", "middle")
      .attr("font-size", 13)
      .attr("fill", "currentColor")
      .attr("text-decoration", "underline")
      .text("state per block: attX, a, b, p, ffnX");
  }
  // bracket to the opened block
  path(`M${lx + lw},${210} L${330},${40}`, true)
    .attr("marker-end", null)
    .attr("stroke-opacity", 0.5);
  path(`M${lx + lw},${410} L${330},${620}`, true)
    .attr("marker-end", null)
    .attr("stroke-opacity", 0.5);

  // ---------- right: one block, bottom (input) to top (output) ----------
  const bx = 340;
  label(bx + 10, 28, "One block", 18, "start", 700);
  const col = bx + 130; // main column centre
  const bw = 220;
  // residual spine on the left
  const spineX = bx + 10;
  // input at the bottom
  label(col, 630, "x (residual stream)", 14, "middle");
  // channel-mixing half (upper), time-mixing half (lower)
  // --- time mixing ---
  box({ id: "ln1", label: "LayerNorm ln1", kind: "norm" }, col - bw / 2, 560, bw, 36);
  box(
    { id: "tokenShift", label: "Token shift", detail: "μ x_t + (1 − μ) x_{t−1}", kind: "time" },
    col - bw / 2,
    494,
    bw,
    50,
  );
  box(
    { id: "rkv", label: "r_t, k_t, v_t", detail: "W_r, W_k, W_v (Eq. 11–13)", kind: "time" },
    col - bw / 2,
    428,
    bw,
    50,
  );
  box(
    { id: "wkv", label: "WKV (Eq. 16)", detail: "weighted average of v", kind: "time" },
    col - bw / 2,
    362,
    bw,
    50,
  );
  box(
    { id: "gate", label: "σ(r_t) ⊙ wkv_t, W_o", detail: "output gate (Eq. 17)", kind: "time" },
    col - bw / 2,
    296,
    bw,
    50,
  );
  box(
    { id: "decay", label: "decay w, bonus u", detail: "per channel", kind: "time" },
    col + bw / 2 + 40,
    362,
    170,
    50,
  );
  arrow(col + bw / 2 + 40, 387, col + bw / 2 + 2, 387);
  arrow(col, 612, col, 598);
  arrow(col, 560, col, 546);
  arrow(col, 494, col, 480);
  arrow(col, 428, col, 414);
  arrow(col, 362, col, 348);
  plus(col, 276);
  arrow(col, 296, col, 289);
  // residual around time mixing
  path(`M${col},${618} H${spineX} V${276} H${col - 13}`);
  const tm = svg
    .append("a")
    .attr("href", links.timeMix ?? "#")
    .attr("class", "bd-link")
    .attr("data-part", "timeMix");
  tm.append("title").text("Time mixing: explained in 02-attention (WKV as attention) and chapters 3 to 5");
  tm.append("text")
    .attr("x", col + bw / 2 + 40)
    .attr("y", 520)
    .attr("font-size", 16)
    .attr("font-weight", 700)
    .attr("fill", "var(--color-rwkv, #3b6fd9)")
    .attr("text-decoration", "underline")
    .text("Time mixing");
  label(col + bw / 2 + 40, 540, "mixes tokens (the attention role)", 13);

  // --- channel mixing ---
  box({ id: "ln2", label: "LayerNorm ln2", kind: "norm" }, col - bw / 2, 226, bw, 34);
  box(
    { id: "tokenShift2", label: "Token shift", detail: "μ′ x_t + (1 − μ′) x_{t−1}", kind: "channel" },
    col - bw / 2 + 0,
    164,
    bw / 2 - 4,
    48,
  );
  box({ id: "rk2", label: "r′_t, k′_t", detail: "Eq. 14–15", kind: "channel" }, col + 4, 164, bw / 2 - 4, 48);
  box(
    { id: "sqrelu", label: "max(k′, 0)², W′_v", detail: "squared ReLU (Eq. 18)", kind: "channel" },
    col - bw / 2,
    104,
    bw,
    46,
  );
  box(
    { id: "gate2", label: "σ(r′_t) ⊙ …", detail: "receptance gate (Eq. 18)", kind: "channel" },
    col - bw / 2,
    50,
    bw,
    44,
  );
  arrow(col, 263, col, 262);
  arrow(col, 226, col, 214);
  arrow(col, 164, col, 152);
  arrow(col, 104, col, 96);
  plus(col, 30);
  arrow(col, 50, col, 43);
  path(`M${col},${270} H${spineX + 14} V${30} H${col - 13}`);
  arrow(col + 13, 30, col + bw / 2 + 30, 30);
  label(col + bw / 2 + 36, 34, "to the next block", 13);
  const cm = svg
    .append("a")
    .attr("href", links.channelMix ?? "#")
    .attr("class", "bd-link")
    .attr("data-part", "channelMix");
  cm.append("title").text("Channel mixing: explained in 06-channel-mixing");
  cm.append("text")
    .attr("x", col + bw / 2 + 40)
    .attr("y", 150)
    .attr("font-size", 16)
    .attr("font-weight", 700)
    .attr("fill", "var(--color-channel, #2f9e44)")
    .attr("text-decoration", "underline")
    .text("Channel mixing");
  label(col + bw / 2 + 40, 170, `mixes channels${ffnSize ? ` (hidden ${ffnSize})` : ""}`, 13);
  label(col + bw / 2 + 40, 190, "the feed-forward role", 13);
  label(spineX + 4, 600, "residual", 12).attr("transform", `rotate(-90 ${spineX - 4} 600)`);

  figure
    .append("figcaption")
    .text(
      "Pre-LN residual blocks: x ← x + TimeMix(LN1(x)), then x ← x + ChannelMix(LN2(x)). " +
        "Underlined parts open the chapter that explains them.",
    );
  return figure.node() as HTMLElement;
}
