// Account recovery on PostgreSQL (statements in ../recovery-sql.ts). Each
// call is one transaction whose first statement locks the code's or link's
// row: concurrent tries of one code queue on it and each re-checks the tries
// left, and a second use of a link finds it spent.
import { type EventDraft, withSubject } from "../events.js";
import {
  RECOVERY_SQL,
  type RecoveryOutcome,
  recoveryEvents,
  type SpentLinkRecord,
  type TriedCodeRecord,
} from "../recovery-sql.js";
import type { PasswordReset, User } from "../repository.js";
import { toUser, type UserRecord } from "../rows.js";
import { SQL } from "../sql.js";
import type { Database, Queryable } from "./database.js";
import { appendEvents } from "./events.js";
import { toPositional } from "./named-parameters.js";

async function run<R extends object>(tx: Queryable, sql: string, params: Record<string, unknown>): Promise<R[]> {
  const { text, values } = toPositional(sql, params);
  return (await tx.query<R & Record<string, unknown>>(text, values)).rows;
}

/** What a reset or a link did: its user (when it still has the address), and the events it wrote. */
export interface Recovered {
  user: User | undefined;
  written: EventDraft[];
}

async function verifiedUser(
  tx: Queryable,
  namespace: string,
  userId: string,
  email: string,
  now: number,
): Promise<RecoveryOutcome> {
  const { text, values } = toPositional(RECOVERY_SQL.markVerified, { namespace, user_id: userId, email, now });
  const verified = (await tx.query(text, values)).rowCount === 1;
  const [row] = await run<UserRecord>(tx, SQL.getUser, { namespace, id: userId });
  return { userId, user: row && toUser(row), verified };
}

/**
 * `events` are appended in the same transaction when the code matched (about
 * its user); `ifVerified` too when the reset is what verified the email.
 */
export function resetPassword(
  db: Database,
  r: PasswordReset,
  events: EventDraft[] = [],
  ifVerified: EventDraft[] = [],
): Promise<Recovered | undefined> {
  return db.transaction(async (tx) => {
    const [tried] = await run<TriedCodeRecord>(tx, RECOVERY_SQL.tryResetCode, {
      namespace: r.namespace,
      email: r.email,
      digest: r.digest,
      now: r.nowMs,
      max_attempts: r.maxAttempts,
    });
    if (!tried || Number(tried.spent_ms) === 0) return undefined;
    const user = { namespace: r.namespace, user_id: tried.user_id };
    // The passwords row is locked before the sessions are deleted, as in
    // replacePasswordHash: a login holding it FOR SHARE commits first, and
    // the DELETE then sees (and ends) its session.
    await run(tx, RECOVERY_SQL.setPassword, { ...user, hash: r.newHash, now: r.nowMs });
    await run(tx, SQL.deleteUserSessions, user);
    const outcome = await verifiedUser(tx, r.namespace, tried.user_id, r.email, r.nowMs);
    const written = withSubject(recoveryEvents(outcome, events, ifVerified), r.namespace, tried.user_id);
    await appendEvents(tx, written);
    return { user: outcome.user, written };
  });
}

export function spendMagicLink(
  db: Database,
  namespace: string,
  digest: Buffer,
  now: number,
  ifVerified: EventDraft[] = [],
): Promise<Recovered | undefined> {
  return db.transaction(async (tx) => {
    const [spent] = await run<SpentLinkRecord>(tx, RECOVERY_SQL.spendMagicLink, { namespace, digest, now });
    if (!spent) return undefined;
    const outcome = await verifiedUser(tx, namespace, spent.user_id, spent.email, now);
    const written = withSubject(recoveryEvents(outcome, [], ifVerified), namespace, spent.user_id);
    await appendEvents(tx, written);
    // A link sent to an address the user no longer has signs nobody in.
    return { user: outcome.user?.email === spent.email ? outcome.user : undefined, written };
  });
}
