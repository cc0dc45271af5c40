// Signing keys on SQLite (SQL in ../signing-key-sql.ts).
import type { Database as Db } from "better-sqlite3";
import {
  insertParams,
  retireParams,
  SIGNING_KEY_SQL,
  type SigningKeyRecord,
  toSigningKey,
} from "../signing-key-sql.js";
import type { SigningKeyRow } from "../signing-keys.js";

export type SqliteSigningKeys = ReturnType<typeof prepareSigningKeys>;

export function prepareSigningKeys(db: Db) {
  const list = db.prepare(SIGNING_KEY_SQL.list);
  const insert = db.prepare(SIGNING_KEY_SQL.insert);
  const retireOlder = db.prepare(SIGNING_KEY_SQL.retireOlder);
  const deleteRetired = db.prepare(SIGNING_KEY_SQL.deleteRetired);
  return {
    list: (): SigningKeyRow[] => (list.all() as SigningKeyRecord[]).map(toSigningKey),
    add: db.transaction((key: SigningKeyRow, retiredAfterMs: number): boolean => {
      if (insert.run(insertParams(key)).changes === 0) return false;
      retireOlder.run(retireParams(key, retiredAfterMs));
      return true;
    }),
    deleteRetired: (nowMs: number): number => deleteRetired.run({ now: nowMs }).changes,
  };
}
