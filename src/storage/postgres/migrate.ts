// Applies the versioned migrations at start, safely when several replicas
// start at once: everything happens in one transaction that first takes a
// transaction-scoped advisory lock, so replicas migrate one after another and
// each later one finds the versions already recorded. The lock goes with the
// transaction (commit, rollback or a dropped connection), so a replica that
// dies while migrating cannot leave it held. DDL is transactional in
// PostgreSQL: a failed migration leaves no half-made schema behind.

import type { Migration } from "../migration.js";
import type { Database } from "./database.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";

/** Arbitrary, fixed: the advisory lock key of this service's schema ("users" in ASCII). */
const MIGRATION_LOCK_KEY = 0x7573657273;

/**
 * Migrations may wait for another replica's migration and may rewrite tables:
 * they get their own, longer limit than PG_STATEMENT_TIMEOUT_MS.
 */
const MIGRATION_TIMEOUT_MS = 120_000;

export async function applyMigrations(db: Database, migrations: Migration[] = POSTGRES_MIGRATIONS): Promise<void> {
  await db.withConnection(async (client) => {
    const query = (text: string, values: unknown[] = []) => {
      // query_timeout per query is honoured by pg, though absent from its types.
      const config = { text, values, query_timeout: MIGRATION_TIMEOUT_MS + 5_000 };
      return client.query(config);
    };
    await query("BEGIN");
    try {
      await query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
      await query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
      await query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        name       text    NOT NULL,
        applied_ms bigint  NOT NULL)`);
      const applied = new Set(
        ((await query("SELECT version FROM schema_migrations")).rows as Array<{ version: number }>).map(
          (r) => r.version,
        ),
      );
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        await query(m.sql);
        await query("INSERT INTO schema_migrations (version, name, applied_ms) VALUES ($1, $2, $3)", [
          m.version,
          m.name,
          Date.now(),
        ]);
      }
      await query("COMMIT");
    } catch (err) {
      await query("ROLLBACK").catch(() => {});
      throw err;
    }
  });
}
