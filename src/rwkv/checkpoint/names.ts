/**
 * Checkpoint naming schemes. The model library uses BlinkDL's names (RWKV-LM RWKV-v4/src/model.py):
 *   emb.weight, blocks.0.ln0.*, blocks.N.ln1.*, blocks.N.ln2.*, blocks.N.att.{time_decay, time_first,
 *   time_mix_k, time_mix_v, time_mix_r, key.weight, value.weight, receptance.weight, output.weight},
 *   blocks.N.ffn.{time_mix_k, time_mix_r, key.weight, receptance.weight, value.weight}, ln_out.*, head.weight
 * Hugging Face transformers (models/rwkv/modeling_rwkv.py: RwkvForCausalLM = rwkv: RwkvModel + head) names
 * the same tensors rwkv.embeddings.weight, rwkv.blocks.0.pre_ln.*, rwkv.blocks.N.ln1.*,
 * rwkv.blocks.N.attention.{time_decay, time_first, time_mix_key, time_mix_value, time_mix_receptance, key, ...},
 * rwkv.blocks.N.feed_forward.{time_mix_key, time_mix_receptance, key, receptance, value}, rwkv.ln_out.*,
 * head.weight. The renaming is a pure key map: values (and their shapes) are untouched.
 */
import type { Tensor } from "../tensor.js";
import { CheckpointError, quote } from "./errors.js";

export type Naming = "blinkdl" | "hf";

const HF_MIX: Readonly<Record<string, string>> = {
  time_mix_key: "time_mix_k",
  time_mix_value: "time_mix_v",
  time_mix_receptance: "time_mix_r",
};

/** The BlinkDL name of one Hugging Face key; unknown keys keep their name (validation reports them). */
export function hfToBlinkName(key: string): string {
  if (key === "rwkv.embeddings.weight") return "emb.weight";
  if (key.startsWith("rwkv.ln_out.")) return key.slice("rwkv.".length);
  const m = /^rwkv\.blocks\.(\d+)\.(pre_ln|ln1|ln2|attention|feed_forward)\.(.+)$/.exec(key);
  if (!m) return key; // head.weight, and anything unknown
  const [, n, module, rest] = m;
  const blink =
    module === "pre_ln" ? "ln0" : module === "attention" ? "att" : module === "feed_forward" ? "ffn" : module;
  const tail = HF_MIX[rest] ?? rest;
  return `blocks.${n}.${blink}.${tail}`;
}

/** Hugging Face checkpoints put everything but the head under `rwkv.`. */
export function detectNaming(tensors: ReadonlyMap<string, unknown>): Naming {
  for (const k of tensors.keys()) if (k.startsWith("rwkv.")) return "hf";
  return "blinkdl";
}

/**
 * Rename a checkpoint's tensors to BlinkDL's scheme (a no-op for BlinkDL files). `hfConfig` is accepted for
 * symmetry with the loader; names alone decide the scheme. Works on any map keyed by tensor name (decoded
 * tensors, or a reader's index entries).
 */
export function toBlinkNames<T = Tensor>(
  tensors: Map<string, T>,
  hfConfig?: object,
): { tensors: Map<string, T>; naming: Naming } {
  void hfConfig;
  const naming = detectNaming(tensors);
  if (naming === "blinkdl") return { tensors, naming };
  const out = new Map<string, T>();
  const from = new Map<string, string>();
  for (const [k, t] of tensors) {
    const b = hfToBlinkName(k);
    const prev = from.get(b);
    if (prev !== undefined) {
      throw new CheckpointError(
        "extra-key",
        `checkpoint has both ${quote(prev)} and ${quote(k)}, which both mean ${quote(b)}`,
      );
    }
    from.set(b, k);
    out.set(b, t);
  }
  return { tensors: out, naming };
}
