// Events: what changed, who did it, and when, as the write methods append
// them to the log (storage/events.ts) in their own transactions.
//
// Who acted comes from the call: the transport runs each keyed call inside
// actingAs() (the API key, the session handle that proved the call, the
// request id), and the services draft their events with draftEvent(), which
// reads it. Outside a call (the users-service command, the server's first
// start) the actor is empty.
//
// No secret ever goes into an event: session ids appear only as their handle
// (the hex SHA-256 that ListSessions shows), passwords and tokens never, and a
// failed login carries the user id only when the account exists, never what
// was typed.
import { AsyncLocalStorage } from "node:async_hooks";
import type { EventDraft, EventValue } from "../storage/events.js";

export const EVENT_TYPES = [
  "user.created",
  "user.updated",
  "user.deleted",
  "user.password_changed",
  "user.verified",
  "user.disabled",
  "user.enabled",
  "session.created",
  "session.revoked",
  "login.failed",
  "key.created",
  "key.revoked",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface Actor {
  /** The API key's id. */
  keyId: string;
  /** The handle of the session that proved the call (a public key's x-session-id), or "". */
  session: string;
  requestId: string;
}

const NO_ACTOR: Actor = { keyId: "", session: "", requestId: "" };
const scope = new AsyncLocalStorage<Actor>();

/** Runs `work` (a call's handler) with `actor` as the author of every event it drafts. */
export function actingAs<T>(actor: Actor, work: () => T): T {
  return scope.run(actor, work);
}

export function currentActor(): Actor {
  return scope.getStore() ?? NO_ACTOR;
}

export function draftEvent(
  type: EventType,
  namespace: string,
  userId: string,
  nowMs: number,
  data: Record<string, EventValue> = {},
): EventDraft {
  const actor = currentActor();
  return {
    type,
    namespace,
    userId,
    actorKey: actor.keyId,
    actorSession: actor.session,
    requestId: actor.requestId,
    createdMs: nowMs,
    data,
  };
}
