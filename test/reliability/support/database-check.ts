// Looks straight into a database the server used, from a connection of its
// own: is it intact (SQLite's integrity and foreign-key checks; on both
// engines, no row that has lost its user and no user without a password), and
// which users does it hold.
import Database from "better-sqlite3";
import { parseDatabaseUrl } from "../../../src/storage/database-url.js";

export interface StoredUser {
  namespace: string;
  id: string;
  username: string;
  email: string;
}

/** Rows that would mean a half-written or inconsistent database; each query must return nothing. */
const ORPHANS: Record<string, string> = {
  "users without a password row":
    "SELECT u.namespace, u.id FROM users u LEFT JOIN passwords p ON p.namespace = u.namespace AND p.user_id = u.id WHERE p.user_id IS NULL",
  "password rows without a user":
    "SELECT p.namespace, p.user_id FROM passwords p LEFT JOIN users u ON u.namespace = p.namespace AND u.id = p.user_id WHERE u.id IS NULL",
  "sessions without a user":
    "SELECT s.namespace, s.user_id FROM sessions s LEFT JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id WHERE u.id IS NULL",
  "second-factor rows without a user": ["mfa_totp", "mfa_recovery_codes", "mfa_tickets"]
    .map(
      (t) =>
        `SELECT '${t}' AS tbl, x.namespace, x.user_id FROM ${t} x LEFT JOIN users u ON u.namespace = x.namespace AND u.id = x.user_id WHERE u.id IS NULL`,
    )
    .join(" UNION ALL "),
  "TOTP secrets not sealed": "SELECT namespace, user_id FROM mfa_totp WHERE secret_sealed NOT LIKE 'v1.%'",
  "password rows that are not bcrypt hashes":
    "SELECT namespace, user_id FROM passwords WHERE hash NOT LIKE '$2_$__$%' OR length(hash) <> 60",
};

export interface DatabaseReport {
  /** Everything found wrong, in words; empty when the database is sound. */
  problems: string[];
  users: StoredUser[];
}

export async function inspectDatabase(databaseUrl: string): Promise<DatabaseReport> {
  const target = parseDatabaseUrl(databaseUrl);
  const rowsOf = target.engine === "sqlite" ? sqliteQuery(target.path) : await postgresQuery(target.url);
  try {
    const problems: string[] = [];
    if (target.engine === "sqlite") {
      const integrity = await rowsOf.query("PRAGMA integrity_check");
      if (JSON.stringify(integrity) !== JSON.stringify([{ integrity_check: "ok" }])) {
        problems.push(`PRAGMA integrity_check: ${JSON.stringify(integrity)}`);
      }
      const foreignKeys = await rowsOf.query("PRAGMA foreign_key_check");
      if (foreignKeys.length > 0) problems.push(`PRAGMA foreign_key_check: ${JSON.stringify(foreignKeys)}`);
    } else {
      const invalid = await rowsOf.query(
        "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = current_schema() AND NOT c.convalidated",
      );
      if (invalid.length > 0) problems.push(`constraints not validated: ${JSON.stringify(invalid)}`);
    }
    for (const [what, sql] of Object.entries(ORPHANS)) {
      const rows = await rowsOf.query(sql);
      if (rows.length > 0) problems.push(`${what}: ${JSON.stringify(rows.slice(0, 5))} (${rows.length} in all)`);
    }
    const users = (await rowsOf.query(
      "SELECT namespace, id, username, email FROM users ORDER BY namespace, id",
    )) as unknown as StoredUser[];
    return { problems, users };
  } finally {
    await rowsOf.close();
  }
}

interface Queryable {
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}

function sqliteQuery(file: string): Queryable {
  const db = new Database(file, { fileMustExist: true });
  return {
    query: async (sql) => db.prepare(sql).all() as Array<Record<string, unknown>>,
    close: async () => void db.close(),
  };
}

async function postgresQuery(url: string): Promise<Queryable> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    query: async (sql) => (await client.query(sql)).rows as Array<Record<string, unknown>>,
    close: () => client.end(),
  };
}
