// Data loader: the cross-origin-isolation service worker (src/runtime/isolation.ts), built to /coi-sw.js at the
// site's root (listed in observablehq.config.ts's dynamicPaths): a service worker controls only pages under its
// own folder, so it cannot live under _file/.
import { COI_SW_SOURCE } from "./runtime/isolation.js";

process.stdout.write(COI_SW_SOURCE);
