/**
 * A 32-token lower-case BPE tokenizer.json (the characters and two merges, "th" and "he") for the browser tests:
 * small enough for the test checkpoints' vocabularies (37 and 50 ids).
 */
export function tinyTokenizerJson(): object {
  const vocab: Record<string, number> = {};
  [..." abcdefghijklmnopqrstuvwxyz.,\n"].forEach((c, i) => (vocab[c] = i));
  vocab["th"] = 30;
  vocab["he"] = 31;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: { type: "Lowercase" },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: "Fuse" },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: ["t h", "h e"],
    },
  };
}
