// Versioned schema for PostgreSQL: the same tables and columns as the SQLite
// engine, with indexes that serve the same queries (unique constraints where
// SQLite has unique indexes; plpgsql functions where a login's steps would
// otherwise take several round trips). Append new migrations; never edit
// applied ones.
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
import { POSTGRES_PASSKEY_MIGRATIONS } from "./passkey-migrations.js";

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

      -- Reserves a slot for p_attempt in every account, or none, in one round
      -- trip: -1 admitted, 0 no room, else the latest lock (ms) among them.
      -- Each statement of a VOLATILE function takes a fresh snapshot, so the
      -- count runs after the accounts' rows are locked and sees every slot
      -- committed before (see PostgresRepository.reserveLoginAttempt).
      CREATE FUNCTION reserve_login_attempt(
        p_namespace text, p_accounts text[], p_attempt text, p_now bigint, p_expires bigint, p_max_failures integer
      ) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
      DECLARE
        locked bigint;
        reserved integer;
      BEGIN
        WITH rows AS (
          INSERT INTO login_throttle AS t (namespace, account, failures, locked_until_ms, updated_ms)
          SELECT p_namespace, a, 0, 0, p_now FROM unnest(p_accounts) AS a ORDER BY a
          ON CONFLICT (namespace, account) DO UPDATE SET updated_ms = t.updated_ms
          RETURNING t.locked_until_ms
        )
        SELECT coalesce(max(locked_until_ms) FILTER (WHERE locked_until_ms > p_now), 0) INTO locked FROM rows;
        IF locked > 0 THEN
          RETURN locked;
        END IF;
        INSERT INTO login_attempts (namespace, account, attempt, expires_ms)
        SELECT p_namespace, a, p_attempt, p_expires FROM unnest(p_accounts) AS a
        WHERE NOT EXISTS (
          SELECT 1 FROM login_throttle t
          WHERE t.namespace = p_namespace AND t.account = ANY(p_accounts)
            AND (SELECT count(*) FROM login_attempts l
                 WHERE l.namespace = p_namespace AND l.account = t.account AND l.expires_ms > p_now)
                >= greatest(p_max_failures - t.failures, 1));
        GET DIAGNOSTICS reserved = ROW_COUNT;
        RETURN CASE WHEN reserved = cardinality(p_accounts) THEN -1 ELSE 0 END;
      END;
      $$;
    `,
  },
  {
    version: 11,
    name: "a user's sessions in creation order (the per-user cap ends the oldest)",
    sql: `
      CREATE INDEX sessions_user_created ON sessions (namespace, user_id, created_ms, id_digest);
      DROP INDEX sessions_user;

      -- A login's session in one round trip (see PostgresRepository.insertSession):
      -- inserted only while the password hash is p_hash; the user's sessions
      -- beyond the newest p_keep ended (at most 1000; p_keep < 0: no cap);
      -- the login's attempt ended (its slots, its accounts' failures).
      -- The users row is locked first (as a cascading delete takes it), then
      -- the passwords row, which serialises logins of the user and orders
      -- them against replacePasswordHash; each later statement of a VOLATILE
      -- function takes a fresh snapshot, so the trim sees every session
      -- committed before the lock.
      CREATE FUNCTION insert_login_session(
        p_digest bytea, p_namespace text, p_user_id text, p_created bigint, p_expires bigint, p_hash text,
        p_keep integer, p_accounts text[], p_attempt text
      ) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        PERFORM 1 FROM users WHERE namespace = p_namespace AND id = p_user_id FOR KEY SHARE;
        PERFORM 1 FROM passwords
          WHERE namespace = p_namespace AND user_id = p_user_id AND hash = p_hash FOR NO KEY UPDATE;
        IF NOT FOUND THEN
          RETURN false;
        END IF;
        IF p_keep >= 0 THEN
          DELETE FROM sessions WHERE id_digest IN (
            SELECT id_digest FROM sessions WHERE namespace = p_namespace AND user_id = p_user_id
            ORDER BY created_ms DESC, id_digest DESC LIMIT 1000 OFFSET p_keep);
        END IF;
        INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
          VALUES (p_digest, p_namespace, p_user_id, p_created, p_expires);
        DELETE FROM login_attempts
          WHERE namespace = p_namespace AND account = ANY(p_accounts) AND attempt = p_attempt;
        DELETE FROM login_throttle WHERE namespace = p_namespace AND account = ANY(p_accounts);
        RETURN true;
      END;
      $$;
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
  {
    version: 40,
    name: "api key roles: admin, service, public",
    // Keys made before roles were namespace keys (now service keys) or admin keys.
    sql: `
      ALTER TABLE api_keys ADD COLUMN role text COLLATE "C" NOT NULL DEFAULT 'service'
        CONSTRAINT api_keys_role CHECK (role IN ('admin', 'service', 'public'));
      UPDATE api_keys SET role = 'admin' WHERE namespace IS NULL;
    `,
  },
  {
    version: 41,
    name: "rate limit counters (public sign-ups), one fixed window per bucket",
    sql: `
      CREATE TABLE rate_limits (
        bucket          text COLLATE "C" NOT NULL,
        window_start_ms bigint NOT NULL,
        count           integer NOT NULL,
        CONSTRAINT rate_limits_pkey PRIMARY KEY (bucket)
      );
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
        subject         text COLLATE "C" NOT NULL,
        body            text COLLATE "C" NOT NULL,
        from_name       text COLLATE "C" NOT NULL,
        status          text COLLATE "C" NOT NULL DEFAULT 'queued',
        attempts        integer NOT NULL DEFAULT 0,
        created_ms      bigint NOT NULL,
        expires_ms      bigint NOT NULL,
        next_attempt_ms bigint NOT NULL,
        lease_owner     text COLLATE "C" NOT NULL DEFAULT '',
        lease_until_ms  bigint NOT NULL DEFAULT 0,
        finished_ms     bigint NOT NULL DEFAULT 0,
        reason          text COLLATE "C" NOT NULL DEFAULT '',
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
        redirect_url         text COLLATE "C" NOT NULL DEFAULT '',
        failure_redirect_url text COLLATE "C" NOT NULL DEFAULT '',
        CONSTRAINT mail_tokens_pkey PRIMARY KEY (namespace, purpose, user_id),
        CONSTRAINT mail_tokens_digest UNIQUE (digest),
        CONSTRAINT mail_tokens_user FOREIGN KEY (namespace, user_id)
          REFERENCES users (namespace, id) ON DELETE CASCADE
      );
      CREATE INDEX mail_tokens_expires ON mail_tokens (expires_ms);
    `,
  },
  {
    version: 52,
    name: "mail requests: a queued mail may carry its token still to be stored (bound by the sender)",
    sql: `
      ALTER TABLE mail_outbox
        ADD COLUMN token_purpose text COLLATE "C" NOT NULL DEFAULT '',
        ADD COLUMN token_digest bytea,
        ADD COLUMN token_redirect_url text COLLATE "C" NOT NULL DEFAULT '',
        ADD COLUMN token_failure_redirect_url text COLLATE "C" NOT NULL DEFAULT '';
    `,
  },
  {
    version: 55,
    name: "user profiles: a small map of text, stored as canonical JSON",
    sql: `ALTER TABLE users ADD COLUMN profile text COLLATE "C" NOT NULL DEFAULT '{}';`,
  },
  {
    version: 56,
    name: "disabled accounts: users.disabled_ms (0: enabled); a login's session never for a disabled user",
    // insert_login_session as in migration 11, plus one check: after the
    // passwords row is locked (which setUserDisabled also takes, so the two
    // are ordered), a fresh snapshot must show the user enabled. A disable
    // committed first is seen here; one committed after finds this session
    // in its own DELETE.
    sql: `
      ALTER TABLE users ADD COLUMN disabled_ms bigint NOT NULL DEFAULT 0;
      CREATE OR REPLACE FUNCTION insert_login_session(
        p_digest bytea, p_namespace text, p_user_id text, p_created bigint, p_expires bigint, p_hash text,
        p_keep integer, p_accounts text[], p_attempt text
      ) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        PERFORM 1 FROM users WHERE namespace = p_namespace AND id = p_user_id FOR KEY SHARE;
        PERFORM 1 FROM passwords
          WHERE namespace = p_namespace AND user_id = p_user_id AND hash = p_hash FOR NO KEY UPDATE;
        IF NOT FOUND THEN
          RETURN false;
        END IF;
        PERFORM 1 FROM users WHERE namespace = p_namespace AND id = p_user_id AND disabled_ms = 0;
        IF NOT FOUND THEN
          RETURN false;
        END IF;
        IF p_keep >= 0 THEN
          DELETE FROM sessions WHERE id_digest IN (
            SELECT id_digest FROM sessions WHERE namespace = p_namespace AND user_id = p_user_id
            ORDER BY created_ms DESC, id_digest DESC LIMIT 1000 OFFSET p_keep);
        END IF;
        INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
          VALUES (p_digest, p_namespace, p_user_id, p_created, p_expires);
        DELETE FROM login_attempts
          WHERE namespace = p_namespace AND account = ANY(p_accounts) AND attempt = p_attempt;
        DELETE FROM login_throttle WHERE namespace = p_namespace AND account = ANY(p_accounts);
        RETURN true;
      END;
      $$;
    `,
  },
  // Access tokens: signing keys (src/storage/signing-keys.ts)
  {
    version: 60,
    name: "access-token signing keys (private halves sealed)",
    sql: `
      CREATE TABLE signing_keys (
        kid                text COLLATE "C" NOT NULL,
        generation         integer NOT NULL,
        public_jwk         text COLLATE "C" NOT NULL,
        private_sealed     text COLLATE "C" NOT NULL,
        created_ms         bigint NOT NULL,
        signs_from_ms      bigint NOT NULL,
        signs_until_ms     bigint NOT NULL DEFAULT 0,
        published_until_ms bigint NOT NULL DEFAULT 0,
        CONSTRAINT signing_keys_pkey PRIMARY KEY (kid),
        CONSTRAINT signing_keys_generation UNIQUE (generation)
      );
    `,
  },
  {
    version: 65,
    name: "events: the append-only log of every change (audit, webhooks)",
    sql: `
      CREATE TABLE events (
        id            bigint GENERATED ALWAYS AS IDENTITY,
        namespace     text COLLATE "C" NOT NULL,
        type          text COLLATE "C" NOT NULL,
        user_id       text COLLATE "C" NOT NULL,
        actor_key     text COLLATE "C" NOT NULL,
        actor_session text COLLATE "C" NOT NULL,
        request_id    text COLLATE "C" NOT NULL,
        created_ms    bigint NOT NULL,
        data          text COLLATE "C" NOT NULL,
        CONSTRAINT events_pkey PRIMARY KEY (id)
      );
      CREATE INDEX events_namespace ON events (namespace, id);
      CREATE INDEX events_user      ON events (namespace, user_id, id);
      CREATE INDEX events_type      ON events (namespace, type, id);
      CREATE INDEX events_created   ON events (created_ms);
    `,
  },
  {
    version: 66,
    name: "webhooks: endpoints per namespace, and one delivery per (endpoint, event)",
    sql: `
      CREATE TABLE webhook_endpoints (
        id              text COLLATE "C" NOT NULL,
        namespace       text COLLATE "C" NOT NULL,
        url             text COLLATE "C" NOT NULL,
        event_types     text COLLATE "C" NOT NULL,
        secret          text COLLATE "C" NOT NULL,
        state           text COLLATE "C" NOT NULL DEFAULT 'enabled',
        failures        integer NOT NULL DEFAULT 0,
        disabled_reason text COLLATE "C" NOT NULL DEFAULT '',
        created_ms      bigint NOT NULL,
        updated_ms      bigint NOT NULL,
        CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id)
      );
      CREATE INDEX webhook_endpoints_namespace ON webhook_endpoints (namespace, state);
      CREATE TABLE webhook_deliveries (
        id              bigint GENERATED ALWAYS AS IDENTITY,
        endpoint_id     text COLLATE "C" NOT NULL,
        event_id        bigint NOT NULL,
        user_key        text COLLATE "C" NOT NULL,
        state           text COLLATE "C" NOT NULL DEFAULT 'pending',
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_ms bigint NOT NULL,
        lease_owner     text COLLATE "C" NOT NULL DEFAULT '',
        lease_until_ms  bigint NOT NULL DEFAULT 0,
        finished_ms     bigint NOT NULL DEFAULT 0,
        reason          text COLLATE "C" NOT NULL DEFAULT '',
        CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id),
        CONSTRAINT webhook_deliveries_endpoint FOREIGN KEY (endpoint_id)
          REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        CONSTRAINT webhook_deliveries_event FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE
      );
      CREATE INDEX webhook_deliveries_due   ON webhook_deliveries (state, next_attempt_ms);
      CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, user_key, state, event_id);
      CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
      CREATE FUNCTION events_to_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO webhook_deliveries (endpoint_id, event_id, user_key, next_attempt_ms)
        SELECT e.id, NEW.id, NEW.user_id, NEW.created_ms FROM webhook_endpoints e
        WHERE e.namespace = NEW.namespace AND e.state = 'enabled'
          AND (e.event_types = '*' OR strpos(e.event_types, ',' || NEW.type || ',') > 0);
        RETURN NULL;
      END $$;
      CREATE TRIGGER events_to_webhooks AFTER INSERT ON events
        FOR EACH ROW EXECUTE FUNCTION events_to_webhooks();
    `,
  },
  {
    version: 70,
    name: "second factors: TOTP (sealed secret, replay guard), recovery codes, MFA tickets",
    sql: `
      CREATE TABLE mfa_totp (
        namespace     text COLLATE "C" NOT NULL,
        user_id       text COLLATE "C" NOT NULL,
        secret_sealed text COLLATE "C" NOT NULL,
        created_ms    bigint NOT NULL,
        confirmed_ms  bigint NOT NULL DEFAULT 0,
        last_step     bigint NOT NULL DEFAULT -1,
        CONSTRAINT mfa_totp_pkey PRIMARY KEY (namespace, user_id),
        CONSTRAINT mfa_totp_user FOREIGN KEY (namespace, user_id)
          REFERENCES users (namespace, id) ON DELETE CASCADE
      );
      CREATE TABLE mfa_recovery_codes (
        namespace text COLLATE "C" NOT NULL,
        user_id   text COLLATE "C" NOT NULL,
        digest    bytea NOT NULL,
        CONSTRAINT mfa_recovery_codes_pkey PRIMARY KEY (namespace, user_id, digest),
        CONSTRAINT mfa_recovery_codes_user FOREIGN KEY (namespace, user_id)
          REFERENCES users (namespace, id) ON DELETE CASCADE
      );
      CREATE TABLE mfa_tickets (
        digest            bytea NOT NULL,
        namespace         text COLLATE "C" NOT NULL,
        user_id           text COLLATE "C" NOT NULL,
        credential_digest bytea NOT NULL,
        created_ms        bigint NOT NULL,
        expires_ms        bigint NOT NULL,
        failures          integer NOT NULL DEFAULT 0,
        CONSTRAINT mfa_tickets_pkey PRIMARY KEY (digest),
        CONSTRAINT mfa_tickets_user FOREIGN KEY (namespace, user_id)
          REFERENCES users (namespace, id) ON DELETE CASCADE
      );
      CREATE INDEX mfa_tickets_user    ON mfa_tickets (namespace, user_id);
      CREATE INDEX mfa_tickets_expires ON mfa_tickets (expires_ms);
    `,
  },
  ...POSTGRES_PASSKEY_MIGRATIONS,
];
