// The event log on PostgreSQL: appended inside the transaction of the write
// it describes (see ../events.ts), read newest first by ListEvents. Ids come
// from an identity sequence: they only grow, though a transaction that took
// an id may commit after one that took a later id.
import {
  EVENT_COLUMNS,
  type EventDraft,
  type EventQuery,
  type EventRecord,
  eventFilter,
  eventValues,
  type StoredEvent,
  toStoredEvent,
} from "../events.js";
import type { Queryable } from "./database.js";

const FIELDS = 8;

export async function appendEvents(db: Queryable, drafts: EventDraft[]): Promise<void> {
  if (drafts.length === 0) return;
  const rows = drafts.map(
    (_, i) => `(${Array.from({ length: FIELDS }, (_, j) => `$${i * FIELDS + j + 1}`).join(", ")})`,
  );
  await db.query(
    `INSERT INTO events (namespace, type, user_id, actor_key, actor_session, request_id, created_ms, data)
     VALUES ${rows.join(", ")}`,
    drafts.flatMap(eventValues),
  );
}

export async function listEvents(db: Queryable, query: EventQuery): Promise<StoredEvent[]> {
  const { where, values } = eventFilter(query, (n) => `$${n}`);
  const { rows } = await db.query<EventRecord>(
    `SELECT ${EVENT_COLUMNS} FROM events WHERE ${where} ORDER BY id DESC LIMIT $${values.length + 1}`,
    [...values, query.limit],
  );
  return rows.map(toStoredEvent);
}

export async function sweepEvents(db: Queryable, beforeMs: number, limit: number): Promise<number> {
  const { rowCount } = await db.query(
    // An event a webhook has still to deliver stays until it is delivered or given up.
    `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_ms < $1 AND NOT EXISTS (
       SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id AND d.state = 'pending')
     LIMIT $2 FOR UPDATE SKIP LOCKED)`,
    [beforeMs, limit],
  );
  return rowCount ?? 0;
}
