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
import type { Migration } from "../migration.js";

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
    version: 30,
    name: "users in creation order with their names, and each prefix column with creation order (bounded search plans)",
    // The same indexes as SQLite's for the plans of user-search.ts, so every
    // step can be an index-only scan: the walk in creation order (which
    // replaces users_created, whose columns it starts with), and the range of
    // each prefix column, with what its filter and sort need.
    sql: `
      CREATE INDEX users_created_names  ON users (namespace, created_ms, id, username, email);
      DROP INDEX users_created;
      CREATE INDEX users_username_order ON users (namespace, username, created_ms, id, email);
      CREATE INDEX users_email_order    ON users (namespace, email, created_ms, id, username);
    `,
  },
];
