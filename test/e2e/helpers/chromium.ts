/**
 * Launch Debian's Chromium (never a downloaded browser) through playwright-core, with WebGPU enabled
 * (SwiftShader on machines without a GPU) and the quiet flags for a closed network (docs/architecture.md).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROME_PATH = process.env.CHROME_PATH || "/usr/bin/chromium";

export const CHROMIUM_FLAGS = [
  "--enable-unsafe-webgpu",
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--disable-default-apps",
  "--disable-extensions",
];

/** Missing browser: skip with one clear line, unless CI=true or E2E_REQUIRED=1 (then the tests fail). */
export function browserStatus(): { available: boolean; required: boolean; message: string } {
  const available = existsSync(CHROME_PATH);
  const required = /^(1|true)$/i.test(process.env.CI ?? "") || process.env.E2E_REQUIRED === "1";
  const message =
    `Chromium not found at ${CHROME_PATH}: install it with \`apt-get install -y chromium\` ` +
    "(or set CHROME_PATH to a Chromium/Chrome binary)";
  return { available, required, message };
}

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), "rwkv-e2e-profile-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROME_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
