// Headless Chromium for the browser tests: Debian's `chromium` package driven
// by playwright-core (Playwright's own browser download cannot work here).
//
// The flags keep Chromium from reaching out to the network at start (this
// machine has none beyond loopback) and from needing a sandbox (tests run as
// root). Playwright's launch() gives every browser a new, empty profile
// (its own temporary --user-data-dir) and deletes it on close.
import fs from "node:fs";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The chromium binary: CHROMIUM_PATH, else `chromium` on PATH (like `command -v chromium`). */
export function chromiumPath(): string {
  const override = process.env.CHROMIUM_PATH;
  if (override) return override;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, "chromium");
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  throw new Error(
    "chromium is not installed: run the suites with npm test (which installs it), or apt-get install -y chromium",
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_FLAGS,
    // Generous: two cores shared with other work.
    timeout: 120_000,
  });
}
