// Shared by the event suites: a call that must succeed, the events table as
// stored, and the id of a key from its secret (as the service derives it).
import { createHash } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import { expect } from "@jest/globals";
import { type Method, type RpcAnswer, rpc } from "../reliability/support/rpc.js";
import type { Protocol, Wire } from "../reliability/support/wire.js";
import { rawQuery } from "../support/raw-query.js";

export async function ok(
  wire: Wire,
  protocol: Protocol,
  method: Method,
  request: JsonObject,
  headers: Record<string, string>,
): Promise<RpcAnswer> {
  const answer = await rpc(wire, protocol, method, request, headers);
  if (answer.code !== "ok") throw new Error(`${protocol} ${method}: ${answer.code} ${answer.message}`);
  return answer;
}

export interface EventRow {
  id: number;
  namespace: string;
  type: string;
  user_id: string;
  actor_key: string;
  actor_session: string;
  request_id: string;
  created_ms: number;
  data: Record<string, unknown>;
}

/** The events table as stored, oldest first, optionally of one user. */
export async function storedEvents(databaseUrl: string, userId?: string): Promise<EventRow[]> {
  const where = userId === undefined ? "" : ` WHERE user_id = '${userId.replace(/'/g, "''")}'`;
  const rows = await rawQuery(databaseUrl, `SELECT * FROM events${where} ORDER BY id`);
  return rows.map((r) => ({
    ...(r as unknown as EventRow),
    id: Number(r.id),
    created_ms: Number(r.created_ms),
    data: JSON.parse(String(r.data)) as Record<string, unknown>,
  }));
}

/** The id the service gives a bootstrap key (KeysService.register). */
export function bootstrapKeyId(key: string): string {
  return `key_${createHash("sha256").update(key).digest().subarray(0, 8).toString("hex")}`;
}

/** The handle of a session id: what events and ListSessions show instead of the id. */
export function handleOf(sessionId: string): string {
  return createHash("sha256").update(sessionId).digest("hex");
}

export function expectNoSecrets(dump: string, secrets: string[]): void {
  for (const secret of secrets) expect({ secret, found: dump.includes(secret) }).toEqual({ secret, found: false });
}
