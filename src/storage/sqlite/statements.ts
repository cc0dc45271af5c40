// Every SQL statement of the SQLite engine, prepared once per connection.
// Multi-statement operations are SQLite transactions (db.transaction).
import type { Database as Db, Statement } from "better-sqlite3";
import type { ImportResult, User, UserExport } from "../repository.js";
import { SQL } from "../sql.js";
import { uniqueViolation } from "./errors.js";

export type SqliteStatements = ReturnType<typeof prepareStatements>;

/** Named parameters of the session insert. */
export interface SessionParams {
  id_digest: Buffer;
  namespace: string;
  user_id: string;
  created_ms: number;
  expires_ms: number;
  /** The password hash the login was checked against. */
  hash: string;
}

export function prepareStatements(db: Db) {
  const insertUser = db.prepare(
    `INSERT INTO users (namespace, id, username, email, created_ms, updated_ms)
     VALUES (@namespace, @id, @username, @email, @created_ms, @updated_ms)`,
  );
  const insertPassword = db.prepare("INSERT INTO passwords (namespace, user_id, hash, updated_ms) VALUES (?, ?, ?, ?)");
  const updatePassword = db.prepare(SQL.replacePassword);
  const insertSession = db.prepare(
    `INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
     SELECT @id_digest, @namespace, @user_id, @created_ms, @expires_ms
     WHERE EXISTS (SELECT 1 FROM passwords WHERE namespace = @namespace AND user_id = @user_id AND hash = @hash)`,
  );
  const clearThrottle = db.prepare("DELETE FROM login_throttle WHERE namespace = ? AND account = ?");
  const deleteUserSessions = db.prepare(SQL.deleteUserSessions);
  const deleteOneSession = db.prepare("DELETE FROM sessions WHERE id_digest = ? AND namespace = ? AND user_id = ?");
  const importUser = db.prepare(
    `INSERT INTO users (namespace, id, username, email, created_ms, updated_ms)
     VALUES (@namespace, @id, @username, @email, @created_ms, @updated_ms) ON CONFLICT DO NOTHING`,
  );
  const userParams = (namespace: string, user: User) => ({
    namespace,
    id: user.id,
    username: user.username,
    email: user.email,
    created_ms: user.createdMs,
    updated_ms: user.updatedMs,
  });

  return {
    insertUserTx: db.transaction((namespace: string, user: User, hash: string) => {
      try {
        insertUser.run(userParams(namespace, user));
      } catch (err) {
        throw uniqueViolation(err) ?? err;
      }
      insertPassword.run(namespace, user.id, hash, user.createdMs);
    }),
    replacePasswordTx: db.transaction(
      (namespace: string, userId: string, expected: string, next: string, nowMs: number, revoke: boolean): boolean => {
        const changed = updatePassword.run({ hash: next, updated_ms: nowMs, namespace, user_id: userId, expected });
        if (changed.changes !== 1) return false;
        if (revoke) deleteUserSessions.run({ namespace, user_id: userId });
        return true;
      },
    ),
    importUsersTx: db.transaction((batch: UserExport[]): ImportResult => {
      let inserted = 0;
      for (const item of batch) {
        if (importUser.run(userParams(item.namespace, item.user)).changes === 1) {
          insertPassword.run(item.namespace, item.user.id, item.passwordHash, item.user.updatedMs);
          inserted++;
        }
      }
      return { inserted, skipped: batch.length - inserted };
    }),
    schemaVersion: db.prepare(SQL.schemaVersion),
    getUser: db.prepare(SQL.getUser),
    credentialByUsername: db.prepare(SQL.credentialByUsername),
    credentialByEmail: db.prepare(SQL.credentialByEmail),
    credentialById: db.prepare(SQL.credentialById),
    updateUser: wrapUnique(db.prepare(SQL.updateUser)),
    deleteUser: db.prepare(SQL.deleteUser),
    insertSessionTx: db.transaction((params: SessionParams, endsThrottleOf: string | undefined): boolean => {
      if (insertSession.run(params).changes !== 1) return false;
      if (endsThrottleOf !== undefined) clearThrottle.run(params.namespace, endsThrottleOf);
      return true;
    }),
    getSession: db.prepare(SQL.getSession),
    deleteSession: db.prepare(SQL.deleteSession),
    deleteUserSessions,
    deleteSessionsTx: db.transaction((namespace: string, userId: string, digests: Buffer[]): number =>
      digests.reduce((n, d) => n + deleteOneSession.run(d, namespace, userId).changes, 0),
    ),
    listSessions: db.prepare(SQL.listSessions),
    sweepSessions: db.prepare(
      "DELETE FROM sessions WHERE id_digest IN (SELECT id_digest FROM sessions WHERE expires_ms <= ? LIMIT ?)",
    ),
    sweepThrottle: db.prepare(
      `DELETE FROM login_throttle WHERE (namespace, account) IN (
         SELECT namespace, account FROM login_throttle WHERE updated_ms < ? AND locked_until_ms <= ? LIMIT ?)`,
    ),
    getThrottle: db.prepare("SELECT failures, locked_until_ms FROM login_throttle WHERE namespace = ? AND account = ?"),
    // One statement, so concurrent failures of one account are each counted.
    // The lock doubles per failure past the limit: base << (failures - max), capped.
    // One statement: the lock check and the count cannot be split by another
    // attempt. A locked row is left alone (the WHERE), and nothing is returned.
    chargeAttempt: db.prepare(
      `INSERT INTO login_throttle (namespace, account, failures, locked_until_ms, updated_ms)
       VALUES (@namespace, @account, 1, CASE WHEN @max_failures <= 1 THEN @now + @base ELSE 0 END, @now)
       ON CONFLICT (namespace, account) DO UPDATE SET
         failures = failures + 1,
         updated_ms = @now,
         locked_until_ms = CASE
           WHEN failures + 1 < @max_failures THEN 0
           ELSE @now + min(@cap, @base << min(failures + 1 - @max_failures, @max_shift))
         END
       WHERE locked_until_ms <= @now
       RETURNING failures, locked_until_ms`,
    ),
    clearThrottle,
    insertKey: db.prepare(SQL.insertKey),
    importKey: db.prepare(SQL.importKey),
    findKey: db.prepare(SQL.findKey),
    listKeys: db.prepare(SQL.listKeys),
    exportKeys: db.prepare(SQL.exportKeys),
    revokeKey: db.prepare(SQL.revokeKey),
    countUsers: db.prepare(SQL.countUsers),
    exportUsersFirst: db.prepare(SQL.exportUsersFirst),
    exportUsersAfter: db.prepare(SQL.exportUsersAfter),
  };
}

/** Wraps a statement's get() so a UNIQUE failure becomes UniqueViolation. */
function wrapUnique(stmt: Statement): Pick<Statement, "get"> {
  return {
    get: (...args: unknown[]) => {
      try {
        return stmt.get(...args);
      } catch (err) {
        throw uniqueViolation(err) ?? err;
      }
    },
  } as Pick<Statement, "get">;
}
