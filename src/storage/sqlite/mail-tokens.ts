// One-time mail tokens on SQLite: a token and the mail that carries it are
// written in one transaction, so a mail never goes out with a token that was
// not stored, and a stored token always has its mail queued.
import type { Database as Db } from "better-sqlite3";
import type { NewOutboxMessage } from "../../mail/outbox.js";
import { type SpentTokenRecord, tokenParams } from "../mail-token-rows.js";
import { OUTBOX_INSERT_COLUMNS, outboxInsertValues } from "../outbox-rows.js";
import type { NewMailToken, VerifyOutcome } from "../repository.js";
import { toUser, USER_COLUMNS, type UserRecord } from "../rows.js";

export type SqliteMailTokens = ReturnType<typeof prepareMailTokens>;

export function prepareMailTokens(db: Db) {
  // A new token replaces the user's previous one of the same purpose: the old link stops working.
  const upsert = db.prepare(
    `INSERT INTO mail_tokens (namespace, purpose, user_id, digest, email, created_ms, expires_ms,
       redirect_url, failure_redirect_url)
     SELECT @namespace, @purpose, id, @digest, email, @created_ms, @expires_ms, @redirect_url, @failure_redirect_url
       FROM users WHERE namespace = @namespace AND email = @email AND disabled_ms = 0
     ON CONFLICT (namespace, purpose, user_id) DO UPDATE SET
       digest = excluded.digest, email = excluded.email, created_ms = excluded.created_ms,
       expires_ms = excluded.expires_ms, spent_ms = 0, attempts = 0,
       redirect_url = excluded.redirect_url, failure_redirect_url = excluded.failure_redirect_url`,
  );
  const insertMail = db.prepare(
    `INSERT INTO mail_outbox (${OUTBOX_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const spend = db.prepare(
    `UPDATE mail_tokens SET spent_ms = @now
     WHERE digest = @digest AND purpose = 'verify_email' AND spent_ms = 0 AND expires_ms > @now
       AND (@namespace IS NULL OR namespace = @namespace)
     RETURNING namespace, user_id, email, redirect_url`,
  );
  const markVerified = db.prepare(
    `UPDATE users SET verified_ms = @now
     WHERE namespace = @namespace AND id = @id AND email = @email AND disabled_ms = 0
     RETURNING ${USER_COLUMNS}`,
  );
  const failureUrl = db.prepare(
    `SELECT failure_redirect_url FROM mail_tokens
     WHERE digest = @digest AND purpose = 'verify_email' AND (@namespace IS NULL OR namespace = @namespace)`,
  );
  const sweep = db.prepare(
    `DELETE FROM mail_tokens WHERE (namespace, purpose, user_id) IN (
       SELECT namespace, purpose, user_id FROM mail_tokens WHERE expires_ms < ? LIMIT ?)`,
  );

  return {
    issue: db.transaction((token: NewMailToken, message: NewOutboxMessage): boolean => {
      if (upsert.run(tokenParams(token)).changes === 0) return false;
      insertMail.run(...outboxInsertValues(message), message.createdMs);
      return true;
    }),
    verify: db.transaction((namespace: string | null, digest: Buffer, now: number): VerifyOutcome => {
      const spent = spend.get({ digest, namespace, now }) as SpentTokenRecord | undefined;
      const user =
        spent &&
        (markVerified.get({ now, namespace: spent.namespace, id: spent.user_id, email: spent.email }) as
          | UserRecord
          | undefined);
      if (spent && user) return { verified: true, user: toUser(user), redirectUrl: spent.redirect_url };
      const row = failureUrl.get({ digest, namespace }) as { failure_redirect_url: string } | undefined;
      return { verified: false, failureRedirectUrl: row?.failure_redirect_url ?? "" };
    }),
    sweep: (beforeMs: number, limit: number): number => sweep.run(beforeMs, limit).changes,
  };
}
