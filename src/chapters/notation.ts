/**
 * The site's notation, in one place: every symbol as the paper writes it (arXiv 2305.13048 v4: Section 2.2
 * Eq. 7-10, Section 3.1 Eq. 11-18, Appendix D Eq. 19-28), the checkpoint key it is loaded from (BlinkDL's
 * names, as src/rwkv/checkpoint/load.ts reads them, and the Hugging Face names src/rwkv/checkpoint/names.ts maps
 * onto them), its shape, and where the site shows it. Equations (TeX), captions and readouts (Unicode) all draw
 * from here, so a caption cannot drift from its equation; src/notation.md lists the table for the reader. DOM-free.
 *
 * Sign convention: the paper's decay is w >= 0 (Eq. 10: "We require w to be non-negative"), one step multiplies
 * a memory by e^{-w}, and the checkpoint stores time_decay = ln w, so w = e^{time_decay}. The code keeps the
 * negative number (src/rwkv/weights.ts: the loaded `w` is -e^{time_decay}); prose, equations and readouts use the
 * paper's w, and `paperW(loaded)` converts.
 *
 * API:
 *   NOTATION                       the entries (NotationEntry), in the order of the paper's equations
 *   entry(id) -> NotationEntry     one entry (throws for an unknown id)
 *   tx(id, sub?) -> TeX            the symbol as an equation writes it, hover-linked (\htmlData{sym=...}): the
 *                                  entry's base with the subscript `sub` (default: the entry's own, e.g. "t")
 *   plain(id, sub?) -> TeX         the same without the hover link (for inline prose)
 *   uni(id, sub?) -> string        the same in Unicode for captions and SVG text (x_{t-1} -> xₜ₋₁)
 *   subscript(s) -> string         Unicode subscript of "t-1", "i", "r", ... (throws where Unicode has none)
 *   paperW(loaded) -> number       the paper's w (>= 0) from the loaded decay (-e^{time_decay})
 *   layerKey(key, layer) -> string a key with the layer N filled in ("blocks.N.att.time_decay", 3)
 *   hfKey(key) -> string           the Hugging Face spelling of a BlinkDL block key (the rename names.ts undoes)
 *   V1_NUMBERING                   where arXiv v1's equation, section and appendix numbers differ from v4's
 */
import { sym } from "./tex.js";

export interface NotationEntry {
  /** the symbol's id, also its hover-link name (data-sym) unless `hover` says otherwise */
  id: string;
  /** TeX of the symbol without its time subscript, as the paper writes it ("k", "\\mu_r", "r'", "wkv") */
  base: string;
  /** the subscript it usually carries ("t"), or "" */
  sub: string;
  /** the base in Unicode, for captions and SVG text */
  text: string;
  /** the hover-link group when several entries are one thing drawn two ways (a_t and a'_t) */
  hover?: string;
  /** what it is, in a few words */
  meaning: string;
  /** the checkpoint key it is read from (BlinkDL names; N is the layer), when it is a stored parameter */
  key?: string;
  /** how the symbol follows from the stored tensor, as TeX (e.g. w = e^{time_decay}) */
  load?: string;
  /** how it is computed, when it is not stored: an equation of the paper or the site */
  computed?: string;
  /** its shape: C channels (the paper's d, D), F hidden units of channel mixing, T tokens */
  shape: string;
  /** the equations of the paper (v4) that use it, e.g. "Eq. 10, 16" */
  eqs: string;
  /** the pages that show it */
  shown: readonly string[];
}

const TT = (name: string) => String.raw`\texttt{${name.replace(/_/g, "\\_")}}`;

export const NOTATION: readonly NotationEntry[] = [
  {
    id: "xcur",
    base: "x",
    sub: "t",
    text: "x",
    meaning:
      "the token's input to the block's mixing: the residual stream after LayerNorm (ln1 before time mixing, ln2 before channel mixing)",
    computed: String.raw`\mathrm{LN}(\text{block input at } t)`,
    shape: "(C)",
    eqs: "Eq. 11-15",
    shown: ["03-token-shift"],
  },
  {
    id: "xprev",
    base: "x",
    sub: "t-1",
    text: "x",
    meaning: "the previous token's input (zero before the first token): token shift",
    computed: String.raw`x_{t-1},\ x_0 = 0`,
    shape: "(C)",
    eqs: "Eq. 11-15",
    shown: ["03-token-shift", "01-overview"],
  },
  {
    id: "mu_r",
    base: String.raw`\mu_r`,
    sub: "",
    text: "μᵣ",
    meaning: "token-shift mix of the receptance",
    key: "blocks.N.att.time_mix_r",
    shape: "(C)",
    eqs: "Eq. 11",
    shown: ["03-token-shift"],
  },
  {
    id: "mu_k",
    base: String.raw`\mu_k`,
    sub: "",
    text: "μₖ",
    meaning: "token-shift mix of the key",
    key: "blocks.N.att.time_mix_k",
    shape: "(C)",
    eqs: "Eq. 12",
    shown: ["03-token-shift"],
  },
  {
    id: "mu_v",
    base: String.raw`\mu_v`,
    sub: "",
    text: "μᵥ",
    meaning: "token-shift mix of the value",
    key: "blocks.N.att.time_mix_v",
    shape: "(C)",
    eqs: "Eq. 13",
    shown: ["03-token-shift"],
  },
  {
    id: "W_r",
    base: "W_r",
    sub: "",
    text: "Wᵣ",
    meaning: "receptance matrix of time mixing",
    key: "blocks.N.att.receptance.weight",
    shape: "(C, C)",
    eqs: "Eq. 11",
    shown: ["03-token-shift"],
  },
  {
    id: "W_k",
    base: "W_k",
    sub: "",
    text: "Wₖ",
    meaning: "key matrix of time mixing",
    key: "blocks.N.att.key.weight",
    shape: "(C, C)",
    eqs: "Eq. 12",
    shown: ["03-token-shift"],
  },
  {
    id: "W_v",
    base: "W_v",
    sub: "",
    text: "Wᵥ",
    meaning: "value matrix of time mixing",
    key: "blocks.N.att.value.weight",
    shape: "(C, C)",
    eqs: "Eq. 13",
    shown: ["03-token-shift"],
  },
  {
    id: "r",
    base: "r",
    sub: "t",
    text: "r",
    meaning: "receptance: gates the WKV output (Eq. 17), the role a query plays in attention",
    computed: String.raw`W_r \cdot (\mu_r \odot x_t + (1 - \mu_r) \odot x_{t-1})`,
    shape: "(C)",
    eqs: "Eq. 11, 17",
    shown: ["03-token-shift", "05-wkv"],
  },
  {
    id: "k",
    base: "k",
    sub: "t",
    text: "k",
    meaning: "key: the log-weight the token brings to the WKV average",
    computed: String.raw`W_k \cdot (\mu_k \odot x_t + (1 - \mu_k) \odot x_{t-1})`,
    shape: "(C)",
    eqs: "Eq. 12, 16",
    shown: ["02-attention", "03-token-shift", "04-time-decay", "05-wkv"],
  },
  {
    id: "v",
    base: "v",
    sub: "t",
    text: "v",
    meaning: "value: what the WKV averages",
    computed: String.raw`W_v \cdot (\mu_v \odot x_t + (1 - \mu_v) \odot x_{t-1})`,
    shape: "(C)",
    eqs: "Eq. 13, 16",
    shown: ["02-attention", "03-token-shift", "04-time-decay", "05-wkv"],
  },
  {
    id: "w",
    base: "w",
    sub: "",
    text: "w",
    meaning: "time decay, one per channel: each step back multiplies an earlier token's weight by e⁻ʷ",
    key: "blocks.N.att.time_decay",
    load: String.raw`w = e^{${TT("time_decay")}} \ge 0`,
    shape: "(C)",
    eqs: "Eq. 10, 16",
    shown: ["01-overview", "02-attention", "04-time-decay", "05-wkv"],
  },
  {
    id: "u",
    base: "u",
    sub: "",
    text: "u",
    meaning: "bonus: the current token's weight is exp(u + kₜ) instead of a decayed one",
    key: "blocks.N.att.time_first",
    load: String.raw`u = ${TT("time_first")}`,
    shape: "(C)",
    eqs: "Eq. 16",
    shown: ["01-overview", "02-attention", "04-time-decay", "05-wkv"],
  },
  {
    id: "wkv",
    base: "wkv",
    sub: "t",
    text: "wkv",
    meaning: "the WKV operator: a decaying weighted average of the values, per channel",
    computed: "Eq. 16",
    shape: "(C)",
    eqs: "Eq. 16, 17, 20, 24",
    shown: ["01-overview", "02-attention", "04-time-decay", "05-wkv"],
  },
  {
    id: "W_o",
    base: "W_o",
    sub: "",
    text: "Wₒ",
    meaning: "output matrix of time mixing",
    key: "blocks.N.att.output.weight",
    shape: "(C, C)",
    eqs: "Eq. 17",
    shown: ["05-wkv"],
  },
  {
    id: "o",
    base: "o",
    sub: "t",
    text: "o",
    meaning: "time mixing's output, added to the residual stream",
    computed: String.raw`W_o \cdot (\sigma(r_t) \odot wkv_t)`,
    shape: "(C)",
    eqs: "Eq. 17",
    shown: ["05-wkv"],
  },
  {
    id: "a",
    base: "a",
    sub: "t",
    text: "a",
    meaning: "WKV numerator carried as state: the decayed sum of exp(kᵢ)·vᵢ",
    computed: "Eq. 21",
    shape: "(C)",
    eqs: "Eq. 19-22",
    shown: ["01-overview", "05-wkv"],
  },
  {
    id: "b",
    base: "b",
    sub: "t",
    text: "b",
    meaning: "WKV denominator carried as state: the decayed sum of exp(kᵢ)",
    computed: "Eq. 22",
    shape: "(C)",
    eqs: "Eq. 19-22",
    shown: ["01-overview", "05-wkv"],
  },
  {
    id: "aprime",
    base: "a'",
    sub: "t",
    text: "a′",
    hover: "a",
    meaning: "the numerator stored relative to its shared exponent: aₜ = exp(pₜ)·a′ₜ (what the model keeps)",
    computed: "Eq. 26",
    shape: "(C)",
    eqs: "Eq. 24, 26",
    shown: ["05-wkv"],
  },
  {
    id: "bprime",
    base: "b'",
    sub: "t",
    text: "b′",
    hover: "b",
    meaning: "the denominator stored relative to its shared exponent: bₜ = exp(pₜ)·b′ₜ",
    computed: "Eq. 27",
    shape: "(C)",
    eqs: "Eq. 24, 27",
    shown: ["05-wkv"],
  },
  {
    id: "p",
    base: "p",
    sub: "t",
    text: "p",
    meaning: "shared exponent of aₜ and bₜ (the running maximum that keeps every exponential <= 1)",
    computed: "Eq. 28",
    shape: "(C)",
    eqs: "Eq. 23-28",
    shown: ["05-wkv"],
  },
  {
    id: "mu_rp",
    base: String.raw`\mu'_r`,
    sub: "",
    text: "μ′ᵣ",
    meaning: "token-shift mix of channel mixing's receptance",
    key: "blocks.N.ffn.time_mix_r",
    shape: "(C)",
    eqs: "Eq. 14",
    shown: ["03-token-shift", "06-channel-mixing"],
  },
  {
    id: "mu_kp",
    base: String.raw`\mu'_k`,
    sub: "",
    text: "μ′ₖ",
    meaning: "token-shift mix of channel mixing's key",
    key: "blocks.N.ffn.time_mix_k",
    shape: "(C)",
    eqs: "Eq. 15",
    shown: ["03-token-shift", "06-channel-mixing"],
  },
  {
    id: "Wp_r",
    base: "W'_r",
    sub: "",
    text: "W′ᵣ",
    meaning: "receptance matrix of channel mixing",
    key: "blocks.N.ffn.receptance.weight",
    shape: "(C, C)",
    eqs: "Eq. 14",
    shown: ["06-channel-mixing"],
  },
  {
    id: "Wp_k",
    base: "W'_k",
    sub: "",
    text: "W′ₖ",
    meaning: "key matrix of channel mixing: C channels up to F hidden units",
    key: "blocks.N.ffn.key.weight",
    shape: "(F, C)",
    eqs: "Eq. 15",
    shown: ["06-channel-mixing"],
  },
  {
    id: "Wp_v",
    base: "W'_v",
    sub: "",
    text: "W′ᵥ",
    meaning: "value matrix of channel mixing: F hidden units back to C channels",
    key: "blocks.N.ffn.value.weight",
    shape: "(C, F)",
    eqs: "Eq. 18",
    shown: ["06-channel-mixing"],
  },
  {
    id: "rp",
    base: "r'",
    sub: "t",
    text: "r′",
    meaning: "channel mixing's receptance (its sigmoid gates the output)",
    computed: String.raw`W'_r \cdot (\mu'_r \odot x_t + (1 - \mu'_r) \odot x_{t-1})`,
    shape: "(C)",
    eqs: "Eq. 14, 18",
    shown: ["03-token-shift", "06-channel-mixing"],
  },
  {
    id: "kp",
    base: "k'",
    sub: "t",
    text: "k′",
    meaning: "channel mixing's key: the pre-activations of the F hidden units",
    computed: String.raw`W'_k \cdot (\mu'_k \odot x_t + (1 - \mu'_k) \odot x_{t-1})`,
    shape: "(F)",
    eqs: "Eq. 15, 18",
    shown: ["03-token-shift", "06-channel-mixing"],
  },
  {
    id: "act",
    base: String.raw`\max(k'_t, 0)^2`,
    sub: "",
    text: "max(k′ₜ, 0)²",
    meaning: "the squared ReLU of the hidden units (So et al., 2021)",
    computed: "Eq. 18",
    shape: "(F)",
    eqs: "Eq. 18",
    shown: ["06-channel-mixing"],
  },
  {
    id: "op",
    base: "o'",
    sub: "t",
    text: "o′",
    meaning: "channel mixing's output, added to the residual stream",
    computed: String.raw`\sigma(r'_t) \odot (W'_v \cdot \max(k'_t, 0)^2)`,
    shape: "(C)",
    eqs: "Eq. 18",
    shown: ["06-channel-mixing"],
  },
  {
    id: "alpha",
    base: String.raw`\alpha`,
    sub: "t,i",
    text: "α",
    meaning:
      "the normalised weight Eq. 16 gives token i in output t (this site's reading of Eq. 16 as attention)",
    computed: String.raw`e^{s_{t,i}} / \textstyle\sum_{j \le t} e^{s_{t,j}}`,
    shape: "(T, T) per channel",
    eqs: "Eq. 16 (not numbered in the paper)",
    shown: ["02-attention", "04-time-decay", "05-wkv"],
  },
  {
    id: "halflife",
    base: "h",
    sub: "",
    text: "h",
    meaning: "half-life of a channel's memory in tokens (this site's): exp(−h·w) = ½",
    computed: String.raw`\ln 2 / w`,
    shape: "(C)",
    eqs: "from Eq. 16",
    shown: ["04-time-decay"],
  },
];

const BY_ID = new Map(NOTATION.map((e) => [e.id, e]));

export function entry(id: string): NotationEntry {
  const e = BY_ID.get(id);
  if (!e) throw new Error(`notation: no symbol ${JSON.stringify(id)}`);
  return e;
}

/** TeX of a symbol with a subscript ("" for none; the entry's own when undefined). */
export function plain(id: string, sub?: string): string {
  const e = entry(id);
  const s = sub ?? e.sub;
  if (!s) return e.base;
  return s.length === 1 ? `${e.base}_${s}` : `${e.base}_{${s}}`;
}

/** The symbol as an equation writes it, tagged for hover linking (\htmlData{sym=...}). */
export function tx(id: string, sub?: string): string {
  return sym(entry(id).hover ?? id, plain(id, sub));
}

const SUBSCRIPT: Readonly<Record<string, string>> = {
  "0": "₀",
  "1": "₁",
  "2": "₂",
  "+": "₊",
  "-": "₋",
  a: "ₐ",
  e: "ₑ",
  i: "ᵢ",
  j: "ⱼ",
  k: "ₖ",
  o: "ₒ",
  r: "ᵣ",
  t: "ₜ",
  v: "ᵥ",
  ",": ",",
};

/** Unicode subscript ("t-1" -> "ₜ₋₁"); throws for a character Unicode has no subscript of. */
export function subscript(s: string): string {
  return Array.from(s, (c) => {
    const out = SUBSCRIPT[c];
    if (out === undefined) throw new Error(`notation: no Unicode subscript for ${JSON.stringify(c)}`);
    return out;
  }).join("");
}

/** The symbol in Unicode for captions and SVG text ("xprev" -> "xₜ₋₁"). */
export function uni(id: string, sub?: string): string {
  const e = entry(id);
  const s = sub ?? e.sub;
  return s ? e.text + subscript(s) : e.text;
}

/** The paper's w (>= 0) from the loaded decay w_loaded = -e^{time_decay} (src/rwkv/weights.ts). */
export function paperW(loaded: number): number {
  return -loaded;
}

export function layerKey(key: string, layer: number): string {
  return key.replace(/\bN\b/, String(layer));
}

/** The Hugging Face key of a BlinkDL key (the spelling src/rwkv/checkpoint/names.ts maps back). */
export function hfKey(key: string): string {
  const m = /^blocks\.(\w+)\.(att|ffn)\.(.+)$/.exec(key);
  if (!m) throw new Error(`notation: ${key} is not a block key`);
  const [, n, module, rest] = m;
  const mix: Record<string, string> = {
    time_mix_k: "time_mix_key",
    time_mix_v: "time_mix_value",
    time_mix_r: "time_mix_receptance",
  };
  return `rwkv.blocks.${n}.${module === "att" ? "attention" : "feed_forward"}.${mix[rest] ?? rest}`;
}

/** Where the numbering of arXiv v1 (22 May 2023) differs from v4's, which the site cites. */
export interface NumberingRow {
  what: string;
  v4: string;
  v1: string;
}

export const V1_NUMBERING: readonly NumberingRow[] = [
  { what: "attention, AFT and RWKV's pair bias", v4: "Eq. 7-10 (Section 2.2)", v1: "Eq. 7-10 (Section 3.2)" },
  {
    what: `token shift of time mixing: ${uni("r")}, ${uni("k")}, ${uni("v")}`,
    v4: "Eq. 11-13 (Section 3.1.1)",
    v1: "Eq. 11-13 (Section 4.1)",
  },
  { what: `token shift of channel mixing: ${uni("rp")}, ${uni("kp")}`, v4: "Eq. 14-15", v1: "Eq. 16-17" },
  { what: `the WKV operator ${uni("wkv")}`, v4: "Eq. 16 (Section 3.1.2)", v1: "Eq. 14" },
  {
    what: `the output gate ${uni("o")} = ${uni("W_o")}·(σ(${uni("r")}) ⊙ ${uni("wkv")})`,
    v4: "Eq. 17 (Section 3.1.3)",
    v1: "Eq. 15",
  },
  { what: `channel mixing's output ${uni("op")}`, v4: "Eq. 18", v1: "Eq. 18" },
  {
    what: `the recurrence ${uni("a")}, ${uni("b")}`,
    v4: "Eq. 19-22 (Appendix D)",
    v1: "Eq. 19-22 (Appendix B)",
  },
  {
    what: `the stable form with the shared exponent ${uni("p")}`,
    v4: "Eq. 23-28 (Appendix D)",
    v1: "Eq. 23-32 (Appendix B)",
  },
  { what: "parameter initialisation", v4: "Appendix E", v1: "Appendix D" },
  { what: "parameters and FLOPs per token", v4: "Table 2 (Section 4)", v1: "Table 2 (Appendix C)" },
  { what: "time decays of the 169M model", v4: "Figure 10 (Appendix I)", v1: "Appendix G" },
];
