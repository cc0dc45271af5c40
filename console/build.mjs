#!/usr/bin/env node
// Builds the admin console into dist/console/: the TypeScript app bundled by
// esbuild into app.js, plus the static files. The folder is emptied first, so
// it holds exactly what this build produced (the server serves only those).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", "dist", "console");

fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(out, { recursive: true });

await build({
  entryPoints: [path.join(here, "src", "main.ts")],
  outfile: path.join(out, "app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome109", "firefox115", "safari16"],
  minify: true,
  legalComments: "none",
  tsconfig: path.join(here, "tsconfig.json"),
  logLevel: "warning",
});

for (const name of fs.readdirSync(path.join(here, "static"))) {
  fs.copyFileSync(path.join(here, "static", name), path.join(out, name));
}
