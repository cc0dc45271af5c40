// Authentication on the headers alone, before a request body is read.
//
// Connect reads and decodes a request's message before any interceptor runs,
// so without this a caller with no valid key could make the server buffer up
// to MAX_BODY_BYTES per request. A request whose key is not a live key gets
// an empty message of its protocol in place of its body, which is never
// read: the auth interceptor then refuses it as it refuses any call without a
// key (same answer, log line and metrics), and the unread body is thrown away
// by the listener. A live key is passed on, so it is not looked up twice.
import { type ContextValues, createContextKey, createContextValues } from "@connectrpc/connect";
import { parseContentType as parseConnectType } from "@connectrpc/connect/protocol-connect";
import { parseContentType as parseGrpcType } from "@connectrpc/connect/protocol-grpc";
import { parseContentType as parseGrpcWebType } from "@connectrpc/connect/protocol-grpc-web";
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

/**
 * Why the check of the headers could not be made (the database did not
 * answer): the call is refused with this error, its body unread, rather than
 * read and checked again (a caller without a key could then make the server
 * hold bodies whenever the database is slow).
 */
export const keyCheckFailure = createContextKey<unknown>(undefined, { description: "key check failure" });

/**
 * The largest request body of a service that needs no key (health checks,
 * reflection): their requests are a few names, and whoever can reach the port
 * may send them, so each may hold only this much while it is read.
 */
export const UNKEYED_BODY_MAX_BYTES = 16 * 1024;

/** The token of an `authorization: Bearer <token>` header. */
export function bearerToken(value: string | null): string | undefined {
  if (value === null) return undefined;
  const match = /^\s*Bearer\s+(\S+)\s*$/i.exec(value);
  return match?.[1];
}

export type KeyCheck = { key: ApiKeyRow | null } | { failure: unknown };

/** What the check of the headers found, as the call's context values for the auth interceptor. */
export function keyCheckValues(check: KeyCheck): ContextValues {
  const values = createContextValues();
  if ("failure" in check) values.set(keyCheckFailure, check.failure);
  else values.set(authenticatedKey, check.key);
  return values;
}

/** The live key of these headers, null for none, or why the check itself failed. */
export async function checkKey(keys: KeysService, authorization: string | string[] | undefined): Promise<KeyCheck> {
  const token = bearerToken(typeof authorization === "string" ? authorization : null);
  if (token === undefined) return { key: null };
  try {
    return { key: (await keys.authenticate(token)) ?? null };
  } catch (failure) {
    return { failure };
  }
}

/** One length-prefixed message (flags 0: not compressed), as gRPC, gRPC-Web and Connect streams frame them. */
function envelope(message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(5 + message.length);
  new DataView(frame.buffer).setUint32(1, message.length);
  frame.set(message, 5);
  return frame;
}

const EMPTY_JSON = new TextEncoder().encode("{}");
const EMPTY_PROTO = new Uint8Array(0);

/**
 * The smallest valid request of the content type's protocol and codec: an
 * empty message. The content type is read by the Connect library's own
 * parsers, so every type its router accepts (any codec, any charset the
 * library allows) gets one, and a request is never decoded with the codec
 * of another. Undefined for a type the router refuses without reading a
 * body (415), such as gRPC-Web's text form, which this library does not
 * serve.
 */
export function emptyRequestBody(contentType: string | null): Uint8Array | undefined {
  const type = contentType ?? "";
  const connect = parseConnectType(type);
  if (connect) {
    const message = connect.binary ? EMPTY_PROTO : EMPTY_JSON;
    return connect.stream ? envelope(message) : message;
  }
  const framed = parseGrpcType(type) ?? parseGrpcWebType(type);
  if (framed === undefined || ("text" in framed && framed.text)) return undefined;
  return envelope(framed.binary ? EMPTY_PROTO : EMPTY_JSON);
}
