// Webhook metrics: deliveries this replica made, by outcome, and the shared
// backlog (pending deliveries, and the age of the oldest undelivered event)
// read from the database when scraped, so every replica reports the same.
import { Counter, Gauge, type Registry } from "prom-client";
import type { WebhookStats } from "../storage/webhooks.js";
import type { DeliveryOutcome } from "../webhooks/sender.js";

export function watchWebhooks(registry: Registry, stats: () => Promise<WebhookStats>): (o: DeliveryOutcome) => void {
  const registers = [registry];
  const deliveries = new Counter({
    name: "users_webhook_deliveries_total",
    help: "Webhook delivery attempts by this replica, by outcome (delivered, retried, given_up).",
    labelNames: ["outcome"],
    registers,
  });
  let pending: Promise<WebhookStats> | undefined;
  const read = () => {
    pending ??= stats().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  new Gauge({
    name: "users_webhook_pending",
    help: "Deliveries waiting for enabled endpoints (all replicas).",
    registers,
    async collect() {
      this.set((await read().catch(() => ({ pending: Number.NaN }))).pending);
    },
  });
  new Gauge({
    name: "users_webhook_oldest_undelivered_seconds",
    help: "Age of the oldest event not yet delivered to an enabled endpoint (0 when none).",
    registers,
    async collect() {
      this.set((await read().catch(() => ({ oldestPendingMs: Number.NaN }))).oldestPendingMs / 1000);
    },
  });
  return (outcome) => deliveries.inc({ outcome });
}
