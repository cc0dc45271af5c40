// better-sqlite3's errors as the repository reports them: uniqueness clashes
// as UniqueViolation naming the field, lock and I/O trouble as
// StorageUnavailable, anything else as it is.
import { StorageFailure, StorageUnavailable, type UniqueField, UniqueViolation } from "../repository.js";

/**
 * better-sqlite3's errors, recognised by name and code rather than instanceof:
 * the native addon keeps the SqliteError class of the first module instance
 * that loaded it, so instanceof fails from a second one (jest loads modules
 * once per test file but the addon once per process).
 */
function asSqliteError(err: unknown): (Error & { code: string }) | undefined {
  const e = err as { name?: unknown; code?: unknown } | null;
  return e?.name === "SqliteError" && typeof e.code === "string" ? (err as Error & { code: string }) : undefined;
}

export function uniqueViolation(cause: unknown): UniqueViolation | undefined {
  const err = asSqliteError(cause);
  if (!err) return undefined;
  if (err.code !== "SQLITE_CONSTRAINT_UNIQUE" && err.code !== "SQLITE_CONSTRAINT_PRIMARYKEY") return undefined;
  // "UNIQUE constraint failed: users.namespace, users.username"
  const field: UniqueField = /users\.username/.test(err.message)
    ? "username"
    : /users\.email/.test(err.message)
      ? "email"
      : "id";
  return new UniqueViolation(field);
}

/** Waits this long inside SQLite (blocking) before guard() takes over the waiting. */
export const SYNC_BUSY_WAIT_MS = 20;

export function isBusy(err: unknown): boolean {
  return asSqliteError(err)?.code.startsWith("SQLITE_BUSY") ?? false;
}

export function translateError(err: unknown): unknown {
  const sqlite = asSqliteError(err);
  if (sqlite && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/.test(sqlite.code)) {
    return new StorageUnavailable(`database unavailable (${sqlite.code})`, sqlite.code.startsWith("SQLITE_BUSY"), {
      cause: err,
    });
  }
  // Checked by name, not instanceof: the native addon creates this TypeError in
  // the main realm, so instanceof fails where this module runs in another (jest's vm).
  if (
    (err as Error | null)?.name === "TypeError" &&
    /database connection is not open/.test(String((err as Error).message))
  ) {
    return new StorageUnavailable("database is closed", false, { cause: err });
  }
  // Any other SQLite error becomes an Error of this realm: better-sqlite3's
  // SqliteError is not an Error instance outside the realm that loaded it.
  if (sqlite)
    return new StorageFailure(`sqlite refused the operation: ${sqlite.message} (${sqlite.code})`, { cause: err });
  return err;
}
