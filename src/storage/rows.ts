// The rows both SQL engines read (the same column names in SQLite and
// PostgreSQL) and their conversion to the repository's types.
import type {
  ApiKeyRecord,
  ApiKeyRow,
  CredentialRow,
  ListedSessionRow,
  SessionRow,
  User,
  UserExport,
} from "./repository.js";

export const USER_COLUMNS = "id, username, email, created_ms, updated_ms, verified_ms";

export interface UserRecord {
  id: string;
  username: string;
  email: string;
  created_ms: number;
  updated_ms: number;
  /** 0: never verified. Absent from the credential and export selects. */
  verified_ms?: number;
}

export type CredentialRecord = UserRecord & { hash: string };
export type ExportRecord = CredentialRecord & { namespace: string };

export interface KeyRecord {
  id: string;
  namespace: string | null;
  role: string;
  label: string;
  created_ms: number;
  revoked_ms: number | null;
}

export function toUser(row: UserRecord): User {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    createdMs: row.created_ms,
    updatedMs: row.updated_ms,
    // Only a verified user carries the field, so unverified rows look as they always did.
    ...(row.verified_ms ? { verifiedMs: Number(row.verified_ms) } : {}),
  };
}

export function toCredential(row: CredentialRecord | undefined): CredentialRow | undefined {
  return row && { user: toUser(row), passwordHash: row.hash };
}

export function toUserExport(row: ExportRecord): UserExport {
  return { namespace: row.namespace, user: toUser(row), passwordHash: row.hash };
}

export function toKey(row: KeyRecord): ApiKeyRow {
  return {
    id: row.id,
    namespace: row.namespace,
    // A key without a namespace is an admin key whatever its role column says
    // (a replica from before roles inserts admin keys with the default role).
    role: row.namespace === null ? "admin" : row.role === "public" ? "public" : "service",
    label: row.label,
    createdMs: row.created_ms,
    revokedMs: row.revoked_ms,
  };
}

/** The named parameters of SQL.updateUser: a field left out stays as it is (null). */
export function updateUserParameters(
  namespace: string,
  id: string,
  changes: { username?: string; email?: string },
  updatedMs: number,
) {
  return {
    namespace,
    id,
    username: changes.username ?? null,
    email: changes.email ?? null,
    updated_ms: updatedMs,
  };
}

export function toKeyRecord(row: KeyRecord & { key_digest: Buffer }): ApiKeyRecord {
  return { ...toKey(row), keyDigest: row.key_digest };
}

/** An API key as the named parameters of SQL.insertKey and SQL.importKey. */
export function keyParameters(key: ApiKeyRecord) {
  return {
    id: key.id,
    key_digest: key.keyDigest,
    namespace: key.namespace,
    role: key.role,
    label: key.label,
    created_ms: key.createdMs,
    revoked_ms: key.revokedMs,
  };
}

export interface SessionRecord {
  user_id: string;
  username: string;
  email: string;
  created_ms: number;
  expires_ms: number;
}

export function toSession(row: SessionRecord): SessionRow {
  return {
    userId: row.user_id,
    username: row.username,
    email: row.email,
    createdMs: row.created_ms,
    expiresMs: row.expires_ms,
  };
}

export interface ListedSessionRecord {
  id_digest: Buffer;
  created_ms: number;
  expires_ms: number;
}

export function toListedSession(row: ListedSessionRecord): ListedSessionRow {
  return { idDigest: row.id_digest, createdMs: row.created_ms, expiresMs: row.expires_ms };
}

/** Where the next page of an export starts: after this user. */
export interface ExportPosition {
  namespace: string;
  created_ms: number;
  id: string;
}

/**
 * Every user with its hash in (namespace, created_ms, id) order, a page at a
 * time: `page` reads the page after a position (the first with none), and no
 * transaction or connection is held between pages.
 */
export async function* exportPages(
  page: (after: ExportPosition | undefined) => Promise<ExportRecord[]>,
): AsyncIterable<UserExport[]> {
  let after: ExportPosition | undefined;
  for (;;) {
    const rows = await page(after);
    if (rows.length === 0) return;
    yield rows.map(toUserExport);
    const last = rows[rows.length - 1]!;
    after = { namespace: last.namespace, created_ms: last.created_ms, id: last.id };
  }
}
