// The PostgreSQL engine, for several stateless replicas sharing one database:
// sessions, API keys and login-throttle counters all live here. Observable
// behaviour matches the SQLite engine exactly (the contract tests in
// test/storage/ run unchanged against both). Transactions run at READ
// COMMITTED; where that alone would allow a race, the statement takes a row
// lock, and the comment there says why.
import type pg from "pg";
import { lockShiftLimit } from "../lock-shift.js";
import {
  type ApiKeyRecord,
  type ApiKeyRow,
  type CredentialRow,
  type ImportResult,
  type ListedSessionRow,
  type LoginThrottleRow,
  type NewSession,
  type Repository,
  type SessionRow,
  StorageUnavailable,
  type ThrottlePolicy,
  type User,
  type UserExport,
  type UserSearch,
} from "../repository.js";
import {
  type CredentialRecord,
  type ExportRecord,
  exportPages,
  type KeyRecord,
  keyParameters,
  type ListedSessionRecord,
  type SessionRecord,
  toCredential,
  toKey,
  toKeyRecord,
  toListedSession,
  toSession,
  toUser,
  type UserRecord,
  updateUserParameters,
} from "../rows.js";
import { SQL } from "../sql.js";
import { SEARCH_SCAN_MAX_DEFAULT, type SearchOutcome } from "../user-search.js";
import { Database, type Queryable } from "./database.js";
import { applyMigrations } from "./migrate.js";
import { POSTGRES_MIGRATIONS } from "./migrations.js";
import { toPositional } from "./named-parameters.js";
import { createPool, type PoolOptions } from "./pool.js";
import { searchWithPlan } from "./user-search.js";

export interface PostgresOptions extends PoolOptions {
  /** Index entries a step of a Search may read (see ../user-search.ts). */
  searchScanMax?: number;
}

export class PostgresRepository implements Repository {
  readonly engine = "postgres" as const;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly db: Database,
    private readonly searchScanMax: number,
  ) {}

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

  /** Answers only when the schema is at exactly this build's version (as the SQLite engine). */
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

  async insertUser(namespace: string, user: User, passwordHash: string): Promise<void> {
    // One statement, so user and password are inserted atomically without a
    // transaction round trip; the foreign key check runs at its end and sees both.
    await this.db.query(
      `WITH inserted AS (
         INSERT INTO users (namespace, id, username, email, created_ms, updated_ms)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING namespace, id)
       INSERT INTO passwords (namespace, user_id, hash, updated_ms)
       SELECT namespace, id, $7, $5 FROM inserted`,
      [namespace, user.id, user.username, user.email, user.createdMs, user.updatedMs, passwordHash],
    );
  }

  async getUser(namespace: string, id: string): Promise<User | undefined> {
    const [row] = await this.named<UserRecord>(SQL.getUser, { namespace, id });
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
  private async named<R extends object>(sql: string, params: Record<string, unknown>): Promise<R[]> {
    const { text, values } = toPositional(sql, params);
    return (await this.db.query<R & pg.QueryResultRow>(text, values)).rows;
  }

  /** The same, for the number of rows a write changed. */
  private async changed(sql: string, params: Record<string, unknown>, on: Queryable = this.db): Promise<number> {
    const { text, values } = toPositional(sql, params);
    return (await on.query(text, values)).rowCount ?? 0;
  }

  async updateUser(
    namespace: string,
    id: string,
    changes: { username?: string; email?: string },
    updatedMs: number,
  ): Promise<User | undefined> {
    const [row] = await this.named<UserRecord>(SQL.updateUser, updateUserParameters(namespace, id, changes, updatedMs));
    return row && toUser(row);
  }

  async deleteUser(namespace: string, id: string): Promise<boolean> {
    return (await this.changed(SQL.deleteUser, { namespace, id })) === 1;
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
  ): Promise<boolean> {
    // Two statements in one transaction, not one statement with a CTE: the
    // UPDATE locks the passwords row (waiting for any insertSession holding it
    // FOR SHARE to commit), and only then does the DELETE take its snapshot,
    // which therefore sees every session inserted against the old hash. A
    // single statement would delete from a snapshot taken before that wait.
    return this.db.transaction(async (tx) => {
      const replace = { hash: newHash, updated_ms: nowMs, namespace, user_id: userId, expected: expectedHash };
      if ((await this.changed(SQL.replacePassword, replace, tx)) !== 1) return false;
      if (revokeSessions) await this.changed(SQL.deleteUserSessions, { namespace, user_id: userId }, tx);
      return true;
    });
  }

  async insertSession(
    namespace: string,
    session: NewSession,
    expectedHash: string,
    endsThrottleOf?: string,
  ): Promise<boolean> {
    // FOR SHARE locks the passwords row for the rest of this statement. A
    // concurrent replacePasswordHash either already holds the row (then we
    // wait, re-read the committed row, find the new hash and insert nothing)
    // or waits for us (then its DELETE runs after our commit and removes this
    // session). A plain EXISTS would read a snapshot and could insert a session
    // that the replace's DELETE never sees. (FOR KEY SHARE would not conflict
    // with an UPDATE of the hash, so it is FOR SHARE.)
    const insert = `INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
       SELECT $1, namespace, user_id, $4, $5 FROM passwords
       WHERE namespace = $2 AND user_id = $3 AND hash = $6
       FOR SHARE`;
    const params = [session.idDigest, namespace, session.userId, session.createdMs, session.expiresMs, expectedHash];
    if (endsThrottleOf === undefined) return (await this.db.query(insert, params)).rowCount === 1;
    // One statement, so one round trip and one commit: the DELETE runs only
    // when the INSERT produced its row (a data-modifying CTE's RETURNING).
    const { rows } = await this.db.query<{ inserted: number }>(
      `WITH inserted AS (${insert} RETURNING 1),
       cleared AS (
         DELETE FROM login_throttle WHERE namespace = $2 AND account = $7 AND EXISTS (SELECT 1 FROM inserted)
       )
       SELECT count(*)::int AS inserted FROM inserted`,
      [...params, endsThrottleOf],
    );
    return rows[0]?.inserted === 1;
  }

  async getSession(namespace: string, idDigest: Buffer, nowMs: number): Promise<SessionRow | undefined> {
    const [row] = await this.named<SessionRecord>(SQL.getSession, { id_digest: idDigest, namespace, now: nowMs });
    return row && toSession(row);
  }

  async deleteSession(namespace: string, idDigest: Buffer): Promise<void> {
    await this.changed(SQL.deleteSession, { id_digest: idDigest, namespace });
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

  async deleteSessions(namespace: string, userId: string, digests: Buffer[] | null): Promise<number> {
    if (digests === null) return this.changed(SQL.deleteUserSessions, { namespace, user_id: userId });
    // Every digest in one statement (SQLite runs one per digest, in a transaction).
    return this.changed(
      "DELETE FROM sessions WHERE namespace = @namespace AND user_id = @user_id AND id_digest = ANY(@digests::bytea[])",
      { namespace, user_id: userId, digests },
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
    const throttles = await this.db.query(
      `DELETE FROM login_throttle WHERE (namespace, account) IN (
         SELECT namespace, account FROM login_throttle WHERE updated_ms < $1 AND locked_until_ms <= $2
         LIMIT $3 FOR UPDATE SKIP LOCKED)`,
      [staleBeforeMs, nowMs, limit],
    );
    return (sessions.rowCount ?? 0) + (throttles.rowCount ?? 0);
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

  async chargeLoginAttempt(
    namespace: string,
    account: string,
    nowMs: number,
    policy: ThrottlePolicy,
  ): Promise<LoginThrottleRow | undefined> {
    // One statement, so concurrent attempts on one account (on any replica)
    // are each counted, and none slips past a lock another one just set (the
    // conflicting row is locked, then re-checked against the WHERE). Same math
    // as SQLite: no lock below maxFailures, then base << (failures -
    // maxFailures), capped (the shift is bounded first).
    const { rows } = await this.db.query<{ failures: number; locked_until_ms: number }>(
      `INSERT INTO login_throttle AS t (namespace, account, failures, locked_until_ms, updated_ms)
       VALUES ($1, $2, 1, CASE WHEN $4::integer <= 1 THEN $3::bigint + $5::bigint ELSE 0 END, $3::bigint)
       ON CONFLICT (namespace, account) DO UPDATE SET
         failures = t.failures + 1,
         updated_ms = $3::bigint,
         locked_until_ms = CASE
           WHEN t.failures + 1 < $4::integer THEN 0
           ELSE $3::bigint + least($6::bigint, $5::bigint << least(t.failures + 1 - $4::integer, $7::integer))
         END
       WHERE t.locked_until_ms <= $3::bigint
       RETURNING failures, locked_until_ms`,
      [namespace, account, nowMs, policy.maxFailures, policy.baseLockMs, policy.maxLockMs, lockShiftLimit(policy)],
    );
    const row = rows[0];
    return row && { failures: row.failures, lockedUntilMs: row.locked_until_ms };
  }

  async clearLoginFailures(namespace: string, account: string): Promise<void> {
    await this.db.query("DELETE FROM login_throttle WHERE namespace = $1 AND account = $2", [namespace, account]);
  }

  // API keys

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    await this.changed(SQL.insertKey, keyParameters(key));
  }

  async findApiKey(keyDigest: Buffer): Promise<ApiKeyRow | undefined> {
    const [row] = await this.named<KeyRecord>(SQL.findKey, { key_digest: keyDigest });
    return row && toKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRow[]> {
    return (await this.named<KeyRecord>(SQL.listKeys, {})).map(toKey);
  }

  async revokeApiKey(id: string, nowMs: number): Promise<boolean> {
    return (await this.changed(SQL.revokeKey, { revoked_ms: nowMs, id })) === 1;
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
        const result = await tx.query(
          `WITH inserted AS (
             INSERT INTO users (namespace, id, username, email, created_ms, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING namespace, id)
           INSERT INTO passwords (namespace, user_id, hash, updated_ms)
           SELECT namespace, id, $7, $6 FROM inserted`,
          [
            item.namespace,
            item.user.id,
            item.user.username,
            item.user.email,
            item.user.createdMs,
            item.user.updatedMs,
            item.passwordHash,
          ],
        );
        inserted += result.rowCount ?? 0;
      }
      return { inserted, skipped: batch.length - inserted };
    });
  }
}
