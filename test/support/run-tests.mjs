#!/usr/bin/env node
// `npm test`: starts a throwaway PostgreSQL cluster (so the storage contract
// and end-to-end suites run on both engines), runs jest, prints
// "jest: N passed, M failed" from jest's own counts, and stops the cluster.
// Chromium, which the browser suites drive, is installed first when missing.
//
// Where PostgreSQL cannot be started, the run fails loudly. To run the SQLite
// suites alone on a machine without PostgreSQL, set USERS_TEST_SKIP_POSTGRES=1
// (the skip is then printed, and CI never sets it).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { ensureChromium } from "./chromium-install.mjs";
import { startPostgres } from "./postgres-cluster.mjs";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const resultsFile = path.join(root, "test-results", "jest.json");
fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
fs.rmSync(resultsFile, { force: true });

let cluster;
const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --experimental-vm-modules`.trim() };
if (process.env.USERS_TEST_SKIP_POSTGRES === "1") {
  console.warn("\n!!! USERS_TEST_SKIP_POSTGRES=1: the PostgreSQL suites are SKIPPED in this run !!!\n");
} else if (!env.USERS_TEST_POSTGRES_URL) {
  try {
    cluster = await startPostgres();
    env.USERS_TEST_POSTGRES_URL = cluster.url;
    console.log(`PostgreSQL ${cluster.version} test cluster on ${cluster.url.replace(/:[^:@/]*@/, ":***@")}`);
  } catch (err) {
    console.error(`\n!!! PostgreSQL could not be started: ${err.message}`);
    console.error(
      "!!! Install it (apt-get install -y postgresql) or set USERS_TEST_SKIP_POSTGRES=1 to run without it.\n",
    );
    process.exit(1);
  }
}

// The browser suites drive Debian's Chromium: found or installed here, before jest starts.
try {
  env.CHROMIUM_PATH = ensureChromium();
} catch (err) {
  console.error(`\n!!! ${err.message}\n`);
  await cluster?.stop();
  process.exit(1);
}

const jestBin = path.join(root, "node_modules", "jest", "bin", "jest.js");
const args = [jestBin, "--json", `--outputFile=${resultsFile}`, ...process.argv.slice(2)];
const code = await new Promise((resolve) => {
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: "inherit" });
  const forward = (signal) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  child.on("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0)));
});

await cluster?.stop();

let summary = "jest: no results (jest did not finish)";
if (fs.existsSync(resultsFile)) {
  const results = JSON.parse(fs.readFileSync(resultsFile, "utf8"));
  // A suite that cannot even run counts as a failure too.
  const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
  summary = `jest: ${results.numPassedTests} passed, ${failed} failed`;
}
console.log(summary);
process.exit(code === 0 && !summary.startsWith("jest: no results") ? 0 : code || 1);
