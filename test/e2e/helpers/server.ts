/**
 * A small static file server for dist/ on 127.0.0.1 (browser tests). Resolves Framework's clean URLs
 * (`/01-overview` -> `01-overview.html`, `/` -> `index.html`) and sends the MIME types the site needs.
 *
 * `{ strict: true, base: "/rwkv/" }` makes it the plainest static host there is (a group's web space, an S3 bucket,
 * `python3 -m http.server`): the site lives under `base` (404 outside it), a URL names a file exactly (no `.html`
 * added), a folder's URL ending in `/` serves its index.html, and a folder's URL without the `/` is redirected
 * to it (301), as those servers do. test/e2e/hosting.test.ts serves dist/ this way.
 *
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

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isDirectory();
  } catch {
    return false;
  }
}

/** The path under root that a URL path names, or undefined when it is malformed or outside root. */
function underRoot(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const file = path.resolve(root, "." + path.posix.normalize("/" + decoded));
  if (file !== root && !file.startsWith(root + path.sep)) return undefined;
  return file;
}

/** The file that serves a URL path, or undefined (404). Never a path outside root. */
export async function resolveFile(root: string, urlPath: string): Promise<string | undefined> {
  const file = underRoot(root, urlPath);
  if (file === undefined) return undefined;
  for (const candidate of [file, `${file}.html`, path.join(file, "index.html")]) {
    if (await isFile(candidate)) return candidate;
  }
  return undefined;
}

/** What a plain static host answers for a URL path under its root: a file, a redirect to `path/`, or nothing. */
export async function resolveStrict(
  root: string,
  urlPath: string,
): Promise<{ file: string } | { redirect: string } | undefined> {
  const file = underRoot(root, urlPath);
  if (file === undefined) return undefined;
  if (urlPath.endsWith("/")) {
    const index = path.join(file, "index.html");
    return (await isFile(index)) ? { file: index } : undefined;
  }
  if (await isFile(file)) return { file };
  if (await isDirectory(file)) return { redirect: urlPath + "/" };
  return undefined;
}

export interface StaticServer {
  origin: string;
  server: Server;
  /** every request answered, in order: the path (with its query) and the status sent */
  log: { path: string; status: number }[];
  close(): Promise<void>;
}

export interface ServeOptions {
  /** exact files only, as a plain static host (see the top of this file); default false (clean URLs) */
  strict?: boolean;
  /** the path the site is served under, starting and ending with "/" (default "/") */
  base?: string;
  /** more files, by their path under the base (e.g. "models/x.pth": a checkpoint copied next to the site) */
  files?: Record<string, Uint8Array>;
  /** send the cross-origin-isolation headers (default true; see the top of this file) */
  isolationHeaders?: boolean;
}

export async function serveStatic(
  root: string,
  { strict = false, base = "/", files = {}, isolationHeaders = true }: ServeOptions = {},
): Promise<StaticServer> {
  const dir = path.resolve(root);
  if (!base.startsWith("/") || !base.endsWith("/"))
    throw new Error(`base must start and end with /: ${base}`);
  const resolve = async (urlPath: string): Promise<{ file: string } | { redirect: string } | undefined> => {
    if (!urlPath.startsWith(base)) return undefined;
    const rest = urlPath.slice(base.length - 1);
    if (strict) {
      const found = await resolveStrict(dir, rest);
      return found && "redirect" in found ? { redirect: base.slice(0, -1) + found.redirect } : found;
    }
    const file = await resolveFile(dir, rest);
    return file ? { file } : undefined;
  };
  const log: StaticServer["log"] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    res.on("finish", () => log.push({ path: url.pathname + url.search, status: res.statusCode }));
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405).end();
      return;
    }
    const extra = url.pathname.startsWith(base) ? files[url.pathname.slice(base.length)] : undefined;
    if (extra) {
      res.writeHead(200, {
        "content-type": mimeType(url.pathname),
        "content-length": extra.byteLength,
        "cache-control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : extra);
      return;
    }
    resolve(url.pathname).then(
      (found) => {
        if (found && "redirect" in found) {
          res.writeHead(301, { location: found.redirect + url.search }).end();
          return;
        }
        const file = found?.file;
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
    log,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
