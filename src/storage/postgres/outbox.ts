// The mail outbox on PostgreSQL, shared by every replica. A claim locks the
// due rows it takes with FOR UPDATE SKIP LOCKED: replicas claiming at the same
// moment take disjoint rows instead of waiting on each other, and the lease
// (lease_until_ms) keeps a row out of other claims until it runs out, so a
// message is handed to one sender at a time, and a crashed sender's rows come
// back once its lease ends.
import type { BindOutcome, NewOutboxMessage, OutboxMessage, OutboxStats, OutboxSweep } from "../../mail/outbox.js";
import { BIND_SQL } from "../mail-token-bind.js";
import {
  bindParams,
  OUTBOX_COLUMNS,
  OUTBOX_INSERT_COLUMNS,
  OUTBOX_TOKEN_COLUMNS,
  type OutboxRecord,
  outboxInsertValues,
  outboxTokenValues,
  toOutboxMessage,
} from "../outbox-rows.js";
import type { Database, Queryable } from "./database.js";
import { toPositional } from "./named-parameters.js";

export async function insertMail(db: Queryable, message: NewOutboxMessage): Promise<void> {
  await db.query(
    `INSERT INTO mail_outbox (${OUTBOX_INSERT_COLUMNS}, ${OUTBOX_TOKEN_COLUMNS})
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9, $10, $11, $12)`,
    [...outboxInsertValues(message), ...outboxTokenValues(message)],
  );
}

export function bindMailToken(db: Database, message: OutboxMessage, owner: string): Promise<BindOutcome> {
  const params = bindParams(message, owner);
  const run = (tx: Queryable, sql: string) => {
    const { text, values } = toPositional(sql, params);
    return tx.query(text, values);
  };
  return db.transaction(async (tx) => {
    if ((await run(tx, `${BIND_SQL.held} FOR UPDATE`)).rowCount !== 1) return "not-held";
    if ((await run(tx, BIND_SQL.upsertToken)).rowCount === 1) {
      await run(tx, BIND_SQL.bound);
      return "bound";
    }
    await run(tx, BIND_SQL.drop);
    return "dropped";
  });
}

export async function claimMail(
  db: Queryable,
  owner: string,
  nowMs: number,
  leaseMs: number,
  limit: number,
): Promise<OutboxMessage[]> {
  const { rows } = await db.query<OutboxRecord>(
    `UPDATE mail_outbox SET lease_owner = $1, lease_until_ms = $2 + $3
     WHERE id IN (
       SELECT id FROM mail_outbox
       WHERE status = 'queued' AND next_attempt_ms <= $2 AND lease_until_ms <= $2 AND expires_ms > $2
       ORDER BY next_attempt_ms, id LIMIT $4
       FOR UPDATE SKIP LOCKED)
     RETURNING ${OUTBOX_COLUMNS}`,
    [owner, nowMs, leaseMs, limit],
  );
  return rows.map(toOutboxMessage).sort((a, b) => a.createdMs - b.createdMs || a.id.localeCompare(b.id));
}

export async function markMailSent(db: Queryable, id: string, owner: string, nowMs: number): Promise<void> {
  await db.query(
    `UPDATE mail_outbox SET status = 'sent', body = '', attempts = attempts + 1, finished_ms = $3,
       lease_owner = '', lease_until_ms = 0, reason = ''
     WHERE id = $1 AND lease_owner = $2 AND status = 'queued'`,
    [id, owner, nowMs],
  );
}

export async function markMailRetry(
  db: Queryable,
  id: string,
  owner: string,
  nextAttemptMs: number,
  reason: string,
): Promise<void> {
  await db.query(
    `UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_ms = $3, reason = $4,
       lease_owner = '', lease_until_ms = 0
     WHERE id = $1 AND lease_owner = $2 AND status = 'queued'`,
    [id, owner, nextAttemptMs, reason],
  );
}

export async function markMailFailed(
  db: Queryable,
  id: string,
  owner: string,
  nowMs: number,
  reason: string,
): Promise<void> {
  await db.query(
    `UPDATE mail_outbox SET status = 'failed', body = '', attempts = attempts + 1, finished_ms = $3,
       reason = $4, lease_owner = '', lease_until_ms = 0
     WHERE id = $1 AND lease_owner = $2 AND status = 'queued'`,
    [id, owner, nowMs, reason],
  );
}

export async function outboxStats(db: Queryable, nowMs: number): Promise<OutboxStats> {
  const { rows } = await db.query<{ queued: number; oldest: number | null }>(
    "SELECT count(*) AS queued, min(created_ms) AS oldest FROM mail_outbox WHERE status = 'queued'",
  );
  const row = rows[0]!;
  return { queued: row.queued, oldestQueuedMs: row.oldest === null ? 0 : Math.max(0, nowMs - row.oldest) };
}

export async function sweepOutbox(
  db: Queryable,
  nowMs: number,
  finishedBeforeMs: number,
  limit: number,
): Promise<OutboxSweep> {
  const unbound = toPositional(BIND_SQL.dropExpiredUnbound, { now: nowMs, limit });
  const dropped = (await db.query(unbound.text, unbound.values)).rowCount ?? 0;
  const expired = await db.query(
    `UPDATE mail_outbox SET status = 'failed', body = '', finished_ms = $1,
       reason = 'expired before delivery: ' || reason
     WHERE id IN (
       SELECT id FROM mail_outbox
       WHERE status = 'queued' AND expires_ms <= $1 AND lease_until_ms <= $1
       LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [nowMs, limit],
  );
  const deleted = await db.query(
    `DELETE FROM mail_outbox WHERE id IN (
       SELECT id FROM mail_outbox WHERE status IN ('sent', 'failed') AND finished_ms < $1 LIMIT $2)`,
    [finishedBeforeMs, limit],
  );
  return { expired: expired.rowCount ?? 0, deleted: dropped + (deleted.rowCount ?? 0) };
}
