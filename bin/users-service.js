#!/usr/bin/env node
// Entry point of the `users-service` command. The TypeScript sources are
// compiled into dist/ by `npm run build`, which `npm ci` runs (prepare).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("users-service: not built yet; run `npm ci` (or `npm run build`) first\n");
  process.exit(1);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
