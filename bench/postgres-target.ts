// The PostgreSQL server for the bench: BENCH_POSTGRES_URL when given (a fresh
// database is created in it and dropped afterwards), else a throwaway cluster
// started by the tests' own helper when PostgreSQL is installed, else none.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import type { EngineTarget } from "./engine-run.js";
import { ROOT } from "./processes.js";

interface Cluster {
  url: string;
  version: string;
  stop(): Promise<void>;
}

export interface PostgresTarget {
  target: EngineTarget;
  cleanup(): Promise<void>;
}

export async function postgresTarget(): Promise<PostgresTarget | undefined> {
  const given = process.env.BENCH_POSTGRES_URL;
  if (given) return freshDatabase(given);
  if (!installed()) return undefined;
  const helper = pathToFileURL(path.join(ROOT, "test/support/postgres-cluster.mjs")).href;
  const { startPostgres } = (await import(helper)) as { startPostgres(): Promise<Cluster> };
  const cluster = await startPostgres();
  return {
    target: {
      engine: "postgres",
      databaseUrl: cluster.url,
      description: `PostgreSQL ${cluster.version}, throwaway local cluster (fsync off), pool of 10`,
    },
    cleanup: () => cluster.stop(),
  };
}

function installed(): boolean {
  const lib = "/usr/lib/postgresql";
  return fs.existsSync(lib) && fs.readdirSync(lib).some((v) => fs.existsSync(path.join(lib, v, "bin/initdb")));
}

async function freshDatabase(serverUrl: string): Promise<PostgresTarget> {
  const name = `users_bench_${process.pid}_${Date.now()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    target: {
      engine: "postgres",
      databaseUrl: url.toString(),
      description: `PostgreSQL at BENCH_POSTGRES_URL (database ${name}), pool of 10`,
    },
    async cleanup() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
