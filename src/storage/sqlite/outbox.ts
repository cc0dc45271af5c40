// The mail outbox on SQLite. One process writes at a time (SQLite's write
// lock), so a claim is a single UPDATE … RETURNING: two senders (a server and
// a CLI, say) can never take the same row.
import type { Database as Db } from "better-sqlite3";
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

export type SqliteOutbox = ReturnType<typeof prepareOutbox>;

export function prepareOutbox(db: Db) {
  const insert = db.prepare(
    `INSERT INTO mail_outbox (${OUTBOX_INSERT_COLUMNS}, ${OUTBOX_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const held = db.prepare(BIND_SQL.held);
  const upsertToken = db.prepare(BIND_SQL.upsertToken);
  const bound = db.prepare(BIND_SQL.bound);
  const drop = db.prepare(BIND_SQL.drop);
  const dropExpiredUnbound = db.prepare(BIND_SQL.dropExpiredUnbound);
  const claim = db.prepare(
    `UPDATE mail_outbox SET lease_owner = @owner, lease_until_ms = @now + @lease
     WHERE id IN (
       SELECT id FROM mail_outbox
       WHERE status = 'queued' AND next_attempt_ms <= @now AND lease_until_ms <= @now AND expires_ms > @now
       ORDER BY next_attempt_ms, id LIMIT @limit)
     RETURNING ${OUTBOX_COLUMNS}`,
  );
  const sent = db.prepare(
    `UPDATE mail_outbox SET status = 'sent', body = '', attempts = attempts + 1, finished_ms = @now,
       lease_owner = '', lease_until_ms = 0, reason = ''
     WHERE id = @id AND lease_owner = @owner AND status = 'queued'`,
  );
  const retry = db.prepare(
    `UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_ms = @next, reason = @reason,
       lease_owner = '', lease_until_ms = 0
     WHERE id = @id AND lease_owner = @owner AND status = 'queued'`,
  );
  const failed = db.prepare(
    `UPDATE mail_outbox SET status = 'failed', body = '', attempts = attempts + 1, finished_ms = @now,
       reason = @reason, lease_owner = '', lease_until_ms = 0
     WHERE id = @id AND lease_owner = @owner AND status = 'queued'`,
  );
  const stats = db.prepare(
    "SELECT count(*) AS queued, min(created_ms) AS oldest FROM mail_outbox WHERE status = 'queued'",
  );
  const expire = db.prepare(
    `UPDATE mail_outbox SET status = 'failed', body = '', finished_ms = @now, reason = 'expired before delivery: ' || reason
     WHERE id IN (
       SELECT id FROM mail_outbox
       WHERE status = 'queued' AND expires_ms <= @now AND lease_until_ms <= @now LIMIT @limit)`,
  );
  const purge = db.prepare(
    `DELETE FROM mail_outbox WHERE id IN (
       SELECT id FROM mail_outbox WHERE status IN ('sent', 'failed') AND finished_ms < @before LIMIT @limit)`,
  );

  return {
    /** Runs inside the caller's transaction when it carries a token. */
    insert(message: NewOutboxMessage): void {
      insert.run(...outboxInsertValues(message), message.createdMs, ...outboxTokenValues(message));
    },
    bind: db.transaction((message: OutboxMessage, owner: string): BindOutcome => {
      const params = bindParams(message, owner);
      if (!held.get(params)) return "not-held";
      if (upsertToken.run(params).changes === 1) {
        bound.run(params);
        return "bound";
      }
      drop.run(params);
      return "dropped";
    }),
    claim(owner: string, now: number, lease: number, limit: number): OutboxMessage[] {
      return (claim.all({ owner, now, lease, limit }) as OutboxRecord[]).map(toOutboxMessage);
    },
    sent(id: string, owner: string, now: number): void {
      sent.run({ id, owner, now });
    },
    retry(id: string, owner: string, next: number, reason: string): void {
      retry.run({ id, owner, next, reason });
    },
    failed(id: string, owner: string, now: number, reason: string): void {
      failed.run({ id, owner, now, reason });
    },
    stats(now: number): OutboxStats {
      const row = stats.get() as { queued: number; oldest: number | null };
      return { queued: row.queued, oldestQueuedMs: row.oldest === null ? 0 : Math.max(0, now - row.oldest) };
    },
    sweep: db.transaction((now: number, before: number, limit: number): OutboxSweep => {
      const dropped = dropExpiredUnbound.run({ now, limit }).changes;
      return {
        expired: expire.run({ now, limit }).changes,
        deleted: dropped + purge.run({ before, limit }).changes,
      };
    }),
  };
}
