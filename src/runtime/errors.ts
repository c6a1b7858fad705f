/**
 * Typed errors of the ONNX runtime layer. Each has a stable `code` so that errors crossing the Web Worker
 * boundary (as plain objects) can be rebuilt into the same class on the page side (`fromSerialized`).
 */
export type OrtRwkvErrorCode =
  | "token-out-of-range"
  | "prompt-too-long"
  | "empty-prompt"
  | "bad-state"
  | "device-lost"
  | "session-build-failed"
  | "disposed"
  | "unsupported"
  | "timeout";

export class OrtRwkvError extends Error {
  readonly code: OrtRwkvErrorCode;
  constructor(code: OrtRwkvErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = "OrtRwkvError";
  }
}

export class TokenOutOfRangeError extends OrtRwkvError {
  constructor(
    readonly token: number,
    readonly vocabSize: number,
  ) {
    super(
      "token-out-of-range",
      `token id ${token} is out of range: this model's vocabulary has ids 0..${vocabSize - 1}`,
    );
    this.name = "TokenOutOfRangeError";
  }
}

export class PromptTooLongError extends OrtRwkvError {
  constructor(
    readonly length: number,
    readonly maxTokens: number,
  ) {
    super("prompt-too-long", `prompt of ${length} tokens is longer than the supported ${maxTokens} tokens`);
    this.name = "PromptTooLongError";
  }
}

export class DeviceLostError extends OrtRwkvError {
  constructor(reason: string) {
    super("device-lost", `the GPU device was lost (${reason}); the model must be reloaded (wasm fallback)`);
    this.name = "DeviceLostError";
  }
}

export class SessionBuildError extends OrtRwkvError {
  constructor(
    readonly ep: string,
    cause: unknown,
  ) {
    super("session-build-failed", `could not build an onnxruntime session on ${ep}: ${messageOf(cause)}`, {
      cause,
    });
    this.name = "SessionBuildError";
  }
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export interface SerializedError {
  name: string;
  code?: OrtRwkvErrorCode;
  message: string;
  /** the `code` of another typed error (e.g. CheckpointError's "unsupported-architecture"), kept on the page side */
  otherCode?: string;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof OrtRwkvError) return { name: e.name, code: e.code, message: e.message };
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return { name: e.name, message: e.message, ...(typeof code === "string" ? { otherCode: code } : {}) };
  }
  return { name: "Error", message: String(e) };
}

/** Rebuild an error sent across the worker boundary (class by `code`, message kept verbatim). */
export function fromSerialized(s: SerializedError): Error {
  if (!s.code) {
    const e = new Error(s.message);
    e.name = s.name;
    if (s.otherCode) (e as Error & { code?: string }).code = s.otherCode;
    return e;
  }
  const e = new OrtRwkvError(s.code, s.message);
  e.name = s.name;
  return e;
}
