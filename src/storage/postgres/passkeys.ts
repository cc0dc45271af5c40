// Passkeys and ceremony challenges on PostgreSQL (see ../passkey-store.ts).
import { PASSKEY_COLUMNS, type PasskeyRecord, passkeyParams, toPasskey } from "../passkey-rows.js";
import type { ChallengePurpose, NewChallenge, PasskeyInsert, PasskeyRow, TakenChallenge } from "../passkey-store.js";
import type { Database, Queryable } from "./database.js";

export async function insertChallenge(db: Queryable, c: NewChallenge): Promise<void> {
  await db.query(
    `INSERT INTO webauthn_challenges (digest, namespace, purpose, user_id, ticket_digest, created_ms, expires_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [c.digest, c.namespace, c.purpose, c.userId, c.ticketDigest, c.createdMs, c.expiresMs],
  );
}

export async function takeChallenge(
  db: Queryable,
  namespace: string,
  digest: Buffer,
  purpose: ChallengePurpose,
  nowMs: number,
): Promise<TakenChallenge | undefined> {
  // The row lock makes a second, concurrent use wait, then find nothing to delete.
  const { rows } = await db.query<{ user_id: string; ticket_digest: Buffer; expires_ms: number }>(
    `DELETE FROM webauthn_challenges WHERE digest = $1 AND namespace = $2 AND purpose = $3
     RETURNING user_id, ticket_digest, expires_ms`,
    [digest, namespace, purpose],
  );
  const row = rows[0];
  if (!row || row.expires_ms <= nowMs) return undefined;
  return { userId: row.user_id, ticketDigest: Buffer.from(row.ticket_digest) };
}

export async function sweepChallenges(db: Queryable, beforeMs: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM webauthn_challenges WHERE digest IN (
       SELECT digest FROM webauthn_challenges WHERE expires_ms < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [beforeMs, limit],
  );
  return rowCount ?? 0;
}

export function insertPasskey(
  db: Database,
  namespace: string,
  passkey: PasskeyRow,
  maxPerUser: number,
): Promise<PasskeyInsert> {
  return db.transaction(async (tx) => {
    // The user's row lock orders concurrent registrations of one user, so
    // the count below stays true until this one commits.
    const user = await tx.query("SELECT 1 FROM users WHERE namespace = $1 AND id = $2 FOR UPDATE", [
      namespace,
      passkey.userId,
    ]);
    if (user.rowCount === 0) return "no_user";
    const count = await tx.query<{ n: number }>(
      "SELECT count(*) AS n FROM passkeys WHERE namespace = $1 AND user_id = $2",
      [namespace, passkey.userId],
    );
    if ((count.rows[0]?.n ?? 0) >= maxPerUser) return "limit";
    const p = passkeyParams(namespace, passkey);
    const inserted = await tx.query(
      `INSERT INTO passkeys (namespace, ${PASSKEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (namespace, credential_id) DO NOTHING`,
      [
        p.namespace,
        p.id,
        p.user_id,
        p.credential_id,
        p.public_key,
        p.counter,
        p.transports,
        p.name,
        p.created_ms,
        p.last_used_ms,
      ],
    );
    return inserted.rowCount === 1 ? "inserted" : "duplicate";
  });
}

export async function listPasskeys(db: Queryable, namespace: string, userId: string): Promise<PasskeyRow[]> {
  const { rows } = await db.query<PasskeyRecord>(
    `SELECT ${PASSKEY_COLUMNS} FROM passkeys WHERE namespace = $1 AND user_id = $2 ORDER BY created_ms, id`,
    [namespace, userId],
  );
  return rows.map(toPasskey);
}

export async function findPasskeyByCredential(
  db: Queryable,
  namespace: string,
  credentialId: string,
): Promise<PasskeyRow | undefined> {
  const { rows } = await db.query<PasskeyRecord>(
    `SELECT ${PASSKEY_COLUMNS} FROM passkeys WHERE namespace = $1 AND credential_id = $2`,
    [namespace, credentialId],
  );
  return rows[0] && toPasskey(rows[0]);
}

export async function usePasskey(
  db: Queryable,
  namespace: string,
  id: string,
  expected: number,
  newCounter: number,
  nowMs: number,
): Promise<boolean> {
  const { rowCount } = await db.query(
    "UPDATE passkeys SET counter = $4, last_used_ms = $5 WHERE namespace = $1 AND id = $2 AND counter = $3",
    [namespace, id, expected, newCounter, nowMs],
  );
  return rowCount === 1;
}

export async function deletePasskey(db: Queryable, namespace: string, userId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM passkeys WHERE namespace = $1 AND user_id = $2 AND id = $3", [
    namespace,
    userId,
    id,
  ]);
  return rowCount === 1;
}

export async function hasPasskey(db: Queryable, namespace: string, userId: string): Promise<boolean> {
  const { rowCount } = await db.query("SELECT 1 FROM passkeys WHERE namespace = $1 AND user_id = $2 LIMIT 1", [
    namespace,
    userId,
  ]);
  return (rowCount ?? 0) > 0;
}
