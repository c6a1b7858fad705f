/**
 * A small static file server for dist/ on 127.0.0.1 (browser tests). Resolves Framework's clean URLs
 * (`/01-overview` -> `01-overview.html`, `/` -> `index.html`) and sends the MIME types the site needs.
 * By default it also sends the cross-origin-isolation headers (COOP/COEP, src/runtime/isolation.ts), as
 * `npm run dev` and a host configured for the site do; `{ isolationHeaders: false }` makes it a plain static host
 * that sends none (the service worker then isolates the site: test/e2e/threads.test.ts).
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { ISOLATION_HEADERS } from "../../../src/runtime/isolation.js";

export const MIME_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".wasm": "application/wasm",
  ".onnx": "application/octet-stream",
  ".bin": "application/octet-stream",
  ".pth": "application/octet-stream",
  ".safetensors": "application/octet-stream",
};

export function mimeType(file: string): string {
  return MIME_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** The file that serves a URL path, or undefined (404). Never a path outside root. */
export async function resolveFile(root: string, urlPath: string): Promise<string | undefined> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const file = path.resolve(root, "." + path.posix.normalize("/" + decoded));
  if (file !== root && !file.startsWith(root + path.sep)) return undefined;
  for (const candidate of [file, `${file}.html`, path.join(file, "index.html")]) {
    if (await isFile(candidate)) return candidate;
  }
  return undefined;
}

export interface StaticServer {
  origin: string;
  server: Server;
  close(): Promise<void>;
}

export async function serveStatic(
  root: string,
  { isolationHeaders = true }: { isolationHeaders?: boolean } = {},
): Promise<StaticServer> {
  const dir = path.resolve(root);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    resolveFile(dir, url.pathname).then(
      (file) => {
        if (!file) {
          res.writeHead(404, { "content-type": "text/plain" }).end(`not found: ${url.pathname}`);
          return;
        }
        res.writeHead(200, {
          "content-type": mimeType(file),
          "cache-control": "no-store",
          ...(isolationHeaders ? ISOLATION_HEADERS : {}),
        });
        if (req.method === "HEAD") res.end();
        else createReadStream(file).pipe(res);
      },
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
