/**
 * The one tensor type the model library passes around: row-major fp32 data and its shape.
 * Checkpoint readers decode F16/BF16 to fp32 once at load; nothing downstream sees other dtypes.
 */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Tensors by name, in file order, as a checkpoint reader returns them. */
export type TensorMap = Map<string, Tensor>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function tensor(shape: readonly number[], data?: Float32Array): Tensor {
  const n = numel(shape);
  if (data && data.length !== n) {
    throw new Error(`tensor: shape [${shape.join(", ")}] needs ${n} values, got ${data.length}`);
  }
  return { shape: [...shape], data: data ?? new Float32Array(n) };
}
