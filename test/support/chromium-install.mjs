// Finds the Chromium the browser suites drive (CHROMIUM_PATH, else `chromium`
// on PATH) and, when it is missing, installs Debian's `chromium` package.
import fs from "node:fs";
import path from "node:path";
import { installDebianPackage } from "./debian-packages.mjs";

function onPath(name) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir === "") continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** The chromium binary's path, installing the package when it is missing; throws naming the fix otherwise. */
export function ensureChromium() {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  let found = onPath("chromium");
  if (!found && installDebianPackage("chromium", "Chromium not found"))
    found = onPath("chromium") ?? "/usr/bin/chromium";
  if (!found || !fs.existsSync(found)) {
    throw new Error(
      "chromium is not installed and cannot be installed by this run: apt-get install -y chromium (as root)",
    );
  }
  return found;
}
