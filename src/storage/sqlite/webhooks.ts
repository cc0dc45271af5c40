// Webhook endpoints and deliveries on SQLite (shared SQL in ../webhooks.ts).
// SQLite has one writer at a time, so a claim (one UPDATE) can never hand a
// delivery to two senders.
import type { Database as Db } from "better-sqlite3";
import {
  type DeliveryFailure,
  DUE_DELIVERIES,
  type DueDelivery,
  type DueRecord,
  type EndpointRecord,
  endpointFailedParams,
  eventTypesColumn,
  failureParams,
  type NewWebhookEndpoint,
  statsFrom,
  toDue,
  toEndpoint,
  WEBHOOK_SQL,
  type WebhookEndpoint,
  type WebhookStats,
} from "../webhooks.js";

export type SqliteWebhooks = ReturnType<typeof prepareWebhooks>;

export function prepareWebhooks(db: Db) {
  const insert = db.prepare(WEBHOOK_SQL.insert);
  const list = db.prepare(WEBHOOK_SQL.list);
  const remove = db.prepare(WEBHOOK_SQL.delete);
  const lease = db.prepare(
    `UPDATE webhook_deliveries SET lease_owner = @owner, lease_until_ms = @until WHERE id IN (${DUE_DELIVERIES})`,
  );
  const claimed = db.prepare(WEBHOOK_SQL.claimed);
  const delivered = db.prepare(WEBHOOK_SQL.delivered);
  const endpointSucceeded = db.prepare(WEBHOOK_SQL.endpointSucceeded);
  const failed = db.prepare(WEBHOOK_SQL.failed);
  const endpointFailed = db.prepare(WEBHOOK_SQL.endpointFailed);
  const stats = db.prepare(WEBHOOK_SQL.stats);
  const anyEnabled = db.prepare(WEBHOOK_SQL.anyEnabled);

  return {
    insert: (e: NewWebhookEndpoint) =>
      insert.run({
        id: e.id,
        namespace: e.namespace,
        url: e.url,
        event_types: eventTypesColumn(e.eventTypes),
        secret: e.sealedSecret,
        created_ms: e.createdMs,
      }),
    list: (): WebhookEndpoint[] => (list.all() as EndpointRecord[]).map(toEndpoint),
    remove: (id: string): boolean => remove.run({ id }).changes > 0,
    claim: db.transaction((owner: string, now: number, leaseMs: number, limit: number): DueDelivery[] => {
      const until = now + leaseMs;
      if (lease.run({ owner, until, now, limit }).changes === 0) return [];
      return (claimed.all({ owner, until }) as DueRecord[]).map(toDue);
    }),
    delivered: db.transaction((id: number, owner: string, now: number) => {
      const row = delivered.get({ id, owner, now }) as { endpoint_id: string } | undefined;
      if (row) endpointSucceeded.run({ endpoint_id: row.endpoint_id });
    }),
    failed: db.transaction((id: number, owner: string, failure: DeliveryFailure) => {
      const row = failed.get(failureParams(id, owner, failure)) as { endpoint_id: string } | undefined;
      if (row) endpointFailed.run(endpointFailedParams(row.endpoint_id, failure));
    }),
    anyEnabled: (): boolean => anyEnabled.get() !== undefined,
    stats: (nowMs: number): WebhookStats =>
      statsFrom(stats.get() as { pending: number; oldest: number | null } | undefined, nowMs),
  };
}
