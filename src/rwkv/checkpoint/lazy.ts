/**
 * The two-phase reading both readers offer (issue 16): first an index of every tensor's name, shape and dtype,
 * built from the file's header or pickle without touching tensor data; then `decode`, which decodes (and for
 * zips checks the CRC-32 of) each storage once. The loader validates names and shapes on the index, so a file
 * with unexpected keys or wrong shapes is refused before a byte of tensor data is decoded.
 *
 * Memory: `decode` allocates only for data that cannot stay a view of the file (F16/BF16 widened to fp32,
 * unaligned F32 copied, strided views gathered), and all of that together may not exceed
 * DECODE_BUDGET_FACTOR x the file size + DECODE_BUDGET_BASE: a legitimate file needs at most 2x (every
 * tensor F16) plus 2x (every F16 tensor stored transposed). Past it: CheckpointError("over-budget").
 */
import type { TensorMap } from "../tensor.js";
import type { StoredDtype } from "./dtype.js";
import { CheckpointError } from "./errors.js";

export interface TensorEntry {
  readonly shape: readonly number[];
  readonly dtype: StoredDtype;
}

export interface TensorIndex {
  /** every tensor of the file, in file order */
  readonly entries: ReadonlyMap<string, TensorEntry>;
  /** "F32", "F16", "BF16", or e.g. "BF16+F32" for a mixed file, "none" when empty */
  readonly dtype: string;
  /** decode the named tensors (default: all), each storage once, within the file's DecodeBudget */
  decode(names?: Iterable<string>): TensorMap;
}

export const DECODE_BUDGET_FACTOR = 4;
export const DECODE_BUDGET_BASE = 64 * 1024 * 1024;

/** Bytes a reader may allocate while decoding one file's tensors. */
export class DecodeBudget {
  readonly limit: number;
  private used = 0;
  constructor(readonly fileBytes: number) {
    this.limit = DECODE_BUDGET_FACTOR * fileBytes + DECODE_BUDGET_BASE;
  }

  /** Account for `n` more bytes (before allocating them); throws CheckpointError("over-budget") past the limit. */
  take(n: number, what: string): void {
    this.used += n;
    if (this.used > this.limit) {
      throw new CheckpointError(
        "over-budget",
        `${what} would bring the decoded tensors to ${this.used} bytes, over this file's budget of ` +
          `${this.limit} bytes (${DECODE_BUDGET_FACTOR} x its ${this.fileBytes} bytes + ${DECODE_BUDGET_BASE}): ` +
          "the file describes far more data than it holds (views sharing storages); docs/hostile-inputs.md",
      );
    }
  }
}
