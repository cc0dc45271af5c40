// Passkeys and ceremony challenges on SQLite (see ../passkey-store.ts).
import type { Database as Db } from "better-sqlite3";
import { PASSKEY_COLUMNS, type PasskeyRecord, passkeyParams, toPasskey } from "../passkey-rows.js";
import type { ChallengePurpose, NewChallenge, PasskeyInsert, PasskeyRow, TakenChallenge } from "../passkey-store.js";

export type SqlitePasskeys = ReturnType<typeof preparePasskeys>;

export function preparePasskeys(db: Db) {
  const insertChallenge = db.prepare(
    `INSERT INTO webauthn_challenges (digest, namespace, purpose, user_id, ticket_digest, created_ms, expires_ms)
     VALUES (@digest, @namespace, @purpose, @user_id, @ticket_digest, @created_ms, @expires_ms)`,
  );
  const takeChallenge = db.prepare(
    `DELETE FROM webauthn_challenges WHERE digest = @digest AND namespace = @namespace AND purpose = @purpose
     RETURNING user_id, ticket_digest, expires_ms`,
  );
  const sweepChallenges = db.prepare(
    `DELETE FROM webauthn_challenges WHERE digest IN (
       SELECT digest FROM webauthn_challenges WHERE expires_ms < ? LIMIT ?)`,
  );
  const userExists = db.prepare("SELECT 1 FROM users WHERE namespace = ? AND id = ?");
  const credentialTaken = db.prepare("SELECT 1 FROM passkeys WHERE namespace = ? AND credential_id = ?");
  const countOfUser = db.prepare("SELECT count(*) AS n FROM passkeys WHERE namespace = ? AND user_id = ?");
  const insert = db.prepare(
    `INSERT INTO passkeys (namespace, ${PASSKEY_COLUMNS})
     VALUES (@namespace, @id, @user_id, @credential_id, @public_key, @counter, @transports, @name,
       @created_ms, @last_used_ms)`,
  );
  const list = db.prepare(
    `SELECT ${PASSKEY_COLUMNS} FROM passkeys WHERE namespace = ? AND user_id = ? ORDER BY created_ms, id`,
  );
  const byCredential = db.prepare(`SELECT ${PASSKEY_COLUMNS} FROM passkeys WHERE namespace = ? AND credential_id = ?`);
  const use = db.prepare(
    `UPDATE passkeys SET counter = @new_counter, last_used_ms = @now
     WHERE namespace = @namespace AND id = @id AND counter = @expected`,
  );
  const remove = db.prepare("DELETE FROM passkeys WHERE namespace = ? AND user_id = ? AND id = ?");
  const any = db.prepare("SELECT 1 FROM passkeys WHERE namespace = ? AND user_id = ? LIMIT 1");

  return {
    insertChallenge: (c: NewChallenge): void => {
      insertChallenge.run({
        digest: c.digest,
        namespace: c.namespace,
        purpose: c.purpose,
        user_id: c.userId,
        ticket_digest: c.ticketDigest,
        created_ms: c.createdMs,
        expires_ms: c.expiresMs,
      });
    },
    takeChallenge: (
      namespace: string,
      digest: Buffer,
      purpose: ChallengePurpose,
      nowMs: number,
    ): TakenChallenge | undefined => {
      // Deleted whether or not it is still live: a challenge is never looked at twice.
      const row = takeChallenge.get({ digest, namespace, purpose }) as
        | { user_id: string; ticket_digest: Buffer; expires_ms: number }
        | undefined;
      if (!row || row.expires_ms <= nowMs) return undefined;
      return { userId: row.user_id, ticketDigest: Buffer.from(row.ticket_digest) };
    },
    sweepChallenges: (beforeMs: number, limit: number): number => sweepChallenges.run(beforeMs, limit).changes,
    insertPasskey: db.transaction((namespace: string, passkey: PasskeyRow, maxPerUser: number): PasskeyInsert => {
      if (!userExists.get(namespace, passkey.userId)) return "no_user";
      if (credentialTaken.get(namespace, passkey.credentialId)) return "duplicate";
      if ((countOfUser.get(namespace, passkey.userId) as { n: number }).n >= maxPerUser) return "limit";
      insert.run(passkeyParams(namespace, passkey));
      return "inserted";
    }),
    list: (namespace: string, userId: string): PasskeyRow[] =>
      (list.all(namespace, userId) as PasskeyRecord[]).map(toPasskey),
    byCredential: (namespace: string, credentialId: string): PasskeyRow | undefined => {
      const row = byCredential.get(namespace, credentialId) as PasskeyRecord | undefined;
      return row && toPasskey(row);
    },
    use: (namespace: string, id: string, expected: number, newCounter: number, now: number): boolean =>
      use.run({ namespace, id, expected, new_counter: newCounter, now }).changes === 1,
    remove: (namespace: string, userId: string, id: string): boolean => remove.run(namespace, userId, id).changes === 1,
    any: (namespace: string, userId: string): boolean => any.get(namespace, userId) !== undefined,
  };
}
