// Webhook endpoints and their deliveries, as storage keeps them (both engines
// run this SQL as written, except the claim: see each engine's webhooks.ts).
// A delivery row is made by the events table's trigger (migration 66) in the
// transaction that appends its event; senders on every replica claim due rows
// with a lease, one head-of-line delivery per (endpoint, user) at a time, so
// each user's events reach an endpoint in order.
import { EVENT_COLUMNS, type EventRecord, type StoredEvent, toStoredEvent } from "./events.js";

export interface WebhookEndpoint {
  id: string;
  namespace: string;
  url: string;
  /** The event types sent; empty: every type. */
  eventTypes: string[];
  state: "enabled" | "disabled";
  /** Failed attempts since the last success. */
  failures: number;
  /** Why it was disabled ("" while enabled). */
  disabledReason: string;
  createdMs: number;
  updatedMs: number;
}

export interface NewWebhookEndpoint {
  id: string;
  namespace: string;
  url: string;
  eventTypes: string[];
  /** The signing secret, sealed (never stored in clear). */
  sealedSecret: string;
  createdMs: number;
}

export interface DueDelivery {
  id: number;
  /** Attempts made before this one. */
  attempts: number;
  endpointId: string;
  url: string;
  sealedSecret: string;
  event: StoredEvent;
}

export interface DeliveryFailure {
  reason: string;
  nowMs: number;
  /** When to try again; null: given up (the next delivery of the user may go). */
  nextAttemptMs: number | null;
  /** The endpoint is disabled when its failures since the last success reach this. */
  disableAfter: number;
}

export interface WebhookStats {
  /** Deliveries waiting for enabled endpoints. */
  pending: number;
  /** Age of the oldest event still undelivered to an enabled endpoint, in ms (0 when none). */
  oldestPendingMs: number;
}

export interface WebhookStore {
  insertWebhook(endpoint: NewWebhookEndpoint): Promise<void>;
  /** Every endpoint of every namespace, oldest first (never the secret). */
  listWebhooks(): Promise<WebhookEndpoint[]>;
  /** Deletes the endpoint with its deliveries; false if absent. */
  deleteWebhook(id: string): Promise<boolean>;
  /**
   * Leases up to `limit` due deliveries of enabled endpoints to `owner` until
   * nowMs + leaseMs, oldest event first, each the oldest pending delivery of
   * its (endpoint, user): a user's next event waits until the one before is
   * delivered or given up. Claimed once across replicas.
   */
  claimDeliveries(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<DueDelivery[]>;
  /** Delivered: ignored unless `owner` holds the lease; the endpoint's failures go back to 0. */
  markDelivered(id: number, owner: string, nowMs: number): Promise<void>;
  /** Failed: retried at nextAttemptMs or given up; the endpoint's failures go up (disabled at the bound). */
  markDeliveryFailed(id: number, owner: string, failure: DeliveryFailure): Promise<void>;
  webhookStats(nowMs: number): Promise<WebhookStats>;
  /** Whether any namespace has an enabled endpoint (while none has, no event makes a delivery). */
  hasEnabledWebhooks(): Promise<boolean>;
}

const ENDPOINT_COLUMNS = "id, namespace, url, event_types, state, failures, disabled_reason, created_ms, updated_ms";

export interface EndpointRecord {
  id: string;
  namespace: string;
  url: string;
  event_types: string;
  state: string;
  failures: number;
  disabled_reason: string;
  created_ms: number | string;
  updated_ms: number | string;
}

/** ",a,b," for the trigger's match (or "*" for every type). */
export function eventTypesColumn(types: string[]): string {
  return types.length === 0 ? "*" : `,${types.join(",")},`;
}

export function toEndpoint(row: EndpointRecord): WebhookEndpoint {
  return {
    id: row.id,
    namespace: row.namespace,
    url: row.url,
    eventTypes: row.event_types === "*" ? [] : row.event_types.split(",").filter((t) => t !== ""),
    state: row.state === "disabled" ? "disabled" : "enabled",
    failures: Number(row.failures),
    disabledReason: row.disabled_reason,
    createdMs: Number(row.created_ms),
    updatedMs: Number(row.updated_ms),
  };
}

export type DueRecord = EventRecord & {
  delivery_id: number | string;
  attempts: number;
  endpoint_id: string;
  url: string;
  secret: string;
};

export function toDue(row: DueRecord): DueDelivery {
  return {
    id: Number(row.delivery_id),
    attempts: Number(row.attempts),
    endpointId: row.endpoint_id,
    url: row.url,
    sealedSecret: row.secret,
    event: toStoredEvent(row),
  };
}

const QUALIFIED_EVENT_COLUMNS = EVENT_COLUMNS.split(", ")
  .map((c) => `ev.${c}`)
  .join(", ");

/** The candidates of a claim: due, unleased, of an enabled endpoint, the oldest pending of their (endpoint, user). */
export const DUE_DELIVERIES = `SELECT d.id FROM webhook_deliveries d
  JOIN webhook_endpoints w ON w.id = d.endpoint_id
  WHERE d.state = 'pending' AND w.state = 'enabled' AND d.next_attempt_ms <= @now AND d.lease_until_ms <= @now
    AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
      WHERE p.endpoint_id = d.endpoint_id AND p.user_key = d.user_key AND p.state = 'pending' AND p.event_id < d.event_id)
  ORDER BY d.event_id LIMIT @limit`;

export const WEBHOOK_SQL = {
  insert: `INSERT INTO webhook_endpoints (id, namespace, url, event_types, secret, created_ms, updated_ms)
    VALUES (@id, @namespace, @url, @event_types, @secret, @created_ms, @created_ms)`,
  list: `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_ms, id`,
  delete: "DELETE FROM webhook_endpoints WHERE id = @id",
  anyEnabled: "SELECT 1 AS present FROM webhook_endpoints WHERE state = 'enabled' LIMIT 1",
  /** The deliveries a claim just leased (by owner and lease end), with their event and endpoint. */
  claimed: `SELECT d.id AS delivery_id, d.attempts, d.endpoint_id, w.url, w.secret, ${QUALIFIED_EVENT_COLUMNS}
    FROM webhook_deliveries d
    JOIN webhook_endpoints w ON w.id = d.endpoint_id
    JOIN events ev ON ev.id = d.event_id
    WHERE d.lease_owner = @owner AND d.lease_until_ms = @until AND d.state = 'pending'
    ORDER BY d.event_id`,
  delivered: `UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, finished_ms = @now,
      lease_owner = '', lease_until_ms = 0, reason = ''
    WHERE id = @id AND lease_owner = @owner AND state = 'pending' RETURNING endpoint_id`,
  endpointSucceeded: "UPDATE webhook_endpoints SET failures = 0 WHERE id = @endpoint_id AND failures <> 0",
  failed: `UPDATE webhook_deliveries SET attempts = attempts + 1, reason = @reason, lease_owner = '', lease_until_ms = 0,
      state = CASE WHEN @give_up = 1 THEN 'failed' ELSE 'pending' END,
      next_attempt_ms = @next_attempt_ms,
      finished_ms = CASE WHEN @give_up = 1 THEN @now ELSE finished_ms END
    WHERE id = @id AND lease_owner = @owner AND state = 'pending' RETURNING endpoint_id`,
  endpointFailed: `UPDATE webhook_endpoints SET failures = failures + 1, updated_ms = @now,
      disabled_reason = CASE WHEN state = 'enabled' AND failures + 1 >= @disable_after THEN @disabled_reason
        ELSE disabled_reason END,
      state = CASE WHEN failures + 1 >= @disable_after THEN 'disabled' ELSE state END
    WHERE id = @endpoint_id`,
  stats: `SELECT count(*) AS pending, min(ev.created_ms) AS oldest FROM webhook_deliveries d
    JOIN webhook_endpoints w ON w.id = d.endpoint_id
    JOIN events ev ON ev.id = d.event_id
    WHERE d.state = 'pending' AND w.state = 'enabled'`,
} as const;

export function failureParams(id: number, owner: string, f: DeliveryFailure) {
  return {
    id,
    owner,
    reason: f.reason,
    now: f.nowMs,
    give_up: f.nextAttemptMs === null ? 1 : 0,
    next_attempt_ms: f.nextAttemptMs ?? f.nowMs,
  };
}

export function endpointFailedParams(endpointId: string, f: DeliveryFailure) {
  return {
    endpoint_id: endpointId,
    now: f.nowMs,
    disable_after: f.disableAfter,
    disabled_reason: `disabled after ${f.disableAfter} failed attempts in a row; last: ${f.reason}`.slice(0, 500),
  };
}

export function statsFrom(
  row: { pending: number | string; oldest: number | string | null } | undefined,
  nowMs: number,
) {
  const oldest = row?.oldest;
  return {
    pending: Number(row?.pending ?? 0),
    oldestPendingMs: oldest === null || oldest === undefined ? 0 : Math.max(0, nowMs - Number(oldest)),
  };
}
