// Data loader: the tiny model's per-channel parameters (mu, w, u, LayerNorm gains) for figures that need them
// before the weights load. Pages: decodeParams(await FileAttachment("data/tiny-rwkv-params.json").json()).
import { loadBuildModel } from "../build/build-model.js";
import { encodeParams, paramsOfWeights } from "../chapters/params.js";

const { card, weights } = loadBuildModel();
process.stdout.write(JSON.stringify(encodeParams(paramsOfWeights(weights, card))));
