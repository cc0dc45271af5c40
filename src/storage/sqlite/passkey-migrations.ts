// The passkey tables on SQLite (migration 75; SQLITE_MIGRATIONS lists it).
import type { Migration } from "../migration.js";

export const SQLITE_PASSKEY_MIGRATIONS: Migration[] = [
  {
    version: 75,
    name: "passkeys (WebAuthn credentials) and single-use ceremony challenges",
    // A credential id is unique per namespace: the same passkey cannot be
    // registered twice, and a sign-in finds its user by it. Challenges are
    // kept as SHA-256 digests; taking one deletes it (single use).
    sql: `
      CREATE TABLE passkeys (
        namespace     TEXT    NOT NULL,
        id            TEXT    NOT NULL,
        user_id       TEXT    NOT NULL,
        credential_id TEXT    NOT NULL,
        public_key    BLOB    NOT NULL,
        counter       INTEGER NOT NULL,
        transports    TEXT    NOT NULL DEFAULT '',
        name          TEXT    NOT NULL,
        created_ms    INTEGER NOT NULL,
        last_used_ms  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (namespace, id),
        FOREIGN KEY (namespace, user_id) REFERENCES users (namespace, id) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;
      CREATE UNIQUE INDEX passkeys_credential ON passkeys (namespace, credential_id);
      CREATE INDEX passkeys_user ON passkeys (namespace, user_id, created_ms);
      CREATE TABLE webauthn_challenges (
        digest        BLOB    NOT NULL PRIMARY KEY,
        namespace     TEXT    NOT NULL,
        purpose       TEXT    NOT NULL,
        user_id       TEXT    NOT NULL DEFAULT '',
        ticket_digest BLOB    NOT NULL DEFAULT x'',
        created_ms    INTEGER NOT NULL,
        expires_ms    INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_ms);
    `,
  },
];
