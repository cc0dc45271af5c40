// Values a call carries from the transport into the handlers.
import { createContextKey } from "@connectrpc/connect";
import type { Caller } from "../service/model.js";

export type Protocol = "grpc" | "grpc-web" | "connect" | "m3o";

/** Who is calling; set by the auth interceptor before any Users handler runs. */
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "caller" });

/** The call's request id; set by the observe interceptor, written into the events the call appends. */
export const requestIdKey = createContextKey<string>("", { description: "request id" });

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
