// Every SQL statement of the SQLite engine, prepared once per connection.
// Multi-statement operations are SQLite transactions (db.transaction).
import type { Database as Db, Statement } from "better-sqlite3";
import type {
  ImportResult,
  LoginAttemptRef,
  LoginReservation,
  SessionInsertOptions,
  User,
  UserChanges,
  UserExport,
} from "../repository.js";
import { editedProfileText, type UserRecord, updateUserParameters, userParameters } from "../rows.js";
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
  const insertUser = db.prepare(SQL.insertUser);
  const updateUser = wrapUnique(db.prepare(SQL.updateUser));
  const profileForUpdate = db.prepare(SQL.profileForUpdate);
  const insertPassword = db.prepare("INSERT INTO passwords (namespace, user_id, hash, updated_ms) VALUES (?, ?, ?, ?)");
  const updatePassword = db.prepare(SQL.replacePassword);
  const setPassword = db.prepare(SQL.setPassword);
  const setDisabled = db.prepare(SQL.setDisabled);
  const insertSession = db.prepare(
    `INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
     SELECT @id_digest, @namespace, @user_id, @created_ms, @expires_ms
     WHERE EXISTS (SELECT 1 FROM passwords WHERE namespace = @namespace AND user_id = @user_id AND hash = @hash)
       AND NOT EXISTS (SELECT 1 FROM users WHERE namespace = @namespace AND id = @user_id AND disabled_ms <> 0)`,
  );
  const clearThrottle = db.prepare("DELETE FROM login_throttle WHERE namespace = ? AND account = ?");
  const getThrottle = db.prepare(
    "SELECT failures, locked_until_ms FROM login_throttle WHERE namespace = ? AND account = ?",
  );
  const countAttempts = db.prepare(
    "SELECT count(*) AS n FROM login_attempts WHERE namespace = ? AND account = ? AND expires_ms > ?",
  );
  const insertAttempt = db.prepare(
    "INSERT INTO login_attempts (namespace, account, attempt, expires_ms) VALUES (?, ?, ?, ?)",
  );
  const deleteAttempt = db.prepare("DELETE FROM login_attempts WHERE namespace = ? AND account = ? AND attempt = ?");
  // The lock doubles per failure past the limit: base << (failures - max),
  // capped (the shift bounded first), never shortening a lock already there.
  const recordFailure = db.prepare(
    `INSERT INTO login_throttle (namespace, account, failures, locked_until_ms, updated_ms)
     VALUES (@namespace, @account, 1, CASE WHEN @max_failures <= 1 THEN @now + @base ELSE 0 END, @now)
     ON CONFLICT (namespace, account) DO UPDATE SET
       failures = failures + 1,
       updated_ms = @now,
       locked_until_ms = CASE
         WHEN failures + 1 < @max_failures THEN locked_until_ms
         ELSE max(locked_until_ms, @now + min(@cap, @base << min(failures + 1 - @max_failures, @max_shift)))
       END`,
  );
  // Keeps the user's newest `keep` sessions besides the new one; the rest go,
  // at most 1000 per login (a user over the cap from before it existed comes
  // down a batch per login instead of in one long write).
  const trimSessions = db.prepare(
    `DELETE FROM sessions WHERE id_digest IN (
       SELECT id_digest FROM sessions
       WHERE namespace = @namespace AND user_id = @user_id AND id_digest <> @id_digest
       ORDER BY created_ms DESC, id_digest DESC LIMIT 1000 OFFSET @keep)`,
  );
  const deleteUserSessions = db.prepare(SQL.deleteUserSessions);
  const deleteOneSession = db.prepare("DELETE FROM sessions WHERE id_digest = ? AND namespace = ? AND user_id = ?");
  const importUser = db.prepare(`${SQL.insertUser} ON CONFLICT DO NOTHING`);
  const userParams = userParameters;

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
    setPasswordTx: db.transaction(
      (namespace: string, userId: string, hash: string, nowMs: number, accounts: string[]): boolean => {
        if (setPassword.run({ hash, updated_ms: nowMs, namespace, user_id: userId }).changes !== 1) return false;
        deleteUserSessions.run({ namespace, user_id: userId });
        for (const account of accounts) clearThrottle.run(namespace, account);
        return true;
      },
    ),
    setDisabledTx: db.transaction(
      (namespace: string, id: string, disabledMs: number, nowMs: number): UserRecord | undefined => {
        const row = setDisabled.get({ namespace, id, disabled_ms: disabledMs, updated_ms: nowMs }) as
          | UserRecord
          | undefined;
        if (row) deleteUserSessions.run({ namespace, user_id: id });
        return row;
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
    listUsers: db.prepare(SQL.listUsers),
    getUserByUsername: db.prepare(SQL.getUserByUsername),
    getUserByEmail: db.prepare(SQL.getUserByEmail),
    credentialByUsername: db.prepare(SQL.credentialByUsername),
    credentialByEmail: db.prepare(SQL.credentialByEmail),
    credentialById: db.prepare(SQL.credentialById),
    updateUser,
    // One transaction (SQLite runs one writer at a time): the profile edit is
    // merged into the profile as stored when it is written.
    updateUserTx: db.transaction(
      (namespace: string, id: string, changes: UserChanges, updatedMs: number): UserRecord | undefined => {
        let profile: string | null = null;
        if (changes.profile) {
          const stored = profileForUpdate.get({ namespace, id }) as { profile: string } | undefined;
          if (!stored) return undefined;
          profile = editedProfileText(stored.profile, changes.profile);
        }
        return updateUser.get(updateUserParameters(namespace, id, changes, updatedMs, profile)) as
          | UserRecord
          | undefined;
      },
    ),
    deleteUser: db.prepare(SQL.deleteUser),
    insertSessionTx: db.transaction((params: SessionParams, options: SessionInsertOptions): boolean => {
      if (insertSession.run(params).changes !== 1) return false;
      if (options.maxSessions !== undefined) {
        trimSessions.run({
          namespace: params.namespace,
          user_id: params.user_id,
          id_digest: params.id_digest,
          keep: Math.max(0, options.maxSessions - 1),
        });
      }
      const ends = options.endsAttempt;
      for (const account of ends?.accounts ?? []) {
        deleteAttempt.run(params.namespace, account, ends!.attempt);
        clearThrottle.run(params.namespace, account);
      }
      return true;
    }),
    // A write transaction from its first statement (run it with .immediate):
    // SQLite runs one writer at a time, so the checks and the inserts cannot
    // be split by another attempt (of any process). An account without a
    // throttle row has no failures; the row is made by its first failure, so
    // a right password writes none.
    reserveAttemptTx: db.transaction(
      (namespace: string, ref: LoginAttemptRef, now: number, leaseMs: number, maxFailures: number) => {
        let lockedUntilMs = 0;
        let full = false;
        for (const account of ref.accounts) {
          const row = (getThrottle.get(namespace, account) as
            | { failures: number; locked_until_ms: number }
            | undefined) ?? { failures: 0, locked_until_ms: 0 };
          if (row.locked_until_ms > now) lockedUntilMs = Math.max(lockedUntilMs, row.locked_until_ms);
          const inFlight = (countAttempts.get(namespace, account, now) as { n: number }).n;
          if (inFlight >= Math.max(maxFailures - row.failures, 1)) full = true;
        }
        if (lockedUntilMs > 0 || full) return { admitted: false, lockedUntilMs } satisfies LoginReservation;
        for (const account of ref.accounts) insertAttempt.run(namespace, account, ref.attempt, now + leaseMs);
        return { admitted: true } satisfies LoginReservation;
      },
    ),
    failAttemptTx: db.transaction((namespace: string, ref: LoginAttemptRef, params: Record<string, number>) => {
      for (const account of ref.accounts) {
        deleteAttempt.run(namespace, account, ref.attempt);
        recordFailure.run({ ...params, namespace, account });
      }
    }),
    endAttemptTx: db.transaction((namespace: string, ref: LoginAttemptRef, clearFailures: boolean) => {
      for (const account of ref.accounts) {
        deleteAttempt.run(namespace, account, ref.attempt);
        if (clearFailures) clearThrottle.run(namespace, account);
      }
    }),
    deleteSessionBatch: db.prepare(SQL.deleteSessionBatch),
    getSession: db.prepare(SQL.getSession),
    deleteSession: db.prepare(`${SQL.deleteSession} RETURNING user_id`),
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
    getThrottle,
    sweepAttempts: db.prepare(
      `DELETE FROM login_attempts WHERE (namespace, account, attempt) IN (
         SELECT namespace, account, attempt FROM login_attempts WHERE expires_ms <= ? LIMIT ?)`,
    ),
    clearThrottle,
    insertKey: db.prepare(SQL.insertKey),
    importKey: db.prepare(SQL.importKey),
    findKey: db.prepare(SQL.findKey),
    listKeys: db.prepare(SQL.listKeys),
    exportKeys: db.prepare(SQL.exportKeys),
    revokeKey: db.prepare(SQL.revokeKey),
    chargeRateLimit: db.prepare(
      `INSERT INTO rate_limits AS r (bucket, window_start_ms, count) VALUES (@bucket, @window_start_ms, 1)
       ON CONFLICT (bucket) DO UPDATE SET
         count = CASE WHEN r.window_start_ms >= excluded.window_start_ms THEN r.count + 1 ELSE 1 END,
         window_start_ms = max(r.window_start_ms, excluded.window_start_ms)
       WHERE r.window_start_ms < excluded.window_start_ms OR r.count < @limit
       RETURNING count`,
    ),
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
