// System packages the tests need and a fresh machine may lack (PostgreSQL,
// Chromium): installed from Debian's packages when the run is root on Debian,
// so that `npm ci && npm test` alone prepares a new machine. Elsewhere the run
// fails naming the command to run.
import { execFileSync } from "node:child_process";
import fs from "node:fs";

const isRoot = process.getuid?.() === 0;
let updated = false;

/** Installs `pkg` with apt-get; returns false when this machine cannot (not root, not Debian). */
export function installDebianPackage(pkg, why) {
  if (!isRoot || !fs.existsSync("/usr/bin/apt-get")) return false;
  console.log(`${why}: installing it from Debian's packages (apt-get install -y ${pkg})...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!updated) {
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
    updated = true;
  }
  execFileSync("apt-get", ["install", "-y", "-qq", pkg], { stdio: "inherit", env });
  return true;
}
