// Authentication on the headers alone, before a request body is read.
//
// Connect reads and decodes a request's message before any interceptor runs,
// so without this a caller with no valid key could make the server buffer up
// to MAX_BODY_BYTES per request. A request whose key is not a live key gets
// an empty message of its protocol in place of its body, which is never
// read: the auth interceptor then refuses it as it refuses any call without a
// key (same answer, log line and metrics), and the unread body is thrown away
// by the listener. A live key is passed on, so it is not looked up twice.
import { createContextKey } from "@connectrpc/connect";
import type { KeysService } from "../service/keys.js";
import type { ApiKeyRow } from "../storage/repository.js";

/**
 * What the headers' check found before the body was read: the live key, or
 * null for none (the call is refused without looking again, so it cannot
 * proceed on the empty message put in place of its body). Undefined when no
 * check was made (or it failed, e.g. the database was down): the auth
 * interceptor then checks as usual.
 */
export const authenticatedKey = createContextKey<ApiKeyRow | null | undefined>(undefined, {
  description: "authenticated key",
});

/** The token of an `authorization: Bearer <token>` header. */
export function bearerToken(value: string | null): string | undefined {
  if (value === null) return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

/** The live key of these headers, null for none, undefined when the check itself failed. */
export async function keyFromHeaders(
  keys: KeysService,
  authorization: string | string[] | undefined,
): Promise<ApiKeyRow | null | undefined> {
  const token = bearerToken(typeof authorization === "string" ? authorization : null);
  if (token === undefined) return null;
  try {
    return (await keys.authenticate(token)) ?? null;
  } catch {
    return undefined;
  }
}

const EMPTY_FRAME = new Uint8Array(5); // flags 0 (not compressed), length 0

/**
 * The smallest valid request of each protocol: an empty message. Undefined
 * for a content type the router will refuse anyway (it needs no body read).
 */
export function emptyRequestBody(contentType: string | null): Uint8Array | undefined {
  const type = (contentType ?? "").split(";", 1)[0]!.trim().toLowerCase();
  if (type === "application/json") return new TextEncoder().encode("{}");
  if (type === "application/proto") return new Uint8Array(0);
  if (type === "application/grpc-web-text" || type === "application/grpc-web-text+proto") {
    return new TextEncoder().encode(Buffer.from(EMPTY_FRAME).toString("base64"));
  }
  if (/^application\/grpc(-web)?(\+proto)?$/.test(type)) return EMPTY_FRAME;
  return undefined;
}
