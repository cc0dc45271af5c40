// The mail outbox's rows, as both SQL engines read them (same column names).
import type { NewOutboxMessage, OutboxMessage } from "../mail/outbox.js";

export const OUTBOX_COLUMNS =
  "id, namespace, recipient, subject, body, from_name, attempts, created_ms, expires_ms, token_purpose, token_digest, token_redirect_url, token_failure_redirect_url";

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
  token_purpose: string;
  token_digest: Buffer | null;
  token_redirect_url: string;
  token_failure_redirect_url: string;
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
    ...(row.token_purpose !== "" && row.token_digest
      ? {
          token: {
            purpose: row.token_purpose,
            digest: row.token_digest,
            redirectUrl: row.token_redirect_url,
            failureRedirectUrl: row.token_failure_redirect_url,
          },
        }
      : {}),
  };
}

/** The insert's values, in this order: id, namespace, recipient, subject, body, from_name, created_ms, expires_ms. */
export function outboxInsertValues(m: NewOutboxMessage): unknown[] {
  return [m.id, m.namespace, m.recipient, m.subject, m.text, m.fromName, m.createdMs, m.expiresMs];
}

export const OUTBOX_INSERT_COLUMNS =
  "id, namespace, recipient, subject, body, from_name, created_ms, expires_ms, next_attempt_ms";

/** A queued message's pending token (OutboxMessage.token), after the insert's other values. */
export const OUTBOX_TOKEN_COLUMNS = "token_purpose, token_digest, token_redirect_url, token_failure_redirect_url";

export function outboxTokenValues(m: NewOutboxMessage): unknown[] {
  const t = m.token;
  return t ? [t.purpose, t.digest, t.redirectUrl, t.failureRedirectUrl] : ["", null, "", ""];
}

/** Named parameters of bindMailToken's statements (../mail-token-bind.ts). */
export function bindParams(message: OutboxMessage, owner: string) {
  const t = message.token!;
  return {
    id: message.id,
    owner,
    namespace: message.namespace,
    email: message.recipient,
    purpose: t.purpose,
    digest: t.digest,
    created_ms: message.createdMs,
    expires_ms: message.expiresMs,
    redirect_url: t.redirectUrl,
    failure_redirect_url: t.failureRedirectUrl,
  };
}
