// Events: what changed, who did it, and when, as the write methods append
// them to the log (storage/events.ts) in their own transactions.
//
// Who acted comes from the call: the transport makes each keyed call's Actor
// once (the API key, the session handle that proved the call, the request
// id), and every service method that writes events takes it as a parameter
// and hands it to draftEvent(). Outside a keyed call (the users-service
// command, the server's first start, a verification link opened in a
// browser) the actor is NO_ACTOR.
//
// An explicit value, not an AsyncLocalStorage: on Node 20 the first
// AsyncLocalStorage.run turns on V8's promise hooks for the whole process, so
// every promise of every call (reads that write no event included) would pay
// for them; test/architecture/ keeps node:async_hooks out of src/.
//
// No secret ever goes into an event: session ids appear only as their handle
// (the hex SHA-256 that ListSessions shows), passwords and tokens never, and a
// failed login carries the user id only when the account exists, never what
// was typed.
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

/** Who made a call: named by every event the call writes. */
export interface Actor {
  /** The API key's id. */
  readonly keyId: string;
  /** The handle of the session that proved the call (a public key's x-session-id), or "". */
  readonly session: string;
  readonly requestId: string;
}

/** The author of what happens outside any keyed call: the command, the first start, a verification link. */
export const NO_ACTOR: Actor = Object.freeze({ keyId: "", session: "", requestId: "" });

/** An event `actor` caused: `type` about `userId` ("" when none, or when the write fills it in). */
export function draftEvent(
  actor: Actor,
  type: EventType,
  namespace: string,
  userId: string,
  nowMs: number,
  data: Record<string, EventValue> = {},
): EventDraft {
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
