// Signing keys on PostgreSQL (SQL in ../signing-key-sql.ts).
import {
  insertParams,
  retireParams,
  SIGNING_KEY_SQL,
  type SigningKeyRecord,
  toSigningKey,
} from "../signing-key-sql.js";
import type { SigningKeyRow } from "../signing-keys.js";
import type { Database, Queryable } from "./database.js";
import { toPositional } from "./named-parameters.js";

function run<R extends object>(db: Queryable, sql: string, params: Record<string, unknown>) {
  const { text, values } = toPositional(sql, params);
  return db.query<R & Record<string, unknown>>(text, values);
}

export async function listSigningKeys(db: Queryable): Promise<SigningKeyRow[]> {
  return (await run<SigningKeyRecord>(db, SIGNING_KEY_SQL.list, {})).rows.map(toSigningKey);
}

export function addSigningKey(db: Database, key: SigningKeyRow, retiredAfterMs: number): Promise<boolean> {
  return db.transaction(async (tx) => {
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same
    // generation to commit, then inserts nothing: one of two racing adds wins.
    const inserted = await run(tx, SIGNING_KEY_SQL.insert, insertParams(key));
    if ((inserted.rowCount ?? 0) === 0) return false;
    await run(tx, SIGNING_KEY_SQL.retireOlder, retireParams(key, retiredAfterMs));
    return true;
  });
}

export async function deleteRetiredSigningKeys(db: Queryable, nowMs: number): Promise<number> {
  return (await run(db, SIGNING_KEY_SQL.deleteRetired, { now: nowMs })).rowCount ?? 0;
}
