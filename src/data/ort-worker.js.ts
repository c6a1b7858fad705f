// Data loader: the model worker (src/runtime/worker.ts with onnxruntime-web/webgpu), bundled into one ES module so
// a page can start it: new Worker(await FileAttachment("data/ort-worker.js").url(), {type: "module"}).
import { bundleModule } from "../runtime/bundle.js";

process.stdout.write(await bundleModule());
