/**
 * The browser tests' static server: clean URLs, MIME types, nothing served from outside its root, and the strict
 * mode (exact files under a sub-path) the hosting test uses.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveFile, resolveStrict, serveStatic, type StaticServer } from "../e2e/helpers/server.js";
import { findPages, isLoopback } from "../e2e/helpers/site.js";

let dir: string;
let server: StaticServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "rwkv-static-"));
  await mkdir(path.join(dir, "site", "_file", "data"), { recursive: true });
  await mkdir(path.join(dir, "site", "guide"), { recursive: true });
  await writeFile(path.join(dir, "secret.txt"), "outside the root");
  await writeFile(path.join(dir, "site", "index.html"), "<h1>home</h1>");
  await writeFile(path.join(dir, "site", "01-overview.html"), "<h1>one</h1>");
  await writeFile(path.join(dir, "site", "guide", "index.html"), "<h1>guide</h1>");
  for (const name of ["model.onnx", "ort.wasm", "trace.json", "font.woff2", "app.js", "style.css"]) {
    await writeFile(path.join(dir, "site", "_file", "data", name), "x");
  }
  server = await serveStatic(path.join(dir, "site"));
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

async function get(urlPath: string): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(server.origin + urlPath);
  return { status: response.status, type: response.headers.get("content-type"), body: await response.text() };
}

describe("serveStatic", () => {
  it("listens on loopback", () => {
    expect(server.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("serves Framework's clean URLs", async () => {
    expect(await get("/")).toMatchObject({ status: 200, body: "<h1>home</h1>" });
    expect(await get("/01-overview")).toMatchObject({ status: 200, body: "<h1>one</h1>" });
    expect(await get("/01-overview.html")).toMatchObject({ status: 200, body: "<h1>one</h1>" });
    expect(await get("/guide/")).toMatchObject({ status: 200, body: "<h1>guide</h1>" });
    expect((await get("/missing")).status).toBe(404);
  });

  it("sends the MIME types the site needs", async () => {
    const types: Record<string, string> = {
      "model.onnx": "application/octet-stream",
      "ort.wasm": "application/wasm",
      "trace.json": "application/json; charset=utf-8",
      "font.woff2": "font/woff2",
      "app.js": "text/javascript; charset=utf-8",
      "style.css": "text/css; charset=utf-8",
    };
    for (const [name, type] of Object.entries(types)) {
      expect((await get(`/_file/data/${name}`)).type, name).toBe(type);
    }
    expect((await get("/")).type).toBe("text/html; charset=utf-8");
  });

  it("serves nothing from outside its root", async () => {
    for (const p of [
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/_file/../../secret.txt",
      "/%2e%2e%2fsecret.txt",
    ]) {
      const response = await get(p);
      expect(response.body, p).not.toContain("outside the root");
    }
    expect((await get("/%E0%A4%A")).status).toBe(404); // malformed escape
    // The same paths given to the resolver raw (fetch would normalise some of them away first).
    for (const p of ["/../secret.txt", "../secret.txt", "/a/../../secret.txt", "/..%2fsecret.txt"]) {
      expect(await resolveFile(path.join(dir, "site"), p), p).toBeUndefined();
    }
    expect(await resolveFile(path.join(dir, "site"), "/01-overview")).toBe(
      path.join(dir, "site", "01-overview.html"),
    );
  });
});

describe("serveStatic, strict, under a sub-path (a plain static host)", () => {
  let strict: StaticServer;
  beforeAll(async () => {
    strict = await serveStatic(path.join(dir, "site"), { strict: true, base: "/rwkv/" });
  });
  afterAll(async () => {
    await strict.close();
  });
  const fetchStrict = async (urlPath: string) => {
    const response = await fetch(strict.origin + urlPath, { redirect: "manual" });
    return {
      status: response.status,
      location: response.headers.get("location"),
      body: await response.text(),
    };
  };

  it("serves exact files only, under the base", async () => {
    expect(await fetchStrict("/rwkv/")).toMatchObject({ status: 200, body: "<h1>home</h1>" });
    expect(await fetchStrict("/rwkv/01-overview.html")).toMatchObject({ status: 200, body: "<h1>one</h1>" });
    expect(await fetchStrict("/rwkv/guide/")).toMatchObject({ status: 200, body: "<h1>guide</h1>" });
    expect((await fetchStrict("/rwkv/_file/data/ort.wasm")).status).toBe(200);
    // what Framework's clean URLs need a rewrite rule for: not found here
    expect((await fetchStrict("/rwkv/01-overview")).status).toBe(404);
    // outside the base
    expect((await fetchStrict("/01-overview.html")).status).toBe(404);
    expect((await fetchStrict("/")).status).toBe(404);
    expect((await fetchStrict("/rwkv/../secret.txt")).body).not.toContain("outside the root");
  });

  it("redirects a folder's URL without its slash, keeping the query", async () => {
    expect(await fetchStrict("/rwkv/guide?x=1")).toMatchObject({ status: 301, location: "/rwkv/guide/?x=1" });
  });

  it("answers what a plain host answers", async () => {
    const root = path.join(dir, "site");
    expect(await resolveStrict(root, "/")).toEqual({ file: path.join(root, "index.html") });
    expect(await resolveStrict(root, "/01-overview")).toBeUndefined();
    expect(await resolveStrict(root, "/guide")).toEqual({ redirect: "/guide/" });
    expect(await resolveStrict(root, "/_file/")).toBeUndefined(); // a folder without an index.html
    expect(await resolveStrict(root, "/../secret.txt")).toBeUndefined();
  });
});

describe("findPages and isLoopback", () => {
  it("lists the pages of a built site, skipping Framework's _* folders", async () => {
    expect(await findPages(path.join(dir, "site"))).toEqual(["/", "/01-overview", "/guide/"]);
  });

  it("tells loopback from other hosts", () => {
    expect(isLoopback("http://127.0.0.1:3000/x")).toBe(true);
    expect(isLoopback("http://localhost/x")).toBe(true);
    expect(isLoopback("data:text/plain,hi")).toBe(true);
    expect(isLoopback("https://cdn.jsdelivr.net/npm/d3")).toBe(false);
    expect(isLoopback("https://fonts.googleapis.com/css2")).toBe(false);
    expect(isLoopback("http://127.0.0.1.example.com/")).toBe(false);
    expect(isLoopback("not a url")).toBe(false);
  });
});
