/**
 * PyTorch .pth / .bin files in the zip format of torch.save (PyTorch >= 1.6):
 *   <archive>/data.pkl     the pickled object; tensors are _rebuild_tensor_v2(storage, offset, size, stride)
 *                          whose storages are persistent ids ('storage', torch.<T>Storage, key, location, numel)
 *   <archive>/data/<key>   the raw little-endian bytes of storage <key>
 *   <archive>/version, <archive>/byteorder (newer PyTorch)
 * The pickle is read by a non-executing VM (pickle.ts). F32 tensors become views into `bytes`.
 *
 * Two phases (lazy.ts): indexTorchZip reads the pickle and checks every tensor's storage reference against
 * the archive (the storage entry exists and holds exactly numel x element size bytes, the view stays inside
 * it) without decoding; decode then decodes each storage ONCE, checking its CRC-32 in the same pass, and
 * makes each tensor a view of it (or gathers a strided view), within the file's DecodeBudget. 400 tensors
 * viewing one storage cost one decode, not 400.
 */
import type { Tensor, TensorMap } from "../tensor.js";
import { CheckpointError, quote } from "./errors.js";
import { DTYPE_BYTES, decodeWithCrc, isStoredDtype } from "./dtype.js";
import { DecodeBudget, type TensorEntry, type TensorIndex } from "./lazy.js";
import { loadPickle, PyDict, TensorRef, type PyValue } from "./pickle.js";
import { checkCrc, readZipDirectory, storedEntryBytes, zipEntryData, type ZipEntry } from "./zip.js";
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

interface TorchEntry extends TensorEntry {
  readonly ref: TensorRef;
  readonly entry: ZipEntry;
  readonly numel: number;
  readonly contiguous: boolean;
}

export function readTorchZip(bytes: Uint8Array): TorchZipResult {
  const index = indexTorchZip(bytes);
  return { tensors: index.decode(), dtype: index.dtype };
}

/** Phase one: the pickle read and every tensor's storage reference checked; no tensor data decoded. */
export function indexTorchZip(bytes: Uint8Array): TensorIndex {
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
  if (pkls[0].size > MAX_PICKLE_BYTES) {
    throw new CheckpointError(
      "bad-header",
      `torch: data.pkl is ${pkls[0].size} bytes, over the ${MAX_PICKLE_BYTES}-byte limit`,
    );
  }
  const pkl = zipEntryData(bytes, pkls[0]);
  const dict = stateDict(loadPickle(pkl));

  const specs = new Map<string, TorchEntry>();
  for (const [key, value] of dict.map) {
    if (typeof key !== "string")
      throw new CheckpointError("bad-pickle", `torch: state dict key ${String(key)} is not a string`);
    if (!(value instanceof TensorRef)) {
      throw new CheckpointError("bad-pickle", `torch: state dict entry ${quote(key)} is not a tensor`);
    }
    specs.set(key, checkTensor(key, value, prefix, byName));
  }
  const dtype = summarizeDtypes(new Set([...specs.values()].map((s) => s.dtype)));

  const decode = (names?: Iterable<string>): TensorMap => {
    const budget = new DecodeBudget(bytes.length);
    const storages = new Map<ZipEntry, Float32Array>(); // each storage decoded (and CRC-checked) once
    const tensors: TensorMap = new Map();
    for (const name of names ?? specs.keys()) {
      const s = specs.get(name);
      if (!s) throw new CheckpointError("missing-key", `torch: no tensor ${quote(name)}`);
      let data = storages.get(s.entry);
      if (!data) {
        const raw = storedEntryBytes(bytes, s.entry);
        if (s.dtype !== "F32" || raw.byteOffset % 4 !== 0)
          budget.take(
            raw.length * (4 / DTYPE_BYTES[s.dtype]),
            `decoding storage ${quote(s.ref.storage.key)}`,
          );
        const decoded = decodeWithCrc(raw, s.dtype);
        checkCrc(s.entry, decoded.crc);
        data = decoded.data;
        storages.set(s.entry, data);
      }
      tensors.set(name, rebuildTensor(name, s, data, budget));
    }
    return tensors;
  };
  return { entries: specs, dtype, decode };
}

/** _rebuild_tensor_v2's arguments checked against the archive: dtype, storage entry and its exact size, bounds. */
function checkTensor(name: string, t: TensorRef, prefix: string, byName: Map<string, ZipEntry>): TorchEntry {
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
  const entry = byName.get(`${prefix}data/${storage.key}`);
  if (!entry) {
    throw new CheckpointError(
      "bad-header",
      `${where}: its storage ${quote(storage.key)} is missing from the archive`,
    );
  }
  if (entry.method === 0 && storage.numel * elsize !== entry.size) {
    throw new CheckpointError(
      "offset-out-of-range",
      `${where}: storage ${quote(storage.key)} declares ${storage.numel} ${dtype} elements ` +
        `(${storage.numel * elsize} bytes) but its zip entry holds ${entry.size} bytes ` +
        "(a storage must be exactly numel x element size: a relabelled dtype or an edited count)",
    );
  }
  let numel = 1;
  let last = offset; // index of the last element addressed
  for (let d = 0; d < size.length; d++) {
    numel *= size[d];
    last += (size[d] - 1) * stride[d];
  }
  if (!Number.isSafeInteger(numel))
    throw new CheckpointError("shape-mismatch", `${where}: size is too large`);
  if (numel > 0 && (!Number.isSafeInteger(last) || last >= storage.numel)) {
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
  if (numel > 0 && !contiguous && numel > storage.numel) {
    throw new CheckpointError(
      "shape-mismatch",
      `${where}: a view of ${numel} elements over a ${storage.numel}-element storage (a broadcast, stride 0) ` +
        "is not supported: save tensor.contiguous() instead",
    );
  }
  return { shape: [...size], dtype, ref: t, entry, numel, contiguous };
}

/** _rebuild_tensor_v2, on the decoded storage: contiguous tensors as views, strided ones gathered. */
function rebuildTensor(name: string, s: TorchEntry, storage: Float32Array, budget: DecodeBudget): Tensor {
  const { offset, size, stride } = s.ref;
  if (s.numel === 0) return { shape: [...size], data: new Float32Array(0) };
  if (s.contiguous) return { shape: [...size], data: storage.subarray(offset, offset + s.numel) };
  // a view (transpose, slice with step): gather it into a new contiguous array
  budget.take(s.numel * 4, `gathering the strided tensor ${quote(name)}`);
  const out = new Float32Array(s.numel);
  const idx = new Array<number>(size.length).fill(0);
  for (let i = 0; i < s.numel; i++) {
    let src = offset;
    for (let d = 0; d < size.length; d++) src += idx[d] * stride[d];
    out[i] = storage[src];
    for (let d = size.length - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return { shape: [...size], data: out };
}
