/**
 * The one error type every checkpoint reader throws for bad input. `code` is stable (tests and the CLI
 * match on it); `message` names the problem: which file part, which key, expected vs actual.
 */
export type CheckpointErrorCode =
  | "truncated" // the file ends before a structure it announces
  | "bad-header" // a header (safetensors JSON, zip record) is malformed
  | "bad-pickle" // the pickle stream is malformed or uses an opcode a state dict never needs
  | "offset-out-of-range" // a tensor / zip offset points outside the file or its storage
  | "missing-key" // a tensor the model needs is absent
  | "extra-key" // a tensor the model does not know (or a name given twice)
  | "shape-mismatch" // a tensor's shape disagrees with the config inferred from the others
  | "unsupported-dtype" // not F32/F16/BF16
  | "unsupported-compression" // a deflated (or otherwise compressed) zip entry
  | "checksum-mismatch" // a zip entry's bytes do not have the CRC-32 its directory records (corrupt data)
  | "over-budget" // the file asks for more memory than its size justifies (docs/hostile-inputs.md)
  | "non-finite" // a weight is NaN or infinite
  | "forbidden-pickle-global" // the pickle names a callable outside the state-dict allow-list
  | "unsupported-architecture" // an RWKV-5/6/7, RWKV-4a, GPT-2, ... checkpoint
  | "unknown-format"; // neither a safetensors file nor a PyTorch zip

export class CheckpointError extends Error {
  readonly code: CheckpointErrorCode;
  constructor(code: CheckpointErrorCode, message: string) {
    super(message);
    this.name = "CheckpointError";
    this.code = code;
  }
}

/** Shorten a user-controlled string for an error message (names can be megabytes long in a fuzzed file). */
export function quote(s: string, max = 80): string {
  const t = s.length > max ? s.slice(0, max) + `...(${s.length} chars)` : s;
  return JSON.stringify(t);
}
