// Turns node-postgres errors into the repository's own: a unique violation into
// UniqueViolation naming the field, anything that says "the database cannot
// answer now" into StorageUnavailable (timedOut for timeouts and pool waits).
// Everything else is a bug and passes through unchanged.
//
// Messages are fixed texts: never the DATABASE_URL, host or credentials. The
// original error stays available as `cause` for the logs.
import pg from "pg";
import { StorageUnavailable, type UniqueField, UniqueViolation } from "../repository.js";

// The users table's uniqueness rules, by constraint name (see migrations.ts).
// Other unique violations (a colliding random session or key digest) are not
// a field the caller chose: they pass through as errors, as in SQLite.
const UNIQUE_FIELD_BY_CONSTRAINT = new Map<string, UniqueField>([
  ["users_pkey", "id"],
  ["users_username", "username"],
  ["users_email", "email"],
]);

/** SQLSTATEs after which retrying later can succeed (server going down, overloaded, failed over). */
const UNAVAILABLE_STATES = [
  /^08/, // connection exception
  /^53/, // insufficient resources (too many connections, disk full, out of memory)
  /^57P0[1-4]$/, // admin/crash shutdown, cannot connect now, database dropped
  /^58/, // system error (I/O)
  /^40001$|^40P01$/, // serialization failure, deadlock: safe to retry
  /^25006$/, // read-only transaction: a standby after a failover
];

const TIMEOUT_STATES = [
  /^57014$/, // query_canceled: statement_timeout
  /^55P03$/, // lock_not_available: lock_timeout
  /^25P03$/, // idle_in_transaction_session_timeout
];

/** node-postgres' own client-side failures (no SQLSTATE), by message. */
const CLIENT_TIMEOUTS = [
  "timeout exceeded when trying to connect", // waited for a pooled connection too long
  "Connection terminated due to connection timeout", // setting up a new connection took too long
  "timeout expired", // the same, as reported by the client itself
  "Query read timeout", // query_timeout: the server did not answer at all
];
const CLIENT_DISCONNECTS = [
  "Connection terminated",
  "Connection terminated unexpectedly",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
];
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
]);

export function translatePgError(err: unknown): unknown {
  if (err instanceof UniqueViolation || err instanceof StorageUnavailable) return err;
  if (err instanceof pg.DatabaseError) {
    const state = err.code ?? "";
    const field = state === "23505" ? UNIQUE_FIELD_BY_CONSTRAINT.get(err.constraint ?? "") : undefined;
    if (field) return new UniqueViolation(field);
    if (TIMEOUT_STATES.some((re) => re.test(state))) {
      return new StorageUnavailable("the database did not answer in time", true, { cause: err });
    }
    if (UNAVAILABLE_STATES.some((re) => re.test(state))) {
      return new StorageUnavailable(`database unavailable (${state})`, false, { cause: err });
    }
    return err;
  }
  // Duck-typed, not instanceof Error: Node's socket errors may come from another realm (jest's vm).
  if (typeof err !== "object" || err === null) return err;
  const { message, code } = err as { message?: unknown; code?: unknown };
  if (typeof message !== "string") return err;
  if (CLIENT_TIMEOUTS.includes(message)) {
    return new StorageUnavailable("the database did not answer in time", true, { cause: err });
  }
  if (message === "Cannot use a pool after calling end on the pool") {
    return new StorageUnavailable("database is closed", false, { cause: err });
  }
  if (CLIENT_DISCONNECTS.includes(message) || (typeof code === "string" && NETWORK_CODES.has(code))) {
    return new StorageUnavailable("the database is unreachable", false, { cause: err });
  }
  return err;
}

/**
 * Whether a connection can go back to the pool after this error: only after an
 * ordinary error reported by the server, when the protocol is in a known state.
 * After a client-side timeout or a lost connection it must be discarded.
 */
export function connectionReusableAfter(err: unknown): boolean {
  return err instanceof pg.DatabaseError && err.severity !== "FATAL" && err.severity !== "PANIC";
}
