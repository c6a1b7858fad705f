// Data loader: the tiny model's weights, copied from data/models/tiny-rwkv.safetensors (empty while the trained
// model is absent: the card then says synthetic and the page builds the synthetic stand-in instead).
import { readModelFiles } from "../build/build-model.js";

const { bytes } = readModelFiles();
process.stdout.write(bytes ?? new Uint8Array(0));
