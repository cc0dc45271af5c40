// The event log on SQLite: appended inside the transaction of the write it
// describes (see ../events.ts), read newest first by ListEvents.
import type { Database as Db, Statement } from "better-sqlite3";
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

export type SqliteEvents = ReturnType<typeof prepareEvents>;

/** `written` is told of the events of each transaction once it committed. */
export function prepareEvents(db: Db, written: (events: EventDraft[]) => void) {
  const insert = db.prepare(
    `INSERT INTO events (namespace, type, user_id, actor_key, actor_session, request_id, created_ms, data)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // An event a webhook has still to deliver stays until it is delivered or given up.
  const sweep = db.prepare(
    `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE created_ms < ? AND NOT EXISTS (
       SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id AND d.state = 'pending') LIMIT ?)`,
  );
  const inTransaction = db.transaction(<T>(work: () => T): T => work());
  // One prepared statement per filter shape (at most 2^5 of them).
  const pages = new Map<string, Statement>();

  return {
    /**
     * Runs `work` and appends the events `written` returns for its result, in
     * one transaction; without events, runs `work` alone.
     */
    recording<T>(events: EventDraft[] | undefined, work: () => T, toWrite: (result: T) => EventDraft[]): T {
      if (!events?.length) return work();
      let appended: EventDraft[] = [];
      const result = inTransaction(() => {
        const result = work();
        appended = toWrite(result);
        for (const draft of appended) insert.run(...eventValues(draft));
        return result;
      }) as T;
      if (appended.length > 0) written(appended);
      return result;
    },
    list(query: EventQuery): StoredEvent[] {
      const { where, values } = eventFilter(query, () => "?");
      let stmt = pages.get(where);
      if (!stmt) {
        stmt = db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE ${where} ORDER BY id DESC LIMIT ?`);
        pages.set(where, stmt);
      }
      return (stmt.all(...values, query.limit) as EventRecord[]).map(toStoredEvent);
    },
    sweep: (beforeMs: number, limit: number): number => sweep.run(beforeMs, limit).changes,
  };
}
