// The event log's metrics: events this replica appended, by type. (Webhook
// deliveries have their own, in webhook-metrics.ts.)
import { Counter, type Registry } from "prom-client";
import type { EventDraft } from "../storage/events.js";

export function countEvents(registry: Registry): (events: readonly EventDraft[]) => void {
  const written = new Counter({
    name: "users_events_written_total",
    help: "Events appended to the event log by this replica (committed with their change), by type.",
    labelNames: ["type"],
    registers: [registry],
  });
  return (events) => {
    for (const event of events) written.inc({ type: event.type });
  };
}
