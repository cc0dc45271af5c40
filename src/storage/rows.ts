// The rows both SQL engines read (the same column names in SQLite and
// PostgreSQL) and their conversion to the repository's types.
import {
  type ApiKeyRecord,
  type ApiKeyRow,
  type CredentialRow,
  type ListedSessionRow,
  ProfileTooLarge,
  type SessionRow,
  type User,
  type UserChanges,
  type UserExport,
  type UserPage,
} from "./repository.js";

export const USER_COLUMNS = "id, username, email, created_ms, updated_ms, verified_ms, profile";

export interface UserRecord {
  id: string;
  username: string;
  email: string;
  created_ms: number;
  updated_ms: number;
  /** 0: never verified. */
  verified_ms: number;
  /** The profile as canonical JSON (profileText): '{}' when empty. */
  profile: string;
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
    ...profileOf(row.profile),
  };
}

/**
 * A profile as stored: JSON with its keys sorted, so equal profiles are equal
 * text (updateUser compares the stored text to the expected profile's).
 */
export function profileText(profile: Record<string, string> | undefined): string {
  const entries = Object.entries(profile ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(entries));
}

/** `current` with `edit` merged in: each key takes its value, an empty value removes the key. */
export function mergeProfile(current: Record<string, string>, edit: Record<string, string>): Record<string, string> {
  const merged = { ...current };
  for (const [key, value] of Object.entries(edit)) {
    if (value === "") delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** The new profile text of an edit applied to the stored text; ProfileTooLarge past the bound. */
export function editedProfileText(stored: string, change: NonNullable<UserChanges["profile"]>): string {
  const merged = mergeProfile(profileOf(stored).profile ?? {}, change.edit);
  const entries = Object.keys(merged).length;
  if (entries > change.maxEntries) throw new ProfileTooLarge(entries);
  return profileText(merged);
}

function profileOf(text: string): { profile?: Record<string, string> } {
  if (text === "" || text === "{}") return {};
  return { profile: JSON.parse(text) as Record<string, string> };
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

/**
 * The named parameters of SQL.updateUser: a field left out stays as it is
 * (null). `profile` is the whole new profile text (editedProfileText), when it changes.
 */
export function updateUserParameters(
  namespace: string,
  id: string,
  changes: UserChanges,
  updatedMs: number,
  profile: string | null = null,
) {
  return {
    namespace,
    id,
    username: changes.username ?? null,
    email: changes.email ?? null,
    profile,
    updated_ms: updatedMs,
  };
}

/** The named parameters of SQL.listUsers. */
export function listParameters(namespace: string, page: UserPage) {
  return {
    namespace,
    created_ms: page.after?.createdMs ?? -1,
    id: page.after?.id ?? "",
    limit: page.limit,
    offset: page.offset,
  };
}

/** A user as the named parameters of an insert (Create, import). */
export function userParameters(namespace: string, user: User) {
  return {
    namespace,
    id: user.id,
    username: user.username,
    email: user.email,
    created_ms: user.createdMs,
    updated_ms: user.updatedMs,
    verified_ms: user.verifiedMs ?? 0,
    profile: profileText(user.profile),
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
