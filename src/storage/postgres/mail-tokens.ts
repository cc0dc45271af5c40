// One-time mail tokens on PostgreSQL: spending a verification token, and
// sweeping expired ones. (Tokens are stored by the outbox sender:
// ../mail-token-bind.ts.)
import { type EventDraft, withSubject } from "../events.js";
import type { SpentTokenRecord } from "../mail-token-rows.js";
import type { VerifyOutcome } from "../repository.js";
import { toUser, USER_COLUMNS, type UserRecord } from "../rows.js";
import type { Database, Queryable } from "./database.js";
import { appendEvents } from "./events.js";

export function verifyEmailToken(
  db: Database,
  namespace: string | null,
  digest: Buffer,
  nowMs: number,
  events: EventDraft[] = [],
): Promise<VerifyOutcome> {
  return db.transaction(async (tx) => {
    // The row lock makes a second use of the token wait, then find it spent.
    const spent = (
      await tx.query<SpentTokenRecord>(
        `UPDATE mail_tokens SET spent_ms = $3
         WHERE digest = $1 AND purpose = 'verify_email' AND spent_ms = 0 AND expires_ms > $3
           AND ($2::text IS NULL OR namespace = $2)
         RETURNING namespace, user_id, email, redirect_url`,
        [digest, namespace, nowMs],
      )
    ).rows[0];
    if (spent) {
      const { rows } = await tx.query<UserRecord>(
        `UPDATE users SET verified_ms = $4 WHERE namespace = $1 AND id = $2 AND email = $3 RETURNING ${USER_COLUMNS}`,
        [spent.namespace, spent.user_id, spent.email, nowMs],
      );
      if (rows[0]) {
        await appendEvents(tx, withSubject(events, spent.namespace, spent.user_id));
        return { verified: true, user: toUser(rows[0]), redirectUrl: spent.redirect_url, namespace: spent.namespace };
      }
    }
    const { rows } = await tx.query<{ failure_redirect_url: string }>(
      `SELECT failure_redirect_url FROM mail_tokens
       WHERE digest = $1 AND purpose = 'verify_email' AND ($2::text IS NULL OR namespace = $2)`,
      [digest, namespace],
    );
    return { verified: false, failureRedirectUrl: rows[0]?.failure_redirect_url ?? "" };
  });
}

export async function sweepMailTokens(db: Queryable, beforeMs: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM mail_tokens WHERE (namespace, purpose, user_id) IN (
       SELECT namespace, purpose, user_id FROM mail_tokens WHERE expires_ms < $1 LIMIT $2)`,
    [beforeMs, limit],
  );
  return rowCount ?? 0;
}
