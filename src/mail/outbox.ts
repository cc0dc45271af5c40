// The durable outbox's storage side, as the sender needs it. A message row is
// committed with the token it carries, or its digest to store before delivery
// (so a crash after the commit still sends it, and a rollback sends nothing);
// senders on every replica claim due rows with a lease, so each message goes
// out once.

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
  /**
   * The one-time token the message carries, still to be stored for the user
   * who has `recipient` (bindMailToken, by the sender, before delivery): a
   * Send* call queues it for any address, known or not, so its answer does
   * the same work either way. Absent once bound, and for plain messages.
   */
  token?: PendingMailToken;
}

/** A mail token to store when its message is delivered (see OutboxMessage.token). */
export interface PendingMailToken {
  /** A MailTokenPurpose (src/storage/repository.ts). */
  purpose: string;
  /** SHA-256 of the token; the token itself is only in the message's text. */
  digest: Buffer;
  redirectUrl: string;
  failureRedirectUrl: string;
}

/**
 * What bindMailToken did: "bound" (stored for the user who has the
 * recipient address: deliver), "dropped" (no user has it: the message is
 * deleted, never sent), or "not-held" (the lease was lost: leave the message
 * to its new holder).
 */
export type BindOutcome = "bound" | "dropped" | "not-held";

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
  /** Sent or given-up rows older than the retention, and expired never-bound mail to addresses nobody has: deleted. */
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
  /**
   * For a claimed message with a pending token, in one transaction: stores
   * the token for the user of the message's namespace who has its recipient
   * address (voiding that user's previous token of the purpose) and marks
   * the message bound; or, when nobody has the
   * address, deletes the message (its address was typed by a stranger).
   */
  bindMailToken(message: OutboxMessage, owner: string): Promise<BindOutcome>;
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
