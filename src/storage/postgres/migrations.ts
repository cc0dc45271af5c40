// Versioned schema for PostgreSQL: the same tables, columns and indexes as the
// SQLite engine. Append new migrations; never edit applied ones.
// Migrations only add (tables, indexes, columns with defaults): during a
// rolling upgrade, replicas of the previous version keep working on the new
// schema (and ping() accepts a schema newer than its own).
//
// Every text column is COLLATE "C": comparisons and ORDER BY go by code point
// (UTF-8 byte order), exactly like SQLite's BINARY collation, whatever locale
// the database was created with, and the prefix range scans of prefix-range.ts
// (`col >= lo AND col < hi`) are served by the plain btree indexes.
//
// Constraint names matter: errors.ts maps a unique violation to the field
// through them (users_pkey → id, users_username → username, users_email → email).
export interface Migration {
  version: number;
  name: string;
  /** One or more statements, applied in the migration's transaction. */
  sql: string;
}

export const POSTGRES_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "users, passwords, sessions, api keys, login throttle",
    sql: `
      CREATE TABLE users (
        namespace  text COLLATE "C" NOT NULL,
        id         text COLLATE "C" NOT NULL,
        username   text COLLATE "C" NOT NULL,
        email      text COLLATE "C" NOT NULL,
        created_ms bigint NOT NULL,
        updated_ms bigint NOT NULL,
        CONSTRAINT users_pkey PRIMARY KEY (namespace, id),
        CONSTRAINT users_username UNIQUE (namespace, username),
        CONSTRAINT users_email UNIQUE (namespace, email)
      );
      CREATE INDEX users_created ON users (namespace, created_ms, id);

      CREATE TABLE passwords (
        namespace  text COLLATE "C" NOT NULL,
        user_id    text COLLATE "C" NOT NULL,
        hash       text COLLATE "C" NOT NULL,
        updated_ms bigint NOT NULL,
        CONSTRAINT passwords_pkey PRIMARY KEY (namespace, user_id),
        CONSTRAINT passwords_user FOREIGN KEY (namespace, user_id)
          REFERENCES users (namespace, id) ON DELETE CASCADE
      );

      -- Sessions are keyed by the SHA-256 of their id; the id itself is never stored.
      CREATE TABLE sessions (
        id_digest  bytea NOT NULL,
        namespace  text COLLATE "C" NOT NULL,
        user_id    text COLLATE "C" NOT NULL,
        created_ms bigint NOT NULL,
        expires_ms bigint NOT NULL,
        CONSTRAINT sessions_pkey PRIMARY KEY (id_digest),
        CONSTRAINT sessions_user FOREIGN KEY (namespace, user_id)
          REFERENCES users (namespace, id) ON DELETE CASCADE
      );
      CREATE INDEX sessions_user    ON sessions (namespace, user_id);
      CREATE INDEX sessions_expires ON sessions (expires_ms);

      -- API keys are stored as SHA-256 digests; namespace NULL means an admin key.
      CREATE TABLE api_keys (
        id         text COLLATE "C" NOT NULL,
        key_digest bytea NOT NULL,
        namespace  text COLLATE "C",
        label      text COLLATE "C" NOT NULL DEFAULT '',
        created_ms bigint NOT NULL,
        revoked_ms bigint,
        CONSTRAINT api_keys_pkey PRIMARY KEY (id),
        CONSTRAINT api_keys_key_digest UNIQUE (key_digest)
      );

      CREATE TABLE login_throttle (
        namespace       text COLLATE "C" NOT NULL,
        account         text COLLATE "C" NOT NULL,
        failures        integer NOT NULL,
        locked_until_ms bigint NOT NULL,
        updated_ms      bigint NOT NULL,
        CONSTRAINT login_throttle_pkey PRIMARY KEY (namespace, account)
      );
      CREATE INDEX login_throttle_updated ON login_throttle (updated_ms);
    `,
  },
  {
    version: 10,
    name: "login attempts in flight (a slot per attempt being checked, with a lease)",
    sql: `
      CREATE TABLE login_attempts (
        namespace  text COLLATE "C" NOT NULL,
        account    text COLLATE "C" NOT NULL,
        attempt    text COLLATE "C" NOT NULL,
        expires_ms bigint NOT NULL,
        CONSTRAINT login_attempts_pkey PRIMARY KEY (namespace, account, attempt)
      );
      CREATE INDEX login_attempts_expires ON login_attempts (expires_ms);
    `,
  },
  {
    version: 11,
    name: "a user's sessions in creation order (the per-user cap ends the oldest)",
    sql: `
      CREATE INDEX sessions_user_created ON sessions (namespace, user_id, created_ms, id_digest);
      DROP INDEX sessions_user;
    `,
  },
  {
    version: 50,
    name: "mail outbox (durable delivery with leased claims)",
    sql: `
      CREATE TABLE mail_outbox (
        id              text COLLATE "C" NOT NULL,
        namespace       text COLLATE "C" NOT NULL,
        recipient       text COLLATE "C" NOT NULL,
        subject         text NOT NULL,
        body            text NOT NULL,
        from_name       text NOT NULL,
        status          text COLLATE "C" NOT NULL DEFAULT 'queued',
        attempts        integer NOT NULL DEFAULT 0,
        created_ms      bigint NOT NULL,
        expires_ms      bigint NOT NULL,
        next_attempt_ms bigint NOT NULL,
        lease_owner     text COLLATE "C" NOT NULL DEFAULT '',
        lease_until_ms  bigint NOT NULL DEFAULT 0,
        finished_ms     bigint NOT NULL DEFAULT 0,
        reason          text NOT NULL DEFAULT '',
        CONSTRAINT mail_outbox_pkey PRIMARY KEY (id)
      );
      CREATE INDEX mail_outbox_due      ON mail_outbox (status, next_attempt_ms);
      CREATE INDEX mail_outbox_expires  ON mail_outbox (status, expires_ms);
      CREATE INDEX mail_outbox_finished ON mail_outbox (status, finished_ms);
      CREATE INDEX mail_outbox_created  ON mail_outbox (status, created_ms);
    `,
  },
  {
    version: 51,
    name: "email verification: users.verified_ms, one-time mail tokens",
    sql: `
      ALTER TABLE users ADD COLUMN verified_ms bigint NOT NULL DEFAULT 0;
      CREATE TABLE mail_tokens (
        namespace            text COLLATE "C" NOT NULL,
        purpose              text COLLATE "C" NOT NULL,
        user_id              text COLLATE "C" NOT NULL,
        digest               bytea NOT NULL,
        email                text COLLATE "C" NOT NULL,
        created_ms           bigint NOT NULL,
        expires_ms           bigint NOT NULL,
        spent_ms             bigint NOT NULL DEFAULT 0,
        attempts             integer NOT NULL DEFAULT 0,
        redirect_url         text NOT NULL DEFAULT '',
        failure_redirect_url text NOT NULL DEFAULT '',
        CONSTRAINT mail_tokens_pkey PRIMARY KEY (namespace, purpose, user_id),
        CONSTRAINT mail_tokens_digest UNIQUE (digest),
        CONSTRAINT mail_tokens_user FOREIGN KEY (namespace, user_id)
          REFERENCES users (namespace, id) ON DELETE CASCADE
      );
      CREATE INDEX mail_tokens_expires ON mail_tokens (expires_ms);
    `,
  },
];
