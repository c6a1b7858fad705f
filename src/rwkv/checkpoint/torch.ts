/**
 * PyTorch .pth / .bin files in the zip format of torch.save (PyTorch >= 1.6):
 *   <archive>/data.pkl     the pickled object; tensors are _rebuild_tensor_v2(storage, offset, size, stride)
 *                          whose storages are persistent ids ('storage', torch.<T>Storage, key, location, numel)
 *   <archive>/data/<key>   the raw little-endian bytes of storage <key>
 *   <archive>/version, <archive>/byteorder (newer PyTorch)
 * The pickle is read by a non-executing VM (pickle.ts). F32 tensors become views into `bytes`.
 */
import type { Tensor, TensorMap } from "../tensor.js";
import { CheckpointError, quote } from "./errors.js";
import { DTYPE_BYTES, decodeToF32, isStoredDtype } from "./dtype.js";
import { loadPickle, PyDict, TensorRef, type PyValue } from "./pickle.js";
import { readZipDirectory, zipEntryData, type ZipEntry } from "./zip.js";
import { summarizeDtypes } from "./safetensors.js";

export interface TorchZipResult {
  tensors: TensorMap;
  /** "F32", "F16", "BF16", or e.g. "BF16+F32" for a mixed file */
  dtype: string;
}

/** Cap on data.pkl (a 14B model's is ~60 KB). */
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;

/** The state dict inside the pickle: the top-level dict, or one level down under a usual wrapper key. */
function stateDict(root: PyValue): PyDict {
  if (!(root instanceof PyDict))
    throw new CheckpointError("bad-pickle", "torch: the pickled object is not a dict");
  const hasTensor = [...root.map.values()].some((v) => v instanceof TensorRef);
  if (!hasTensor) {
    for (const k of ["state_dict", "model", "module"]) {
      const inner = root.map.get(k);
      if (inner instanceof PyDict) return inner;
    }
  }
  return root;
}

export function readTorchZip(bytes: Uint8Array): TorchZipResult {
  const entries = readZipDirectory(bytes);
  const byName = new Map<string, ZipEntry>();
  for (const e of entries) byName.set(e.name, e);

  const pkls = entries.filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (pkls.length !== 1) {
    throw new CheckpointError(
      "bad-header",
      pkls.length === 0
        ? "torch: no <archive>/data.pkl entry in the zip: not a torch.save file"
        : `torch: ${pkls.length} data.pkl entries in one zip`,
    );
  }
  const prefix = pkls[0].name.slice(0, -"data.pkl".length);
  const byteorder = byName.get(prefix + "byteorder");
  if (byteorder) {
    const order = new TextDecoder("latin1").decode(zipEntryData(bytes, byteorder)).trim();
    if (order !== "little") {
      throw new CheckpointError(
        "unsupported-dtype",
        `torch: storages are ${quote(order)}-endian; only little-endian is supported`,
      );
    }
  }
  const pkl = zipEntryData(bytes, pkls[0]);
  if (pkl.length > MAX_PICKLE_BYTES) {
    throw new CheckpointError(
      "bad-header",
      `torch: data.pkl is ${pkl.length} bytes, over the ${MAX_PICKLE_BYTES}-byte limit`,
    );
  }
  const dict = stateDict(loadPickle(pkl));

  const tensors: TensorMap = new Map();
  const dtypes = new Set<string>();
  const storages = new Map<string, Uint8Array>();
  for (const [key, value] of dict.map) {
    if (typeof key !== "string")
      throw new CheckpointError("bad-pickle", `torch: state dict key ${String(key)} is not a string`);
    if (!(value instanceof TensorRef)) {
      throw new CheckpointError("bad-pickle", `torch: state dict entry ${quote(key)} is not a tensor`);
    }
    tensors.set(key, rebuildTensor(bytes, key, value, prefix, byName, storages));
    dtypes.add(value.storage.dtype);
  }
  return { tensors, dtype: summarizeDtypes(dtypes) };
}

/** _rebuild_tensor_v2, on data: bounds-checked, contiguous tensors as views (F32) or decoded (F16/BF16). */
function rebuildTensor(
  bytes: Uint8Array,
  name: string,
  t: TensorRef,
  prefix: string,
  byName: Map<string, ZipEntry>,
  storages: Map<string, Uint8Array>,
): Tensor {
  const where = `torch: tensor ${quote(name)}`;
  const { storage, offset, size, stride } = t;
  const dtype = storage.dtype;
  if (!isStoredDtype(dtype)) {
    throw new CheckpointError(
      "unsupported-dtype",
      `${where} has dtype ${dtype}; only F32, F16 and BF16 are supported`,
    );
  }
  const elsize = DTYPE_BYTES[dtype];
  let data = storages.get(storage.key);
  if (!data) {
    const entry = byName.get(`${prefix}data/${storage.key}`);
    if (!entry) {
      throw new CheckpointError(
        "bad-header",
        `${where}: its storage ${quote(storage.key)} is missing from the archive`,
      );
    }
    data = zipEntryData(bytes, entry);
    storages.set(storage.key, data);
  }
  if (storage.numel * elsize > data.length) {
    throw new CheckpointError(
      "offset-out-of-range",
      `${where}: storage ${quote(storage.key)} declares ${storage.numel} elements (${storage.numel * elsize} bytes) ` +
        `but its zip entry holds ${data.length} bytes`,
    );
  }
  let numel = 1;
  let last = offset; // index of the last element addressed
  for (let d = 0; d < size.length; d++) {
    numel *= size[d];
    last += (size[d] - 1) * stride[d];
  }
  if (numel === 0) return { shape: [...size], data: new Float32Array(0) };
  if (!Number.isSafeInteger(last) || last >= storage.numel) {
    throw new CheckpointError(
      "offset-out-of-range",
      `${where}: offset ${offset}, size [${size.join(", ")}], stride [${stride.join(", ")}] address element ${last} ` +
        `of a ${storage.numel}-element storage`,
    );
  }
  // row-major (contiguous) strides, ignoring dims of size 1
  let contiguous = true;
  for (let d = size.length - 1, expect = 1; d >= 0; d--) {
    if (size[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= size[d];
  }
  if (contiguous) return { shape: [...size], data: decodeToF32(data, offset * elsize, numel, dtype) };

  // a view (transpose, slice with step): gather it into a new contiguous array
  if (numel > storage.numel) {
    throw new CheckpointError(
      "shape-mismatch",
      `${where}: a view of ${numel} elements over a ${storage.numel}-element storage (a broadcast, stride 0) ` +
        "is not supported: save tensor.contiguous() instead",
    );
  }
  const span = decodeToF32(data, offset * elsize, last - offset + 1, dtype);
  const out = new Float32Array(numel);
  const idx = new Array<number>(size.length).fill(0);
  for (let i = 0; i < numel; i++) {
    let src = 0;
    for (let d = 0; d < size.length; d++) src += idx[d] * stride[d];
    out[i] = span[src];
    for (let d = size.length - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return { shape: [...size], data: out };
}
