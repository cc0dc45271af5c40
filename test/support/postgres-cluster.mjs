// A throwaway PostgreSQL cluster for the test run: initdb in a temporary
// folder, started with pg_ctl on a free loopback port, as an unprivileged user
// (PostgreSQL refuses to run as root), stopped and deleted afterwards.
// When PostgreSQL is missing and this runs as root on Debian, it is installed
// from Debian's packages first.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { installDebianPackage } from "./debian-packages.mjs";

const isRoot = process.getuid?.() === 0;

function findBinDir() {
  const onPath = spawnSync("sh", ["-c", "command -v pg_ctl"], { encoding: "utf8" }).stdout.trim();
  const candidates = [];
  if (fs.existsSync("/usr/lib/postgresql")) {
    for (const v of fs.readdirSync("/usr/lib/postgresql").sort((a, b) => Number(b) - Number(a))) {
      candidates.push(`/usr/lib/postgresql/${v}/bin`);
    }
  }
  if (onPath) candidates.push(path.dirname(fs.realpathSync(onPath)));
  return candidates.find((dir) => fs.existsSync(path.join(dir, "initdb")) && fs.existsSync(path.join(dir, "postgres")));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgres() {
  let bin = findBinDir();
  if (!bin) {
    installDebianPackage("postgresql", "PostgreSQL not found");
    bin = findBinDir();
  }
  if (!bin) throw new Error("no PostgreSQL server binaries (initdb, postgres) found");

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "users-pg-"));
  const data = path.join(dir, "data");
  const runAs = isRoot ? ["runuser", "-u", "postgres", "--"] : [];
  if (isRoot) execFileSync("chown", ["-R", "postgres", dir]);
  const run = (cmd, args) => {
    const [exe, ...rest] = [...runAs, path.join(bin, cmd), ...args];
    return execFileSync(exe, rest, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  };
  run("initdb", ["-D", data, "-U", "users_test", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c max_connections=300",
    // A throwaway cluster: durability against power loss is not under test.
    "-c fsync=off",
    "-c synchronous_commit=off",
    "-c full_page_writes=off",
  ].join(" ");
  run("pg_ctl", ["start", "-D", data, "-o", options, "-l", path.join(dir, "server.log"), "-w", "-t", "60"]);
  const version = run("postgres", ["--version"])
    .trim()
    .replace(/^postgres \(PostgreSQL\) /, "");
  return {
    url: `postgres://users_test@127.0.0.1:${port}/postgres`,
    version,
    port,
    dir,
    async stop() {
      try {
        run("pg_ctl", ["stop", "-D", data, "-m", "immediate", "-w", "-t", "30"]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
