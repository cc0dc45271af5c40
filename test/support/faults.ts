// Real faults in a real database, caused from a second connection, so tests
// can see how the service reports a database that is slow or broken:
// - holdWriteLock: another connection holds the write lock on `users`, so the
//   server's writes wait and then time out (DeadlineExceeded);
// - hideTable: a table is renamed away, so statements that use it fail in a
//   way no code expects (Internal).
// (A closed repository, `server.repo.close()`, is the "unreachable" case.)
import Database from "better-sqlite3";
import { parseDatabaseUrl } from "../../src/storage/database-url.js";

export interface StorageFault {
  /** Undoes the fault and closes the second connection. */
  release(): Promise<void>;
}

/** Takes the write lock on users from another connection until released; reads still work. */
export async function holdWriteLock(databaseUrl: string): Promise<StorageFault> {
  return withConnection(databaseUrl, {
    sqlite: ["BEGIN IMMEDIATE"],
    // EXCLUSIVE blocks writes only (reads take ACCESS SHARE), like SQLite's write lock in WAL mode.
    postgres: ["BEGIN", "LOCK TABLE users IN EXCLUSIVE MODE"],
    undo: ["ROLLBACK"],
  });
}

/** Renames `table` away until released: every statement that uses it fails with "no such table". */
export async function hideTable(databaseUrl: string, table: string): Promise<StorageFault> {
  const rename = `ALTER TABLE ${table} RENAME TO ${table}_hidden`;
  return withConnection(databaseUrl, {
    sqlite: [rename],
    postgres: [rename],
    undo: [`ALTER TABLE ${table}_hidden RENAME TO ${table}`],
  });
}

async function withConnection(
  databaseUrl: string,
  sql: { sqlite: string[]; postgres: string[]; undo: string[] },
): Promise<StorageFault> {
  const target = parseDatabaseUrl(databaseUrl);
  if (target.engine === "sqlite") {
    const db = new Database(target.path);
    db.pragma("busy_timeout = 5000");
    for (const statement of sql.sqlite) db.exec(statement);
    return {
      async release() {
        for (const statement of sql.undo) db.exec(statement);
        db.close();
      },
    };
  }
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  for (const statement of sql.postgres) await client.query(statement);
  return {
    async release() {
      for (const statement of sql.undo) await client.query(statement);
      await client.end();
    },
  };
}
