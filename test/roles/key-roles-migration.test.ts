// Migration 40 on a database made before key roles: namespace keys become
// service keys and keys without a namespace admin keys, so nothing breaks.
import path from "node:path";
import { describe, expect, test } from "@jest/globals";
import Sqlite from "better-sqlite3";
import { digest } from "../../src/service/tokens.js";
import { openRepository } from "../../src/storage/open.js";
import { POSTGRES_MIGRATIONS } from "../../src/storage/postgres/migrations.js";
import { SQLITE_MIGRATIONS } from "../../src/storage/sqlite/migrations.js";
import { ENGINES, freshDatabaseUrl, tempDir } from "../support/databases.js";

const BEFORE_ROLES = 40;
const OLD_KEYS = [
  ["key_old_admin", null],
  ["key_old_acme", "acme"],
] as const;

/** A database at the schema of the last release before roles, holding keys of that time. */
async function databaseBeforeRoles(engine: "sqlite" | "postgres"): Promise<string> {
  const schema = `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_ms bigint NOT NULL)`;
  if (engine === "sqlite") {
    const file = path.join(tempDir(), "users.db");
    const db = new Sqlite(file);
    db.exec(schema);
    for (const m of SQLITE_MIGRATIONS.filter((m) => m.version < BEFORE_ROLES)) {
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations VALUES (?, ?, ?)").run(m.version, m.name, 0);
    }
    for (const [id, namespace] of OLD_KEYS) {
      db.prepare("INSERT INTO api_keys (id, key_digest, namespace, label, created_ms) VALUES (?, ?, ?, '', 1)").run(
        id,
        digest(id),
        namespace,
      );
    }
    db.close();
    return `sqlite:${file}`;
  }
  const url = await freshDatabaseUrl("postgres");
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(schema);
    for (const m of POSTGRES_MIGRATIONS.filter((m) => m.version < BEFORE_ROLES)) {
      await client.query(m.sql);
      await client.query("INSERT INTO schema_migrations VALUES ($1, $2, 0)", [m.version, m.name]);
    }
    for (const [id, namespace] of OLD_KEYS) {
      await client.query(
        "INSERT INTO api_keys (id, key_digest, namespace, label, created_ms) VALUES ($1, $2, $3, '', 1)",
        [id, digest(id), namespace],
      );
    }
  } finally {
    await client.end();
  }
  return url;
}

describe.each(ENGINES)("migration 40: keys from before roles (%s)", (engine) => {
  test("namespace keys become service keys, keys without a namespace admin keys", async () => {
    const databaseUrl = await databaseBeforeRoles(engine);
    const repo = await openRepository({
      databaseUrl,
      sqliteBusyTimeoutMs: 5000,
      pgPoolSize: 2,
      pgStatementTimeoutMs: 5000,
    });
    try {
      expect(await repo.findApiKey(digest("key_old_acme"))).toMatchObject({ namespace: "acme", role: "service" });
      expect(await repo.findApiKey(digest("key_old_admin"))).toMatchObject({ namespace: null, role: "admin" });
      expect((await repo.exportApiKeys()).map((k) => [k.id, k.role])).toEqual([
        ["key_old_acme", "service"],
        ["key_old_admin", "admin"],
      ]);
    } finally {
      await repo.close();
    }
  });
});
