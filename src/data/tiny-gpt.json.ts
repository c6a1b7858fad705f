// Data loader: the transformer baseline's model card (data/models/tiny-gpt.json), or {synthetic: true} while
// the trained model is absent. Pages: gptCardFromJson(await FileAttachment("data/tiny-gpt.json").json()).
import { readGptFiles } from "../build/gpt-build.js";

const { card } = readGptFiles();
process.stdout.write(JSON.stringify(card.raw ? { ...card.raw, synthetic: false } : { synthetic: true }));
