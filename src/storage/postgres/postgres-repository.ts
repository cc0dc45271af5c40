// The PostgreSQL engine, for several stateless replicas sharing one database:
// sessions, API keys and login-throttle counters all live here. Observable
// behaviour matches the SQLite engine exactly (the contract tests in
// test/storage/ run unchanged against both). Transactions run at READ
// COMMITTED; where that alone would allow a race, the statement takes a row
// lock, and the comment there says why.
import type pg from "pg";
import type { BindOutcome, NewOutboxMessage, OutboxMessage, OutboxStats, OutboxSweep } from "../../mail/outbox.js";
import { type EventDraft, type EventQuery, type StoredEvent, withSubject } from "../events.js";
import { lockShiftLimit } from "../lock-shift.js";
import type { MfaProof, MfaTicketRow, NewMfaTicket, PendingTotpResult, RedeemOutcome, TotpRow } from "../mfa-store.js";
import type { ChallengePurpose, NewChallenge, PasskeyInsert, PasskeyRow, TakenChallenge } from "../passkey-store.js";
import {
  type ApiKeyRecord,
  type ApiKeyRow,
  type CredentialRow,
  type ImportResult,
  type ListedSessionRow,
  type LoginAttemptRef,
  type LoginReservation,
  type LoginThrottleRow,
  type NewSession,
  type PasswordReset,
  type Repository,
  type SessionInsertOptions,
  type SessionRow,
  StorageUnavailable,
  type ThrottlePolicy,
  type User,
  type UserChanges,
  type UserExport,
  type UserKey,
  type UserPage,
  type UserSearch,
  type VerifyOutcome,
} from "../repository.js";
import {
  type CredentialRecord,
  type ExportRecord,
  editedProfileText,
  exportPages,
  type KeyRecord,
  keyParameters,
  type ListedSessionRecord,
  listParameters,
  type SessionRecord,
  toCredential,
  toKey,
  toKeyRecord,
  toListedSession,
  toSession,
  toUser,
  type UserRecord,
  updateUserParameters,
  userParameters,
} from "../rows.js";
import type { SigningKeyRow } from "../signing-keys.js";
import { SQL } from "../sql.js";
import { SEARCH_SCAN_MAX_DEFAULT, type SearchOutcome } from "../user-search.js";
import type { DeliveryFailure, DueDelivery, NewWebhookEndpoint, WebhookEndpoint, WebhookStats } from "../webhooks.js";
import { byPosition, CoalescedRead, SESSIONS_BY_DIGEST, USERS_BY_ID } from "./coalesced-reads.js";
import { Database, type Queryable } from "./database.js";
import { appendEvents, listEvents, sweepEvents } from "./events.js";
import * as mailTokens from "./mail-tokens.js";
import { PostgresMfa } from "./mfa.js";
import { applyMigrations } from "./migrate.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import { toPositional } from "./named-parameters.js";
import * as outbox from "./outbox.js";
import * as passkeys from "./passkeys.js";
import { createPool, type PoolOptions } from "./pool.js";
import * as recovery from "./recovery.js";
import * as signingKeys from "./signing-keys.js";
import { searchWithPlan } from "./user-search.js";
import * as webhooks from "./webhooks.js";

/** Sessions deleted per statement when a user is deleted. */
const DELETE_BATCH = 2000;

export interface PostgresOptions extends PoolOptions {
  /** Index entries a step of a Search may read (see ../user-search.ts). */
  searchScanMax?: number;
}

interface SessionKey {
  namespace: string;
  idDigest: Buffer;
  nowMs: number;
}

export class PostgresRepository implements Repository {
  readonly engine = "postgres" as const;
  onEventsWritten?: (events: readonly EventDraft[]) => void;
  private closed = false;
  private readonly mfa: PostgresMfa;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly db: Database,
    private readonly searchScanMax: number,
  ) {
    this.mfa = new PostgresMfa(db);
  }

  /** Session and user lookups of one event-loop turn share a statement (coalesced-reads.ts). */
  private readonly sessionReads = new CoalescedRead<SessionKey, SessionRecord>(
    async ({ namespace, idDigest, nowMs }) =>
      (await this.named<SessionRecord>(SQL.getSession, { id_digest: idDigest, namespace, now: nowMs }))[0],
    async (keys) =>
      byPosition(
        keys.length,
        (
          await this.db.query<SessionRecord & { i: number }>(SESSIONS_BY_DIGEST, [
            keys.map((k) => k.idDigest),
            keys.map((k) => k.namespace),
            keys.map((k) => k.nowMs),
          ])
        ).rows,
      ),
  );
  private readonly userReads = new CoalescedRead<{ namespace: string; id: string }, UserRecord>(
    async ({ namespace, id }) => (await this.named<UserRecord>(SQL.getUser, { namespace, id }))[0],
    async (keys) =>
      byPosition(
        keys.length,
        (
          await this.db.query<UserRecord & { i: number }>(USERS_BY_ID, [
            keys.map((k) => k.namespace),
            keys.map((k) => k.id),
          ])
        ).rows,
      ),
  );

  /** Creates the pool and applies migrations (under an advisory lock); the URL never appears in errors. */
  static async open(url: string, options: PostgresOptions): Promise<PostgresRepository> {
    const pool = createPool(url, options);
    const db = new Database(pool);
    try {
      await applyMigrations(db);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    return new PostgresRepository(pool, db, options.searchScanMax ?? SEARCH_SCAN_MAX_DEFAULT);
  }

  /** Answers when the database is reachable and its schema is at this build's version or newer (as SQLite's). */
  async ping(): Promise<void> {
    const latest = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]!.version;
    const rows = await this.named<{ version: number | null }>(SQL.schemaVersion, {});
    const version = rows[0]?.version ?? null;
    // A newer schema is fine (a newer replica migrated first during a rolling
    // upgrade; migrations only add); an older one means ours is not applied.
    if (version === null || version < latest) {
      throw new StorageUnavailable(`schema at version ${version}, expected ${latest} or later`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // Users

  async insertUser(namespace: string, user: User, passwordHash: string, events?: EventDraft[]): Promise<void> {
    // One statement, so user and password are inserted atomically without a
    // transaction round trip; the foreign key check runs at its end and sees both.
    const u = userParameters(namespace, user);
    await this.recording(
      events,
      (q) =>
        q.query(
          `WITH inserted AS (
         INSERT INTO users (namespace, id, username, email, created_ms, updated_ms, verified_ms, profile, disabled_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $8, $9, $10) RETURNING namespace, id)
       INSERT INTO passwords (namespace, user_id, hash, updated_ms)
       SELECT namespace, id, $7, $5 FROM inserted`,
          [
            namespace,
            u.id,
            u.username,
            u.email,
            u.created_ms,
            u.updated_ms,
            passwordHash,
            u.verified_ms,
            u.profile,
            u.disabled_ms,
          ],
        ),
      () => events ?? [],
    );
  }

  /**
   * Runs `work` and appends the events `written` returns for its result, in
   * one transaction; without events, runs `work` alone on the pool.
   */
  private async recording<T>(
    events: EventDraft[] | undefined,
    work: (q: Queryable) => Promise<T>,
    written: (result: T) => EventDraft[],
  ): Promise<T> {
    if (!events?.length) return work(this.db);
    let appended: EventDraft[] = [];
    const result = await this.db.transaction(async (tx) => {
      const result = await work(tx);
      appended = written(result);
      await appendEvents(tx, appended);
      return result;
    });
    if (appended.length > 0) this.onEventsWritten?.(appended);
    return result;
  }

  async getUser(namespace: string, id: string): Promise<User | undefined> {
    const row = await this.userReads.read({ namespace, id });
    return row && toUser(row);
  }

  async findUser(namespace: string, key: UserKey): Promise<User | undefined> {
    const row =
      "id" in key
        ? await this.userReads.read({ namespace, id: key.id })
        : "username" in key
          ? (await this.named<UserRecord>(SQL.getUserByUsername, { namespace, username: key.username }))[0]
          : (await this.named<UserRecord>(SQL.getUserByEmail, { namespace, email: key.email }))[0];
    return row && toUser(row);
  }

  findCredentialByUsername(namespace: string, username: string): Promise<CredentialRow | undefined> {
    return this.credential(SQL.credentialByUsername, { namespace, username });
  }

  findCredentialByEmail(namespace: string, email: string): Promise<CredentialRow | undefined> {
    return this.credential(SQL.credentialByEmail, { namespace, email });
  }

  getCredential(namespace: string, userId: string): Promise<CredentialRow | undefined> {
    return this.credential(SQL.credentialById, { namespace, id: userId });
  }

  private async credential(sql: string, params: Record<string, unknown>): Promise<CredentialRow | undefined> {
    const [row] = await this.named<CredentialRecord>(sql, params);
    return toCredential(row);
  }

  /** Runs shared SQL (../sql.ts, named parameters) as one statement. */
  private async named<R extends object>(
    sql: string,
    params: Record<string, unknown>,
    on: Queryable = this.db,
  ): Promise<R[]> {
    const { text, values } = toPositional(sql, params);
    return (await on.query<R & pg.QueryResultRow>(text, values)).rows;
  }

  /** The same, for the number of rows a write changed. */
  private async changed(sql: string, params: Record<string, unknown>, on: Queryable = this.db): Promise<number> {
    const { text, values } = toPositional(sql, params);
    return (await on.query(text, values)).rowCount ?? 0;
  }

  async updateUser(
    namespace: string,
    id: string,
    changes: UserChanges,
    updatedMs: number,
    events?: EventDraft[],
  ): Promise<User | undefined> {
    const profileChange = changes.profile;
    if (!profileChange) {
      const [row] = await this.recording(
        events,
        (q) => this.named<UserRecord>(SQL.updateUser, updateUserParameters(namespace, id, changes, updatedMs), q),
        (rows) => (rows.length > 0 ? (events ?? []) : []),
      );
      return row && toUser(row);
    }
    // The row is locked while the edit is merged into the profile as stored,
    // so concurrent edits of other keys wait for each other, and none is lost.
    let updated = false;
    const row = await this.db.transaction(async (tx) => {
      const locked = toPositional(`${SQL.profileForUpdate} FOR UPDATE`, { namespace, id });
      const stored = (await tx.query<{ profile: string }>(locked.text, locked.values)).rows[0];
      if (!stored) return undefined;
      const profile = editedProfileText(stored.profile, profileChange);
      const update = toPositional(SQL.updateUser, updateUserParameters(namespace, id, changes, updatedMs, profile));
      const result = (await tx.query<UserRecord>(update.text, update.values)).rows[0];
      if (result && events?.length) {
        await appendEvents(tx, events);
        updated = true;
      }
      return result;
    });
    if (updated && events?.length) this.onEventsWritten?.(events);
    return row && toUser(row);
  }

  async deleteUser(namespace: string, id: string, events?: EventDraft[]): Promise<boolean> {
    // The sessions go first, a batch per statement: one statement over 300k
    // sessions would hold its locks (and a pooled connection) for seconds.
    // Sessions made meanwhile go with the user.
    while ((await this.changed(SQL.deleteSessionBatch, { namespace, user_id: id, limit: DELETE_BATCH })) > 0);
    return this.recording(
      events,
      async (q) => (await this.changed(SQL.deleteUser, { namespace, id }, q)) === 1,
      (deleted) => (deleted ? (events ?? []) : []),
    );
  }

  async listUsers(namespace: string, page: UserPage): Promise<User[]> {
    return (await this.named<UserRecord>(SQL.listUsers, listParameters(namespace, page))).map(toUser);
  }

  async searchUsers(namespace: string, query: UserSearch): Promise<User[]> {
    return (await this.searchWithPlan(namespace, query)).rows.map(toUser);
  }

  /** searchUsers with the plan it took and the index entries it read (see ../user-search.ts). */
  async searchWithPlan(namespace: string, query: UserSearch): Promise<SearchOutcome> {
    // PostgreSQL text cannot hold NUL, so no stored value starts with such a
    // prefix (SQLite answers the same: none); sending it would be an encoding error.
    if (query.usernamePrefix.includes("\u0000") || query.emailPrefix.includes("\u0000")) {
      return { rows: [], plan: "range", entriesRead: 0 };
    }
    return searchWithPlan(this.db, namespace, query, this.searchScanMax);
  }

  // Passwords and sessions

  async replacePasswordHash(
    namespace: string,
    userId: string,
    expectedHash: string,
    newHash: string,
    nowMs: number,
    revokeSessions = true,
    events?: EventDraft[],
  ): Promise<boolean> {
    // Two statements in one transaction, not one statement with a CTE: the
    // UPDATE locks the passwords row (waiting for any insertSession holding it
    // FOR SHARE to commit), and only then does the DELETE take its snapshot,
    // which therefore sees every session inserted against the old hash. A
    // single statement would delete from a snapshot taken before that wait.
    return this.db
      .transaction(async (tx) => {
        const replace = { hash: newHash, updated_ms: nowMs, namespace, user_id: userId, expected: expectedHash };
        if ((await this.changed(SQL.replacePassword, replace, tx)) !== 1) return false;
        if (revokeSessions) await this.changed(SQL.deleteUserSessions, { namespace, user_id: userId }, tx);
        await appendEvents(tx, events ?? []);
        return true;
      })
      .then((replaced) => {
        if (replaced && events?.length) this.onEventsWritten?.(events);
        return replaced;
      });
  }

  async setPasswordHash(
    namespace: string,
    userId: string,
    newHash: string,
    nowMs: number,
    throttleAccounts: string[],
  ): Promise<boolean> {
    // As replacePasswordHash: the UPDATE locks the passwords row first, so the
    // DELETE's snapshot sees every session a login inserted against the old hash.
    return this.db.transaction(async (tx) => {
      const set = { hash: newHash, updated_ms: nowMs, namespace, user_id: userId };
      if ((await this.changed(SQL.setPassword, set, tx)) !== 1) return false;
      await this.changed(SQL.deleteUserSessions, { namespace, user_id: userId }, tx);
      await tx.query("DELETE FROM login_throttle WHERE namespace = $1 AND account = ANY($2::text[])", [
        namespace,
        throttleAccounts,
      ]);
      return true;
    });
  }

  async setUserDisabled(
    namespace: string,
    userId: string,
    disabled: boolean,
    nowMs: number,
    events?: EventDraft[],
  ): Promise<User | undefined> {
    // The passwords row's lock first, the one every login's insert takes
    // (insert_login_session, FOR SHARE in the plain insert): a login that
    // holds it commits first and its session is in the DELETE's snapshot; one
    // that waits for it sees the user disabled, in a fresh snapshot.
    const row = await this.db.transaction(async (tx) => {
      await this.changed(SQL.lockPassword, { namespace, user_id: userId }, tx);
      const update = toPositional(SQL.setDisabled, {
        namespace,
        id: userId,
        disabled_ms: disabled ? nowMs : 0,
        updated_ms: nowMs,
      });
      const [user] = (await tx.query<UserRecord>(update.text, update.values)).rows;
      if (user) {
        await this.changed(SQL.deleteUserSessions, { namespace, user_id: userId }, tx);
        await appendEvents(tx, events ?? []);
      }
      return user;
    });
    if (row && events?.length) this.onEventsWritten?.(events);
    return row && toUser(row);
  }

  async insertSession(
    namespace: string,
    session: NewSession,
    expectedHash: string,
    options: SessionInsertOptions = {},
  ): Promise<boolean> {
    return this.recording(
      options.events,
      (q) => this.insertSessionOn(q, namespace, session, expectedHash, options),
      (inserted) => (inserted ? (options.events ?? []) : []),
    );
  }

  private async insertSessionOn(
    q: Queryable,
    namespace: string,
    session: NewSession,
    expectedHash: string,
    options: SessionInsertOptions,
  ): Promise<boolean> {
    const params = [session.idDigest, namespace, session.userId, session.createdMs, session.expiresMs, expectedHash];
    if (options.maxSessions === undefined && options.endsAttempt === undefined) {
      // FOR SHARE locks the passwords row for the rest of this statement. A
      // concurrent replacePasswordHash either already holds the row (then we
      // wait, re-read the committed row, find the new hash and insert nothing)
      // or waits for us (then its DELETE runs after our commit and removes this
      // session). A plain EXISTS would read a snapshot and could insert a session
      // that the replace's DELETE never sees. (FOR KEY SHARE would not conflict
      // with an UPDATE of the hash, so it is FOR SHARE.)
      const insert = `INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
         SELECT $1, p.namespace, p.user_id, $4, $5 FROM passwords p
         WHERE p.namespace = $2 AND p.user_id = $3 AND p.hash = $6
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.namespace = $2 AND u.id = $3 AND u.disabled_ms <> 0)
         FOR SHARE OF p`;
      return (await q.query(insert, params)).rowCount === 1;
    }
    // With a cap, concurrent logins of one user must not each see room for
    // one more: insert_login_session (migration 11) locks the user's rows
    // first and trims with a snapshot taken after that lock, in one round trip.
    const ends = options.endsAttempt;
    const { rows } = await q.query<{ inserted: boolean }>(
      `SELECT insert_login_session($1, $2, $3, $4::bigint, $5::bigint, $6, $7::integer, $8::text[], $9) AS inserted`,
      [
        ...params,
        options.maxSessions === undefined ? -1 : Math.max(0, options.maxSessions - 1),
        [...(ends?.accounts ?? [])].sort(),
        ends?.attempt ?? "",
      ],
    );
    return rows[0]?.inserted === true;
  }

  async getSession(namespace: string, idDigest: Buffer, nowMs: number): Promise<SessionRow | undefined> {
    const row = await this.sessionReads.read({ namespace, idDigest, nowMs });
    return row && toSession(row);
  }

  async deleteSession(namespace: string, idDigest: Buffer, events?: EventDraft[]): Promise<void> {
    await this.recording(
      events,
      (q) =>
        this.named<{ user_id: string }>(
          `${SQL.deleteSession} RETURNING user_id`,
          { id_digest: idDigest, namespace },
          q,
        ),
      ([gone]) => (gone ? withSubject(events ?? [], namespace, gone.user_id) : []),
    );
  }

  async listSessions(namespace: string, userId: string, nowMs: number, limit: number): Promise<ListedSessionRow[]> {
    const rows = await this.named<ListedSessionRecord>(SQL.listSessions, {
      namespace,
      user_id: userId,
      now: nowMs,
      limit,
    });
    return rows.map(toListedSession);
  }

  async deleteSessions(
    namespace: string,
    userId: string,
    digests: Buffer[] | null,
    events?: EventDraft[],
  ): Promise<number> {
    return this.recording(
      events,
      (q) => {
        if (digests === null) return this.changed(SQL.deleteUserSessions, { namespace, user_id: userId }, q);
        // Every digest in one statement (SQLite runs one per digest, in a transaction).
        return this.changed(
          "DELETE FROM sessions WHERE namespace = @namespace AND user_id = @user_id AND id_digest = ANY(@digests::bytea[])",
          { namespace, user_id: userId, digests },
          q,
        );
      },
      (n) => (n > 0 ? (events ?? []) : []),
    );
  }

  // Housekeeping

  async sweep(nowMs: number, staleBeforeMs: number, limit: number): Promise<number> {
    // SKIP LOCKED: replicas sweeping at once split the work instead of queueing.
    // FOR UPDATE re-checks each row as committed, so a throttle row that got a
    // new failure meanwhile is no longer stale and stays.
    const sessions = await this.db.query(
      `DELETE FROM sessions WHERE id_digest IN (
         SELECT id_digest FROM sessions WHERE expires_ms <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [nowMs, limit],
    );
    const attempts = await this.db.query(
      `DELETE FROM login_attempts WHERE (namespace, account, attempt) IN (
         SELECT namespace, account, attempt FROM login_attempts WHERE expires_ms <= $1
         LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [nowMs, limit],
    );
    const throttles = await this.db.query(
      `DELETE FROM login_throttle WHERE (namespace, account) IN (
         SELECT namespace, account FROM login_throttle WHERE updated_ms < $1 AND locked_until_ms <= $2
         LIMIT $3 FOR UPDATE SKIP LOCKED)`,
      [staleBeforeMs, nowMs, limit],
    );
    return (sessions.rowCount ?? 0) + (attempts.rowCount ?? 0) + (throttles.rowCount ?? 0);
  }

  // Login throttling

  async getLoginThrottle(namespace: string, account: string): Promise<LoginThrottleRow | undefined> {
    const { rows } = await this.db.query<{ failures: number; locked_until_ms: number }>(
      "SELECT failures, locked_until_ms FROM login_throttle WHERE namespace = $1 AND account = $2",
      [namespace, account],
    );
    const row = rows[0];
    return row && { failures: row.failures, lockedUntilMs: row.locked_until_ms };
  }

  async reserveLoginAttempt(
    namespace: string,
    ref: LoginAttemptRef,
    nowMs: number,
    leaseMs: number,
    policy: ThrottlePolicy,
  ): Promise<LoginReservation> {
    // One round trip: the function (migration 10) locks the accounts' rows,
    // created if missing and in one order (no deadlock between attempts
    // sharing accounts), then counts their slots with a snapshot taken under
    // those locks, so every reservation and failure of these accounts, on
    // any replica, is seen or waits.
    const { rows } = await this.db.query<{ result: string | number }>(
      "SELECT reserve_login_attempt($1, $2::text[], $3, $4::bigint, $5::bigint, $6::integer) AS result",
      [namespace, [...ref.accounts].sort(), ref.attempt, nowMs, nowMs + leaseMs, policy.maxFailures],
    );
    const result = Number(rows[0]?.result ?? 0);
    return result === -1 ? { admitted: true } : { admitted: false, lockedUntilMs: result };
  }

  async failLoginAttempt(
    namespace: string,
    ref: LoginAttemptRef,
    nowMs: number,
    policy: ThrottlePolicy,
    events?: EventDraft[],
  ): Promise<void> {
    // One statement, so the slot turns into a failure in one commit: no
    // other attempt sees the slot gone without the failure. Same math as
    // SQLite: base << (failures - maxFailures), capped (the shift bounded
    // first), never shortening a lock already there.
    await this.recording(
      events,
      (q) =>
        q.query(
          `WITH gone AS (
         DELETE FROM login_attempts WHERE namespace = $1 AND account = ANY($2::text[]) AND attempt = $8
       )
       INSERT INTO login_throttle AS t (namespace, account, failures, locked_until_ms, updated_ms)
       SELECT $1, a, 1, CASE WHEN $4::integer <= 1 THEN $3::bigint + $5::bigint ELSE 0 END, $3::bigint
       FROM unnest($2::text[]) AS a ORDER BY a
       ON CONFLICT (namespace, account) DO UPDATE SET
         failures = t.failures + 1,
         updated_ms = $3::bigint,
         locked_until_ms = CASE
           WHEN t.failures + 1 < $4::integer THEN t.locked_until_ms
           ELSE greatest(t.locked_until_ms,
             $3::bigint + least($6::bigint, $5::bigint << least(t.failures + 1 - $4::integer, $7::integer)))
         END`,
          [
            namespace,
            [...ref.accounts].sort(),
            nowMs,
            policy.maxFailures,
            policy.baseLockMs,
            policy.maxLockMs,
            lockShiftLimit(policy),
            ref.attempt,
          ],
        ),
      () => events ?? [],
    );
  }

  async endLoginAttempt(namespace: string, ref: LoginAttemptRef, clearFailures: boolean): Promise<void> {
    await this.db.query(
      `WITH gone AS (
         DELETE FROM login_attempts WHERE namespace = $1 AND account = ANY($2::text[]) AND attempt = $3
       )
       DELETE FROM login_throttle WHERE $4::boolean AND namespace = $1 AND account = ANY($2::text[])`,
      [namespace, ref.accounts, ref.attempt, clearFailures],
    );
  }

  // API keys

  async insertApiKey(key: ApiKeyRecord, events?: EventDraft[]): Promise<void> {
    await this.recording(
      events,
      (q) => this.changed(SQL.insertKey, keyParameters(key), q),
      () => events ?? [],
    );
  }

  async findApiKey(keyDigest: Buffer): Promise<ApiKeyRow | undefined> {
    const [row] = await this.named<KeyRecord>(SQL.findKey, { key_digest: keyDigest });
    return row && toKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRow[]> {
    return (await this.named<KeyRecord>(SQL.listKeys, {})).map(toKey);
  }

  async revokeApiKey(id: string, nowMs: number, events?: EventDraft[]): Promise<boolean> {
    return this.recording(
      events,
      async (q) => (await this.changed(SQL.revokeKey, { revoked_ms: nowMs, id }, q)) === 1,
      (revoked) => (revoked ? (events ?? []) : []),
    );
  }

  async exportApiKeys(): Promise<ApiKeyRecord[]> {
    return (await this.named<KeyRecord & { key_digest: Buffer }>(SQL.exportKeys, {})).map(toKeyRecord);
  }

  async importApiKeys(keys: ApiKeyRecord[]): Promise<number> {
    return this.db.transaction(async (tx) => {
      let inserted = 0;
      for (const key of keys) {
        inserted += await this.changed(SQL.importKey, keyParameters(key), tx);
      }
      return inserted;
    });
  }

  // Rate limits

  async chargeRateLimit(bucket: string, windowStartMs: number, limit: number): Promise<boolean> {
    if (limit <= 0) return false;
    // One statement: replicas charging the same bucket at once are serialised
    // on its row, so together they never count past the limit.
    const { rows } = await this.db.query(
      `INSERT INTO rate_limits AS r (bucket, window_start_ms, count) VALUES ($1, $2, 1)
       ON CONFLICT (bucket) DO UPDATE SET
         count = CASE WHEN r.window_start_ms >= excluded.window_start_ms THEN r.count + 1 ELSE 1 END,
         window_start_ms = GREATEST(r.window_start_ms, excluded.window_start_ms)
       WHERE r.window_start_ms < excluded.window_start_ms OR r.count < $3
       RETURNING count`,
      [bucket, windowStartMs, limit],
    );
    return rows.length === 1;
  }

  // Bulk moves

  async countUsers(): Promise<number> {
    const [row] = await this.named<{ n: number }>(SQL.countUsers, {});
    return Number(row?.n ?? 0);
  }

  exportUsers(pageSize: number): AsyncIterable<UserExport[]> {
    // Each page is one short query; no connection is held between pages.
    return exportPages((after) =>
      after
        ? this.named<ExportRecord>(SQL.exportUsersAfter, { ...after, limit: pageSize })
        : this.named<ExportRecord>(SQL.exportUsersFirst, { limit: pageSize }),
    );
  }

  async importUsers(batch: UserExport[]): Promise<ImportResult> {
    return this.db.transaction(async (tx) => {
      let inserted = 0;
      for (const item of batch) {
        // The password row is inserted only when the user row was: a user that
        // clashes on id, username or email is skipped whole.
        const u = userParameters(item.namespace, item.user);
        const result = await tx.query(
          `WITH inserted AS (
             INSERT INTO users (namespace, id, username, email, created_ms, updated_ms, verified_ms, profile, disabled_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING namespace, id)
           INSERT INTO passwords (namespace, user_id, hash, updated_ms)
           SELECT namespace, id, $7, $6 FROM inserted`,
          [
            item.namespace,
            u.id,
            u.username,
            u.email,
            u.created_ms,
            u.updated_ms,
            item.passwordHash,
            u.verified_ms,
            u.profile,
            u.disabled_ms,
          ],
        );
        inserted += result.rowCount ?? 0;
      }
      return { inserted, skipped: batch.length - inserted };
    });
  }

  // Mail outbox (statements in outbox.ts)

  queueMail(message: NewOutboxMessage): Promise<void> {
    return outbox.insertMail(this.db, message);
  }

  claimMail(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<OutboxMessage[]> {
    return outbox.claimMail(this.db, owner, nowMs, leaseMs, limit);
  }

  bindMailToken(message: OutboxMessage, owner: string): Promise<BindOutcome> {
    return outbox.bindMailToken(this.db, message, owner);
  }

  markMailSent(id: string, owner: string, nowMs: number): Promise<void> {
    return outbox.markMailSent(this.db, id, owner, nowMs);
  }

  markMailRetry(id: string, owner: string, nextAttemptMs: number, reason: string): Promise<void> {
    return outbox.markMailRetry(this.db, id, owner, nextAttemptMs, reason);
  }

  markMailFailed(id: string, owner: string, nowMs: number, reason: string): Promise<void> {
    return outbox.markMailFailed(this.db, id, owner, nowMs, reason);
  }

  outboxStats(nowMs: number): Promise<OutboxStats> {
    return outbox.outboxStats(this.db, nowMs);
  }

  sweepOutbox(nowMs: number, finishedBeforeMs: number, limit: number): Promise<OutboxSweep> {
    return this.db.transaction((tx) => outbox.sweepOutbox(tx, nowMs, finishedBeforeMs, limit));
  }

  // One-time mail tokens (statements in mail-tokens.ts)

  async verifyEmailToken(
    namespace: string | null,
    digest: Buffer,
    nowMs: number,
    events?: EventDraft[],
  ): Promise<VerifyOutcome> {
    const outcome = await mailTokens.verifyEmailToken(this.db, namespace, digest, nowMs, events);
    if (outcome.verified && events?.length) this.onEventsWritten?.(events);
    return outcome;
  }

  sweepMailTokens(beforeMs: number, limit: number): Promise<number> {
    return mailTokens.sweepMailTokens(this.db, beforeMs, limit);
  }

  // Second factors (statements in mfa.ts)

  putPendingTotp(namespace: string, userId: string, sealed: string, nowMs: number): Promise<PendingTotpResult> {
    return this.mfa.putPendingTotp(namespace, userId, sealed, nowMs);
  }

  getTotp(namespace: string, userId: string): Promise<TotpRow | undefined> {
    return this.mfa.getTotp(namespace, userId);
  }

  confirmTotp(
    namespace: string,
    userId: string,
    sealed: string,
    step: number,
    recoveryDigests: Buffer[],
    nowMs: number,
  ): Promise<boolean> {
    return this.mfa.confirmTotp(namespace, userId, sealed, step, recoveryDigests, nowMs);
  }

  spendMfaProof(namespace: string, userId: string, proof: MfaProof): Promise<boolean> {
    return this.mfa.spendMfaProof(namespace, userId, proof);
  }

  replaceRecoveryCodes(namespace: string, userId: string, recoveryDigests: Buffer[]): Promise<boolean> {
    return this.mfa.replaceRecoveryCodes(namespace, userId, recoveryDigests);
  }

  countRecoveryCodes(namespace: string, userId: string): Promise<number> {
    return this.mfa.countRecoveryCodes(namespace, userId);
  }

  deleteTotp(namespace: string, userId: string): Promise<boolean> {
    return this.mfa.deleteTotp(namespace, userId);
  }

  insertMfaTicket(ticket: NewMfaTicket): Promise<void> {
    return this.mfa.insertMfaTicket(ticket);
  }

  getMfaTicket(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    maxFailures: number,
  ): Promise<MfaTicketRow | undefined> {
    return this.mfa.getMfaTicket(namespace, digest, nowMs, maxFailures);
  }

  redeemMfaTicket(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    maxFailures: number,
    proof: MfaProof,
  ): Promise<RedeemOutcome> {
    return this.mfa.redeemMfaTicket(namespace, digest, nowMs, maxFailures, proof);
  }

  sweepMfaTickets(nowMs: number, limit: number): Promise<number> {
    return this.mfa.sweepMfaTickets(nowMs, limit);
  }

  // Events (statements in events.ts)

  listEvents(query: EventQuery): Promise<StoredEvent[]> {
    return listEvents(this.db, query);
  }

  sweepEvents(beforeMs: number, limit: number): Promise<number> {
    return sweepEvents(this.db, beforeMs, limit);
  }

  // Webhooks (statements in webhooks.ts)

  insertWebhook(endpoint: NewWebhookEndpoint): Promise<void> {
    return webhooks.insertWebhook(this.db, endpoint);
  }

  listWebhooks(): Promise<WebhookEndpoint[]> {
    return webhooks.listWebhooks(this.db);
  }

  deleteWebhook(id: string): Promise<boolean> {
    return webhooks.deleteWebhook(this.db, id);
  }

  claimDeliveries(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<DueDelivery[]> {
    return webhooks.claimDeliveries(this.db, owner, nowMs, leaseMs, limit);
  }

  markDelivered(id: number, owner: string, nowMs: number): Promise<void> {
    return webhooks.markDelivered(this.db, id, owner, nowMs);
  }

  markDeliveryFailed(id: number, owner: string, failure: DeliveryFailure): Promise<void> {
    return webhooks.markDeliveryFailed(this.db, id, owner, failure);
  }

  webhookStats(nowMs: number): Promise<WebhookStats> {
    return webhooks.webhookStats(this.db, nowMs);
  }

  hasEnabledWebhooks(): Promise<boolean> {
    return webhooks.hasEnabledWebhooks(this.db);
  }

  // Passkeys and ceremony challenges (statements in passkeys.ts)

  insertChallenge(challenge: NewChallenge): Promise<void> {
    return passkeys.insertChallenge(this.db, challenge);
  }

  takeChallenge(
    namespace: string,
    digest: Buffer,
    purpose: ChallengePurpose,
    nowMs: number,
  ): Promise<TakenChallenge | undefined> {
    return passkeys.takeChallenge(this.db, namespace, digest, purpose, nowMs);
  }

  sweepChallenges(beforeMs: number, limit: number): Promise<number> {
    return passkeys.sweepChallenges(this.db, beforeMs, limit);
  }

  insertPasskey(namespace: string, passkey: PasskeyRow, maxPerUser: number): Promise<PasskeyInsert> {
    return passkeys.insertPasskey(this.db, namespace, passkey, maxPerUser);
  }

  listPasskeys(namespace: string, userId: string): Promise<PasskeyRow[]> {
    return passkeys.listPasskeys(this.db, namespace, userId);
  }

  findPasskeyByCredential(namespace: string, credentialId: string): Promise<PasskeyRow | undefined> {
    return passkeys.findPasskeyByCredential(this.db, namespace, credentialId);
  }

  usePasskey(
    namespace: string,
    id: string,
    expectedCounter: number,
    newCounter: number,
    nowMs: number,
  ): Promise<boolean> {
    return passkeys.usePasskey(this.db, namespace, id, expectedCounter, newCounter, nowMs);
  }

  deletePasskey(namespace: string, userId: string, id: string): Promise<boolean> {
    return passkeys.deletePasskey(this.db, namespace, userId, id);
  }

  hasPasskey(namespace: string, userId: string): Promise<boolean> {
    return passkeys.hasPasskey(this.db, namespace, userId);
  }

  // Account recovery (statements in recovery.ts)

  async resetPassword(
    reset: PasswordReset,
    events?: EventDraft[],
    ifVerified?: EventDraft[],
  ): Promise<User | undefined> {
    return this.recovered(await recovery.resetPassword(this.db, reset, events, ifVerified));
  }

  async spendMagicLink(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    ifVerified?: EventDraft[],
  ): Promise<User | undefined> {
    return this.recovered(await recovery.spendMagicLink(this.db, namespace, digest, nowMs, ifVerified));
  }

  private recovered(done: recovery.Recovered | undefined): User | undefined {
    if (done?.written.length) this.onEventsWritten?.(done.written);
    return done?.user;
  }

  // Access-token signing keys (statements in signing-keys.ts)

  listSigningKeys(): Promise<SigningKeyRow[]> {
    return signingKeys.listSigningKeys(this.db);
  }

  addSigningKey(key: SigningKeyRow, retiredAfterMs: number): Promise<boolean> {
    return signingKeys.addSigningKey(this.db, key, retiredAfterMs);
  }

  deleteRetiredSigningKeys(nowMs: number): Promise<number> {
    return signingKeys.deleteRetiredSigningKeys(this.db, nowMs);
  }
}
