// Databases for tests: a fresh SQLite file, or a fresh PostgreSQL database in
// the cluster that `npm test` started (USERS_TEST_POSTGRES_URL).

import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export type Engine = "sqlite" | "postgres";

/** The engines this run covers: SQLite always, PostgreSQL when a cluster is available. */
export const ENGINES: Engine[] = process.env.USERS_TEST_POSTGRES_URL ? ["sqlite", "postgres"] : ["sqlite"];

export function tempDir(prefix = "users-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A DATABASE_URL for a new, empty database of the engine. */
export async function freshDatabaseUrl(engine: Engine): Promise<string> {
  if (engine === "sqlite") return `sqlite:${path.join(tempDir(), "users.db")}`;
  const admin = process.env.USERS_TEST_POSTGRES_URL;
  if (!admin) throw new Error("USERS_TEST_POSTGRES_URL is not set: run the tests with npm test");
  const name = `t_${randomBytes(6).toString("hex")}`;
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}

let sharedKeyFile: string | undefined;

/**
 * `env` with ENCRYPTION_KEY_FILE added when its DATABASE_URL is PostgreSQL
 * (where the setting is required): one key file per test process, so replicas
 * a test starts on one database share their keys as real ones must.
 */
export function withEncryptionKeys(env: Record<string, string>): Record<string, string> {
  if (env.ENCRYPTION_KEY_FILE !== undefined || !/^postgres(ql)?:/.test(env.DATABASE_URL ?? "")) return env;
  if (sharedKeyFile === undefined) {
    const file = path.join(tempDir("users-keys-"), "encryption-keys");
    fs.writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    sharedKeyFile = file;
  }
  return { ...env, ENCRYPTION_KEY_FILE: sharedKeyFile };
}
