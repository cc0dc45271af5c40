// The passkey tables on PostgreSQL (migration 75; POSTGRES_MIGRATIONS lists it).
import type { Migration } from "../migration.js";

export const POSTGRES_PASSKEY_MIGRATIONS: Migration[] = [
  {
    version: 75,
    name: "passkeys (WebAuthn credentials) and single-use ceremony challenges",
    sql: `
      CREATE TABLE passkeys (
        namespace     text COLLATE "C" NOT NULL,
        id            text COLLATE "C" NOT NULL,
        user_id       text COLLATE "C" NOT NULL,
        credential_id text COLLATE "C" NOT NULL,
        public_key    bytea  NOT NULL,
        counter       bigint NOT NULL,
        transports    text COLLATE "C" NOT NULL DEFAULT '',
        name          text COLLATE "C" NOT NULL,
        created_ms    bigint NOT NULL,
        last_used_ms  bigint NOT NULL DEFAULT 0,
        CONSTRAINT passkeys_pkey PRIMARY KEY (namespace, id),
        CONSTRAINT passkeys_credential UNIQUE (namespace, credential_id),
        CONSTRAINT passkeys_user FOREIGN KEY (namespace, user_id)
          REFERENCES users (namespace, id) ON DELETE CASCADE
      );
      CREATE INDEX passkeys_user_created ON passkeys (namespace, user_id, created_ms);
      CREATE TABLE webauthn_challenges (
        digest        bytea NOT NULL,
        namespace     text COLLATE "C" NOT NULL,
        purpose       text COLLATE "C" NOT NULL,
        user_id       text COLLATE "C" NOT NULL DEFAULT '',
        ticket_digest bytea NOT NULL DEFAULT '\\x',
        created_ms    bigint NOT NULL,
        expires_ms    bigint NOT NULL,
        CONSTRAINT webauthn_challenges_pkey PRIMARY KEY (digest)
      );
      CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_ms);
    `,
  },
];
