/** Safe checkpoint loading for RWKV-4: safetensors and PyTorch zip files, both naming schemes. */
export { CheckpointError, type CheckpointErrorCode } from "./errors.js";
export {
  readSafetensors,
  indexSafetensors,
  MAX_SAFETENSORS_HEADER,
  MAX_METADATA_ENTRIES,
  type SafetensorsResult,
} from "./safetensors.js";
export { readTorchZip, indexTorchZip, type TorchZipResult } from "./torch.js";
export { readZipDirectory, zipEntryData, type ZipEntry } from "./zip.js";
export { loadPickle, ALLOWED_GLOBALS, MAX_PICKLE_HEAP, type PickleOptions } from "./pickle.js";
export { crc32 } from "./crc32.js";
export {
  DecodeBudget,
  DECODE_BUDGET_BASE,
  DECODE_BUDGET_FACTOR,
  type TensorEntry,
  type TensorIndex,
} from "./lazy.js";
export { toBlinkNames, hfToBlinkName, detectNaming, type Naming } from "./names.js";
export {
  detectFormat,
  weightsFromTensors,
  checkLayout,
  loadRwkvCheckpoint,
  DEFAULT_LAYER_NORM_EPS,
  type CheckpointFormat,
  type LoadedCheckpoint,
  type WeightsOptions,
} from "./load.js";
export { decodeToF32, f16ToF32, type StoredDtype } from "./dtype.js";
