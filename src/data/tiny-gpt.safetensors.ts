// Data loader: the transformer baseline's weights, copied from data/models/tiny-gpt.safetensors (empty while
// the trained model is absent: the card then says synthetic and the page builds the synthetic stand-in).
import { readGptFiles } from "../build/gpt-build.js";

process.stdout.write(readGptFiles().bytes ?? new Uint8Array(0));
