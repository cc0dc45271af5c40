// The package version, read from package.json (found by walking up from this
// file, which sits at a different depth in src/ and in dist/).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function packageVersion(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, "package.json");
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "users-service" && pkg.version) {
        cached = pkg.version;
        return cached;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      cached = "unknown";
      return cached;
    }
    dir = parent;
  }
}
