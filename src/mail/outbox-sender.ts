// Delivers the outbox: claims due messages, hands each to the transport, and
// records the outcome. Failures are retried with exponential backoff (with
// jitter, so replicas do not retry in step) until the message's token expires
// or MAIL_MAX_ATTEMPTS is reached; then it is given up and the reason kept.
import { randomUUID } from "node:crypto";
import { PollLoop } from "../service/poll-loop.js";
import type { MailTransport } from "./message.js";
import type { OutboxStore } from "./outbox.js";

export interface OutboxSenderDeps {
  store: OutboxStore;
  transport: MailTransport;
  now: () => number;
  maxAttempts: number;
  /** First retry delay; doubles per attempt up to maxBackoffMs. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a claim lasts: longer than one delivery can take (the SMTP timeouts). */
  leaseMs?: number;
  pollMs?: number;
  /** How soon after wake() a round runs. */
  wakeDelayMs?: number;
  batchSize?: number;
  /** Told of every outcome (metrics) and of unexpected errors (logs). */
  onSent?: () => void;
  onFailed?: (reason: string) => void;
  onError?: (err: unknown) => void;
  random?: () => number;
}

export class OutboxSender {
  /** Unique per process: the lease owner. */
  readonly owner = randomUUID();
  private readonly loop: PollLoop;

  constructor(private readonly deps: OutboxSenderDeps) {
    this.loop = new PollLoop({
      round: () => this.deliverDue(),
      batchSize: deps.batchSize ?? 10,
      pollMs: deps.pollMs ?? 1_000,
      wakeDelayMs: deps.wakeDelayMs ?? 20,
      onError: (err) => deps.onError?.(err),
    });
  }

  start(): void {
    this.loop.start();
  }

  /**
   * Runs a round soon (a message was just queued) instead of at the next
   * poll. Not at once: the round's work (binding the token, or dropping the
   * mail of an address nobody has, then delivering) then does not land
   * inside the call that queued it, whose answer must take the same time for
   * a known and an unknown address.
   */
  wake(): void {
    this.loop.wake();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round: claims a batch and delivers it. Returns how many messages it handled. */
  async deliverDue(): Promise<number> {
    const { store, transport, now } = this.deps;
    const batch = await store.claimMail(this.owner, now(), this.deps.leaseMs ?? 120_000, this.deps.batchSize ?? 10);
    for (const message of batch) {
      try {
        // A Send* call queued it for an address it did not look up: the
        // token is stored for that address's user now, or the mail dropped.
        if (message.token && (await store.bindMailToken(message, this.owner)) !== "bound") continue;
        await transport.send({
          id: message.id,
          to: message.recipient,
          subject: message.subject,
          text: message.text,
          fromName: message.fromName,
        });
        await store.markMailSent(message.id, this.owner, now());
        this.deps.onSent?.();
      } catch (err) {
        const reason = describeFailure(err);
        const attempts = message.attempts + 1;
        const next = now() + this.backoff(attempts);
        if (attempts >= this.deps.maxAttempts || next >= message.expiresMs) {
          const why = attempts >= this.deps.maxAttempts ? `gave up after ${attempts} attempts` : "expired";
          await store.markMailFailed(message.id, this.owner, now(), `${why}: ${reason}`);
          this.deps.onFailed?.(reason);
        } else {
          await store.markMailRetry(message.id, this.owner, next, reason);
        }
      }
    }
    return batch.length;
  }

  private backoff(attempts: number): number {
    const base = this.deps.baseBackoffMs ?? 2_000;
    const max = this.deps.maxBackoffMs ?? 600_000;
    const delay = Math.min(base * 2 ** Math.min(attempts - 1, 30), max);
    const jitter = 0.8 + 0.4 * (this.deps.random ?? Math.random)();
    return Math.round(delay * jitter);
  }
}

/** A short reason for operators: the SMTP reply or error code, never the message itself. */
function describeFailure(err: unknown): string {
  const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
  const text = e.response ?? e.message ?? String(err);
  return [e.code, e.responseCode, text.replace(/\s+/g, " ").slice(0, 200)].filter(Boolean).join(" ");
}
