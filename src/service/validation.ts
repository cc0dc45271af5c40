// Every rule on caller input, in one place. Each check returns the normalised
// value or throws InvalidArgument naming the field, the rule, and the rule's
// reason of the catalogue (error-codes.ts). Lengths are
// checked before any pattern so no input can make a check slow.
import type { UserKey, UserSearch } from "../storage/repository.js";
import { invalidArgument } from "./errors.js";

export const LIMITS = {
  usernameMax: 39,
  emailMax: 254,
  emailLocalMax: 64,
  idMax: 64,
  namespaceMax: 63,
  passwordMinChars: 8,
  /** bcrypt reads at most 72 bytes: longer passwords are refused, never truncated. */
  passwordMaxBytes: 72,
  sessionIdMax: 256,
  sessionsListMax: 1000,
  searchLimitDefault: 25,
  searchLimitMax: 1000,
  /**
   * Paging deeper means walking past every skipped user on every call (a
   * SQLite query blocks the event loop meanwhile); reading everything is
   * what `users export` is for.
   */
  searchOffsetMax: 10_000,
  /** A profile is a small map for an app's display data, not a document store. */
  profileEntriesMax: 32,
  profileKeyMax: 64,
  profileValueMaxBytes: 1024,
} as const;

const USERNAME_CHARS = /^[A-Za-z0-9_-]+$/;
// Letters and digits, with single "-" or "_" only between them (like GitHub's user/org names).
const USERNAME_SHAPE = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/;
const ID_SHAPE = /^[A-Za-z0-9._-]+$/;
const NAMESPACE_SHAPE = /^[a-z0-9_-]+$/;
const PROFILE_KEY_SHAPE = /^[A-Za-z0-9._-]+$/;
// One "@"; a local part without whitespace or control characters; a domain of
// dot-separated labels of letters, digits and inner hyphens. Any TLD length.
const EMAIL_LOCAL = /^[^\s@\p{Cc}]+$/u;
const EMAIL_LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u;

export function username(raw: string, field = "username"): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  // Length and alphabet are checked on the raw text, before lowercasing: some
  // non-ASCII characters lowercase to ASCII (the Kelvin sign becomes "k").
  if (raw.length > LIMITS.usernameMax || !USERNAME_CHARS.test(raw)) {
    throw invalidArgument(field, usernameRule(), "FIELD_MALFORMED");
  }
  const value = raw.toLowerCase();
  if (!USERNAME_SHAPE.test(value)) throw invalidArgument(field, usernameRule(), "FIELD_MALFORMED");
  return value;
}

function usernameRule(): string {
  return `must be 1 to ${LIMITS.usernameMax} ASCII letters and digits, with single "-" or "_" allowed between them`;
}

export function email(raw: string, field = "email"): string {
  const value = raw.trim().toLowerCase();
  if (value === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (value.length > LIMITS.emailMax) {
    throw invalidArgument(field, `must be at most ${LIMITS.emailMax} characters`, "FIELD_TOO_LONG");
  }
  const at = value.indexOf("@");
  const rule = 'must be an email address: one "@", no whitespace, and a dotted domain (name@example.com)';
  if (at <= 0 || at !== value.lastIndexOf("@")) throw invalidArgument(field, rule, "FIELD_MALFORMED");
  const local = value.slice(0, at);
  const labels = value.slice(at + 1).split(".");
  if (local.length > LIMITS.emailLocalMax || !EMAIL_LOCAL.test(local))
    throw invalidArgument(field, rule, "FIELD_MALFORMED");
  if (labels.length < 2 || !labels.every((label) => label.length <= 63 && EMAIL_LABEL.test(label))) {
    throw invalidArgument(field, rule, "FIELD_MALFORMED");
  }
  return value;
}

/** A new password: NFC-normalised, at least 8 characters, at most 72 bytes of UTF-8. */
export function newPassword(raw: string, field = "password"): string {
  const value = boundedPassword(raw, field);
  if ([...value].length < LIMITS.passwordMinChars) {
    throw invalidArgument(field, `must be at least ${LIMITS.passwordMinChars} characters`, "FIELD_TOO_SHORT");
  }
  return value;
}

/**
 * A password offered to be checked (Login, UpdatePassword's old one): only
 * the bounds that make it hashable, not the policy for new passwords, so an
 * account whose password predates a policy change can still sign in.
 */
export function givenPassword(raw: string, field = "password"): string {
  return boundedPassword(raw, field);
}

function boundedPassword(raw: string, field: string): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  const tooLong = `must be at most ${LIMITS.passwordMaxBytes} bytes of UTF-8`;
  // A cheap bound before normalising: NFC composes at most three code units
  // into one of three UTF-8 bytes, so text this long can never fit in 72 bytes.
  if (raw.length > 4 * LIMITS.passwordMaxBytes) throw invalidArgument(field, tooLong, "FIELD_TOO_LONG");
  const value = raw.normalize("NFC");
  // bcrypt stops at a NUL byte: "secret\0x" would equal "secret". Refuse it.
  if (value.includes("\u0000")) throw invalidArgument(field, "must not contain the NUL character", "FIELD_MALFORMED");
  if (Buffer.byteLength(value, "utf8") > LIMITS.passwordMaxBytes)
    throw invalidArgument(field, tooLong, "FIELD_TOO_LONG");
  return value;
}

/**
 * Profile entries as given (Create's profile, Update's edit): at most
 * profileEntriesMax of them, each key 1 to 64 of [A-Za-z0-9._-], each value at
 * most 1024 bytes of UTF-8 without NUL. An empty value is kept here: it means
 * "no entry" at Create and "remove the key" at Update.
 */
export function profileEntries(raw: Record<string, string>, field = "profile"): Record<string, string> {
  const keys = Object.keys(raw);
  if (keys.length > LIMITS.profileEntriesMax) {
    throw invalidArgument(field, `at most ${LIMITS.profileEntriesMax} entries`, "FIELD_TOO_LONG");
  }
  const entries: Record<string, string> = {};
  for (const key of keys) {
    // "__proto__" fits the shape but no JavaScript object can hold it as a plain key.
    if (key.length > LIMITS.profileKeyMax || !PROFILE_KEY_SHAPE.test(key) || key === "__proto__") {
      throw invalidArgument(field, `each key is 1 to ${LIMITS.profileKeyMax} of A-Z a-z 0-9 . _ -`, "FIELD_MALFORMED");
    }
    const value = raw[key]!;
    const at = `${field}.${key}`;
    if (typeof value !== "string") throw invalidArgument(at, "must be a string", "FIELD_MALFORMED");
    // A cheap bound first: a UTF-16 code unit is at least one byte of UTF-8.
    if (value.length > LIMITS.profileValueMaxBytes || Buffer.byteLength(value, "utf8") > LIMITS.profileValueMaxBytes) {
      throw invalidArgument(at, `must be at most ${LIMITS.profileValueMaxBytes} bytes of UTF-8`, "FIELD_TOO_LONG");
    }
    if (value.includes("\u0000")) throw invalidArgument(at, "must not contain the NUL character", "FIELD_MALFORMED");
    entries[key] = value;
  }
  return entries;
}

/**
 * `current` with `edit` merged in (an empty value removes its key), refused
 * when the result would hold more than profileEntriesMax entries.
 */
export function mergedProfile(
  current: Record<string, string>,
  edit: Record<string, string>,
  field = "profile",
): Record<string, string> {
  const merged = { ...current };
  for (const [key, value] of Object.entries(edit)) {
    if (value === "") delete merged[key];
    else merged[key] = value;
  }
  const count = Object.keys(merged).length;
  if (count > LIMITS.profileEntriesMax) throw profileTooLarge(count, field);
  return merged;
}

export function profileTooLarge(entries: number, field = "profile") {
  return invalidArgument(
    field,
    `at most ${LIMITS.profileEntriesMax} entries (this update would leave ${entries})`,
    "FIELD_TOO_LONG",
  );
}

/** A user id chosen by the caller. */
export function userId(raw: string, field = "id"): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (raw.length > LIMITS.idMax || !ID_SHAPE.test(raw)) {
    throw invalidArgument(field, `must be 1 to ${LIMITS.idMax} of A-Z a-z 0-9 . _ -`, "FIELD_MALFORMED");
  }
  return raw;
}

/**
 * Read's lookup: exactly one of id, username or email, each checked by its
 * own rule. None or several is ONE_OF_FIELDS naming the fields given.
 */
export function userLookup(input: { id?: unknown; username?: unknown; email?: unknown }): UserKey {
  const text = (value: unknown) => (typeof value === "string" ? value : "");
  const given = (["id", "username", "email"] as const).filter((field) => text(input[field]) !== "");
  if (given.length !== 1) {
    const rule = `give exactly one of id, username or email (${given.length === 0 ? "none was" : `${given.join(", ")} were`} given)`;
    throw invalidArgument(given.length === 0 ? "id" : given.join(", "), rule, "ONE_OF_FIELDS");
  }
  if (given[0] === "id") return { id: userId(text(input.id)) };
  if (given[0] === "username") return { username: username(text(input.username)) };
  return { email: email(text(input.email)) };
}

export function namespace(raw: string, field = "micro-namespace"): string {
  if (raw === "" || raw.length > LIMITS.namespaceMax || !NAMESPACE_SHAPE.test(raw)) {
    throw invalidArgument(field, `must be 1 to ${LIMITS.namespaceMax} of a-z 0-9 _ -`, "FIELD_MALFORMED");
  }
  return raw;
}

export function sessionId(raw: string, field = "session_id"): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (raw.length > LIMITS.sessionIdMax)
    throw invalidArgument(field, `must be at most ${LIMITS.sessionIdMax} characters`, "FIELD_TOO_LONG");
  return raw;
}

/** Session handles (hex SHA-256 digests, from ListSessions) as digests. */
export function sessionHandles(raw: string[], field = "handles"): Buffer[] {
  if (raw.length > LIMITS.sessionsListMax)
    throw invalidArgument(field, `at most ${LIMITS.sessionsListMax} handles`, "FIELD_TOO_LONG");
  return raw.map((handle) => {
    if (!/^[0-9a-f]{64}$/.test(handle))
      throw invalidArgument(
        field,
        "each handle is 64 lowercase hex characters, as ListSessions returns",
        "FIELD_MALFORMED",
      );
    return Buffer.from(handle, "hex");
  });
}

/** List's limit (0: the default) and offset, with Search's bounds. */
export function pageBounds(input: { limit: bigint | number; offset: bigint | number }): {
  limit: number;
  offset: number;
} {
  const limit = BigInt(input.limit);
  if (limit < 0n || limit > BigInt(LIMITS.searchLimitMax)) {
    throw invalidArgument(
      "limit",
      `must be from 0 to ${LIMITS.searchLimitMax} (0 means ${LIMITS.searchLimitDefault})`,
      "FIELD_OUT_OF_RANGE",
    );
  }
  const offset = BigInt(input.offset);
  if (offset < 0n || offset > BigInt(LIMITS.searchOffsetMax)) {
    throw invalidArgument("offset", `must be from 0 to ${LIMITS.searchOffsetMax}`, "FIELD_OUT_OF_RANGE");
  }
  return { limit: limit === 0n ? LIMITS.searchLimitDefault : Number(limit), offset: Number(offset) };
}

export function searchQuery(input: {
  username: string;
  email: string;
  limit: bigint | number;
  offset: bigint | number;
}): UserSearch {
  const usernamePrefix = input.username;
  if (usernamePrefix.length > LIMITS.usernameMax || (usernamePrefix !== "" && !USERNAME_CHARS.test(usernamePrefix))) {
    throw invalidArgument(
      "username",
      `a username prefix is at most ${LIMITS.usernameMax} of A-Z a-z 0-9 _ -`,
      "FIELD_MALFORMED",
    );
  }
  const emailPrefix = input.email.trim().toLowerCase();
  if (emailPrefix.length > LIMITS.emailMax)
    throw invalidArgument("email", `must be at most ${LIMITS.emailMax} characters`, "FIELD_TOO_LONG");
  const limit = BigInt(input.limit);
  if (limit < 0n || limit > BigInt(LIMITS.searchLimitMax)) {
    throw invalidArgument(
      "limit",
      `must be from 0 to ${LIMITS.searchLimitMax} (0 means ${LIMITS.searchLimitDefault})`,
      "FIELD_OUT_OF_RANGE",
    );
  }
  const offset = BigInt(input.offset);
  if (offset < 0n || offset > BigInt(LIMITS.searchOffsetMax)) {
    throw invalidArgument("offset", `must be from 0 to ${LIMITS.searchOffsetMax}`, "FIELD_OUT_OF_RANGE");
  }
  return {
    usernamePrefix: usernamePrefix.toLowerCase(),
    emailPrefix,
    limit: limit === 0n ? LIMITS.searchLimitDefault : Number(limit),
    offset: Number(offset),
  };
}
