/**
 * `npm run dev`: Framework's preview server with the cross-origin-isolation headers on every response
 * (src/runtime/isolation.ts), so that onnxruntime-web's wasm runs on several threads in development too.
 * Framework 1.13's preview has no option for response headers: this starts the same server the
 * `observable preview` command starts and puts a listener in front of Framework's own that sets them.
 * Arguments as `observable preview`'s: --port N, --host H, --open (default: no browser).
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { ISOLATION_HEADERS } from "../src/runtime/isolation.js";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    open: { type: "boolean", default: false },
  },
});

// no type declarations ship with Framework's internals: a variable specifier keeps tsc from looking for them
const PREVIEW = "@observablehq/framework/dist/preview.js";
const { preview } = (await import(PREVIEW)) as {
  preview(o: { hostname: string; port?: number; open: boolean }): Promise<{ _server: Server }>;
};
const server = await preview({
  hostname: values.host!,
  ...(values.port ? { port: Number(values.port) } : {}),
  open: values.open!,
});
server._server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
  for (const [name, value] of Object.entries(ISOLATION_HEADERS)) res.setHeader(name, value);
});
console.log("cross-origin isolated: COOP same-origin, COEP credentialless on every response");
