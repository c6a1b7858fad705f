/** Find the built site (building it if dist/ is missing) and the pages in it. */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
export const distDir = path.join(repoRoot, "dist");

/** Builds the site unless dist/index.html exists (`npm test` builds just before; E2E_REBUILD=1 forces it). */
export function ensureBuilt(): void {
  if (existsSync(path.join(distDir, "index.html")) && process.env.E2E_REBUILD !== "1") return;
  console.log("e2e: building the site (npm run build)...");
  execFileSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "inherit" });
}

/** Every page in dist/ as a URL path (`/`, `/01-overview`), skipping Framework's `_*` asset folders. */
export async function findPages(dir = distDir): Promise<string[]> {
  const pages: string[] = [];
  async function walk(sub: string): Promise<void> {
    for (const entry of await readdir(path.join(dir, sub), { withFileTypes: true })) {
      if (entry.name.startsWith("_") || entry.name.startsWith(".")) continue;
      const rel = path.posix.join(sub, entry.name);
      if (entry.isDirectory()) await walk(rel);
      else if (entry.name.endsWith(".html")) {
        const page = "/" + rel.replace(/\.html$/, "");
        pages.push(page === "/index" ? "/" : page.replace(/\/index$/, "/"));
      }
    }
  }
  await walk("");
  return pages.sort();
}

/** Loopback hosts the site may talk to; anything else is a failure (nothing may leave the machine). */
export function isLoopback(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  return ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
}
