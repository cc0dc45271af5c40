// Secret tokens (session ids, API keys) and their digests.
//
// Tokens are 256 bits from the operating system's CSPRNG, base64url encoded.
// Only their SHA-256 is stored: a token has full entropy, so a fast digest is
// enough to make a stolen database useless for signing in (unlike passwords,
// which need a slow hash). Lookups go by digest, so comparing secrets never
// happens in JavaScript on attacker-chosen prefixes.
import * as nodeCrypto from "node:crypto";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { v7 as uuidv7 } from "uuid";

export const TOKEN_BYTES = 32;

export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

/** The one-shot crypto.hash, where Node has it (20.12 and later; read at run time, so 20.11 still loads). */
const oneShotHash = (nodeCrypto as Partial<typeof nodeCrypto>).hash;

export function digest(token: string): Buffer {
  // Every call digests its API key and most their session id: the one-shot
  // hash costs a third of a Hash object's round trip.
  return oneShotHash ? oneShotHash("sha256", token, "buffer") : createHash("sha256").update(token, "utf8").digest();
}

/** Constant-time equality of two secrets of any length. */
export function secretsEqual(a: string, b: string): boolean {
  // Hashing first gives equal-length inputs, so length differences leak nothing.
  return timingSafeEqual(digest(a), digest(b));
}

/** A new user id: a UUIDv7, so ids sort by creation time. */
export function newUserId(): string {
  return uuidv7();
}
