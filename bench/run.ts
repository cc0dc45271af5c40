// `npm run bench`: measures the service against its floors on this machine.
// See docs/benchmarks.md.
//
// The service (compiled, bin/users-service.js) and each floor run in their
// own processes; load generators (autocannon for HTTP/1.1, a grpc-js loop for
// HTTP/2) in others; the bench process itself only seeds, starts, waits and
// reports. Results: a table on stdout, JSON and Markdown in bench/results/.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type EngineTarget, runEngine } from "./engine-run.js";
import type { EngineReport } from "./figures.js";
import { describeMachine, machineInfo } from "./machine.js";
import { parseOptions, USAGE } from "./options.js";
import { type PostgresTarget, postgresTarget } from "./postgres-target.js";
import { ROOT } from "./processes.js";
import { asMarkdown, asText, engineSections } from "./report.js";
import { checkTargets } from "./targets.js";

if (process.argv.includes("--help")) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const options = parseOptions(process.argv.slice(2));
const machine = machineInfo();
const started = new Date();
const stamp = started.toISOString().replace(/[:.]/g, "-");
const resultsDir = path.join(ROOT, "bench/results");
fs.mkdirSync(resultsDir, { recursive: true });
process.stderr.write(`bench (${options.mode}): ${describeMachine(machine)}\n`);

const reports: EngineReport[] = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "users-bench-"));
let postgres: PostgresTarget | undefined;
try {
  const sqliteFile = path.join(tmp, "users.db");
  const sqlite: EngineTarget = {
    engine: "sqlite",
    databaseUrl: `sqlite:${sqliteFile}`,
    sqlitePath: sqliteFile,
    description: "one file in WAL mode on local disk",
  };
  reports.push(await runEngine(sqlite, options, path.join(resultsDir, "profiles", stamp, "sqlite")));
  if (options.postgres === "auto") {
    postgres = await postgresTarget();
    if (postgres)
      reports.push(await runEngine(postgres.target, options, path.join(resultsDir, "profiles", stamp, "postgres")));
    else process.stderr.write("\nPostgreSQL: not installed and BENCH_POSTGRES_URL not set, skipped\n");
  }
} finally {
  await postgres?.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
}

machine.loadAverageEnd = os.loadavg()[0]!;
const heading = [
  `Benchmark ${started.toISOString()} (${options.mode}): ${options.connections} connections ` +
    `(${options.hashConnections} for bcrypt-bound calls), ` +
    `${options.warmupSeconds} s warm-up + ${options.durationSeconds} s per figure, bcrypt cost ${options.bcryptCost}`,
  `Machine: ${describeMachine(machine)}`,
].join("\n");
const text = [heading, ...reports.map((r) => engineSections(r, options, asText))].join("\n\n");
const markdown = [heading.replace(/\n/g, "  \n"), ...reports.map((r) => engineSections(r, options, asMarkdown))].join(
  "\n\n",
);
process.stdout.write(`\n${text}\n`);

const json = {
  started: started.toISOString(),
  options,
  machine,
  engines: reports.map((r) => ({ ...r, targets: checkTargets(r, options) })),
};
for (const name of [`${stamp}-${options.mode}`, "latest"]) {
  fs.writeFileSync(path.join(resultsDir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
}
fs.writeFileSync(path.join(resultsDir, "latest.md"), `${markdown}\n`);
process.stdout.write(
  `\nWritten: bench/results/${stamp}-${options.mode}.json, bench/results/latest.json and latest.md ` +
    `(${((Date.now() - started.getTime()) / 1000).toFixed(0)} s)\n`,
);
