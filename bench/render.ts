// Prints the tables of a saved run (bench/results/*.json) again, as text or
// Markdown: node dist/bench/render.js bench/results/latest.json [--markdown]
import fs from "node:fs";
import type { EngineReport } from "./figures.js";
import type { BenchOptions } from "./options.js";
import { asMarkdown, asText, engineSections } from "./report.js";

const [file, flag] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: render RESULTS.json [--markdown]\n");
  process.exit(2);
}
const run = JSON.parse(fs.readFileSync(file, "utf8")) as { options: BenchOptions; engines: EngineReport[] };
const format = flag === "--markdown" ? asMarkdown : asText;
process.stdout.write(`${run.engines.map((r) => engineSections(r, run.options, format)).join("\n\n")}\n`);
