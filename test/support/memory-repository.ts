// An in-memory Repository for unit tests of the service layer: the same
// observable behaviour as the engines for what the services use (the storage
// contract suite is what holds the real engines to it), plus gates that stop a
// chosen call before it touches the data, so a test decides exactly how two
// requests interleave (a login against a password change, say).

import type {
  BindOutcome,
  NewOutboxMessage,
  OutboxMessage,
  OutboxStats,
  OutboxStore,
  OutboxSweep,
} from "../../src/mail/outbox.js";
import type { EventDraft, EventQuery, StoredEvent } from "../../src/storage/events.js";
import type {
  ChallengePurpose,
  NewChallenge,
  PasskeyInsert,
  PasskeyRow,
  TakenChallenge,
} from "../../src/storage/passkey-store.js";
import type {
  ApiKeyRecord,
  ApiKeyRow,
  CredentialRow,
  ImportResult,
  ListedSessionRow,
  LoginAttemptRef,
  LoginReservation,
  LoginThrottleRow,
  MailTokenPurpose,
  NewSession,
  PasswordReset,
  Repository,
  SessionInsertOptions,
  SessionRow,
  ThrottlePolicy,
  User,
  UserChanges,
  UserExport,
  UserKey,
  UserPage,
  UserSearch,
  VerifyOutcome,
} from "../../src/storage/repository.js";
import { UniqueViolation } from "../../src/storage/repository.js";
import { editedProfileText, profileText } from "../../src/storage/rows.js";
import type { SigningKeyRow } from "../../src/storage/signing-keys.js";
import type {
  DeliveryFailure,
  DueDelivery,
  NewWebhookEndpoint,
  WebhookEndpoint,
  WebhookStats,
} from "../../src/storage/webhooks.js";
import { MemoryMfaStore } from "./memory-mfa-store.js";
import { MemoryPasskeys } from "./memory-passkeys.js";

interface StoredUser {
  namespace: string;
  user: User;
  passwordHash: string;
}

interface StoredSession extends NewSession {
  namespace: string;
}

type Method = keyof Repository | keyof OutboxStore;

interface StoredMail extends OutboxMessage {
  status: "queued" | "sent" | "failed";
  nextAttemptMs: number;
  leaseOwner: string;
  leaseUntilMs: number;
  finishedMs: number;
  reason: string;
}

/** A call held before it runs, until the test lets it go. */
export interface HeldCall {
  /** Resolves when a call of the method arrived and is held. */
  readonly arrived: Promise<void>;
  /** Lets the call run, or makes it throw `error` (a storage fault) without touching the data. */
  release(error?: Error): void;
}

/** A mail token as the engines' mail_tokens rows hold it. */
interface StoredMailToken {
  namespace: string;
  purpose: MailTokenPurpose;
  userId: string;
  email: string;
  digest: Buffer;
  createdMs: number;
  expiresMs: number;
  spentMs: number;
  attempts: number;
  redirectUrl: string;
  failureRedirectUrl: string;
}

export class MemoryRepository implements Repository, OutboxStore {
  readonly engine = "sqlite" as const;
  private readonly users = new Map<string, StoredUser>();
  private readonly sessions = new Map<string, StoredSession>();
  private readonly throttles = new Map<string, LoginThrottleRow & { lastFailureMs: number }>();
  /** Login attempts in flight: (namespace, account) → attempt → lease end. */
  private readonly slots = new Map<string, Map<string, number>>();
  private readonly keys = new Map<string, ApiKeyRecord>();
  /** Second factors (memory-mfa-store.ts). */
  private readonly mfa = new MemoryMfaStore((namespace, id) => this.users.has(this.userKey(namespace, id)));
  /** The outbox, in queue order. */
  readonly outbox: StoredMail[] = [];
  private readonly gates = new Map<Method, Array<{ arrive(): void; wait: Promise<Error | undefined> }>>();
  /** How many times each method was called. */
  readonly calls = new Map<Method, number>();

  /** Holds the next call of `method` before it reads or writes anything. */
  hold(method: Method): HeldCall {
    let arrive!: () => void;
    let release!: (error?: Error) => void;
    const arrived = new Promise<void>((resolve) => {
      arrive = resolve;
    });
    const wait = new Promise<Error | undefined>((resolve) => {
      release = resolve;
    });
    const queue = this.gates.get(method) ?? [];
    queue.push({ arrive, wait });
    this.gates.set(method, queue);
    return { arrived, release };
  }

  private async enter(method: Method): Promise<void> {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    const gate = this.gates.get(method)?.shift();
    if (gate) {
      gate.arrive();
      const error = await gate.wait;
      if (error) throw error;
    }
  }

  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  private userKey = (namespace: string, id: string) => `${namespace}\n${id}`;

  private findBy(namespace: string, match: (u: User) => boolean): StoredUser | undefined {
    for (const stored of this.users.values()) if (stored.namespace === namespace && match(stored.user)) return stored;
    return undefined;
  }

  private clash(namespace: string, user: User, exceptId?: string): void {
    for (const field of ["id", "username", "email"] as const) {
      const other = this.findBy(namespace, (u) => u[field] === user[field] && u.id !== exceptId);
      if (other) throw new UniqueViolation(field);
    }
  }

  async insertUser(namespace: string, user: User, passwordHash: string): Promise<void> {
    await this.enter("insertUser");
    this.clash(namespace, user);
    this.users.set(this.userKey(namespace, user.id), { namespace, user: { ...user }, passwordHash });
  }

  async getUser(namespace: string, id: string): Promise<User | undefined> {
    await this.enter("getUser");
    const stored = this.users.get(this.userKey(namespace, id));
    return stored && { ...stored.user };
  }

  async findUser(namespace: string, key: UserKey): Promise<User | undefined> {
    await this.enter("findUser");
    const stored = this.findBy(namespace, (u) =>
      "id" in key ? u.id === key.id : "username" in key ? u.username === key.username : u.email === key.email,
    );
    return stored && { ...stored.user };
  }

  private credential(stored: StoredUser | undefined): CredentialRow | undefined {
    return stored && { user: { ...stored.user }, passwordHash: stored.passwordHash };
  }

  async findCredentialByUsername(namespace: string, username: string): Promise<CredentialRow | undefined> {
    await this.enter("findCredentialByUsername");
    return this.credential(this.findBy(namespace, (u) => u.username === username));
  }

  async findCredentialByEmail(namespace: string, email: string): Promise<CredentialRow | undefined> {
    await this.enter("findCredentialByEmail");
    return this.credential(this.findBy(namespace, (u) => u.email === email));
  }

  async getCredential(namespace: string, userId: string): Promise<CredentialRow | undefined> {
    await this.enter("getCredential");
    return this.credential(this.users.get(this.userKey(namespace, userId)));
  }

  async updateUser(namespace: string, id: string, changes: UserChanges, updatedMs: number): Promise<User | undefined> {
    await this.enter("updateUser");
    const stored = this.users.get(this.userKey(namespace, id));
    if (!stored) return undefined;
    const { profile, ...names } = changes;
    const next: User = { ...stored.user, ...names, updatedMs };
    if (profile) {
      const merged = JSON.parse(editedProfileText(profileText(stored.user.profile), profile)) as Record<string, string>;
      if (Object.keys(merged).length === 0) delete next.profile;
      else next.profile = merged;
    }
    if (next.email !== stored.user.email) delete next.verifiedMs;
    this.clash(namespace, next, id);
    stored.user = next;
    return { ...next };
  }

  async deleteUser(namespace: string, id: string): Promise<boolean> {
    await this.enter("deleteUser");
    if (!this.users.delete(this.userKey(namespace, id))) return false;
    this.dropSessions(namespace, id, null);
    this.mfa.forgetUser(namespace, id);
    this.passkeys.dropUser(namespace, id);
    return true;
  }

  async listUsers(namespace: string, page: UserPage): Promise<User[]> {
    await this.enter("listUsers");
    const after = page.after;
    return [...this.users.values()]
      .filter((s) => s.namespace === namespace)
      .map((s) => ({ ...s.user }))
      .sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .filter((u) => !after || u.createdMs > after.createdMs || (u.createdMs === after.createdMs && u.id > after.id))
      .slice(page.offset, page.offset + page.limit);
  }

  async searchUsers(namespace: string, query: UserSearch): Promise<User[]> {
    await this.enter("searchUsers");
    return [...this.users.values()]
      .filter(
        (s) =>
          s.namespace === namespace &&
          s.user.username.startsWith(query.usernamePrefix) &&
          s.user.email.startsWith(query.emailPrefix),
      )
      .map((s) => ({ ...s.user }))
      .sort((a, b) => a.createdMs - b.createdMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .slice(query.offset, query.offset + query.limit);
  }

  async replacePasswordHash(
    namespace: string,
    userId: string,
    expectedHash: string,
    newHash: string,
    nowMs: number,
    revokeSessions = true,
  ): Promise<boolean> {
    await this.enter("replacePasswordHash");
    const stored = this.users.get(this.userKey(namespace, userId));
    if (!stored || stored.passwordHash !== expectedHash) return false;
    stored.passwordHash = newHash;
    stored.user = { ...stored.user, updatedMs: nowMs };
    if (revokeSessions) this.dropSessions(namespace, userId, null);
    return true;
  }

  private sessionKey = (namespace: string, digest: Buffer) => `${namespace}\n${digest.toString("hex")}`;

  async setPasswordHash(
    namespace: string,
    userId: string,
    newHash: string,
    nowMs: number,
    throttleAccounts: string[],
  ): Promise<boolean> {
    await this.enter("setPasswordHash");
    const stored = this.users.get(this.userKey(namespace, userId));
    if (!stored) return false;
    stored.passwordHash = newHash;
    stored.user = { ...stored.user, updatedMs: nowMs };
    this.dropSessions(namespace, userId, null);
    for (const account of throttleAccounts) this.throttles.delete(`${namespace}\n${account}`);
    return true;
  }

  async setUserDisabled(
    namespace: string,
    userId: string,
    disabled: boolean,
    nowMs: number,
  ): Promise<User | undefined> {
    await this.enter("setUserDisabled");
    const stored = this.users.get(this.userKey(namespace, userId));
    if (!stored) return undefined;
    const next: User = { ...stored.user, updatedMs: nowMs };
    if (disabled) next.disabledMs = stored.user.disabledMs ?? nowMs;
    else delete next.disabledMs;
    stored.user = next;
    this.dropSessions(namespace, userId, null);
    return { ...next };
  }

  async insertSession(
    namespace: string,
    session: NewSession,
    expectedHash: string,
    options: SessionInsertOptions = {},
  ): Promise<boolean> {
    await this.enter("insertSession");
    const stored = this.users.get(this.userKey(namespace, session.userId));
    if (!stored || stored.passwordHash !== expectedHash || stored.user.disabledMs) return false;
    if (options.maxSessions !== undefined) {
      const mine = [...this.sessions.entries()]
        .filter(([, s]) => s.namespace === namespace && s.userId === session.userId)
        .sort(([, a], [, b]) => b.createdMs - a.createdMs || Buffer.compare(b.idDigest, a.idDigest));
      for (const [key] of mine.slice(Math.max(options.maxSessions - 1, 0))) this.sessions.delete(key);
    }
    this.sessions.set(this.sessionKey(namespace, session.idDigest), { ...session, namespace });
    if (options.endsAttempt) this.endAttempt(namespace, options.endsAttempt, true);
    return true;
  }

  async getSession(namespace: string, idDigest: Buffer, nowMs: number): Promise<SessionRow | undefined> {
    await this.enter("getSession");
    const session = this.sessions.get(this.sessionKey(namespace, idDigest));
    if (!session || session.expiresMs <= nowMs) return undefined;
    const user = this.users.get(this.userKey(namespace, session.userId))!.user;
    if (user.disabledMs) return undefined;
    return {
      userId: user.id,
      username: user.username,
      email: user.email,
      createdMs: session.createdMs,
      expiresMs: session.expiresMs,
    };
  }

  async deleteSession(namespace: string, idDigest: Buffer): Promise<void> {
    await this.enter("deleteSession");
    this.sessions.delete(this.sessionKey(namespace, idDigest));
  }

  async listSessions(namespace: string, userId: string, nowMs: number, limit: number): Promise<ListedSessionRow[]> {
    await this.enter("listSessions");
    return [...this.sessions.values()]
      .filter((s) => s.namespace === namespace && s.userId === userId && s.expiresMs > nowMs)
      .sort((a, b) => b.createdMs - a.createdMs || Buffer.compare(b.idDigest, a.idDigest))
      .slice(0, limit)
      .map((s) => ({ idDigest: s.idDigest, createdMs: s.createdMs, expiresMs: s.expiresMs }));
  }

  async deleteSessions(namespace: string, userId: string, digests: Buffer[] | null): Promise<number> {
    await this.enter("deleteSessions");
    return this.dropSessions(namespace, userId, digests);
  }

  private dropSessions(namespace: string, userId: string, digests: Buffer[] | null): number {
    const wanted = digests && new Set(digests.map((d) => d.toString("hex")));
    let count = 0;
    for (const [key, s] of this.sessions) {
      if (s.namespace !== namespace || s.userId !== userId) continue;
      if (wanted && !wanted.has(s.idDigest.toString("hex"))) continue;
      this.sessions.delete(key);
      count++;
    }
    return count;
  }

  async sweep(nowMs: number, staleBeforeMs: number, limit: number): Promise<number> {
    await this.enter("sweep");
    let removed = 0;
    for (const [key, s] of this.sessions) {
      if (removed >= limit) break;
      if (s.expiresMs <= nowMs) {
        this.sessions.delete(key);
        removed++;
      }
    }
    for (const [key, t] of this.throttles) {
      if (t.lastFailureMs < staleBeforeMs && t.lockedUntilMs <= nowMs) {
        this.throttles.delete(key);
        removed++;
      }
    }
    return removed;
  }

  async getLoginThrottle(namespace: string, account: string): Promise<LoginThrottleRow | undefined> {
    await this.enter("getLoginThrottle");
    const row = this.throttles.get(this.userKey(namespace, account));
    return row && { failures: row.failures, lockedUntilMs: row.lockedUntilMs };
  }

  async reserveLoginAttempt(
    namespace: string,
    ref: LoginAttemptRef,
    nowMs: number,
    leaseMs: number,
    policy: ThrottlePolicy,
  ): Promise<LoginReservation> {
    await this.enter("reserveLoginAttempt");
    let lockedUntilMs = 0;
    let full = false;
    for (const account of ref.accounts) {
      const key = this.userKey(namespace, account);
      const row = this.throttles.get(key);
      if (row && row.lockedUntilMs > nowMs) lockedUntilMs = Math.max(lockedUntilMs, row.lockedUntilMs);
      const inFlight = [...(this.slots.get(key)?.values() ?? [])].filter((until) => until > nowMs).length;
      if (inFlight >= Math.max(policy.maxFailures - (row?.failures ?? 0), 1)) full = true;
    }
    if (lockedUntilMs > 0 || full) return { admitted: false, lockedUntilMs };
    for (const account of ref.accounts) {
      const key = this.userKey(namespace, account);
      const slots = this.slots.get(key) ?? new Map<string, number>();
      slots.set(ref.attempt, nowMs + leaseMs);
      this.slots.set(key, slots);
    }
    return { admitted: true };
  }

  async failLoginAttempt(
    namespace: string,
    ref: LoginAttemptRef,
    nowMs: number,
    policy: ThrottlePolicy,
  ): Promise<void> {
    await this.enter("failLoginAttempt");
    for (const account of ref.accounts) {
      const key = this.userKey(namespace, account);
      this.slots.get(key)?.delete(ref.attempt);
      const row = this.throttles.get(key) ?? { failures: 0, lockedUntilMs: 0, lastFailureMs: nowMs };
      row.failures++;
      row.lastFailureMs = nowMs;
      if (row.failures >= policy.maxFailures) {
        const shift = Math.min(row.failures - policy.maxFailures, 40);
        const until = nowMs + Math.min(policy.baseLockMs * 2 ** shift, policy.maxLockMs);
        row.lockedUntilMs = Math.max(row.lockedUntilMs, until);
      }
      this.throttles.set(key, row);
    }
  }

  async endLoginAttempt(namespace: string, ref: LoginAttemptRef, clearFailures: boolean): Promise<void> {
    await this.enter("endLoginAttempt");
    this.endAttempt(namespace, ref, clearFailures);
  }

  private endAttempt(namespace: string, ref: LoginAttemptRef, clearFailures: boolean): void {
    for (const account of ref.accounts) {
      const key = this.userKey(namespace, account);
      this.slots.get(key)?.delete(ref.attempt);
      if (clearFailures) this.throttles.delete(key);
    }
  }

  async insertApiKey(key: ApiKeyRecord): Promise<void> {
    await this.enter("insertApiKey");
    this.keys.set(key.id, { ...key });
  }

  async findApiKey(keyDigest: Buffer): Promise<ApiKeyRow | undefined> {
    await this.enter("findApiKey");
    for (const { keyDigest: d, ...row } of this.keys.values()) {
      if (d.equals(keyDigest) && row.revokedMs === null) return row;
    }
    return undefined;
  }

  async listApiKeys(): Promise<ApiKeyRow[]> {
    await this.enter("listApiKeys");
    return [...this.keys.values()].map(({ keyDigest: _, ...row }) => row);
  }

  async revokeApiKey(id: string, nowMs: number): Promise<boolean> {
    await this.enter("revokeApiKey");
    const key = this.keys.get(id);
    if (!key || key.revokedMs !== null) return false;
    key.revokedMs = nowMs;
    return true;
  }

  async exportApiKeys(): Promise<ApiKeyRecord[]> {
    await this.enter("exportApiKeys");
    return [...this.keys.values()].map((k) => ({ ...k }));
  }

  async importApiKeys(keys: ApiKeyRecord[]): Promise<number> {
    await this.enter("importApiKeys");
    let inserted = 0;
    for (const key of keys) {
      if (this.keys.has(key.id)) continue;
      this.keys.set(key.id, { ...key });
      inserted++;
    }
    return inserted;
  }

  async *exportUsers(pageSize: number): AsyncIterable<UserExport[]> {
    await this.enter("exportUsers");
    const all = [...this.users.values()].map((s) => ({
      namespace: s.namespace,
      user: { ...s.user },
      passwordHash: s.passwordHash,
    }));
    for (let i = 0; i < all.length; i += pageSize) yield all.slice(i, i + pageSize);
  }

  async countUsers(): Promise<number> {
    await this.enter("countUsers");
    return this.users.size;
  }

  async importUsers(batch: UserExport[]): Promise<ImportResult> {
    await this.enter("importUsers");
    let inserted = 0;
    let skipped = 0;
    for (const { namespace, user, passwordHash } of batch) {
      try {
        this.clash(namespace, user);
        this.users.set(this.userKey(namespace, user.id), { namespace, user: { ...user }, passwordHash });
        inserted++;
      } catch {
        skipped++;
      }
    }
    return { inserted, skipped };
  }

  private readonly rateWindows = new Map<string, { startMs: number; count: number }>();

  async chargeRateLimit(bucket: string, windowStartMs: number, limit: number): Promise<boolean> {
    await this.enter("chargeRateLimit");
    const window = this.rateWindows.get(bucket);
    const current = window && window.startMs === windowStartMs ? window : { startMs: windowStartMs, count: 0 };
    if (current.count >= limit) return false;
    current.count++;
    this.rateWindows.set(bucket, current);
    return true;
  }

  async queueMail(message: NewOutboxMessage): Promise<void> {
    this.outbox.push({
      ...message,
      attempts: 0,
      status: "queued",
      nextAttemptMs: message.createdMs,
      leaseOwner: "",
      leaseUntilMs: 0,
      finishedMs: 0,
      reason: "",
    });
  }

  async claimMail(owner: string, nowMs: number, leaseMs: number, limit: number): Promise<OutboxMessage[]> {
    await this.enter("claimMail");
    const due = this.outbox
      .filter((m) => m.status === "queued" && m.nextAttemptMs <= nowMs && m.leaseUntilMs <= nowMs)
      .slice(0, limit);
    for (const m of due) {
      m.leaseOwner = owner;
      m.leaseUntilMs = nowMs + leaseMs;
    }
    return due.map(({ status: _s, nextAttemptMs: _n, leaseOwner: _o, leaseUntilMs: _l, reason: _r, ...m }) => ({
      ...m,
    }));
  }

  async bindMailToken(message: OutboxMessage, owner: string): Promise<BindOutcome> {
    await this.enter("bindMailToken");
    const held = this.leased(message.id, owner);
    if (!held?.token) return "not-held";
    const stored = this.findBy(message.namespace, (u) => u.email === message.recipient);
    const key = stored && `${message.namespace}\n${held.token.purpose}\n${stored.user.id}`;
    if (!stored || key === undefined) {
      this.outbox.splice(this.outbox.indexOf(held), 1);
      return "dropped";
    }
    this.mailTokens.set(key, {
      namespace: message.namespace,
      purpose: held.token.purpose as MailTokenPurpose,
      email: stored.user.email,
      digest: held.token.digest,
      createdMs: message.createdMs,
      expiresMs: message.expiresMs,
      redirectUrl: held.token.redirectUrl,
      failureRedirectUrl: held.token.failureRedirectUrl,
      userId: stored.user.id,
      spentMs: 0,
      attempts: 0,
    });
    delete held.token;
    return "bound";
  }

  private leased(id: string, owner: string): StoredMail | undefined {
    return this.outbox.find((m) => m.id === id && m.leaseOwner === owner && m.status === "queued");
  }

  async markMailSent(id: string, owner: string, nowMs: number): Promise<void> {
    await this.enter("markMailSent");
    const m = this.leased(id, owner);
    if (!m) return;
    Object.assign(m, {
      status: "sent",
      text: "",
      finishedMs: nowMs,
      leaseOwner: "",
      leaseUntilMs: 0,
      attempts: m.attempts + 1,
    });
  }

  async markMailRetry(id: string, owner: string, nextAttemptMs: number, reason: string): Promise<void> {
    await this.enter("markMailRetry");
    const m = this.leased(id, owner);
    if (!m) return;
    Object.assign(m, { nextAttemptMs, reason, leaseOwner: "", leaseUntilMs: 0, attempts: m.attempts + 1 });
  }

  async markMailFailed(id: string, owner: string, nowMs: number, reason: string): Promise<void> {
    await this.enter("markMailFailed");
    const m = this.leased(id, owner);
    if (!m) return;
    Object.assign(m, {
      status: "failed",
      text: "",
      finishedMs: nowMs,
      reason,
      leaseOwner: "",
      leaseUntilMs: 0,
      attempts: m.attempts + 1,
    });
  }

  async outboxStats(nowMs: number): Promise<OutboxStats> {
    const queued = this.outbox.filter((m) => m.status === "queued");
    const oldest = Math.min(...queued.map((m) => m.createdMs));
    return { queued: queued.length, oldestQueuedMs: queued.length === 0 ? 0 : nowMs - oldest };
  }

  async sweepOutbox(nowMs: number, finishedBeforeMs: number, limit: number): Promise<OutboxSweep> {
    const strangers = this.outbox
      .filter(
        (m) =>
          m.status === "queued" &&
          m.token !== undefined &&
          m.expiresMs <= nowMs &&
          m.leaseUntilMs <= nowMs &&
          !this.findBy(m.namespace, (u) => u.email === m.recipient),
      )
      .slice(0, limit);
    for (const m of strangers) this.outbox.splice(this.outbox.indexOf(m), 1);
    const expiring = this.outbox
      .filter((m) => m.status === "queued" && m.expiresMs <= nowMs && m.leaseUntilMs <= nowMs)
      .slice(0, limit);
    for (const m of expiring)
      Object.assign(m, {
        status: "failed",
        text: "",
        finishedMs: nowMs,
        reason: `expired before delivery: ${m.reason}`,
      });
    let deleted = strangers.length;
    for (let i = this.outbox.length - 1; i >= 0; i--) {
      const m = this.outbox[i]!;
      if (m.status !== "queued" && m.finishedMs < finishedBeforeMs && deleted < limit) {
        this.outbox.splice(i, 1);
        deleted++;
      }
    }
    return { expired: expiring.length, deleted };
  }

  /** Mail tokens: (namespace, purpose, user id) → the live token. */
  private readonly mailTokens = new Map<string, StoredMailToken>();

  async verifyEmailToken(namespace: string | null, digest: Buffer, nowMs: number): Promise<VerifyOutcome> {
    await this.enter("verifyEmailToken");
    const token = [...this.mailTokens.values()].find(
      (t) =>
        t.digest.equals(digest) && t.purpose === "verify_email" && (namespace === null || t.namespace === namespace),
    );
    if (!token) return { verified: false, failureRedirectUrl: "" };
    const stored = this.users.get(this.userKey(token.namespace, token.userId));
    if (
      token.spentMs !== 0 ||
      token.expiresMs <= nowMs ||
      !stored ||
      stored.user.email !== token.email ||
      stored.user.disabledMs
    ) {
      token.spentMs ||= nowMs;
      return { verified: false, failureRedirectUrl: token.failureRedirectUrl };
    }
    token.spentMs = nowMs;
    stored.user = { ...stored.user, verifiedMs: nowMs };
    return { verified: true, user: { ...stored.user }, redirectUrl: token.redirectUrl, namespace: token.namespace };
  }

  async sweepMailTokens(beforeMs: number, limit: number): Promise<number> {
    let n = 0;
    for (const [key, token] of this.mailTokens) {
      if (n < limit && token.expiresMs < beforeMs) {
        this.mailTokens.delete(key);
        n++;
      }
    }
    return n;
  }

  // Second factors: the MfaStore in memory-mfa-store.ts.
  readonly putPendingTotp = this.mfa.putPendingTotp.bind(this.mfa);
  readonly getTotp = this.mfa.getTotp.bind(this.mfa);
  readonly confirmTotp = this.mfa.confirmTotp.bind(this.mfa);
  readonly spendMfaProof = this.mfa.spendMfaProof.bind(this.mfa);
  readonly replaceRecoveryCodes = this.mfa.replaceRecoveryCodes.bind(this.mfa);
  readonly countRecoveryCodes = this.mfa.countRecoveryCodes.bind(this.mfa);
  readonly deleteTotp = this.mfa.deleteTotp.bind(this.mfa);
  readonly insertMfaTicket = this.mfa.insertMfaTicket.bind(this.mfa);
  readonly getMfaTicket = this.mfa.getMfaTicket.bind(this.mfa);
  readonly redeemMfaTicket = this.mfa.redeemMfaTicket.bind(this.mfa);
  readonly sweepMfaTickets = this.mfa.sweepMfaTickets.bind(this.mfa);
  // Events: the service tests that use this repository look at users and
  // sessions only; the event log is tested on the real engines (test/events/).
  async listEvents(_query: EventQuery): Promise<StoredEvent[]> {
    return [];
  }

  async sweepEvents(_beforeMs: number, _limit: number): Promise<number> {
    return 0;
  }

  // Webhooks: delivered from the real engines only (test/events/).
  async insertWebhook(_endpoint: NewWebhookEndpoint): Promise<void> {
    throw new Error("webhooks are not kept by the memory repository");
  }

  async listWebhooks(): Promise<WebhookEndpoint[]> {
    return [];
  }

  async deleteWebhook(_id: string): Promise<boolean> {
    return false;
  }

  async claimDeliveries(_owner: string, _nowMs: number, _leaseMs: number, _limit: number): Promise<DueDelivery[]> {
    return [];
  }

  async markDelivered(_id: number, _owner: string, _nowMs: number): Promise<void> {}

  async markDeliveryFailed(_id: number, _owner: string, _failure: DeliveryFailure): Promise<void> {}

  async webhookStats(_nowMs: number): Promise<WebhookStats> {
    return { pending: 0, oldestPendingMs: 0 };
  }

  async hasEnabledWebhooks(): Promise<boolean> {
    return false;
  }

  // Passkeys and ceremony challenges (memory-passkeys.ts)
  private readonly passkeys = new MemoryPasskeys((namespace, id) => this.users.has(this.userKey(namespace, id)));

  async insertChallenge(challenge: NewChallenge): Promise<void> {
    await this.enter("insertChallenge");
    this.passkeys.insertChallenge(challenge);
  }

  async takeChallenge(
    namespace: string,
    digest: Buffer,
    purpose: ChallengePurpose,
    nowMs: number,
  ): Promise<TakenChallenge | undefined> {
    await this.enter("takeChallenge");
    return this.passkeys.takeChallenge(namespace, digest, purpose, nowMs);
  }

  async sweepChallenges(beforeMs: number, limit: number): Promise<number> {
    return this.passkeys.sweepChallenges(beforeMs, limit);
  }

  async insertPasskey(namespace: string, passkey: PasskeyRow, maxPerUser: number): Promise<PasskeyInsert> {
    await this.enter("insertPasskey");
    return this.passkeys.insert(namespace, passkey, maxPerUser);
  }

  async listPasskeys(namespace: string, userId: string): Promise<PasskeyRow[]> {
    await this.enter("listPasskeys");
    return this.passkeys.list(namespace, userId);
  }

  async findPasskeyByCredential(namespace: string, credentialId: string): Promise<PasskeyRow | undefined> {
    await this.enter("findPasskeyByCredential");
    return this.passkeys.byCredential(namespace, credentialId);
  }

  async usePasskey(
    namespace: string,
    id: string,
    expectedCounter: number,
    newCounter: number,
    nowMs: number,
  ): Promise<boolean> {
    await this.enter("usePasskey");
    return this.passkeys.use(namespace, id, expectedCounter, newCounter, nowMs);
  }

  async deletePasskey(namespace: string, userId: string, id: string): Promise<boolean> {
    await this.enter("deletePasskey");
    return this.passkeys.remove(namespace, userId, id);
  }

  async hasPasskey(namespace: string, userId: string): Promise<boolean> {
    return this.passkeys.list(namespace, userId).length > 0;
  }

  async resetPassword(
    reset: PasswordReset,
    _events?: EventDraft[],
    _ifVerified?: EventDraft[],
  ): Promise<User | undefined> {
    await this.enter("resetPassword");
    const stored = this.findBy(reset.namespace, (u) => u.email === reset.email && !u.disabledMs);
    const token = stored && this.mailTokens.get(`${reset.namespace}\nreset_password\n${stored.user.id}`);
    if (!stored || !token || token.email !== reset.email || token.spentMs !== 0 || token.expiresMs <= reset.nowMs) {
      return undefined;
    }
    if (token.attempts >= reset.maxAttempts) return undefined;
    token.attempts++;
    if (!token.digest.equals(reset.digest)) return undefined;
    token.spentMs = reset.nowMs;
    stored.passwordHash = reset.newHash;
    this.dropSessions(reset.namespace, stored.user.id, null);
    stored.user = { ...stored.user, verifiedMs: stored.user.verifiedMs ?? reset.nowMs };
    return { ...stored.user };
  }

  async spendMagicLink(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    _ifVerified?: EventDraft[],
  ): Promise<User | undefined> {
    await this.enter("spendMagicLink");
    const token = [...this.mailTokens.values()].find(
      (t) => t.digest.equals(digest) && t.purpose === "magic_link" && t.namespace === namespace,
    );
    if (token === undefined || token.spentMs !== 0 || token.expiresMs <= nowMs) return undefined;
    token.spentMs = nowMs;
    const stored = this.users.get(this.userKey(namespace, token.userId));
    if (!stored || stored.user.email !== token.email) return undefined;
    stored.user = { ...stored.user, verifiedMs: stored.user.verifiedMs ?? nowMs };
    return { ...stored.user };
  }

  // Access-token signing keys
  private readonly signingKeys: SigningKeyRow[] = [];

  async listSigningKeys(): Promise<SigningKeyRow[]> {
    await this.enter("listSigningKeys");
    return [...this.signingKeys].sort((a, b) => a.generation - b.generation).map((k) => ({ ...k }));
  }

  async addSigningKey(key: SigningKeyRow, retiredAfterMs: number): Promise<boolean> {
    await this.enter("addSigningKey");
    if (this.signingKeys.some((k) => k.generation === key.generation)) return false;
    for (const k of this.signingKeys) {
      if (k.generation < key.generation && k.signsUntilMs === 0) {
        k.signsUntilMs = key.signsFromMs;
        k.publishedUntilMs = key.signsFromMs + retiredAfterMs;
      }
    }
    this.signingKeys.push({ ...key, signsUntilMs: 0, publishedUntilMs: 0 });
    return true;
  }

  async deleteRetiredSigningKeys(nowMs: number): Promise<number> {
    await this.enter("deleteRetiredSigningKeys");
    const before = this.signingKeys.length;
    const kept = this.signingKeys.filter((k) => k.publishedUntilMs === 0 || k.publishedUntilMs > nowMs);
    this.signingKeys.splice(0, this.signingKeys.length, ...kept);
    return before - kept.length;
  }
}
