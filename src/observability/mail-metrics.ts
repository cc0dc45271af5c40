// The outbox's metrics: deliveries and give-ups counted by this replica, and
// the shared queue (its length and the age of its oldest mail) read from the
// database when scraped, so every replica reports the same queue.
import { Counter, Gauge, type Registry } from "prom-client";
import type { OutboxStats } from "../mail/outbox.js";

export interface MailMetrics {
  sent(): void;
  failed(): void;
}

export function watchOutbox(registry: Registry, stats: () => Promise<OutboxStats>): MailMetrics {
  const registers = [registry];
  const sent = new Counter({ name: "users_mail_sent_total", help: "Mails delivered by this replica.", registers });
  const failed = new Counter({
    name: "users_mail_failed_total",
    help: "Mails this replica gave up on (too many attempts, or the token expired first).",
    registers,
  });
  // One read serves both gauges of a scrape.
  let pending: Promise<OutboxStats> | undefined;
  const read = () => {
    pending ??= stats().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  new Gauge({
    name: "users_mail_queued",
    help: "Mails waiting in the outbox (all replicas).",
    registers,
    async collect() {
      this.set((await read().catch(() => ({ queued: Number.NaN }))).queued);
    },
  });
  new Gauge({
    name: "users_mail_oldest_queued_seconds",
    help: "Age of the oldest mail still waiting in the outbox (0 when none).",
    registers,
    async collect() {
      this.set((await read().catch(() => ({ oldestQueuedMs: Number.NaN }))).oldestQueuedMs / 1000);
    },
  });
  return { sent: () => sent.inc(), failed: () => failed.inc() };
}
