// Data loader: chapter 7's counts of the loaded tiny model's tensors (parameters, matmul FLOPs per token).
import { loadBuildModel } from "../../build/build-model.js";
import { modelCounts } from "../../chapters/flops.js";

const { card, weights } = loadBuildModel();
process.stdout.write(JSON.stringify({ ...modelCounts(weights), synthetic: card.synthetic, name: card.name }));
