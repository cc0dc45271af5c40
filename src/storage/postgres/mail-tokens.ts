// One-time mail tokens on PostgreSQL. The token and the mail that carries it
// are written by one statement (a CTE), so both or neither are committed.
import type { NewOutboxMessage } from "../../mail/outbox.js";
import { type SpentTokenRecord, tokenParams } from "../mail-token-rows.js";
import { OUTBOX_INSERT_COLUMNS, outboxInsertValues } from "../outbox-rows.js";
import type { NewMailToken, VerifyOutcome } from "../repository.js";
import { toUser, USER_COLUMNS, type UserRecord } from "../rows.js";
import type { Database, Queryable } from "./database.js";

export async function issueMailToken(db: Queryable, token: NewMailToken, message: NewOutboxMessage): Promise<boolean> {
  const t = tokenParams(token);
  // A new token replaces the user's previous one of the same purpose: the old link stops working.
  const { rowCount } = await db.query(
    `WITH token AS (
       INSERT INTO mail_tokens (namespace, purpose, user_id, digest, email, created_ms, expires_ms,
         redirect_url, failure_redirect_url)
       SELECT $1, $2, id, $3, email, $4, $5, $6, $7 FROM users WHERE namespace = $1 AND email = $8 AND disabled_ms = 0
       ON CONFLICT (namespace, purpose, user_id) DO UPDATE SET
         digest = excluded.digest, email = excluded.email, created_ms = excluded.created_ms,
         expires_ms = excluded.expires_ms, spent_ms = 0, attempts = 0,
         redirect_url = excluded.redirect_url, failure_redirect_url = excluded.failure_redirect_url
       RETURNING 1)
     INSERT INTO mail_outbox (${OUTBOX_INSERT_COLUMNS})
     SELECT $9, $10, $11, $12, $13, $14, $15, $16, $15 FROM token`,
    [
      t.namespace,
      t.purpose,
      t.digest,
      t.created_ms,
      t.expires_ms,
      t.redirect_url,
      t.failure_redirect_url,
      t.email,
      ...outboxInsertValues(message),
    ],
  );
  return (rowCount ?? 0) > 0;
}

export function verifyEmailToken(
  db: Database,
  namespace: string | null,
  digest: Buffer,
  nowMs: number,
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
        `UPDATE users SET verified_ms = $4
         WHERE namespace = $1 AND id = $2 AND email = $3 AND disabled_ms = 0 RETURNING ${USER_COLUMNS}`,
        [spent.namespace, spent.user_id, spent.email, nowMs],
      );
      if (rows[0]) return { verified: true, user: toUser(rows[0]), redirectUrl: spent.redirect_url };
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
