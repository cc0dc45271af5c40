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

export interface OutboxSweep {
  /** Queued mail whose token expired: given up as "expired", body erased. */
  expired: number;
  /** Sent or given-up rows older than the retention: deleted. */
  deleted: number;
}

export interface OutboxStore {
  /** Queues a message on its own (flows that carry a token queue it in the token's transaction instead). */
  queueMail(message: NewOutboxMessage): Promise<void>;
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
  /**
   * Gives up (body erased) up to `limit` queued messages that expired by
   * nowMs and are not leased, and deletes up to `limit` sent or given-up rows
   * finished before finishedBeforeMs.
   */
  sweepOutbox(nowMs: number, finishedBeforeMs: number, limit: number): Promise<OutboxSweep>;
}
