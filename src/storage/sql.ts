// The SQL text both engines run unchanged, with named parameters (@name):
// SQLite binds them by name, PostgreSQL through postgres/named-parameters.ts.
// Each engine keeps only the statements that really differ (locking, upserts,
// multi-statement writes); see the engines' own files.
import { USER_COLUMNS } from "./rows.js";

const KEY_COLUMNS = "id, namespace, role, label, created_ms, revoked_ms";
const EXPORT_SELECT = `SELECT u.namespace, u.id, u.username, u.email, u.created_ms, u.updated_ms, u.verified_ms,
    u.profile, p.hash
  FROM users u JOIN passwords p ON p.namespace = u.namespace AND p.user_id = u.id`;
const EXPORT_ORDER = "ORDER BY u.namespace, u.created_ms, u.id";
const CREDENTIAL_SELECT = `SELECT u.id, u.username, u.email, u.created_ms, u.updated_ms, u.verified_ms, u.profile, p.hash
  FROM users u JOIN passwords p ON p.namespace = u.namespace AND p.user_id = u.id`;

export const SQL = {
  schemaVersion: "SELECT max(version) AS version FROM schema_migrations",

  getUser: `SELECT ${USER_COLUMNS} FROM users WHERE namespace = @namespace AND id = @id`,
  getUserByUsername: `SELECT ${USER_COLUMNS} FROM users WHERE namespace = @namespace AND username = @username`,
  /** The stored profile text, locked for the update that follows (PostgreSQL; SQLite has one writer). */
  profileForUpdate: "SELECT profile FROM users WHERE namespace = @namespace AND id = @id",
  getUserByEmail: `SELECT ${USER_COLUMNS} FROM users WHERE namespace = @namespace AND email = @email`,
  credentialByUsername: `${CREDENTIAL_SELECT} WHERE u.namespace = @namespace AND u.username = @username`,
  credentialByEmail: `${CREDENTIAL_SELECT} WHERE u.namespace = @namespace AND u.email = @email`,
  credentialById: `${CREDENTIAL_SELECT} WHERE u.namespace = @namespace AND u.id = @id`,
  /** @username / @email / @profile null: unchanged. A new email is not verified. */
  updateUser: `UPDATE users SET username = coalesce(@username, username), email = coalesce(@email, email),
      profile = coalesce(@profile, profile),
      updated_ms = @updated_ms,
      verified_ms = CASE WHEN coalesce(@email, email) = email THEN verified_ms ELSE 0 END
    WHERE namespace = @namespace AND id = @id
    RETURNING ${USER_COLUMNS}`,
  /** A new user, or an imported one (which may be verified and have a profile already). */
  insertUser: `INSERT INTO users (namespace, id, username, email, created_ms, updated_ms, verified_ms, profile)
    VALUES (@namespace, @id, @username, @email, @created_ms, @updated_ms, @verified_ms, @profile)`,
  /** A page of List, served by users_created_names; the first page starts after (-1, ''). */
  listUsers: `SELECT ${USER_COLUMNS} FROM users
    WHERE namespace = @namespace AND (created_ms, id) > (@created_ms, @id)
    ORDER BY created_ms, id LIMIT @limit OFFSET @offset`,
  /** Passwords and the sessions left go with the user (ON DELETE CASCADE). */
  deleteUser: "DELETE FROM users WHERE namespace = @namespace AND id = @id",
  /** A batch of a user's sessions (deleting a user with many sessions goes a batch per statement). */
  deleteSessionBatch: `DELETE FROM sessions WHERE id_digest IN (
    SELECT id_digest FROM sessions WHERE namespace = @namespace AND user_id = @user_id LIMIT @limit)`,

  /** Replaces the hash only if it is still the one the caller checked. */
  replacePassword: `UPDATE passwords SET hash = @hash, updated_ms = @updated_ms
    WHERE namespace = @namespace AND user_id = @user_id AND hash = @expected`,
  /** SetPassword: whatever the hash was. */
  setPassword: `UPDATE passwords SET hash = @hash, updated_ms = @updated_ms
    WHERE namespace = @namespace AND user_id = @user_id`,
  deleteUserSessions: "DELETE FROM sessions WHERE namespace = @namespace AND user_id = @user_id",

  getSession: `SELECT s.user_id, u.username, u.email, s.created_ms, s.expires_ms
    FROM sessions s JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
    WHERE s.id_digest = @id_digest AND s.namespace = @namespace AND s.expires_ms > @now`,
  deleteSession: "DELETE FROM sessions WHERE id_digest = @id_digest AND namespace = @namespace",
  listSessions: `SELECT id_digest, created_ms, expires_ms FROM sessions
    WHERE namespace = @namespace AND user_id = @user_id AND expires_ms > @now
    ORDER BY created_ms DESC, id_digest DESC LIMIT @limit`,

  insertKey: `INSERT INTO api_keys (id, key_digest, namespace, role, label, created_ms, revoked_ms)
    VALUES (@id, @key_digest, @namespace, @role, @label, @created_ms, @revoked_ms)`,
  importKey: `INSERT INTO api_keys (id, key_digest, namespace, role, label, created_ms, revoked_ms)
    VALUES (@id, @key_digest, @namespace, @role, @label, @created_ms, @revoked_ms) ON CONFLICT DO NOTHING`,
  findKey: `SELECT ${KEY_COLUMNS} FROM api_keys WHERE key_digest = @key_digest AND revoked_ms IS NULL`,
  listKeys: `SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_ms, id`,
  exportKeys: `SELECT ${KEY_COLUMNS}, key_digest FROM api_keys ORDER BY created_ms, id`,
  revokeKey: "UPDATE api_keys SET revoked_ms = @revoked_ms WHERE id = @id AND revoked_ms IS NULL",

  countUsers: "SELECT count(*) AS n FROM users",
  /** Keyset pages on (namespace, created_ms, id), served by users_created_names. */
  exportUsersFirst: `${EXPORT_SELECT} ${EXPORT_ORDER} LIMIT @limit`,
  exportUsersAfter: `${EXPORT_SELECT}
    WHERE (u.namespace, u.created_ms, u.id) > (@namespace, @created_ms, @id) ${EXPORT_ORDER} LIMIT @limit`,
} as const;
