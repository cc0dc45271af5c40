// The durable outbox's storage side, as the sender needs it. A message row is
// written in the same transaction as the token it carries (so a crash after
// the commit still sends it, and a rollback sends nothing); senders on every
// replica claim due rows with a lease, so each message goes out once.

export interface OutboxMessage {
  id: string;
  namespace: string;
  recipient: string;
  subject: string;
  text: string;
  fromName: string;
  /** Delivery attempts made before this one. */
  attempts: number;
  createdMs: number;
  /** After this the message is worthless (its token expired): it is given up, not sent. */
  expiresMs: number;
}

/** A message to queue: written by the flows, in the transaction that stores its token. */
export type NewOutboxMessage = Omit<OutboxMessage, "attempts">;

export interface OutboxStats {
  queued: number;
  /** Age of the oldest message still queued, in ms (0 when none). */
  oldestQueuedMs: number;
}

export interface OutboxStore {
  /**
   * Takes up to `limit` due messages (queued, next attempt at or before nowMs,
   * no live lease) for `owner` until nowMs + leaseMs. A message is claimed by
   * one owner at a time; a crashed owner's lease simply runs out.
   */
  claimMail(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<OutboxMessage[]>;
  /** Delivered: the body (which holds a token) is erased; ignored unless `owner` holds the lease. */
  markMailSent(id: string, owner: string, nowMs: number): Promise<void>;
  /** Failed for now: try again at nextAttemptMs; `reason` is kept for operators. */
  markMailRetry(id: string, owner: string, nextAttemptMs: number, reason: string): Promise<void>;
  /** Given up: the body is erased and `reason` kept. */
  markMailFailed(id: string, owner: string, nowMs: number, reason: string): Promise<void>;
  outboxStats(nowMs: number): Promise<OutboxStats>;
}
