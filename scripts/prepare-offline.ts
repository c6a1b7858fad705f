/**
 * Make Observable Framework build and preview with no network at all.
 *
 * Framework 1.13 fetches `npm:` imports (the implicit `d3`, the built-in `tex`'s KaTeX) from a public CDN and
 * looks up versions of the libraries its client bundle loads lazily in the npm registry. It first looks in
 * `<root>/.observablehq/cache/_npm/`, so we fill that cache from node_modules (see docs/architecture.md):
 *
 *  - `_npm/d3@<ver>/_esm.js` and `_npm/katex@<ver>/_esm.js`: esbuild bundles of the installed packages;
 *  - `_npm/katex@<ver>/dist/katex.min.css` and `dist/fonts/*`: KaTeX's stylesheet and fonts, self-hosted;
 *  - empty `name@version/` folders for the libraries the client only needs a version number of.
 *
 * Idempotent and fast: a stamp file records what was written; a second run with the same inputs does nothing.
 * Usage: `tsx scripts/prepare-offline.ts [--force]` (run by `npm run dev` and `npm run build`).
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const sourceRoot = path.join(repoRoot, "src"); // observablehq.config.ts: root "src"
const cacheDir = path.join(sourceRoot, ".observablehq", "cache");
const npmDir = path.join(cacheDir, "_npm");
// Outside _npm/: Framework reads every entry of _npm/ as a `name@version` folder.
const stampFile = path.join(cacheDir, "offline-stamp.json");

/**
 * Where npm installed a package: the top of node_modules, or nested under Framework or Inputs (whose own
 * dependencies htl, isoformat and d3-dsv are) if npm could not hoist it.
 */
function findPackage(name: string): { dir: string; version: string } | undefined {
  const parents = [
    repoRoot,
    path.join(repoRoot, "node_modules", "@observablehq", "framework"),
    path.join(repoRoot, "node_modules", "@observablehq", "inputs"),
  ];
  for (const parent of parents) {
    const file = path.join(parent, "node_modules", name, "package.json");
    if (existsSync(file)) {
      const { version } = JSON.parse(readFileSync(file, "utf-8")) as { version: string };
      return { dir: parent, version };
    }
  }
  return undefined;
}

function installedVersion(name: string): string | undefined {
  return findPackage(name)?.version;
}

function requireVersion(name: string): string {
  const v = installedVersion(name);
  if (v === undefined)
    throw new Error(`prepare-offline: package "${name}" is not installed; run npm install`);
  return v;
}

/**
 * Libraries Framework's client bundle refers to lazily (recommendedLibraries.js, fileAttachment.js, main.js):
 * it only needs a version to write the import path; the files are never requested unless a page uses them.
 * The installed version is used where one exists, else a released version of that library.
 */
const LAZY_LIBRARIES: Record<string, string> = {
  "react-dom": "18.3.1",
  react: "18.3.1",
  lodash: "4.17.21",
  arquero: "8.0.3",
  "apache-arrow": "17.0.0",
  echarts: "5.6.0",
  htl: "0.3.1",
  leaflet: "1.9.4",
  "mapbox-gl": "3.9.4",
  "topojson-client": "3.1.0",
  "@observablehq/plot": "0.6.17",
  "@observablehq/sample-datasets": "1.0.1",
  "d3-dsv": "3.0.1",
  "parquet-wasm": "0.6.1",
};

async function main(): Promise<void> {
  const force = process.argv.includes("--force");
  // Installed libraries that pages may import through Framework's `npm:` protocol, bundled into the cache:
  // the implicit `d3` (a namespace), the built-in `tex`'s KaTeX (a default export), the implicit `html`/`svg`
  // (htl), FileAttachment.csv()'s d3-dsv and Inputs' isoformat.
  const bundled: [name: string, version: string, entry: string][] = [
    ["d3", requireVersion("d3"), `export * from "d3";`],
    ["katex", requireVersion("katex"), `export { default } from "katex";`],
    ["htl", requireVersion("htl"), `export * from "htl";`],
    ["d3-dsv", requireVersion("d3-dsv"), `export * from "d3-dsv";`],
    // Pages using the built-in Inputs preload htl and isoformat as npm: modules.
    ["isoformat", requireVersion("isoformat"), `export * from "isoformat";`],
  ];
  const katexDir = path.join(npmDir, `katex@${requireVersion("katex")}`);
  const lazy = Object.entries(LAZY_LIBRARIES)
    .filter(([name]) => !bundled.some(([b]) => b === name))
    .map(([name, fallback]) => [name, installedVersion(name) ?? fallback]);
  const self = await readFile(fileURLToPath(import.meta.url));
  const stamp = JSON.stringify({
    script: createHash("sha256").update(self).digest("hex").slice(0, 16),
    framework: requireVersion("@observablehq/framework"),
    esbuild: requireVersion("esbuild"),
    bundled: bundled.map(([name, version]) => `${name}@${version}`),
    lazy,
  });

  const expected = [
    ...bundled.map(([name, version]) => path.join(npmDir, `${name}@${version}`, "_esm.js")),
    path.join(katexDir, "dist", "katex.min.css"),
    path.join(katexDir, "dist", "fonts"),
    ...lazy.map(([name, version]) => path.join(npmDir, `${name}@${version}`)),
  ];
  if (
    !force &&
    existsSync(stampFile) &&
    (await readFile(stampFile, "utf-8")) === stamp &&
    expected.every((p) => existsSync(p))
  ) {
    console.log("prepare-offline: npm cache up to date");
    return;
  }

  const t0 = performance.now();
  // Stale bundles of other versions would win Framework's "highest cached version" lookup.
  if (existsSync(npmDir)) {
    for (const entry of await readdir(npmDir)) {
      const name = entry.slice(0, entry.lastIndexOf("@"));
      if (bundled.some(([b, v]) => b === name && entry !== `${b}@${v}`)) {
        await rm(path.join(npmDir, entry), { recursive: true, force: true });
      }
    }
  }

  const bundle = async (name: string, contents: string, outfile: string): Promise<void> => {
    await mkdir(path.dirname(outfile), { recursive: true });
    await build({
      stdin: {
        contents,
        resolveDir: findPackage(name)?.dir ?? repoRoot,
        loader: "js",
        sourcefile: path.basename(path.dirname(outfile)),
      },
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      minify: true,
      legalComments: "inline",
      outfile,
      logLevel: "warning",
    });
  };
  for (const [name, version, entry] of bundled) {
    await bundle(name, entry, path.join(npmDir, `${name}@${version}`, "_esm.js"));
  }

  const katexDist = path.join(path.join(repoRoot, "node_modules", "katex"), "dist");
  await mkdir(path.join(katexDir, "dist"), { recursive: true });
  await cp(path.join(katexDist, "katex.min.css"), path.join(katexDir, "dist", "katex.min.css"));
  await cp(path.join(katexDist, "fonts"), path.join(katexDir, "dist", "fonts"), { recursive: true });

  for (const [name, version] of lazy)
    await mkdir(path.join(npmDir, `${name}@${version}`), { recursive: true });

  await writeFile(stampFile, stamp);
  console.log(
    `prepare-offline: bundled ${bundled.map(([n, v]) => `${n}@${v}`).join(", ")}, KaTeX CSS + fonts, ${lazy.length} version ` +
      `folders to ${path.relative(repoRoot, npmDir)} in ${Math.round(performance.now() - t0)} ms`,
  );
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
