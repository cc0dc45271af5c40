// The append-only event log as storage sees it. An event is written by the
// write method it describes, in that method's own transaction, and only when
// the write took effect (a delete of nothing, a refused session insert, a
// password replace that lost its race write no event). Events are never
// updated; the sweeper trims them past EVENT_RETENTION_DAYS.

/** A scalar or a list of strings: event data is small and flat, and never holds a secret. */
export type EventValue = string | number | boolean | string[];

export interface EventDraft {
  type: string;
  /** "" for a key event of an admin key. Filled by the engine when the write finds it (verifyEmailToken). */
  namespace: string;
  /** The user the event is about; "" when none (a key event, a failed login of an unknown account). */
  userId: string;
  /** The API key that made the call ("cli" for the users-service command). */
  actorKey: string;
  /** The handle (hex SHA-256) of the session that proved the call, never the session id itself; "" if none. */
  actorSession: string;
  requestId: string;
  createdMs: number;
  data: Record<string, EventValue>;
}

export interface StoredEvent extends EventDraft {
  /** Increases with every event appended to the database. */
  id: number;
}

export interface EventQuery {
  namespace: string;
  /** "" for any. */
  userId: string;
  /** "" for any. */
  type: string;
  /** Inclusive lower bound on createdMs; 0 for none. */
  sinceMs: number;
  /** Exclusive upper bound on createdMs; 0 for none. */
  untilMs: number;
  /** Only events with a smaller id (the next page, newest first); 0 for the first page. */
  beforeId: number;
  limit: number;
}

/** Drafts with an empty namespace or user id take the ones the write found. */
export function withSubject(drafts: EventDraft[], namespace: string, userId: string): EventDraft[] {
  return drafts.map((d) => ({ ...d, namespace: d.namespace || namespace, userId: d.userId || userId }));
}

export const EVENT_COLUMNS = "id, namespace, type, user_id, actor_key, actor_session, request_id, created_ms, data";

export interface EventRecord {
  id: number | string;
  namespace: string;
  type: string;
  user_id: string;
  actor_key: string;
  actor_session: string;
  request_id: string;
  created_ms: number | string;
  data: string;
}

export function eventValues(d: EventDraft): unknown[] {
  return [d.namespace, d.type, d.userId, d.actorKey, d.actorSession, d.requestId, d.createdMs, JSON.stringify(d.data)];
}

export function toStoredEvent(row: EventRecord): StoredEvent {
  return {
    id: Number(row.id),
    namespace: row.namespace,
    type: row.type,
    userId: row.user_id,
    actorKey: row.actor_key,
    actorSession: row.actor_session,
    requestId: row.request_id,
    createdMs: Number(row.created_ms),
    data: JSON.parse(row.data) as Record<string, EventValue>,
  };
}

/** The WHERE clause of a page of events, with positional parameters ($n on PostgreSQL, ? on SQLite). */
export function eventFilter(
  query: EventQuery,
  placeholder: (n: number) => string,
): { where: string; values: unknown[] } {
  const clauses: string[] = [];
  const values: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    values.push(value);
    clauses.push(clause.replace("?", placeholder(values.length)));
  };
  add("namespace = ?", query.namespace);
  if (query.userId !== "") add("user_id = ?", query.userId);
  if (query.type !== "") add("type = ?", query.type);
  if (query.sinceMs > 0) add("created_ms >= ?", query.sinceMs);
  if (query.untilMs > 0) add("created_ms < ?", query.untilMs);
  if (query.beforeId > 0) add("id < ?", query.beforeId);
  return { where: clauses.join(" AND "), values };
}
