/**
 * From checkpoint bytes to RwkvWeights: format detection, the readers, renaming, validation of every key and
 * shape, and the one-time load transforms (paper arXiv 2305.13048 v4, Eq. 14-16; DESIGN.md "facts"):
 *   w = -exp(time_decay)   so the per-step decay is e^{w} = e^{-e^{time_decay}}
 *   u = time_first         the bonus of the current token
 *   mu = time_mix_*        squeezed from (1, 1, C) to (C)
 * Everything is validated and built before anything is returned: no half-loaded model.
 * Matrices stay views into the file bytes when the file stores aligned F32 (no second copy of a 677 MB file);
 * the small vectors are copied.
 */
import type { Tensor, TensorMap } from "../tensor.js";
import type { BlockWeights, LayerNormWeights, RwkvConfig, RwkvWeights } from "../weights.js";
import { CheckpointError, quote } from "./errors.js";
import { toBlinkNames, type Naming } from "./names.js";
import { indexSafetensors } from "./safetensors.js";
import { indexTorchZip } from "./torch.js";
import type { TensorEntry } from "./lazy.js";

export type CheckpointFormat = "safetensors" | "torch-zip";

/** RWKV-4's LayerNorm epsilon (nn.LayerNorm default, and HF RwkvConfig.layer_norm_epsilon default). */
export const DEFAULT_LAYER_NORM_EPS = 1e-5;

/** By magic bytes: zip local header "PK\x03\x04", or safetensors' 8-byte length followed by '{'. */
export function detectFormat(bytes: Uint8Array): CheckpointFormat {
  if (bytes.length === 0) throw new CheckpointError("truncated", "checkpoint file is empty");
  if (bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    return "torch-zip";
  }
  if (bytes.length >= 9 && bytes[8] === 0x7b) return "safetensors";
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  let hint = "";
  if (bytes[0] === 0x80) {
    hint =
      ": it starts like a pickle, i.e. a legacy (PyTorch < 1.6, non-zip) torch.save file or a bare pickle; " +
      "re-save it with a current PyTorch: torch.save(torch.load(f), g)";
  } else if (bytes.length >= 4 && String.fromCharCode(...bytes.subarray(0, 4)) === "GGUF") {
    hint = ": it is a GGUF file (llama.cpp), not supported";
  }
  throw new CheckpointError(
    "unknown-format",
    `not a safetensors file or a PyTorch zip checkpoint (first bytes ${head})${hint}`,
  );
}

/** Names (after renaming to BlinkDL's scheme) that betray another architecture; first match wins. */
const OTHER_ARCHITECTURES: readonly [RegExp, string][] = [
  [
    /^blocks\.\d+\.att\.(w0|w1|w2|a0|a1|a2|v0|v1|v2|g1|g2|k_k|k_a|r_k|x_r|x_w|x_k|x_v|x_a|x_g)$/,
    "RWKV-7 (Goose)",
  ],
  [/^blocks\.\d+\.(att|ffn)\.(time_maa|time_decay_w[12])/, "RWKV-6 (Finch)"],
  [/^blocks\.\d+\.att\.(time_faaaa|ln_x\.|gate\.|time_mix_g)/, "RWKV-5 (Eagle)"],
  [
    /^blocks\.\d+\.(tiny_q|tiny_k|tiny_v|tiny_ln|tiny_mask)|^(head_q|head_k)\.|^copy_mask$/,
    "RWKV-4a (tiny attention / head_qk)",
  ],
  [/^pos_emb/, "RWKV-4 with learned 2-D position embeddings (pos_emb_x/pos_emb_y)"],
  [/(^|\.)wte\.weight$|(^|\.)h\.\d+\.attn\.c_attn\./, "GPT-2"],
  [/^gpt_neox\./, "GPT-NeoX"],
  [/^model\.layers\.\d+\.self_attn\./, "a Llama-style transformer"],
  [/(^|\.)mixer\.A_log$/, "Mamba"],
];

/** any of OTHER_ARCHITECTURES: one test per key (a file may hold 10^5 names), the list is consulted on a hit */
const ANY_OTHER = new RegExp(OTHER_ARCHITECTURES.map(([re]) => `(?:${re.source})`).join("|"));

function checkArchitecture(tensors: ReadonlyMap<string, unknown>): void {
  let found = -1;
  let foundKey = "";
  for (const k of tensors.keys()) {
    if (!ANY_OTHER.test(k)) continue;
    const i = OTHER_ARCHITECTURES.findIndex(([re]) => re.test(k));
    if (found < 0 || i < found) [found, foundKey] = [i, k]; // the list's order decides, then the file's
  }
  if (found >= 0) {
    throw new CheckpointError(
      "unsupported-architecture",
      `this is a ${OTHER_ARCHITECTURES[found][1]} checkpoint (key ${quote(foundKey)}), not RWKV-4; ` +
        "this reference model implements RWKV-4 only",
    );
  }
  const rwkvLike = tensors.has("emb.weight") || [...tensors.keys()].some((k) => /^blocks\.\d+\./.test(k));
  if (!rwkvLike) {
    const first = [...tensors.keys()].slice(0, 3).map((k) => quote(k, 60));
    throw new CheckpointError(
      "unsupported-architecture",
      `not an RWKV checkpoint: no emb.weight or blocks.N.* keys (${tensors.size} tensors; first: ${first.join(", ") || "none"})`,
    );
  }
}

function shapeStr(s: readonly number[]): string {
  return `(${s.join(", ")})`;
}

export interface WeightsOptions {
  layerNormEps?: number;
}

/** Anything with a shape: a decoded tensor, or a reader's index entry (nothing decoded yet). */
export interface Shaped {
  readonly shape: readonly number[];
}

export interface Layout {
  nLayer: number;
  nEmbd: number;
  ffnSize: number;
  vocabSize: number;
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, d) => a * d, 1);
}

/**
 * The names and shapes of an RWKV-4 checkpoint (BlinkDL names), checked without looking at any value: no
 * other architecture's keys, emb.weight (V, C), blocks 0..L-1 complete, no missing and no unexpected key,
 * every shape as the config inferred from emb.weight and blocks.0.ffn.key.weight says. The loader runs it on
 * the readers' indexes, before decoding a tensor (issue 16). Throws CheckpointError naming the key.
 */
export function checkLayout(tensors: ReadonlyMap<string, Shaped>): Layout {
  checkArchitecture(tensors);

  const emb = tensors.get("emb.weight");
  if (!emb)
    throw new CheckpointError("missing-key", 'missing key "emb.weight" (the embedding table, (V, C))');
  if (emb.shape.length !== 2 || emb.shape[0] < 1 || emb.shape[1] < 1) {
    throw new CheckpointError(
      "shape-mismatch",
      `emb.weight has shape ${shapeStr(emb.shape)}, expected (V, C)`,
    );
  }
  const [vocabSize, nEmbd] = emb.shape;

  // blocks 0..L-1, each present
  const present = new Set<number>();
  for (const k of tensors.keys()) {
    const m = /^blocks\.(\d+)\./.exec(k);
    if (m) present.add(Number(m[1]));
  }
  const indices = [...present].sort((a, b) => a - b);
  if (indices.length === 0)
    throw new CheckpointError("missing-key", "no blocks.N.* keys: the checkpoint has no layers");
  for (let i = 0; i < indices.length; i++) {
    if (indices[i] !== i) {
      throw new CheckpointError(
        "missing-key",
        `no tensors for block ${i} (blocks.${i}.*) although blocks up to ${indices[indices.length - 1]} exist`,
      );
    }
  }
  const nLayer = indices.length;
  const ffnKey = tensors.get("blocks.0.ffn.key.weight");
  if (!ffnKey)
    throw new CheckpointError(
      "missing-key",
      'missing key "blocks.0.ffn.key.weight" (channel-mix key, (F, C))',
    );
  if (ffnKey.shape.length !== 2 || ffnKey.shape[0] < 1) {
    throw new CheckpointError(
      "shape-mismatch",
      `blocks.0.ffn.key.weight has shape ${shapeStr(ffnKey.shape)}, expected (F, C)`,
    );
  }
  const ffnSize = ffnKey.shape[0];
  const C = nEmbd;
  const F = ffnSize;

  // every expected key with its shape; "vec" accepts (C), (1, C), (1, 1, C)
  const expected = new Map<string, readonly number[] | "vec">();
  const ln = (p: string): void => {
    expected.set(`${p}.weight`, "vec");
    expected.set(`${p}.bias`, "vec");
  };
  expected.set("emb.weight", [vocabSize, C]);
  for (let i = 0; i < nLayer; i++) {
    const b = `blocks.${i}`;
    if (i === 0) ln(`${b}.ln0`);
    ln(`${b}.ln1`);
    ln(`${b}.ln2`);
    for (const v of ["time_decay", "time_first", "time_mix_k", "time_mix_v", "time_mix_r"])
      expected.set(`${b}.att.${v}`, "vec");
    for (const m of ["key", "value", "receptance", "output"]) expected.set(`${b}.att.${m}.weight`, [C, C]);
    expected.set(`${b}.ffn.time_mix_k`, "vec");
    expected.set(`${b}.ffn.time_mix_r`, "vec");
    expected.set(`${b}.ffn.key.weight`, [F, C]);
    expected.set(`${b}.ffn.receptance.weight`, [C, C]);
    expected.set(`${b}.ffn.value.weight`, [C, F]);
  }
  ln("ln_out");
  expected.set("head.weight", [vocabSize, C]);

  const missing = [...expected.keys()].filter((k) => !tensors.has(k));
  if (missing.length > 0) {
    throw new CheckpointError(
      "missing-key",
      `missing ${missing.length} key(s) of an RWKV-4 model with L=${nLayer}, C=${C}: ` +
        missing
          .slice(0, 5)
          .map((k) => quote(k))
          .join(", ") +
        (missing.length > 5 ? ", ..." : ""),
    );
  }
  const extra = [...tensors.keys()].filter((k) => !expected.has(k));
  if (extra.length > 0) {
    throw new CheckpointError(
      "extra-key",
      `${extra.length} unexpected key(s) for RWKV-4: ` +
        extra
          .slice(0, 5)
          .map((k) => quote(k))
          .join(", ") +
        (extra.length > 5 ? ", ..." : ""),
    );
  }
  for (const [k, want] of expected) {
    const t = tensors.get(k) as Shaped;
    const ok =
      want === "vec"
        ? numelOf(t.shape) === C && t.shape.filter((d) => d !== 1).length <= 1 && t.shape.length <= 3
        : t.shape.length === want.length && t.shape.every((d, j) => d === want[j]);
    if (!ok) {
      throw new CheckpointError(
        "shape-mismatch",
        `${k} has shape ${shapeStr(t.shape)}, expected ${want === "vec" ? `(${C}) or (1, 1, ${C})` : shapeStr(want)} ` +
          `(from emb.weight ${shapeStr(emb.shape)} and blocks.0.ffn.key.weight ${shapeStr(ffnKey.shape)})`,
      );
    }
  }
  return { nLayer, nEmbd, ffnSize, vocabSize };
}

/**
 * Validate a BlinkDL-named (or Hugging Face-named) tensor map as an RWKV-4 checkpoint, infer its RwkvConfig from the shapes, and apply
 * the load transforms. Throws CheckpointError (missing-key, extra-key, shape-mismatch, non-finite,
 * unsupported-architecture) naming the key and the expected vs actual shape.
 */
export function weightsFromTensors(named: TensorMap, opts: WeightsOptions = {}): RwkvWeights {
  const tensors = toBlinkNames(named).tensors; // Hugging Face names are accepted too (a no-op for BlinkDL's)
  const { nLayer, nEmbd, ffnSize, vocabSize } = checkLayout(tensors);
  const C = nEmbd;
  const eps = opts.layerNormEps ?? DEFAULT_LAYER_NORM_EPS;
  if (!(eps > 0 && Number.isFinite(eps))) {
    throw new CheckpointError("shape-mismatch", `LayerNorm epsilon ${eps} is not a positive finite number`);
  }
  for (const [k, t] of tensors) {
    if (t.data.length !== numelOf(t.shape)) {
      throw new CheckpointError(
        "shape-mismatch",
        `${k}: shape ${shapeStr(t.shape)} but ${t.data.length} values`,
      );
    }
  }
  for (const [k, t] of tensors) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) {
        throw new CheckpointError(
          "non-finite",
          `${k}[${i}] is ${d[i]}: the checkpoint holds a NaN or infinite weight`,
        );
      }
    }
  }

  const mat = (k: string): Float32Array => (tensors.get(k) as Tensor).data; // a view, never copied
  const vec = (k: string): Float32Array => Float32Array.from((tensors.get(k) as Tensor).data); // (C), squeezed
  const norm = (p: string): LayerNormWeights => ({ weight: vec(`${p}.weight`), bias: vec(`${p}.bias`) });

  const blocks: BlockWeights[] = [];
  for (let i = 0; i < nLayer; i++) {
    const b = `blocks.${i}`;
    const decay = (tensors.get(`${b}.att.time_decay`) as Tensor).data;
    const w = new Float32Array(C); // w = -exp(time_decay) (Eq. 14-16 use e^{w})
    for (let c = 0; c < C; c++) w[c] = -Math.exp(decay[c]);
    blocks.push({
      ln1: norm(`${b}.ln1`),
      ln2: norm(`${b}.ln2`),
      att: {
        muK: vec(`${b}.att.time_mix_k`),
        muV: vec(`${b}.att.time_mix_v`),
        muR: vec(`${b}.att.time_mix_r`),
        w,
        u: vec(`${b}.att.time_first`),
        Wk: mat(`${b}.att.key.weight`),
        Wv: mat(`${b}.att.value.weight`),
        Wr: mat(`${b}.att.receptance.weight`),
        Wo: mat(`${b}.att.output.weight`),
      },
      ffn: {
        muK: vec(`${b}.ffn.time_mix_k`),
        muR: vec(`${b}.ffn.time_mix_r`),
        Wk: mat(`${b}.ffn.key.weight`),
        Wv: mat(`${b}.ffn.value.weight`),
        Wr: mat(`${b}.ffn.receptance.weight`),
      },
    });
  }
  const config: RwkvConfig = { nLayer, nEmbd, ffnSize, vocabSize, layerNormEps: eps };
  return {
    config,
    emb: mat("emb.weight"),
    ln0: norm("blocks.0.ln0"),
    blocks,
    lnOut: norm("ln_out"),
    head: mat("head.weight"),
  };
}

export interface LoadedCheckpoint {
  format: CheckpointFormat;
  naming: Naming;
  /** stored dtype: "F32", "F16", "BF16" (or "A+B" when mixed) */
  dtype: string;
  weights: RwkvWeights;
  /** the tensor names as stored in the file, in file order */
  tensorNames: string[];
  /** number of stored values (for RWKV-4 with F = 4C: 2VD + 13D^2 L + D(11L + 4), paper Sect. 4 / Table 2) */
  parameterCount: number;
}

function configNumber(cfg: Record<string, unknown>, key: string): number | undefined {
  const v = cfg[key];
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * The one call the CLI and the pages use: bytes of a .safetensors / .pth / .bin file (and, for Hugging Face
 * checkpoints, the parsed config.json beside it) -> validated, transformed RWKV-4 weights.
 */
export function loadRwkvCheckpoint(bytes: Uint8Array, opts: { hfConfig?: object } = {}): LoadedCheckpoint {
  const format = detectFormat(bytes);
  const cfg = (opts.hfConfig ?? {}) as Record<string, unknown>;
  const modelType = cfg["model_type"];
  if (typeof modelType === "string" && modelType !== "rwkv") {
    throw new CheckpointError(
      "unsupported-architecture",
      `config.json has model_type ${quote(modelType)}; this reference model implements RWKV-4 ("rwkv") only`,
    );
  }
  // phase one: names, shapes and dtypes only; every key and shape is checked before any tensor is decoded
  const index = format === "safetensors" ? indexSafetensors(bytes) : indexTorchZip(bytes);
  const layout = checkLayout(toBlinkNames(index.entries as Map<string, TensorEntry>, opts.hfConfig).tensors);
  checkConfig(cfg, layout);
  // phase two: decode (each storage once, CRC-checked for zips), then the values: finiteness, transforms
  const stored = index.decode();
  const { tensors, naming } = toBlinkNames(stored, opts.hfConfig);
  const layerNormEps = configNumber(cfg, "layer_norm_epsilon");
  const weights = weightsFromTensors(tensors, layerNormEps === undefined ? {} : { layerNormEps });
  let parameterCount = 0;
  for (const t of stored.values()) parameterCount += t.data.length;
  return {
    format,
    naming,
    dtype: index.dtype,
    weights,
    tensorNames: [...stored.keys()],
    parameterCount,
  };
}

/** config.json must agree with the shapes */
function checkConfig(cfg: Record<string, unknown>, c: Layout): void {
  const checks: [string, number][] = [
    ["hidden_size", c.nEmbd],
    ["num_hidden_layers", c.nLayer],
    ["vocab_size", c.vocabSize],
    ["intermediate_size", c.ffnSize],
    ["attention_hidden_size", c.nEmbd],
  ];
  for (const [key, actual] of checks) {
    const v = configNumber(cfg, key);
    if (v !== undefined && v !== actual) {
      throw new CheckpointError(
        "shape-mismatch",
        `config.json has ${key} = ${v} but the weights have ${actual}`,
      );
    }
  }
}
