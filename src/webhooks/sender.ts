// Delivers webhooks: claims due deliveries (leased, so each goes to one
// sender at a time across replicas), signs each with its endpoint's secret
// the Standard Webhooks way (webhook-id, webhook-timestamp,
// webhook-signature) and POSTs it. A 2xx answer is success; anything else
// (another status, a redirect, which is never followed, a timeout, a refused
// address) is retried with exponential backoff, then given up. Retries of one
// event keep its webhook-id, so a receiver can drop duplicates.
import { randomUUID } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { Webhook } from "standardwebhooks";
import { PollLoop } from "../service/poll-loop.js";
import type { SecretBox } from "../service/secret-box.js";
import { webhookSecretContext } from "../service/webhooks.js";
import type { StoredEvent } from "../storage/events.js";
import type { DueDelivery, WebhookStore } from "../storage/webhooks.js";
import { parseWebhookUrl, type ResolvedTarget, resolveTarget, WebhookUrlError } from "./url-guard.js";

/** What is read of a receiver's answer at most; the rest is discarded unread. */
const RESPONSE_MAX_BYTES = 64 * 1024;

export type DeliveryOutcome = "delivered" | "retried" | "given_up";

export interface WebhookSenderDeps {
  store: WebhookStore;
  box: SecretBox;
  now: () => number;
  allowPrivate: boolean;
  timeoutMs: number;
  maxAttempts: number;
  baseBackoffMs: number;
  maxBackoffMs?: number;
  disableAfter: number;
  pollMs?: number;
  batchSize?: number;
  onOutcome?: (outcome: DeliveryOutcome) => void;
  onError?: (err: unknown) => void;
  random?: () => number;
}

export class WebhookSender {
  /** Unique per process: the lease owner. */
  readonly owner = randomUUID();
  private readonly loop: PollLoop;
  /**
   * Whether an enabled endpoint existed at the last empty claim. While none
   * does, no event makes a delivery, so a commit's wake is skipped and only
   * the poll runs: a Login then costs no delivery round. An endpoint added
   * here wakes the sender at once (endpointAdded); one added by another
   * replica is seen at the next poll.
   */
  private endpointsSeen = true;
  /** Counts endpointAdded calls, so a check that started before one cannot undo it. */
  private endpointsAdded = 0;

  constructor(private readonly deps: WebhookSenderDeps) {
    this.loop = new PollLoop({
      round: () => this.deliverDue(),
      batchSize: this.batchSize,
      pollMs: deps.pollMs ?? 1_000,
      onError: (err) => deps.onError?.(err),
    });
  }

  private get batchSize(): number {
    return this.deps.batchSize ?? 16;
  }

  start(): void {
    this.loop.start();
  }

  /** An event was just committed: deliver soon instead of at the next poll. */
  wake(): void {
    if (this.endpointsSeen) this.loop.wake();
  }

  /** An endpoint was just added: deliveries may follow from the next commit. */
  endpointAdded(): void {
    this.endpointsSeen = true;
    this.endpointsAdded++;
    this.loop.wake();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** One round: claims a batch and delivers it. Returns how many deliveries it handled. */
  async deliverDue(): Promise<number> {
    const { store, now } = this.deps;
    // A claim outlives every delivery of its batch (they run at once: the lookup
    // and the request each bounded by the timeout) with room to record the outcome.
    const leaseMs = this.deps.timeoutMs * 3 + 5_000;
    const batch = await store.claimDeliveries(this.owner, now(), leaseMs, this.batchSize);
    if (batch.length === 0) {
      const added = this.endpointsAdded;
      const seen = await store.hasEnabledWebhooks();
      if (added === this.endpointsAdded) this.endpointsSeen = seen;
    }
    // The batch holds at most one delivery per (endpoint, user): sending them at once keeps each user's order.
    await Promise.all(batch.map((delivery) => this.deliver(delivery)));
    return batch.length;
  }

  private async deliver(delivery: DueDelivery): Promise<void> {
    const { store, now } = this.deps;
    let failure: string;
    try {
      await this.post(delivery);
      await store.markDelivered(delivery.id, this.owner, now());
      this.deps.onOutcome?.("delivered");
      return;
    } catch (err) {
      failure = describeFailure(err);
    }
    const attempts = delivery.attempts + 1;
    const giveUp = attempts >= this.deps.maxAttempts;
    await store.markDeliveryFailed(delivery.id, this.owner, {
      reason: failure,
      nowMs: now(),
      nextAttemptMs: giveUp ? null : now() + this.backoff(attempts),
      disableAfter: this.deps.disableAfter,
    });
    this.deps.onOutcome?.(giveUp ? "given_up" : "retried");
  }

  private async post(delivery: DueDelivery): Promise<void> {
    const secret = this.deps.box
      .open(delivery.sealedSecret, webhookSecretContext(delivery.endpointId))
      .toString("utf8");
    const url = parseWebhookUrl(delivery.url);
    // Resolved and checked now, and the connection made to exactly that address.
    const target = await bounded(resolveTarget(url, this.deps.allowPrivate), this.deps.timeoutMs, "lookup");
    const body = JSON.stringify(payload(delivery.event));
    const id = `msg_${delivery.event.id}`;
    const sentAt = new Date(this.deps.now());
    const headers = {
      "content-type": "application/json",
      "user-agent": "users-service-webhooks",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(sentAt.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, sentAt, body),
    };
    const status = await send(url, target, body, headers, this.deps.timeoutMs);
    if (status < 200 || status >= 300) throw new Error(`HTTP ${status}`);
  }

  private backoff(attempts: number): number {
    const delay = Math.min(
      this.deps.baseBackoffMs * 2 ** Math.min(attempts - 1, 30),
      this.deps.maxBackoffMs ?? 3_600_000,
    );
    // Jitter, so replicas and endpoints do not retry in step.
    return Math.round(delay * (0.8 + 0.4 * (this.deps.random ?? Math.random)()));
  }
}

/** The Standard Webhooks payload: type, timestamp, data. Never a secret: the event holds none. */
export function payload(event: StoredEvent) {
  return {
    type: event.type,
    timestamp: new Date(event.createdMs).toISOString(),
    data: {
      id: String(event.id),
      namespace: event.namespace,
      user_id: event.userId,
      actor_key_id: event.actorKey,
      actor_session: event.actorSession,
      request_id: event.requestId,
      created: Math.floor(event.createdMs / 1000),
      data: event.data,
    },
  };
}

/** POSTs to the checked address; the answer's status (its body read up to a bound, then dropped). */
function send(
  url: URL,
  target: ResolvedTarget,
  body: string,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<number> {
  const lookup: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) {
      (callback as (err: null, addresses: Array<{ address: string; family: number }>) => void)(null, [
        { address: target.address, family: target.family },
      ]);
    } else callback(null, target.address, target.family);
  };
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: "POST",
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      lookup,
      agent: false,
    });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on("response", (res) => {
      let read = 0;
      res.on("data", (chunk: Buffer) => {
        read += chunk.length;
        if (read > RESPONSE_MAX_BYTES) res.destroy();
      });
      const done = () => {
        clearTimeout(timer);
        resolve(res.statusCode ?? 0);
      };
      res.on("end", done);
      res.on("close", done);
      res.on("error", done);
    });
    req.end(body);
  });
}

/** The promise, or a rejection once `ms` have passed. */
function bounded<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** A short reason for operators: the status or the error code, never a body. */
function describeFailure(err: unknown): string {
  if (err instanceof WebhookUrlError) return `refused: ${err.message}`;
  const e = err as { code?: string; message?: string };
  return [e.code, (e.message ?? String(err)).replace(/\s+/g, " ").slice(0, 200)].filter(Boolean).join(" ");
}
