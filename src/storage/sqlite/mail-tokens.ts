// One-time mail tokens on SQLite: spending a verification token, and
// sweeping expired ones. (Tokens are stored by the outbox sender:
// ../mail-token-bind.ts.)
import type { Database as Db } from "better-sqlite3";
import type { SpentTokenRecord } from "../mail-token-rows.js";
import type { VerifyOutcome } from "../repository.js";
import { toUser, USER_COLUMNS, type UserRecord } from "../rows.js";

export type SqliteMailTokens = ReturnType<typeof prepareMailTokens>;

export function prepareMailTokens(db: Db) {
  const spend = db.prepare(
    `UPDATE mail_tokens SET spent_ms = @now
     WHERE digest = @digest AND purpose = 'verify_email' AND spent_ms = 0 AND expires_ms > @now
       AND (@namespace IS NULL OR namespace = @namespace)
     RETURNING namespace, user_id, email, redirect_url`,
  );
  const markVerified = db.prepare(
    `UPDATE users SET verified_ms = @now WHERE namespace = @namespace AND id = @id AND email = @email
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
    verify: db.transaction((namespace: string | null, digest: Buffer, now: number): VerifyOutcome => {
      const spent = spend.get({ digest, namespace, now }) as SpentTokenRecord | undefined;
      const user =
        spent &&
        (markVerified.get({ now, namespace: spent.namespace, id: spent.user_id, email: spent.email }) as
          | UserRecord
          | undefined);
      if (spent && user) {
        return { verified: true, user: toUser(user), redirectUrl: spent.redirect_url, namespace: spent.namespace };
      }
      const row = failureUrl.get({ digest, namespace }) as { failure_redirect_url: string } | undefined;
      return { verified: false, failureRedirectUrl: row?.failure_redirect_url ?? "" };
    }),
    sweep: (beforeMs: number, limit: number): number => sweep.run(beforeMs, limit).changes,
  };
}
