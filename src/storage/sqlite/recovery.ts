// Account recovery on SQLite (statements in ../recovery-sql.ts): each call is
// one transaction, and SQLite runs one writer at a time, so a code's tries
// and a link's use are counted exactly.
import type { Database as Db } from "better-sqlite3";
import { RECOVERY_SQL, type RecoveryOutcome, type SpentLinkRecord, type TriedCodeRecord } from "../recovery-sql.js";
import type { PasswordReset } from "../repository.js";
import { toUser, type UserRecord } from "../rows.js";
import { SQL } from "../sql.js";

export type SqliteRecovery = ReturnType<typeof prepareRecovery>;

export function prepareRecovery(db: Db) {
  const tryCode = db.prepare(RECOVERY_SQL.tryResetCode);
  const setPassword = db.prepare(RECOVERY_SQL.setPassword);
  const deleteSessions = db.prepare(SQL.deleteUserSessions);
  const markVerified = db.prepare(RECOVERY_SQL.markVerified);
  const spendLink = db.prepare(RECOVERY_SQL.spendMagicLink);
  const getUser = db.prepare(SQL.getUser);

  const verifiedUser = (namespace: string, userId: string, email: string, now: number): RecoveryOutcome => {
    const verified = markVerified.run({ namespace, user_id: userId, email, now }).changes === 1;
    const row = getUser.get({ namespace, id: userId }) as UserRecord | undefined;
    return { userId, user: row && toUser(row), verified };
  };

  return {
    resetPassword: db.transaction((r: PasswordReset): RecoveryOutcome | undefined => {
      const tried = tryCode.get({
        namespace: r.namespace,
        email: r.email,
        digest: r.digest,
        now: r.nowMs,
        max_attempts: r.maxAttempts,
      }) as TriedCodeRecord | undefined;
      if (!tried || tried.spent_ms === 0) return undefined;
      const user = { namespace: r.namespace, user_id: tried.user_id };
      setPassword.run({ ...user, hash: r.newHash, now: r.nowMs });
      deleteSessions.run(user);
      return verifiedUser(r.namespace, tried.user_id, r.email, r.nowMs);
    }),
    spendMagicLink: db.transaction((namespace: string, digest: Buffer, now: number): RecoveryOutcome | undefined => {
      const spent = spendLink.get({ namespace, digest, now }) as SpentLinkRecord | undefined;
      if (!spent) return undefined;
      const outcome = verifiedUser(namespace, spent.user_id, spent.email, now);
      // A link sent to an address the user no longer has signs nobody in.
      return outcome.user?.email === spent.email ? outcome : { ...outcome, user: undefined };
    }),
  };
}
