// Versioned schema for SQLite. Append new migrations; never edit applied ones.
// Migrations only add (tables, indexes, columns with defaults): during a
// rolling upgrade, replicas of the previous version keep working on the new
// schema (and ping() accepts a schema newer than its own).
import type { Migration } from "../migration.js";

export const SQLITE_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "users, passwords, sessions, api keys, login throttle",
    sql: `
      CREATE TABLE users (
        namespace  TEXT    NOT NULL,
        id         TEXT    NOT NULL,
        username   TEXT    NOT NULL,
        email      TEXT    NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, id)
      ) STRICT, WITHOUT ROWID;
      CREATE UNIQUE INDEX users_username ON users (namespace, username);
      CREATE UNIQUE INDEX users_email    ON users (namespace, email);
      CREATE INDEX        users_created  ON users (namespace, created_ms, id);

      CREATE TABLE passwords (
        namespace  TEXT    NOT NULL,
        user_id    TEXT    NOT NULL,
        hash       TEXT    NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, user_id),
        FOREIGN KEY (namespace, user_id) REFERENCES users (namespace, id) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;

      -- Sessions are keyed by the SHA-256 of their id; the id itself is never stored.
      CREATE TABLE sessions (
        id_digest  BLOB    NOT NULL PRIMARY KEY,
        namespace  TEXT    NOT NULL,
        user_id    TEXT    NOT NULL,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        FOREIGN KEY (namespace, user_id) REFERENCES users (namespace, id) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX sessions_user    ON sessions (namespace, user_id);
      CREATE INDEX sessions_expires ON sessions (expires_ms);

      -- API keys are stored as SHA-256 digests; namespace NULL means an admin key.
      CREATE TABLE api_keys (
        id         TEXT    NOT NULL PRIMARY KEY,
        key_digest BLOB    NOT NULL UNIQUE,
        namespace  TEXT,
        label      TEXT    NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL,
        revoked_ms INTEGER
      ) STRICT;

      CREATE TABLE login_throttle (
        namespace       TEXT    NOT NULL,
        account         TEXT    NOT NULL,
        failures        INTEGER NOT NULL,
        locked_until_ms INTEGER NOT NULL,
        updated_ms      INTEGER NOT NULL,
        PRIMARY KEY (namespace, account)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX login_throttle_updated ON login_throttle (updated_ms);
    `,
  },
  {
    version: 2,
    name: "users in creation order with their username and email (prefix search, see user-search.ts)",
    // Replaces users_created (namespace, created_ms, id), which it extends:
    // walking users in creation order can then skip those whose username or
    // email does not match without reading the table.
    sql: `
      CREATE INDEX users_created_names ON users (namespace, created_ms, id, username, email);
      DROP INDEX users_created;
    `,
  },
  {
    version: 30,
    name: "each prefix column's index with creation order (bounded search plans, see user-search.ts)",
    // The range plan reads every match of a prefix and sorts them by
    // creation: from these, without a lookup in the table per match.
    sql: `
      CREATE INDEX users_username_order ON users (namespace, username, created_ms, id, email);
      CREATE INDEX users_email_order    ON users (namespace, email, created_ms, id, username);
    `,
  },
];
