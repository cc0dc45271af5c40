// The rows both SQL engines read (the same column names in SQLite and
// PostgreSQL) and their conversion to the repository's types.
import type { ApiKeyRow, CredentialRow, User, UserExport } from "./repository.js";

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
