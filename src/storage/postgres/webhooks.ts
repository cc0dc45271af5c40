// Webhook endpoints and deliveries on PostgreSQL, shared by every replica
// (shared SQL in ../webhooks.ts). A claim locks the rows it takes with FOR
// UPDATE SKIP LOCKED, so replicas claiming at once take disjoint deliveries,
// and the lease keeps a delivery out of other claims until it runs out (a
// crashed sender's deliveries come back then).
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
import type { Database, Queryable } from "./database.js";
import { toPositional } from "./named-parameters.js";

async function run<R extends object>(db: Queryable, sql: string, params: Record<string, unknown>): Promise<R[]> {
  const { text, values } = toPositional(sql, params);
  return (await db.query(text, values)).rows as R[];
}

export async function insertWebhook(db: Queryable, e: NewWebhookEndpoint): Promise<void> {
  await run(db, WEBHOOK_SQL.insert, {
    id: e.id,
    namespace: e.namespace,
    url: e.url,
    event_types: eventTypesColumn(e.eventTypes),
    secret: e.sealedSecret,
    created_ms: e.createdMs,
  });
}

export async function listWebhooks(db: Queryable): Promise<WebhookEndpoint[]> {
  return (await run<EndpointRecord>(db, WEBHOOK_SQL.list, {})).map(toEndpoint);
}

export async function deleteWebhook(db: Queryable, id: string): Promise<boolean> {
  const { text, values } = toPositional(WEBHOOK_SQL.delete, { id });
  return ((await db.query(text, values)).rowCount ?? 0) > 0;
}

export function claimDeliveries(
  db: Database,
  owner: string,
  now: number,
  leaseMs: number,
  limit: number,
): Promise<DueDelivery[]> {
  const until = now + leaseMs;
  return db.transaction(async (tx) => {
    await run(
      tx,
      `UPDATE webhook_deliveries SET lease_owner = @owner, lease_until_ms = @until
       WHERE id IN (${DUE_DELIVERIES} FOR UPDATE OF d SKIP LOCKED)`,
      { owner, until, now, limit },
    );
    return (await run<DueRecord>(tx, WEBHOOK_SQL.claimed, { owner, until })).map(toDue);
  });
}

export function markDelivered(db: Database, id: number, owner: string, now: number): Promise<void> {
  return db.transaction(async (tx) => {
    const [row] = await run<{ endpoint_id: string }>(tx, WEBHOOK_SQL.delivered, { id, owner, now });
    if (row) await run(tx, WEBHOOK_SQL.endpointSucceeded, { endpoint_id: row.endpoint_id });
  });
}

export function markDeliveryFailed(db: Database, id: number, owner: string, failure: DeliveryFailure): Promise<void> {
  return db.transaction(async (tx) => {
    const [row] = await run<{ endpoint_id: string }>(tx, WEBHOOK_SQL.failed, failureParams(id, owner, failure));
    if (row) await run(tx, WEBHOOK_SQL.endpointFailed, endpointFailedParams(row.endpoint_id, failure));
  });
}

export async function hasEnabledWebhooks(db: Queryable): Promise<boolean> {
  return (await run(db, WEBHOOK_SQL.anyEnabled, {})).length > 0;
}

export async function webhookStats(db: Queryable, nowMs: number): Promise<WebhookStats> {
  const [row] = await run<{ pending: string; oldest: string | null }>(db, WEBHOOK_SQL.stats, {});
  return statsFrom(row, nowMs);
}
