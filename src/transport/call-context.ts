// Values a call carries from the transport into the handlers.
import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Actor } from "../service/events.js";
import type { Caller } from "../service/model.js";

export type Protocol = "grpc" | "grpc-web" | "connect" | "m3o";

/** Who is calling; set by the auth interceptor before any Users handler runs. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "caller" });

/** The call's request id; set by the observe interceptor, written into the events the call appends. */
export const requestIdKey = createContextKey<string>("", { description: "request id" });

/**
 * Who the call's events name (the key, the session that proved the call, the
 * request id); set by the access interceptor, passed by the handlers to every
 * service method that writes events.
 */
export const actorKey = createContextKey<Actor | undefined>(undefined, { description: "actor" });

/** The call's actor, for a handler to pass to the service. */
export function actorOf(ctx: HandlerContext): Actor {
  const actor = ctx.values.get(actorKey);
  // The access interceptor always runs first; reaching here without it is a wiring bug.
  if (!actor) throw new Error("no actor in context: access interceptor missing");
  return actor;
}

/** Set by the M3O adapter for calls it forwards; absent for direct calls. */
export const m3oCallKey = createContextKey<boolean>(false, { description: "m3o call" });

/** The protocol of a call, from its content type (or the M3O adapter's mark). */
export function protocolOf(contentType: string | null, viaM3o: boolean): Protocol {
  if (viaM3o) return "m3o";
  const type = contentType ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}
