// Versioned schema for SQLite. Append new migrations; never edit applied ones.
// Migrations only add (tables, indexes, columns with defaults): during a
// rolling upgrade, replicas of the previous version keep working on the new
// schema (and ping() accepts a schema newer than its own).
import type { Migration } from "../migration.js";
import { SQLITE_PASSKEY_MIGRATIONS } from "./passkey-migrations.js";

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
    version: 10,
    name: "login attempts in flight (a slot per attempt being checked, with a lease)",
    // One row per (account, attempt) while its password is being checked:
    // failures + rows still leased bound the checks an account can have
    // (LoginThrottle). A replica that dies leaves rows that expire by lease.
    sql: `
      CREATE TABLE login_attempts (
        namespace  TEXT    NOT NULL,
        account    TEXT    NOT NULL,
        attempt    TEXT    NOT NULL,
        expires_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, account, attempt)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX login_attempts_expires ON login_attempts (expires_ms);
    `,
  },
  {
    version: 11,
    name: "a user's sessions in creation order (the per-user cap ends the oldest)",
    // Replaces sessions_user (namespace, user_id), which it extends.
    sql: `
      CREATE INDEX sessions_user_created ON sessions (namespace, user_id, created_ms, id_digest);
      DROP INDEX sessions_user;
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
  {
    version: 40,
    name: "api key roles: admin, service, public",
    // Keys made before roles were namespace keys (now service keys) or admin keys.
    sql: `
      ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'service'
        CHECK (role IN ('admin', 'service', 'public'));
      UPDATE api_keys SET role = 'admin' WHERE namespace IS NULL;
    `,
  },
  {
    version: 41,
    name: "rate limit counters (public sign-ups), one fixed window per bucket",
    sql: `
      CREATE TABLE rate_limits (
        bucket          TEXT    NOT NULL PRIMARY KEY,
        window_start_ms INTEGER NOT NULL,
        count           INTEGER NOT NULL
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 50,
    name: "mail outbox (durable delivery with leased claims)",
    // status: queued → sent | failed. body is erased ('') once the mail is
    // sent or given up: it holds a one-time link or code.
    sql: `
      CREATE TABLE mail_outbox (
        id              TEXT    NOT NULL PRIMARY KEY,
        namespace       TEXT    NOT NULL,
        recipient       TEXT    NOT NULL,
        subject         TEXT    NOT NULL,
        body            TEXT    NOT NULL,
        from_name       TEXT    NOT NULL,
        status          TEXT    NOT NULL DEFAULT 'queued',
        attempts        INTEGER NOT NULL DEFAULT 0,
        created_ms      INTEGER NOT NULL,
        expires_ms      INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        lease_owner     TEXT    NOT NULL DEFAULT '',
        lease_until_ms  INTEGER NOT NULL DEFAULT 0,
        finished_ms     INTEGER NOT NULL DEFAULT 0,
        reason          TEXT    NOT NULL DEFAULT ''
      ) STRICT;
      CREATE INDEX mail_outbox_due      ON mail_outbox (status, next_attempt_ms);
      CREATE INDEX mail_outbox_expires  ON mail_outbox (status, expires_ms);
      CREATE INDEX mail_outbox_finished ON mail_outbox (status, finished_ms);
      CREATE INDEX mail_outbox_created  ON mail_outbox (status, created_ms);
    `,
  },
  {
    version: 51,
    name: "email verification: users.verified_ms, one-time mail tokens",
    // One live token per (user, purpose): issuing a new one replaces (voids)
    // the previous. Only the token's SHA-256 is stored. A spent token stays
    // until it expires, so its link can still send the browser to its
    // failure_redirect_url.
    sql: `
      ALTER TABLE users ADD COLUMN verified_ms INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE mail_tokens (
        namespace            TEXT    NOT NULL,
        purpose              TEXT    NOT NULL,
        user_id              TEXT    NOT NULL,
        digest               BLOB    NOT NULL,
        email                TEXT    NOT NULL,
        created_ms           INTEGER NOT NULL,
        expires_ms           INTEGER NOT NULL,
        spent_ms             INTEGER NOT NULL DEFAULT 0,
        attempts             INTEGER NOT NULL DEFAULT 0,
        redirect_url         TEXT    NOT NULL DEFAULT '',
        failure_redirect_url TEXT    NOT NULL DEFAULT '',
        PRIMARY KEY (namespace, purpose, user_id),
        FOREIGN KEY (namespace, user_id) REFERENCES users (namespace, id) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;
      CREATE UNIQUE INDEX mail_tokens_digest ON mail_tokens (digest);
      CREATE INDEX mail_tokens_expires ON mail_tokens (expires_ms);
    `,
  },
  {
    version: 52,
    name: "mail requests: a queued mail may carry its token still to be stored (bound by the sender)",
    // A Send* call queues its mail for any address with the token's digest
    // here, so it does the same work for a known and an unknown address; the
    // sender stores the token for the address's user before delivery (or
    // drops the mail when nobody has it) and clears these columns.
    sql: `
      ALTER TABLE mail_outbox ADD COLUMN token_purpose TEXT NOT NULL DEFAULT '';
      ALTER TABLE mail_outbox ADD COLUMN token_digest BLOB;
      ALTER TABLE mail_outbox ADD COLUMN token_redirect_url TEXT NOT NULL DEFAULT '';
      ALTER TABLE mail_outbox ADD COLUMN token_failure_redirect_url TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 55,
    name: "user profiles: a small map of text, stored as canonical JSON",
    sql: `ALTER TABLE users ADD COLUMN profile TEXT NOT NULL DEFAULT '{}';`,
  },
  {
    version: 56,
    name: "disabled accounts: users.disabled_ms (0: enabled)",
    sql: `ALTER TABLE users ADD COLUMN disabled_ms INTEGER NOT NULL DEFAULT 0;`,
  },
  // Access tokens: signing keys (src/storage/signing-keys.ts)
  {
    version: 60,
    name: "access-token signing keys (private halves sealed)",
    sql: `
      CREATE TABLE signing_keys (
        kid                TEXT    NOT NULL PRIMARY KEY,
        generation         INTEGER NOT NULL UNIQUE,
        public_jwk         TEXT    NOT NULL,
        private_sealed     TEXT    NOT NULL,
        created_ms         INTEGER NOT NULL,
        signs_from_ms      INTEGER NOT NULL,
        signs_until_ms     INTEGER NOT NULL DEFAULT 0,
        published_until_ms INTEGER NOT NULL DEFAULT 0
      ) STRICT;
    `,
  },
  {
    version: 65,
    name: "events: the append-only log of every change (audit, webhooks)",
    // AUTOINCREMENT: an id is never reused, even after the newest events are
    // trimmed, so ids only grow (page tokens and webhook order rely on it).
    sql: `
      CREATE TABLE events (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        namespace     TEXT    NOT NULL,
        type          TEXT    NOT NULL,
        user_id       TEXT    NOT NULL,
        actor_key     TEXT    NOT NULL,
        actor_session TEXT    NOT NULL,
        request_id    TEXT    NOT NULL,
        created_ms    INTEGER NOT NULL,
        data          TEXT    NOT NULL
      ) STRICT;
      CREATE INDEX events_namespace ON events (namespace, id);
      CREATE INDEX events_user      ON events (namespace, user_id, id);
      CREATE INDEX events_type      ON events (namespace, type, id);
      CREATE INDEX events_created   ON events (created_ms);
    `,
  },
  {
    version: 66,
    name: "webhooks: endpoints per namespace, and one delivery per (endpoint, event)",
    // A delivery row is made by a trigger in the transaction that appends its
    // event, for every enabled endpoint of the namespace whose filter takes the
    // type, so an event committed is an event delivered (at least once).
    // event_types: ",a,b," (a comma on each side of every type), or "*" for all.
    // secret: the signing secret sealed with ENCRYPTION_KEY_FILE's keys (never in clear).
    sql: `
      CREATE TABLE webhook_endpoints (
        id              TEXT    NOT NULL PRIMARY KEY,
        namespace       TEXT    NOT NULL,
        url             TEXT    NOT NULL,
        event_types     TEXT    NOT NULL,
        secret          TEXT    NOT NULL,
        state           TEXT    NOT NULL DEFAULT 'enabled',
        failures        INTEGER NOT NULL DEFAULT 0,
        disabled_reason TEXT    NOT NULL DEFAULT '',
        created_ms      INTEGER NOT NULL,
        updated_ms      INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX webhook_endpoints_namespace ON webhook_endpoints (namespace, state);
      CREATE TABLE webhook_deliveries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        endpoint_id     TEXT    NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id        INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
        user_key        TEXT    NOT NULL,
        state           TEXT    NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        lease_owner     TEXT    NOT NULL DEFAULT '',
        lease_until_ms  INTEGER NOT NULL DEFAULT 0,
        finished_ms     INTEGER NOT NULL DEFAULT 0,
        reason          TEXT    NOT NULL DEFAULT ''
      ) STRICT;
      CREATE INDEX webhook_deliveries_due   ON webhook_deliveries (state, next_attempt_ms);
      CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, user_key, state, event_id);
      CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
      CREATE TRIGGER events_to_webhooks AFTER INSERT ON events BEGIN
        INSERT INTO webhook_deliveries (endpoint_id, event_id, user_key, next_attempt_ms)
        SELECT e.id, NEW.id, NEW.user_id, NEW.created_ms FROM webhook_endpoints e
        WHERE e.namespace = NEW.namespace AND e.state = 'enabled'
          AND (e.event_types = '*' OR instr(e.event_types, ',' || NEW.type || ',') > 0);
      END;
    `,
  },
  {
    version: 70,
    name: "second factors: TOTP (sealed secret, replay guard), recovery codes, MFA tickets",
    // confirmed_ms 0: a pending enrolment (one per user, replaced by a new
    // one). last_step: the last time step a code was accepted for (-1: none).
    // Recovery codes and tickets are kept as SHA-256 digests only.
    sql: `
      CREATE TABLE mfa_totp (
        namespace     TEXT    NOT NULL,
        user_id       TEXT    NOT NULL,
        secret_sealed TEXT    NOT NULL,
        created_ms    INTEGER NOT NULL,
        confirmed_ms  INTEGER NOT NULL DEFAULT 0,
        last_step     INTEGER NOT NULL DEFAULT -1,
        PRIMARY KEY (namespace, user_id),
        FOREIGN KEY (namespace, user_id) REFERENCES users (namespace, id) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE mfa_recovery_codes (
        namespace TEXT NOT NULL,
        user_id   TEXT NOT NULL,
        digest    BLOB NOT NULL,
        PRIMARY KEY (namespace, user_id, digest),
        FOREIGN KEY (namespace, user_id) REFERENCES users (namespace, id) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE mfa_tickets (
        digest            BLOB    NOT NULL PRIMARY KEY,
        namespace         TEXT    NOT NULL,
        user_id           TEXT    NOT NULL,
        credential_digest BLOB    NOT NULL,
        created_ms        INTEGER NOT NULL,
        expires_ms        INTEGER NOT NULL,
        failures          INTEGER NOT NULL DEFAULT 0,
        FOREIGN KEY (namespace, user_id) REFERENCES users (namespace, id) ON DELETE CASCADE
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX mfa_tickets_user    ON mfa_tickets (namespace, user_id);
      CREATE INDEX mfa_tickets_expires ON mfa_tickets (expires_ms);
    `,
  },
  ...SQLITE_PASSKEY_MIGRATIONS,
];
