// Data loader: the tiny model's card (data/models/tiny-rwkv.json), or the synthetic stand-in's card
// ({synthetic: true, ...}) while the trained model is absent. Pages: FileAttachment("data/tiny-rwkv.json").
import { readModelFiles } from "../build/build-model.js";

const { card } = readModelFiles();
process.stdout.write(JSON.stringify(card.raw ? { ...card.raw, synthetic: false } : card));
