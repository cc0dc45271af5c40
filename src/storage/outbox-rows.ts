// The mail outbox's rows, as both SQL engines read them (same column names).
import type { NewOutboxMessage, OutboxMessage } from "../mail/outbox.js";

export const OUTBOX_COLUMNS = "id, namespace, recipient, subject, body, from_name, attempts, created_ms, expires_ms";

export interface OutboxRecord {
  id: string;
  namespace: string;
  recipient: string;
  subject: string;
  body: string;
  from_name: string;
  attempts: number | string;
  created_ms: number | string;
  expires_ms: number | string;
}

export function toOutboxMessage(row: OutboxRecord): OutboxMessage {
  return {
    id: row.id,
    namespace: row.namespace,
    recipient: row.recipient,
    subject: row.subject,
    text: row.body,
    fromName: row.from_name,
    attempts: Number(row.attempts),
    createdMs: Number(row.created_ms),
    expiresMs: Number(row.expires_ms),
  };
}

/** The insert's values, in this order: id, namespace, recipient, subject, body, from_name, created_ms, expires_ms. */
export function outboxInsertValues(m: NewOutboxMessage): unknown[] {
  return [m.id, m.namespace, m.recipient, m.subject, m.text, m.fromName, m.createdMs, m.expiresMs];
}

export const OUTBOX_INSERT_COLUMNS =
  "id, namespace, recipient, subject, body, from_name, created_ms, expires_ms, next_attempt_ms";
