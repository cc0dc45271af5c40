// Reads a database the service wrote, from a connection of its own: what is
// really stored (erased bodies, digests instead of tokens).
import Database from "better-sqlite3";
import { parseDatabaseUrl } from "../../src/storage/database-url.js";

export async function rawQuery(databaseUrl: string, sql: string): Promise<Array<Record<string, unknown>>> {
  const target = parseDatabaseUrl(databaseUrl);
  if (target.engine === "sqlite") {
    const db = new Database(target.path, { fileMustExist: true, readonly: true });
    try {
      return db.prepare(sql).all() as Array<Record<string, unknown>>;
    } finally {
      db.close();
    }
  }
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: target.url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Array<Record<string, unknown>>;
  } finally {
    await client.end();
  }
}
