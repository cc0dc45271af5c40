// The SQLite engine: one file, WAL journal, foreign keys on, waits for other
// processes' locks (the CLI) without blocking other calls. better-sqlite3 is
// synchronous and each statement takes microseconds, so the async methods
// simply wrap it; transactions are real SQLite transactions. The statements
// are in statements.ts, error translation in errors.ts.
import fs from "node:fs";
import path from "node:path";
import Database, { type Database as Db } from "better-sqlite3";
import type { BindOutcome, NewOutboxMessage, OutboxMessage, OutboxStats, OutboxSweep } from "../../mail/outbox.js";
import { type EventDraft, type EventQuery, type StoredEvent, withSubject } from "../events.js";
import { lockShiftLimit } from "../lock-shift.js";
import type { MfaProof, MfaTicketRow, NewMfaTicket, PendingTotpResult, RedeemOutcome, TotpRow } from "../mfa-store.js";
import type { ChallengePurpose, NewChallenge, PasskeyInsert, PasskeyRow, TakenChallenge } from "../passkey-store.js";
import { recoveryEvents } from "../recovery-sql.js";
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
} from "../rows.js";
import type { SigningKeyRow } from "../signing-keys.js";
import { SEARCH_SCAN_MAX_DEFAULT, type SearchOutcome } from "../user-search.js";
import type { DeliveryFailure, DueDelivery, NewWebhookEndpoint, WebhookEndpoint, WebhookStats } from "../webhooks.js";
import { isBusy, SYNC_BUSY_WAIT_MS, translateError } from "./errors.js";
import { prepareEvents, type SqliteEvents } from "./events.js";
import { prepareMailTokens, type SqliteMailTokens } from "./mail-tokens.js";
import { prepareMfa, type SqliteMfa } from "./mfa.js";
import { migrate } from "./migrate.js";
import { SQLITE_MIGRATIONS } from "./migrations.js";
import { prepareOutbox, type SqliteOutbox } from "./outbox.js";
import { preparePasskeys, type SqlitePasskeys } from "./passkeys.js";
import { prepareRecovery, type SqliteRecovery } from "./recovery.js";
import { prepareSigningKeys, type SqliteSigningKeys } from "./signing-keys.js";
import { prepareStatements, type SqliteStatements } from "./statements.js";
import { SqliteUserSearch } from "./user-search.js";
import { WalSync } from "./wal-sync.js";
import { prepareWebhooks, type SqliteWebhooks } from "./webhooks.js";

/** Sessions deleted per write when a user is deleted. */
const DELETE_BATCH = 2000;

export interface SqliteOptions {
  /** How long a write waits for another process's lock before failing. */
  busyTimeoutMs?: number;
  /** Index entries a step of a Search may read (see ../user-search.ts). */
  searchScanMax?: number;
}

/**
 * Opens (creating when missing) the database file, readable by its owner only:
 * it holds every password hash. The folders made for it are 0700 and the file
 * 0600, with the umask set for the open itself (nothing else runs meanwhile:
 * it is synchronous), so there is no moment when either is readable by others.
 * The -wal and -shm files SQLite makes later take the database file's mode.
 */
function openPrivately(file: string): Db {
  if (file === ":memory:") return new Database(file);
  const previous = process.umask(0o077);
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
    return new Database(file);
  } finally {
    process.umask(previous);
  }
}

export class SqliteRepository implements Repository {
  readonly engine = "sqlite" as const;
  onEventsWritten?: (events: readonly EventDraft[]) => void;
  private readonly db: Db;
  private readonly stmts: SqliteStatements;
  private readonly userSearch: SqliteUserSearch;
  private readonly outbox: SqliteOutbox;
  private readonly mailTokens: SqliteMailTokens;
  private readonly mfa: SqliteMfa;
  private readonly events: SqliteEvents;
  private readonly webhooks: SqliteWebhooks;
  private readonly passkeys: SqlitePasskeys;
  private readonly recovery: SqliteRecovery;
  private readonly signingKeys: SqliteSigningKeys;
  private readonly busyTimeoutMs: number;
  /** Flushes the WAL before writes are answered; none for an in-memory database. */
  private readonly walSync: WalSync | undefined;

  constructor(file: string, options: SqliteOptions = {}) {
    this.busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    this.db = openPrivately(file);
    this.db.pragma("journal_mode = WAL");
    // NORMAL: a commit writes the WAL without waiting for the disk, which
    // would hold the event loop; write() waits for it off the loop instead
    // (wal-sync.ts), so a write is still on disk before it is acknowledged.
    this.db.pragma("synchronous = NORMAL");
    this.walSync = file === ":memory:" ? undefined : new WalSync(`${path.resolve(file)}-wal`);
    this.db.pragma("foreign_keys = ON");
    // better-sqlite3 is synchronous: SQLite's own busy wait would block the
    // event loop (every other call) while another process (the CLI) holds the
    // write lock. Wait only briefly inside SQLite; guard() waits the rest
    // asynchronously.
    this.db.pragma(`busy_timeout = ${Math.min(SYNC_BUSY_WAIT_MS, this.busyTimeoutMs)}`);
    migrate(this.db);
    this.stmts = prepareStatements(this.db);
    this.userSearch = new SqliteUserSearch(this.db, options.searchScanMax ?? SEARCH_SCAN_MAX_DEFAULT, (work) =>
      this.guard(work),
    );
    this.outbox = prepareOutbox(this.db);
    this.mailTokens = prepareMailTokens(this.db);
    this.mfa = prepareMfa(this.db);
    this.events = prepareEvents(this.db, (events) => this.onEventsWritten?.(events));
    this.webhooks = prepareWebhooks(this.db);
    this.passkeys = preparePasskeys(this.db);
    this.recovery = prepareRecovery(this.db);
    this.signingKeys = prepareSigningKeys(this.db);
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
    await this.walSync?.close();
  }

  /**
   * Runs a statement (or a whole transaction, which SQLite has rolled back
   * when it fails), retrying while another process holds the write lock, up
   * to busyTimeoutMs, without blocking the event loop between tries. Lock and
   * IO errors become StorageUnavailable.
   */
  /** guard() for a statement that writes: answers once its commit is on disk. */
  private async write<T>(work: () => T): Promise<T> {
    const result = await this.guard(work);
    try {
      await this.walSync?.sync();
    } catch (err) {
      throw new StorageUnavailable("database write not confirmed on disk", false, { cause: err });
    }
    return result;
  }

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

  async insertUser(namespace: string, user: User, passwordHash: string, events?: EventDraft[]): Promise<void> {
    await this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.insertUserTx(namespace, user, passwordHash),
        () => events ?? [],
      ),
    );
  }

  async getUser(namespace: string, id: string): Promise<User | undefined> {
    const row = await this.guard(() => this.stmts.getUser.get({ namespace, id }) as UserRecord | undefined);
    return row && toUser(row);
  }

  async findUser(namespace: string, key: UserKey): Promise<User | undefined> {
    const row = await this.guard(
      () =>
        ("id" in key
          ? this.stmts.getUser.get({ namespace, id: key.id })
          : "username" in key
            ? this.stmts.getUserByUsername.get({ namespace, username: key.username })
            : this.stmts.getUserByEmail.get({ namespace, email: key.email })) as UserRecord | undefined,
    );
    return row && toUser(row);
  }

  async findCredentialByUsername(namespace: string, username: string): Promise<CredentialRow | undefined> {
    return toCredential(
      await this.guard(
        () => this.stmts.credentialByUsername.get({ namespace, username }) as CredentialRecord | undefined,
      ),
    );
  }

  async findCredentialByEmail(namespace: string, email: string): Promise<CredentialRow | undefined> {
    return toCredential(
      await this.guard(() => this.stmts.credentialByEmail.get({ namespace, email }) as CredentialRecord | undefined),
    );
  }

  async getCredential(namespace: string, userId: string): Promise<CredentialRow | undefined> {
    return toCredential(
      await this.guard(() => this.stmts.credentialById.get({ namespace, id: userId }) as CredentialRecord | undefined),
    );
  }

  async updateUser(
    namespace: string,
    id: string,
    changes: UserChanges,
    updatedMs: number,
    events?: EventDraft[],
  ): Promise<User | undefined> {
    const row = await this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.updateUserTx(namespace, id, changes, updatedMs),
        (updated) => (updated ? (events ?? []) : []),
      ),
    );
    return row && toUser(row);
  }

  async deleteUser(namespace: string, id: string, events?: EventDraft[]): Promise<boolean> {
    // The sessions go first, a batch per write with a turn of the event loop
    // between: in one statement, a user with 300k sessions would hold every
    // other call for a second. Sessions made meanwhile go with the user.
    while (
      (await this.write(
        () => this.stmts.deleteSessionBatch.run({ namespace, user_id: id, limit: DELETE_BATCH }).changes,
      )) > 0
    ) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Passwords and the sessions left go with the user (ON DELETE CASCADE).
    return this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.deleteUser.run({ namespace, id }).changes > 0,
        (deleted) => (deleted ? (events ?? []) : []),
      ),
    );
  }

  async listUsers(namespace: string, page: UserPage): Promise<User[]> {
    const rows = await this.guard(() => this.stmts.listUsers.all(listParameters(namespace, page)) as UserRecord[]);
    return rows.map(toUser);
  }

  async searchUsers(namespace: string, query: UserSearch): Promise<User[]> {
    return (await this.searchWithPlan(namespace, query)).rows.map(toUser);
  }

  /** searchUsers with the plan it took and the index entries it read (see ../user-search.ts). */
  searchWithPlan(namespace: string, query: UserSearch): Promise<SearchOutcome> {
    return this.userSearch.run(namespace, query);
  }

  async replacePasswordHash(
    namespace: string,
    userId: string,
    expectedHash: string,
    newHash: string,
    nowMs: number,
    revokeSessions = true,
    events?: EventDraft[],
  ): Promise<boolean> {
    return this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.replacePasswordTx(namespace, userId, expectedHash, newHash, nowMs, revokeSessions),
        (replaced) => (replaced ? (events ?? []) : []),
      ),
    );
  }

  async setPasswordHash(
    namespace: string,
    userId: string,
    newHash: string,
    nowMs: number,
    throttleAccounts: string[],
  ): Promise<boolean> {
    return this.write(() => this.stmts.setPasswordTx(namespace, userId, newHash, nowMs, throttleAccounts));
  }

  async setUserDisabled(
    namespace: string,
    userId: string,
    disabled: boolean,
    nowMs: number,
    events?: EventDraft[],
  ): Promise<User | undefined> {
    const row = await this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.setDisabledTx(namespace, userId, disabled ? nowMs : 0, nowMs),
        (user) => (user ? (events ?? []) : []),
      ),
    );
    return row && toUser(row);
  }

  async insertSession(
    namespace: string,
    session: NewSession,
    expectedHash: string,
    options: SessionInsertOptions = {},
  ): Promise<boolean> {
    const params = {
      id_digest: session.idDigest,
      namespace,
      user_id: session.userId,
      created_ms: session.createdMs,
      expires_ms: session.expiresMs,
      hash: expectedHash,
    };
    return this.write(() =>
      this.events.recording(
        options.events,
        () => this.stmts.insertSessionTx(params, options),
        (inserted) => (inserted ? (options.events ?? []) : []),
      ),
    );
  }

  async getSession(namespace: string, idDigest: Buffer, nowMs: number): Promise<SessionRow | undefined> {
    const row = await this.guard(
      () => this.stmts.getSession.get({ id_digest: idDigest, namespace, now: nowMs }) as SessionRecord | undefined,
    );
    return row && toSession(row);
  }

  async deleteSession(namespace: string, idDigest: Buffer, events?: EventDraft[]): Promise<void> {
    await this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.deleteSession.get({ id_digest: idDigest, namespace }) as { user_id: string } | undefined,
        (gone) => (gone ? withSubject(events ?? [], namespace, gone.user_id) : []),
      ),
    );
  }

  async listSessions(namespace: string, userId: string, nowMs: number, limit: number): Promise<ListedSessionRow[]> {
    const rows = await this.guard(
      () => this.stmts.listSessions.all({ namespace, user_id: userId, now: nowMs, limit }) as ListedSessionRecord[],
    );
    return rows.map(toListedSession);
  }

  async deleteSessions(
    namespace: string,
    userId: string,
    digests: Buffer[] | null,
    events?: EventDraft[],
  ): Promise<number> {
    return this.write(() =>
      this.events.recording(
        events,
        () => {
          if (digests === null) return this.stmts.deleteUserSessions.run({ namespace, user_id: userId }).changes;
          return this.stmts.deleteSessionsTx(namespace, userId, digests);
        },
        (n) => (n > 0 ? (events ?? []) : []),
      ),
    );
  }

  async sweep(nowMs: number, staleBeforeMs: number, limit: number): Promise<number> {
    return this.write(() => {
      const sessions = this.stmts.sweepSessions.run(nowMs, limit).changes;
      const attempts = this.stmts.sweepAttempts.run(nowMs, limit).changes;
      const throttles = this.stmts.sweepThrottle.run(staleBeforeMs, nowMs, limit).changes;
      return sessions + attempts + throttles;
    });
  }

  async getLoginThrottle(namespace: string, account: string): Promise<LoginThrottleRow | undefined> {
    const row = await this.guard(
      () => this.stmts.getThrottle.get(namespace, account) as { failures: number; locked_until_ms: number } | undefined,
    );
    return row && { failures: row.failures, lockedUntilMs: row.locked_until_ms };
  }

  async reserveLoginAttempt(
    namespace: string,
    ref: LoginAttemptRef,
    nowMs: number,
    leaseMs: number,
    policy: ThrottlePolicy,
  ): Promise<LoginReservation> {
    // Committed, but not waited on to reach the disk: a reservation only holds a place for a check that has not
    // been answered, and a crash loses the check with it. What the attempt ends with (a failure counted, or a
    // session) is written with write(), whose flush covers this commit too: one fdatasync per Login, not two.
    return this.guard(() => this.stmts.reserveAttemptTx.immediate(namespace, ref, nowMs, leaseMs, policy.maxFailures));
  }

  async failLoginAttempt(
    namespace: string,
    ref: LoginAttemptRef,
    nowMs: number,
    policy: ThrottlePolicy,
    events?: EventDraft[],
  ): Promise<void> {
    const params = {
      now: nowMs,
      max_failures: policy.maxFailures,
      base: policy.baseLockMs,
      cap: policy.maxLockMs,
      max_shift: lockShiftLimit(policy),
    };
    await this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.failAttemptTx(namespace, ref, params),
        () => events ?? [],
      ),
    );
  }

  async endLoginAttempt(namespace: string, ref: LoginAttemptRef, clearFailures: boolean): Promise<void> {
    await this.write(() => this.stmts.endAttemptTx(namespace, ref, clearFailures));
  }

  async insertApiKey(key: ApiKeyRecord, events?: EventDraft[]): Promise<void> {
    await this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.insertKey.run(keyParameters(key)),
        () => events ?? [],
      ),
    );
  }

  async findApiKey(keyDigest: Buffer): Promise<ApiKeyRow | undefined> {
    const row = await this.guard(() => this.stmts.findKey.get({ key_digest: keyDigest }) as KeyRecord | undefined);
    return row && toKey(row);
  }

  async listApiKeys(): Promise<ApiKeyRow[]> {
    return this.guard(() => (this.stmts.listKeys.all() as KeyRecord[]).map(toKey));
  }

  async revokeApiKey(id: string, nowMs: number, events?: EventDraft[]): Promise<boolean> {
    return this.write(() =>
      this.events.recording(
        events,
        () => this.stmts.revokeKey.run({ revoked_ms: nowMs, id }).changes > 0,
        (revoked) => (revoked ? (events ?? []) : []),
      ),
    );
  }

  async exportApiKeys(): Promise<ApiKeyRecord[]> {
    return this.guard(() =>
      (this.stmts.exportKeys.all() as Array<KeyRecord & { key_digest: Buffer }>).map(toKeyRecord),
    );
  }

  async importApiKeys(keys: ApiKeyRecord[]): Promise<number> {
    return this.write(() =>
      this.db.transaction(() => keys.reduce((n, key) => n + this.stmts.importKey.run(keyParameters(key)).changes, 0))(),
    );
  }

  async chargeRateLimit(bucket: string, windowStartMs: number, limit: number): Promise<boolean> {
    if (limit <= 0) return false;
    return this.write(
      () => this.stmts.chargeRateLimit.get({ bucket, window_start_ms: windowStartMs, limit }) !== undefined,
    );
  }

  async countUsers(): Promise<number> {
    return this.guard(() => (this.stmts.countUsers.get() as { n: number }).n);
  }

  exportUsers(pageSize: number): AsyncIterable<UserExport[]> {
    return exportPages((after) =>
      this.guard(
        () =>
          (after
            ? this.stmts.exportUsersAfter.all({ ...after, limit: pageSize })
            : this.stmts.exportUsersFirst.all({ limit: pageSize })) as ExportRecord[],
      ),
    );
  }

  async importUsers(batch: UserExport[]): Promise<ImportResult> {
    return this.write(() => this.stmts.importUsersTx(batch));
  }

  // Mail outbox (statements in outbox.ts)

  async queueMail(message: NewOutboxMessage): Promise<void> {
    await this.write(() => this.outbox.insert(message));
  }

  async claimMail(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<OutboxMessage[]> {
    return this.write(() => this.outbox.claim(owner, nowMs, leaseMs, limit));
  }

  async bindMailToken(message: OutboxMessage, owner: string): Promise<BindOutcome> {
    return this.write(() => this.outbox.bind(message, owner));
  }

  async markMailSent(id: string, owner: string, nowMs: number): Promise<void> {
    await this.write(() => this.outbox.sent(id, owner, nowMs));
  }

  async markMailRetry(id: string, owner: string, nextAttemptMs: number, reason: string): Promise<void> {
    await this.write(() => this.outbox.retry(id, owner, nextAttemptMs, reason));
  }

  async markMailFailed(id: string, owner: string, nowMs: number, reason: string): Promise<void> {
    await this.write(() => this.outbox.failed(id, owner, nowMs, reason));
  }

  async outboxStats(nowMs: number): Promise<OutboxStats> {
    return this.guard(() => this.outbox.stats(nowMs));
  }

  async sweepOutbox(nowMs: number, finishedBeforeMs: number, limit: number): Promise<OutboxSweep> {
    return this.write(() => this.outbox.sweep(nowMs, finishedBeforeMs, limit));
  }

  // One-time mail tokens (statements in mail-tokens.ts)

  async verifyEmailToken(
    namespace: string | null,
    digest: Buffer,
    nowMs: number,
    events?: EventDraft[],
  ): Promise<VerifyOutcome> {
    return this.write(() =>
      this.events.recording(
        events,
        () => this.mailTokens.verify(namespace, digest, nowMs),
        (outcome) => (outcome.verified ? withSubject(events ?? [], outcome.namespace, outcome.user.id) : []),
      ),
    );
  }

  async sweepMailTokens(beforeMs: number, limit: number): Promise<number> {
    return this.write(() => this.mailTokens.sweep(beforeMs, limit));
  }

  // Second factors (statements in mfa.ts)

  async putPendingTotp(namespace: string, userId: string, sealed: string, nowMs: number): Promise<PendingTotpResult> {
    return this.write(() => this.mfa.putPendingTotp(namespace, userId, sealed, nowMs));
  }

  async getTotp(namespace: string, userId: string): Promise<TotpRow | undefined> {
    return this.guard(() => this.mfa.getTotp(namespace, userId));
  }

  async confirmTotp(
    namespace: string,
    userId: string,
    sealed: string,
    step: number,
    recoveryDigests: Buffer[],
    nowMs: number,
  ): Promise<boolean> {
    return this.write(() => this.mfa.confirmTotp(namespace, userId, sealed, step, recoveryDigests, nowMs));
  }

  async spendMfaProof(namespace: string, userId: string, proof: MfaProof): Promise<boolean> {
    return this.write(() => this.mfa.spendMfaProof(namespace, userId, proof));
  }

  async replaceRecoveryCodes(namespace: string, userId: string, recoveryDigests: Buffer[]): Promise<boolean> {
    return this.write(() => this.mfa.replaceRecoveryCodes(namespace, userId, recoveryDigests));
  }

  async countRecoveryCodes(namespace: string, userId: string): Promise<number> {
    return this.guard(() => this.mfa.countRecoveryCodes(namespace, userId));
  }

  async deleteTotp(namespace: string, userId: string): Promise<boolean> {
    return this.write(() => this.mfa.deleteTotp(namespace, userId));
  }

  async insertMfaTicket(ticket: NewMfaTicket): Promise<void> {
    await this.write(() => this.mfa.insertMfaTicket(ticket));
  }

  async getMfaTicket(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    maxFailures: number,
  ): Promise<MfaTicketRow | undefined> {
    return this.guard(() => this.mfa.getMfaTicket(namespace, digest, nowMs, maxFailures));
  }

  async redeemMfaTicket(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    maxFailures: number,
    proof: MfaProof,
  ): Promise<RedeemOutcome> {
    return this.write(() => this.mfa.redeemMfaTicket(namespace, digest, nowMs, maxFailures, proof));
  }

  async sweepMfaTickets(nowMs: number, limit: number): Promise<number> {
    return this.write(() => this.mfa.sweepMfaTickets(nowMs, limit));
  }

  // Events (statements in events.ts)

  async listEvents(query: EventQuery): Promise<StoredEvent[]> {
    return this.guard(() => this.events.list(query));
  }

  async sweepEvents(beforeMs: number, limit: number): Promise<number> {
    return this.write(() => this.events.sweep(beforeMs, limit));
  }

  // Webhooks (statements in webhooks.ts)

  async insertWebhook(endpoint: NewWebhookEndpoint): Promise<void> {
    await this.write(() => this.webhooks.insert(endpoint));
  }

  async listWebhooks(): Promise<WebhookEndpoint[]> {
    return this.guard(() => this.webhooks.list());
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return this.write(() => this.webhooks.remove(id));
  }

  async claimDeliveries(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<DueDelivery[]> {
    return this.write(() => this.webhooks.claim(owner, nowMs, leaseMs, limit));
  }

  async markDelivered(id: number, owner: string, nowMs: number): Promise<void> {
    await this.write(() => this.webhooks.delivered(id, owner, nowMs));
  }

  async markDeliveryFailed(id: number, owner: string, failure: DeliveryFailure): Promise<void> {
    await this.write(() => this.webhooks.failed(id, owner, failure));
  }

  async webhookStats(nowMs: number): Promise<WebhookStats> {
    return this.guard(() => this.webhooks.stats(nowMs));
  }

  async hasEnabledWebhooks(): Promise<boolean> {
    return this.guard(() => this.webhooks.anyEnabled());
  }

  // Passkeys and ceremony challenges (statements in passkeys.ts)

  async insertChallenge(challenge: NewChallenge): Promise<void> {
    await this.write(() => this.passkeys.insertChallenge(challenge));
  }

  async takeChallenge(
    namespace: string,
    digest: Buffer,
    purpose: ChallengePurpose,
    nowMs: number,
  ): Promise<TakenChallenge | undefined> {
    return this.write(() => this.passkeys.takeChallenge(namespace, digest, purpose, nowMs));
  }

  async sweepChallenges(beforeMs: number, limit: number): Promise<number> {
    return this.write(() => this.passkeys.sweepChallenges(beforeMs, limit));
  }

  async insertPasskey(namespace: string, passkey: PasskeyRow, maxPerUser: number): Promise<PasskeyInsert> {
    return this.write(() => this.passkeys.insertPasskey(namespace, passkey, maxPerUser));
  }

  async listPasskeys(namespace: string, userId: string): Promise<PasskeyRow[]> {
    return this.guard(() => this.passkeys.list(namespace, userId));
  }

  async findPasskeyByCredential(namespace: string, credentialId: string): Promise<PasskeyRow | undefined> {
    return this.guard(() => this.passkeys.byCredential(namespace, credentialId));
  }

  async usePasskey(
    namespace: string,
    id: string,
    expectedCounter: number,
    newCounter: number,
    nowMs: number,
  ): Promise<boolean> {
    return this.write(() => this.passkeys.use(namespace, id, expectedCounter, newCounter, nowMs));
  }

  async deletePasskey(namespace: string, userId: string, id: string): Promise<boolean> {
    return this.write(() => this.passkeys.remove(namespace, userId, id));
  }

  async hasPasskey(namespace: string, userId: string): Promise<boolean> {
    return this.guard(() => this.passkeys.any(namespace, userId));
  }

  // Account recovery (statements in recovery.ts)

  async resetPassword(
    reset: PasswordReset,
    events?: EventDraft[],
    ifVerified?: EventDraft[],
  ): Promise<User | undefined> {
    const outcome = await this.write(() =>
      this.events.recording(
        [...(events ?? []), ...(ifVerified ?? [])],
        () => this.recovery.resetPassword(reset),
        (done) => (done ? withSubject(recoveryEvents(done, events, ifVerified), reset.namespace, done.userId) : []),
      ),
    );
    return outcome?.user;
  }

  async spendMagicLink(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    ifVerified?: EventDraft[],
  ): Promise<User | undefined> {
    const outcome = await this.write(() =>
      this.events.recording(
        ifVerified,
        () => this.recovery.spendMagicLink(namespace, digest, nowMs),
        (done) => (done ? withSubject(recoveryEvents(done, [], ifVerified), namespace, done.userId) : []),
      ),
    );
    return outcome?.user;
  }

  // Access-token signing keys (statements in signing-keys.ts)

  async listSigningKeys(): Promise<SigningKeyRow[]> {
    return this.guard(() => this.signingKeys.list());
  }

  async addSigningKey(key: SigningKeyRow, retiredAfterMs: number): Promise<boolean> {
    return this.write(() => this.signingKeys.add.immediate(key, retiredAfterMs));
  }

  async deleteRetiredSigningKeys(nowMs: number): Promise<number> {
    return this.write(() => this.signingKeys.deleteRetired(nowMs));
  }
}
