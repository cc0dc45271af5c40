// The SQLite engine: one file, WAL journal, foreign keys on, a busy timeout so
// a second process (the CLI) can write while the server runs. better-sqlite3 is
// synchronous and each statement takes microseconds, so the async methods
// simply wrap it; transactions are real SQLite transactions.
import fs from "node:fs";
import path from "node:path";
import Database, { type Database as Db, type Statement } from "better-sqlite3";
import {
  type ApiKeyRecord,
  type ApiKeyRow,
  type CredentialRow,
  type ImportResult,
  type LoginThrottleRow,
  type NewSession,
  type Repository,
  type SessionRow,
  type SessionSummary,
  type ThrottlePolicy,
  type UniqueField,
  type UserExport,
  type UserRow,
  type UserSearch,
  StorageUnavailable,
  UniqueViolation,
} from "../repository.js";
import { prefixUpperBound } from "../prefix-range.js";
import {
  USER_COLUMNS,
  toCredential,
  toKey,
  toUser,
  toUserExport,
  type CredentialRecord,
  type ExportRecord,
  type KeyRecord,
  type UserRecord,
} from "../rows.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";



export interface SqliteOptions {
  /** How long a write waits for another process's lock before failing. */
  busyTimeoutMs?: number;
}

export class SqliteRepository implements Repository {
  readonly engine = "sqlite" as const;
  private readonly db: Db;
  private readonly stmts: ReturnType<typeof prepareStatements>;
  private readonly searchCache = new Map<string, Statement>();
  private readonly busyTimeoutMs: number;

  constructor(file: string, options: SqliteOptions = {}) {
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    if (file !== ":memory:") fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    // FULL: a commit is on disk before the call is acknowledged. Writes are
    // bounded by bcrypt anyway, so the extra fsync costs nothing visible.
    this.db.pragma("synchronous = FULL");
    this.db.pragma("foreign_keys = ON");
    // better-sqlite3 is synchronous: SQLite's own busy wait would block the
    // event loop (every other call) while another process (the CLI) holds the
    // write lock. Wait only briefly inside SQLite; guard() waits the rest
    // asynchronously.
    this.db.pragma(`busy_timeout = ${Math.min(SYNC_BUSY_WAIT_MS, this.busyTimeoutMs)}`);
    migrate(this.db);
    this.stmts = prepareStatements(this.db);
  }

  async ping(): Promise<void> {
    const latest = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]!.version;
    const row = await this.guard(() => this.stmts.schemaVersion.get() as { version: number | null });
    // A newer schema is fine (a newer replica migrated first during a rolling
    // upgrade; migrations only add); an older one means ours is not applied.
    if (row.version === null || row.version < latest) {
      throw new StorageUnavailable(`schema at version ${row.version}, expected ${latest} or later`);
    }
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    try {
      this.db.pragma("optimize");
    } catch {
      // best effort: statistics only
    }
    this.db.close();
  }

  /**
   * Runs a statement (or a whole transaction, which SQLite has rolled back
   * when it fails), retrying while another process holds the write lock, up
   * to busyTimeoutMs, without blocking the event loop between tries. Lock and
   * IO errors become StorageUnavailable.
   */
  private async guard<T>(work: () => T): Promise<T> {
    const deadline = Date.now() + this.busyTimeoutMs;
    for (let pause = 2; ; pause = Math.min(pause * 2, 50)) {
      try {
        return work();
      } catch (err) {
        if (!isBusy(err) || Date.now() + pause > deadline) throw translateError(err);
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    }
  }

  async insertUser(namespace: string, user: UserRow, passwordHash: string): Promise<void> {
    await this.guard(() =>
      this.stmts.insertUserTx(namespace, user, passwordHash),
    );
  }

  async getUser(namespace: string, id: string): Promise<UserRow | undefined> {
    const row = await this.guard(() => this.stmts.getUser.get(namespace, id) as UserRecord | undefined);
    return row && toUser(row);
  }

  async findCredentialByUsername(namespace: string, username: string): Promise<CredentialRow | undefined> {
    return toCredential(
      await this.guard(() => this.stmts.credentialByUsername.get(namespace, username) as CredentialRecord | undefined),
    );
  }

  async findCredentialByEmail(namespace: string, email: string): Promise<CredentialRow | undefined> {
    return toCredential(
      await this.guard(() => this.stmts.credentialByEmail.get(namespace, email) as CredentialRecord | undefined),
    );
  }

  async getCredential(namespace: string, userId: string): Promise<CredentialRow | undefined> {
    return toCredential(
      await this.guard(() => this.stmts.credentialById.get(namespace, userId) as CredentialRecord | undefined),
    );
  }

  async updateUser(
    namespace: string,
    id: string,
    changes: { username?: string; email?: string },
    updatedMs: number,
  ): Promise<UserRow | undefined> {
    const row = await this.guard(
      () =>
        this.stmts.updateUser.get({
          namespace,
          id,
          username: changes.username ?? null,
          email: changes.email ?? null,
          updated_ms: updatedMs,
        }) as UserRecord | undefined,
    );
    return row && toUser(row);
  }

  async deleteUser(namespace: string, id: string): Promise<boolean> {
    // Passwords and sessions go with the user (ON DELETE CASCADE).
    return this.guard(() => this.stmts.deleteUser.run(namespace, id).changes > 0);
  }

  async searchUsers(namespace: string, query: UserSearch): Promise<UserRow[]> {
    const where = ["namespace = @namespace"];
    const params: Record<string, unknown> = { namespace, limit: query.limit, offset: query.offset };
    for (const [column, prefix] of [
      ["username", query.usernamePrefix],
      ["email", query.emailPrefix],
    ] as const) {
      if (prefix === "") continue;
      where.push(`${column} >= @${column}_lo`);
      params[`${column}_lo`] = prefix;
      const upper = prefixUpperBound(prefix);
      if (upper !== undefined) {
        where.push(`${column} < @${column}_hi`);
        params[`${column}_hi`] = upper;
      }
    }
    const sql = `SELECT ${USER_COLUMNS} FROM users WHERE ${where.join(" AND ")}
                 ORDER BY created_ms, id LIMIT @limit OFFSET @offset`;
    let stmt = this.searchCache.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.searchCache.set(sql, stmt);
    }
    const rows = await this.guard(() => stmt.all(params) as UserRecord[]);
    return rows.map(toUser);
  }

  async replacePasswordHash(
    namespace: string,
    userId: string,
    expectedHash: string,
    newHash: string,
    nowMs: number,
    revokeSessions = true,
  ): Promise<boolean> {
    return this.guard(() =>
      this.stmts.replacePasswordTx(namespace, userId, expectedHash, newHash, nowMs, revokeSessions),
    );
  }

  async insertSession(namespace: string, session: NewSession, expectedHash: string): Promise<boolean> {
    const result = await this.guard(() =>
      this.stmts.insertSession.run({
        id_digest: session.idDigest,
        namespace,
        user_id: session.userId,
        created_ms: session.createdMs,
        expires_ms: session.expiresMs,
        hash: expectedHash,
      }),
    );
    return result.changes === 1;
  }

  async getSession(namespace: string, idDigest: Buffer, nowMs: number): Promise<SessionRow | undefined> {
    const row = await this.guard(
      () =>
        this.stmts.getSession.get(idDigest, namespace, nowMs) as
          | { user_id: string; username: string; email: string; created_ms: number; expires_ms: number }
          | undefined,
    );
    return (
      row && {
        userId: row.user_id,
        username: row.username,
        email: row.email,
        createdMs: row.created_ms,
        expiresMs: row.expires_ms,
      }
    );
  }

  async deleteSession(namespace: string, idDigest: Buffer): Promise<void> {
    await this.guard(() => this.stmts.deleteSession.run(idDigest, namespace));
  }

  async listSessions(namespace: string, userId: string, nowMs: number, limit: number): Promise<SessionSummary[]> {
    const rows = await this.guard(
      () =>
        this.stmts.listSessions.all(namespace, userId, nowMs, limit) as Array<{
          id_digest: Buffer;
          created_ms: number;
          expires_ms: number;
        }>,
    );
    return rows.map((r) => ({ idDigest: r.id_digest, createdMs: r.created_ms, expiresMs: r.expires_ms }));
  }

  async deleteSessions(namespace: string, userId: string, digests: Buffer[] | null): Promise<number> {
    return this.guard(() => {
      if (digests === null) return this.stmts.deleteUserSessions.run(namespace, userId).changes;
      return this.stmts.deleteSessionsTx(namespace, userId, digests);
    });
  }

  async sweep(nowMs: number, staleBeforeMs: number, limit: number): Promise<number> {
    return this.guard(() => {
      const sessions = this.stmts.sweepSessions.run(nowMs, limit).changes;
      const throttles = this.stmts.sweepThrottle.run(staleBeforeMs, nowMs, limit).changes;
      return sessions + throttles;
    });
  }

  async getLoginThrottle(namespace: string, account: string): Promise<LoginThrottleRow | undefined> {
    const row = await this.guard(
      () =>
        this.stmts.getThrottle.get(namespace, account) as { failures: number; locked_until_ms: number } | undefined,
    );
    return row && { failures: row.failures, lockedUntilMs: row.locked_until_ms };
  }

  async chargeLoginAttempt(
    namespace: string,
    account: string,
    nowMs: number,
    policy: ThrottlePolicy,
  ): Promise<LoginThrottleRow | undefined> {
    const row = await this.guard(
      () =>
        this.stmts.chargeAttempt.get({
          namespace,
          account,
          now: nowMs,
          max_failures: policy.maxFailures,
          base: policy.baseLockMs,
          cap: policy.maxLockMs,
        }) as { failures: number; locked_until_ms: number } | undefined,
    );
    return row && { failures: row.failures, lockedUntilMs: row.locked_until_ms };
  }

  async clearLoginFailures(namespace: string, account: string): Promise<void> {
    await this.guard(() => this.stmts.clearThrottle.run(namespace, account));
  }

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    await this.guard(() => this.stmts.insertKey.run(keyParams(key)));
  }

  async findApiKey(keyDigest: Buffer): Promise<ApiKeyRow | undefined> {
    const row = await this.guard(() => this.stmts.findKey.get(keyDigest) as KeyRecord | undefined);
    return row && toKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRow[]> {
    return this.guard(() => (this.stmts.listKeys.all() as KeyRecord[]).map(toKey));
  }

  async revokeApiKey(id: string, nowMs: number): Promise<boolean> {
    return this.guard(() => this.stmts.revokeKey.run(nowMs, id).changes > 0);
  }

  async countActiveApiKeys(): Promise<number> {
    return this.guard(() => (this.stmts.countKeys.get() as { n: number }).n);
  }

  async exportApiKeys(): Promise<ApiKeyRecord[]> {
    return this.guard(() =>
      (this.stmts.exportKeys.all() as Array<KeyRecord & { key_digest: Buffer }>).map((row) => ({
        ...toKey(row),
        keyDigest: row.key_digest,
      })),
    );
  }

  async importApiKeys(keys: ApiKeyRecord[]): Promise<number> {
    return this.guard(() =>
      this.db.transaction(() => keys.reduce((n, key) => n + this.stmts.importKey.run(keyParams(key)).changes, 0))(),
    );
  }

  async *exportUsers(pageSize: number): AsyncIterable<UserExport[]> {
    let after: { namespace: string; created_ms: number; id: string } | undefined;
    for (;;) {
      const rows = await this.guard(
        () =>
          (after
            ? this.stmts.exportUsersAfter.all({ ...after, limit: pageSize })
            : this.stmts.exportUsersFirst.all({ limit: pageSize })) as ExportRecord[],
      );
      if (rows.length === 0) return;
      yield rows.map(toUserExport);
      const last = rows[rows.length - 1]!;
      after = { namespace: last.namespace, created_ms: last.created_ms, id: last.id };
    }
  }

  async importUsers(batch: UserExport[]): Promise<ImportResult> {
    return this.guard(() => this.stmts.importUsersTx(batch));
  }
}


function keyParams(key: ApiKeyRecord) {
  return {
    id: key.id,
    key_digest: key.keyDigest,
    namespace: key.namespace,
    label: key.label,
    created_ms: key.createdMs,
    revoked_ms: key.revokedMs,
  };
}




function prepareStatements(db: Db) {
  const credentialSelect = `SELECT u.id, u.username, u.email, u.created_ms, u.updated_ms, p.hash
     FROM users u JOIN passwords p ON p.namespace = u.namespace AND p.user_id = u.id`;
  const insertUser = db.prepare(
    `INSERT INTO users (namespace, id, username, email, created_ms, updated_ms)
     VALUES (@namespace, @id, @username, @email, @created_ms, @updated_ms)`,
  );
  const insertPassword = db.prepare(
    "INSERT INTO passwords (namespace, user_id, hash, updated_ms) VALUES (?, ?, ?, ?)",
  );
  const updatePassword = db.prepare(
    "UPDATE passwords SET hash = ?, updated_ms = ? WHERE namespace = ? AND user_id = ? AND hash = ?",
  );
  const deleteUserSessions = db.prepare("DELETE FROM sessions WHERE namespace = ? AND user_id = ?");
  const deleteOneSession = db.prepare("DELETE FROM sessions WHERE id_digest = ? AND namespace = ? AND user_id = ?");
  const importUser = db.prepare(
    `INSERT INTO users (namespace, id, username, email, created_ms, updated_ms)
     VALUES (@namespace, @id, @username, @email, @created_ms, @updated_ms) ON CONFLICT DO NOTHING`,
  );
  const userParams = (namespace: string, user: UserRow) => ({
    namespace,
    id: user.id,
    username: user.username,
    email: user.email,
    created_ms: user.createdMs,
    updated_ms: user.updatedMs,
  });

  return {
    insertUserTx: db.transaction((namespace: string, user: UserRow, hash: string) => {
      try {
        insertUser.run(userParams(namespace, user));
      } catch (err) {
        throw uniqueViolation(err) ?? err;
      }
      insertPassword.run(namespace, user.id, hash, user.createdMs);
    }),
    replacePasswordTx: db.transaction(
      (namespace: string, userId: string, expected: string, next: string, nowMs: number, revoke: boolean): boolean => {
        if (updatePassword.run(next, nowMs, namespace, userId, expected).changes !== 1) return false;
        if (revoke) deleteUserSessions.run(namespace, userId);
        return true;
      },
    ),
    importUsersTx: db.transaction((batch: UserExport[]): ImportResult => {
      let inserted = 0;
      for (const item of batch) {
        if (importUser.run(userParams(item.namespace, item.user)).changes === 1) {
          insertPassword.run(item.namespace, item.user.id, item.passwordHash, item.user.updatedMs);
          inserted++;
        }
      }
      return { inserted, skipped: batch.length - inserted };
    }),
    schemaVersion: db.prepare("SELECT max(version) AS version FROM schema_migrations"),
    getUser: db.prepare(`SELECT ${USER_COLUMNS} FROM users WHERE namespace = ? AND id = ?`),
    credentialByUsername: db.prepare(`${credentialSelect} WHERE u.namespace = ? AND u.username = ?`),
    credentialByEmail: db.prepare(`${credentialSelect} WHERE u.namespace = ? AND u.email = ?`),
    credentialById: db.prepare(`${credentialSelect} WHERE u.namespace = ? AND u.id = ?`),
    updateUser: wrapUnique(
      db.prepare(
        `UPDATE users SET username = coalesce(@username, username), email = coalesce(@email, email),
           updated_ms = @updated_ms
         WHERE namespace = @namespace AND id = @id RETURNING ${USER_COLUMNS}`,
      ),
    ),
    deleteUser: db.prepare("DELETE FROM users WHERE namespace = ? AND id = ?"),
    insertSession: db.prepare(
      `INSERT INTO sessions (id_digest, namespace, user_id, created_ms, expires_ms)
       SELECT @id_digest, @namespace, @user_id, @created_ms, @expires_ms
       WHERE EXISTS (SELECT 1 FROM passwords WHERE namespace = @namespace AND user_id = @user_id AND hash = @hash)`,
    ),
    getSession: db.prepare(
      `SELECT s.user_id, u.username, u.email, s.created_ms, s.expires_ms
       FROM sessions s JOIN users u ON u.namespace = s.namespace AND u.id = s.user_id
       WHERE s.id_digest = ? AND s.namespace = ? AND s.expires_ms > ?`,
    ),
    deleteSession: db.prepare("DELETE FROM sessions WHERE id_digest = ? AND namespace = ?"),
    deleteUserSessions,
    deleteSessionsTx: db.transaction((namespace: string, userId: string, digests: Buffer[]): number =>
      digests.reduce((n, d) => n + deleteOneSession.run(d, namespace, userId).changes, 0),
    ),
    listSessions: db.prepare(
      `SELECT id_digest, created_ms, expires_ms FROM sessions
       WHERE namespace = ? AND user_id = ? AND expires_ms > ?
       ORDER BY created_ms DESC, id_digest DESC LIMIT ?`,
    ),
    sweepSessions: db.prepare(
      "DELETE FROM sessions WHERE id_digest IN (SELECT id_digest FROM sessions WHERE expires_ms <= ? LIMIT ?)",
    ),
    sweepThrottle: db.prepare(
      `DELETE FROM login_throttle WHERE (namespace, account) IN (
         SELECT namespace, account FROM login_throttle WHERE updated_ms < ? AND locked_until_ms <= ? LIMIT ?)`,
    ),
    getThrottle: db.prepare(
      "SELECT failures, locked_until_ms FROM login_throttle WHERE namespace = ? AND account = ?",
    ),
    // One statement, so concurrent failures of one account are each counted.
    // The lock doubles per failure past the limit: base << (failures - max), capped.
    // One statement: the lock check and the count cannot be split by another
    // attempt. A locked row is left alone (the WHERE), and nothing is returned.
    chargeAttempt: db.prepare(
      `INSERT INTO login_throttle (namespace, account, failures, locked_until_ms, updated_ms)
       VALUES (@namespace, @account, 1, CASE WHEN @max_failures <= 1 THEN @now + @base ELSE 0 END, @now)
       ON CONFLICT (namespace, account) DO UPDATE SET
         failures = failures + 1,
         updated_ms = @now,
         locked_until_ms = CASE
           WHEN failures + 1 < @max_failures THEN 0
           ELSE @now + min(@cap, @base << min(failures + 1 - @max_failures, 40))
         END
       WHERE locked_until_ms <= @now
       RETURNING failures, locked_until_ms`,
    ),
    clearThrottle: db.prepare("DELETE FROM login_throttle WHERE namespace = ? AND account = ?"),
    insertKey: db.prepare(
      `INSERT INTO api_keys (id, key_digest, namespace, label, created_ms, revoked_ms)
       VALUES (@id, @key_digest, @namespace, @label, @created_ms, @revoked_ms)`,
    ),
    importKey: db.prepare(
      `INSERT INTO api_keys (id, key_digest, namespace, label, created_ms, revoked_ms)
       VALUES (@id, @key_digest, @namespace, @label, @created_ms, @revoked_ms) ON CONFLICT DO NOTHING`,
    ),
    findKey: db.prepare(
      "SELECT id, namespace, label, created_ms, revoked_ms FROM api_keys WHERE key_digest = ? AND revoked_ms IS NULL",
    ),
    listKeys: db.prepare("SELECT id, namespace, label, created_ms, revoked_ms FROM api_keys ORDER BY created_ms, id"),
    exportKeys: db.prepare(
      "SELECT id, key_digest, namespace, label, created_ms, revoked_ms FROM api_keys ORDER BY created_ms, id",
    ),
    revokeKey: db.prepare("UPDATE api_keys SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL"),
    countKeys: db.prepare("SELECT count(*) AS n FROM api_keys WHERE revoked_ms IS NULL"),
    exportUsersFirst: db.prepare(
      `SELECT u.namespace, u.id, u.username, u.email, u.created_ms, u.updated_ms, p.hash
       FROM users u JOIN passwords p ON p.namespace = u.namespace AND p.user_id = u.id
       ORDER BY u.namespace, u.created_ms, u.id LIMIT @limit`,
    ),
    exportUsersAfter: db.prepare(
      `SELECT u.namespace, u.id, u.username, u.email, u.created_ms, u.updated_ms, p.hash
       FROM users u JOIN passwords p ON p.namespace = u.namespace AND p.user_id = u.id
       WHERE (u.namespace, u.created_ms, u.id) > (@namespace, @created_ms, @id)
       ORDER BY u.namespace, u.created_ms, u.id LIMIT @limit`,
    ),
  };
}

/** Wraps a statement's get() so a UNIQUE failure becomes UniqueViolation. */
function wrapUnique(stmt: Statement): Pick<Statement, "get"> {
  return {
    get: (...args: unknown[]) => {
      try {
        return stmt.get(...args);
      } catch (err) {
        throw uniqueViolation(err) ?? err;
      }
    },
  } as Pick<Statement, "get">;
}

/**
 * better-sqlite3's errors, recognised by name and code rather than instanceof:
 * the native addon keeps the SqliteError class of the first module instance
 * that loaded it, so instanceof fails from a second one (jest loads modules
 * once per test file but the addon once per process).
 */
function asSqliteError(err: unknown): (Error & { code: string }) | undefined {
  const e = err as { name?: unknown; code?: unknown } | null;
  return e?.name === "SqliteError" && typeof e.code === "string" ? (err as Error & { code: string }) : undefined;
}

function uniqueViolation(cause: unknown): UniqueViolation | undefined {
  const err = asSqliteError(cause);
  if (!err) return undefined;
  if (err.code !== "SQLITE_CONSTRAINT_UNIQUE" && err.code !== "SQLITE_CONSTRAINT_PRIMARYKEY") return undefined;
  // "UNIQUE constraint failed: users.namespace, users.username"
  const field: UniqueField = /users\.username/.test(err.message)
    ? "username"
    : /users\.email/.test(err.message)
      ? "email"
      : "id";
  return new UniqueViolation(field);
}

/** Waits this long inside SQLite (blocking) before guard() takes over the waiting. */
const SYNC_BUSY_WAIT_MS = 20;

function isBusy(err: unknown): boolean {
  return asSqliteError(err)?.code.startsWith("SQLITE_BUSY") ?? false;
}

function translateError(err: unknown): unknown {
  const sqlite = asSqliteError(err);
  if (sqlite && /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY)/.test(sqlite.code)) {
    return new StorageUnavailable(`database unavailable (${sqlite.code})`, sqlite.code.startsWith("SQLITE_BUSY"), {
      cause: err,
    });
  }
  // Checked by name, not instanceof: the native addon creates this TypeError in
  // the main realm, so instanceof fails where this module runs in another (jest's vm).
  if ((err as Error | null)?.name === "TypeError" && /database connection is not open/.test(String((err as Error).message))) {
    return new StorageUnavailable("database is closed", false, { cause: err });
  }
  return err;
}

function migrate(db: Db): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL) STRICT`);
  // IMMEDIATE takes the write lock first, so two processes starting at once
  // apply each migration exactly once.
  db.transaction(() => {
    const applied = new Set(
      (db.prepare("SELECT version FROM schema_migrations").all() as Array<{ version: number }>).map((r) => r.version),
    );
    for (const m of SQLITE_MIGRATIONS) {
      if (applied.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)").run(
        m.version,
        m.name,
        Date.now(),
      );
    }
  }).immediate();
}
