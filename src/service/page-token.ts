// List's page tokens: the position after which the next page starts, the
// last user's (created, id). Opaque to callers (base64url), and validated
// strictly when it comes back: a token this service did not write is
// InvalidArgument, never a query. A forged token can only name a position in
// the caller's own namespace, which List (service and admin keys) may read
// whole anyway, so it carries no signature.
import { ServiceError } from "./errors.js";
import { LIMITS } from "./validation.js";

export interface PagePosition {
  createdMs: number;
  id: string;
}

const VERSION = "u1";
/** "u1.<created ms>.<id>": at most 2 + 1 + 16 + 1 + 64 characters before encoding. */
const SHAPE = /^u1\.(0|[1-9][0-9]{0,15})\.([A-Za-z0-9._-]{1,64})$/;
export const PAGE_TOKEN_MAX = 128;

export function encodePageToken(position: PagePosition): string {
  return Buffer.from(`${VERSION}.${position.createdMs}.${position.id}`, "utf8").toString("base64url");
}

/** The position a token names, or InvalidArgument PAGE_TOKEN_INVALID naming page_token. */
export function decodePageToken(token: string): PagePosition {
  const invalid = () => new ServiceError("PAGE_TOKEN_INVALID", { field: "page_token" });
  if (token.length > PAGE_TOKEN_MAX || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid();
  const match = SHAPE.exec(Buffer.from(token, "base64url").toString("utf8"));
  if (!match) throw invalid();
  const createdMs = Number(match[1]);
  if (!Number.isSafeInteger(createdMs) || match[2]!.length > LIMITS.idMax) throw invalid();
  return { createdMs, id: match[2]! };
}
