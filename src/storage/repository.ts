// The one storage interface the service layer uses. Engines (SQLite,
// PostgreSQL) implement it with the same observable behaviour; the contract
// tests in test/storage/ run unchanged against each.
//
// Rules every engine keeps:
// - Every row belongs to a namespace; no method reads or writes across namespaces
//   except the bulk export/import and API key methods, which are global by design.
// - Uniqueness (id, username, email per namespace) is enforced by the database's
//   own constraints, never by check-then-write; a clash throws UniqueViolation.
// - username and email arrive already lowercased; prefixes match case-sensitively
//   on those lowercased columns, in code point (byte) order, served by an index.
// - Secrets never arrive in clear: sessions and API keys are given as SHA-256 digests.
// - A write method's `events` are appended to the event log in the write's own
//   transaction, only when the write took effect (see events.ts).

import type { OutboxStore } from "../mail/outbox.js";
import type { EventDraft, EventQuery, StoredEvent } from "./events.js";
import type { MfaStore } from "./mfa-store.js";
import type { PasskeyStore } from "./passkey-store.js";
import type { SigningKeyStore } from "./signing-keys.js";
import type { WebhookStore } from "./webhooks.js";

export interface User {
  id: string;
  username: string;
  email: string;
  createdMs: number;
  updatedMs: number;
  /** When the email was verified; absent if it never was (or changed since). Set only by verifyEmailToken. */
  verifiedMs?: number;
  /** When the account was disabled (it cannot sign in or use any flow); absent while enabled. */
  disabledMs?: number;
  /** The user's profile (validation.ts bounds it); absent when empty. */
  profile?: Record<string, string>;
}

/** What updateUser changes; a field left out stays as it is. */
export interface UserChanges {
  username?: string;
  email?: string;
  /**
   * Profile entries merged into the stored profile in the same transaction
   * (an empty value removes its key, see mergeProfile in rows.ts), so
   * concurrent edits of other keys are never lost. ProfileTooLarge, and no
   * change, when the result would hold more than maxEntries.
   */
  profile?: { edit: Record<string, string>; maxEntries: number };
}

/** An update would leave a profile with more entries than allowed. */
export class ProfileTooLarge extends Error {
  constructor(readonly entries: number) {
    super(`the profile would hold ${entries} entries`);
    this.name = "ProfileTooLarge";
  }
}

/** One user named by exactly one of its unique fields. */
export type UserKey = { id: string } | { username: string } | { email: string };

export interface CredentialRow {
  user: User;
  passwordHash: string;
}

export interface SessionRow {
  userId: string;
  username: string;
  email: string;
  createdMs: number;
  expiresMs: number;
}

export interface ListedSessionRow {
  idDigest: Buffer;
  createdMs: number;
  expiresMs: number;
}

export interface NewSession {
  idDigest: Buffer;
  userId: string;
  createdMs: number;
  expiresMs: number;
}

/** A page of List: the users after a position in (createdMs, id) order. */
export interface UserPage {
  /** The last user of the previous page; none: from the start. */
  after?: { createdMs: number; id: string };
  offset: number;
  limit: number;
}

export interface UserSearch {
  /** Lowercased username prefix; "" matches any. */
  usernamePrefix: string;
  /** Lowercased email prefix; "" matches any. */
  emailPrefix: string;
  limit: number;
  offset: number;
}

/**
 * What a key may do: admin (every namespace, key management), service (every
 * Users RPC in its namespace) or public (what an end user may do for
 * themselves, in its namespace). See src/service/access.ts.
 */
export type KeyRole = "admin" | "service" | "public";

export interface ApiKeyRow {
  id: string;
  /** The namespace the key is scoped to, or null for an admin key. */
  namespace: string | null;
  /** "admin" exactly when namespace is null. */
  role: KeyRole;
  label: string;
  createdMs: number;
  revokedMs: number | null;
}

export interface ApiKeyRecord extends ApiKeyRow {
  keyDigest: Buffer;
}

export interface LoginThrottleRow {
  failures: number;
  lockedUntilMs: number;
}

/**
 * One login attempt holding a slot in each of its accounts (the identifier as
 * typed and, once it resolves, the user's own) while its password is checked.
 */
export interface LoginAttemptRef {
  /** Throttle accounts, each once. */
  accounts: string[];
  /** Random, names this attempt's slots. */
  attempt: string;
}

/** What reserveLoginAttempt found: a slot in every account, or the latest lock among them (0: none, only full). */
export type LoginReservation = { admitted: true } | { admitted: false; lockedUntilMs: number };

export interface SessionInsertOptions {
  /**
   * Ends the user's oldest sessions (at most 1000 per insert) so that, with
   * the new one, at most this many remain.
   */
  maxSessions?: number;
  /** The login's attempt: on insert, its slots go and its accounts' failures are cleared, in the same commit. */
  endsAttempt?: LoginAttemptRef;
  /** Appended in the same commit, only when the session is inserted. */
  events?: EventDraft[];
}

export interface ThrottlePolicy {
  /** Failures allowed before the account is locked. */
  maxFailures: number;
  /** Lock length after the maxFailures-th failure; doubles with each further failure. */
  baseLockMs: number;
  maxLockMs: number;
}

/** A user with its password hash, as moved by export and import. */
export interface UserExport {
  namespace: string;
  user: User;
  passwordHash: string;
}

export interface ImportResult {
  inserted: number;
  /** Users whose id, username or email already existed in their namespace. */
  skipped: number;
}

export type UniqueField = "id" | "username" | "email";

/** A write would break a uniqueness rule of its namespace. */
export class UniqueViolation extends Error {
  constructor(readonly field: UniqueField) {
    super(`unique violation on ${field}`);
    this.name = "UniqueViolation";
  }
}

/**
 * The database refused an operation for a reason no caller expects (a
 * constraint the service should have prevented, a damaged schema): a bug to
 * log, answered as Internal. The driver's own error is the cause.
 */
export class StorageFailure extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StorageFailure";
  }
}

/** The database cannot answer now (down, overloaded, timed out); safe to retry later. */
export class StorageUnavailable extends Error {
  constructor(
    message: string,
    readonly timedOut = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "StorageUnavailable";
  }
}

/**
 * A Search that no plan can answer without reading more than the bound of
 * index entries (see user-search.ts): two broad prefixes that seldom match
 * together, or a deep offset into a broad prefix, in a large namespace.
 */
export class SearchTooBroad extends Error {
  constructor(readonly scanMax: number) {
    super(`search: too broad to answer within ${scanMax} index entries; narrow a prefix or lower the offset`);
    this.name = "SearchTooBroad";
  }
}

/**
 * The mail outbox (OutboxStore, src/mail/outbox.ts), second factors (MfaStore), passkeys (PasskeyStore), the
 * signing keys (signing-keys.ts) and the webhooks (WebhookStore, webhooks.ts) are part of every engine.
 */
export interface Repository extends OutboxStore, MfaStore, PasskeyStore, SigningKeyStore, WebhookStore {
  readonly engine: "sqlite" | "postgres";
  /** Told of the events each write appended, once committed (the events-written metric). */
  onEventsWritten?: (events: readonly EventDraft[]) => void;

  /** Resolves when the database answers a trivial query and migrations are applied. */
  ping(): Promise<void>;
  close(): Promise<void>;

  // Users
  /** Inserts the user and its password hash in one transaction. */
  insertUser(namespace: string, user: User, passwordHash: string, events?: EventDraft[]): Promise<void>;
  getUser(namespace: string, id: string): Promise<User | undefined>;
  /** The user with this id, username or email (username and email already lowercased). */
  findUser(namespace: string, key: UserKey): Promise<User | undefined>;
  findCredentialByUsername(namespace: string, username: string): Promise<CredentialRow | undefined>;
  findCredentialByEmail(namespace: string, email: string): Promise<CredentialRow | undefined>;
  getCredential(namespace: string, userId: string): Promise<CredentialRow | undefined>;
  /** Applies the given fields (a changed email is no longer verified); returns the user after, or undefined if absent. */
  updateUser(
    namespace: string,
    id: string,
    changes: UserChanges,
    updatedMs: number,
    events?: EventDraft[],
  ): Promise<User | undefined>;
  /**
   * Deletes the user, its password hash and its sessions; false if absent.
   * Bounded work per event-loop turn however many sessions the user has.
   */
  deleteUser(namespace: string, id: string, events?: EventDraft[]): Promise<boolean>;
  /**
   * The namespace's users in (createdMs, id) order, after `page.after`,
   * skipping `page.offset`, at most `page.limit` (keyset paging on the
   * creation index: a user present throughout is on exactly one page).
   */
  listUsers(namespace: string, page: UserPage): Promise<User[]>;
  /** Matching users ordered by (createdMs, id); SearchTooBroad when no plan stays within the bound. */
  searchUsers(namespace: string, query: UserSearch): Promise<User[]>;

  // Passwords
  /**
   * Replaces the hash only if it still equals expectedHash (the one the caller
   * verified) and, unless revokeSessions is false, deletes every session of
   * the user, in one transaction. Returns false (and changes nothing) if the
   * hash changed meanwhile. revokeSessions is false only when the same
   * password is re-hashed at a new cost.
   */
  replacePasswordHash(
    namespace: string,
    userId: string,
    expectedHash: string,
    newHash: string,
    nowMs: number,
    revokeSessions?: boolean,
    events?: EventDraft[],
  ): Promise<boolean>;

  /**
   * An administrator's reset: replaces the hash whatever it was, deletes
   * every session of the user and forgets the failures of these login
   * throttle accounts, in one transaction. False if the user is absent.
   */
  setPasswordHash(
    namespace: string,
    userId: string,
    newHash: string,
    nowMs: number,
    throttleAccounts: string[],
  ): Promise<boolean>;

  /**
   * Disables (at nowMs; an already disabled user keeps its time) or enables
   * the user, and deletes every session of the user, in one transaction
   * ordered against logins (no login's session survives a disable). Returns
   * the user after, or undefined if absent.
   */
  setUserDisabled(
    namespace: string,
    userId: string,
    disabled: boolean,
    nowMs: number,
    events?: EventDraft[],
  ): Promise<User | undefined>;

  // Sessions
  /**
   * Inserts the session only if the user's password hash still equals
   * expectedHash: a login checked against a password that was changed
   * meanwhile must not produce a session. Returns whether it was inserted.
   * The options apply in the same commit, only when the session is inserted:
   * the per-user cap (maxSessions, atomic with concurrent logins of the user)
   * and the end of the login's attempt (endsAttempt: one write to disk per
   * successful login).
   */
  insertSession(
    namespace: string,
    session: NewSession,
    expectedHash: string,
    options?: SessionInsertOptions,
  ): Promise<boolean>;
  /** The session if it exists and expiresMs > nowMs. */
  getSession(namespace: string, idDigest: Buffer, nowMs: number): Promise<SessionRow | undefined>;
  /** `events` are written only if the session existed, with its user as their user when they name none. */
  deleteSession(namespace: string, idDigest: Buffer, events?: EventDraft[]): Promise<void>;
  /** The user's unexpired sessions, newest first (by createdMs, then digest), at most `limit`. */
  listSessions(namespace: string, userId: string, nowMs: number, limit: number): Promise<ListedSessionRow[]>;
  /** Deletes the user's sessions with these digests, or all of them when digests is null; returns how many. */
  deleteSessions(namespace: string, userId: string, digests: Buffer[] | null, events?: EventDraft[]): Promise<number>;

  // Housekeeping
  /**
   * Removes up to `limit` expired sessions, up to `limit` expired login
   * attempt slots, and login-throttle rows whose last failure is older than
   * staleBeforeMs and whose lock has ended. Returns how many rows went.
   */
  sweep(nowMs: number, staleBeforeMs: number, limit: number): Promise<number>;

  // Login throttling (shared by replicas through the database)
  getLoginThrottle(namespace: string, account: string): Promise<LoginThrottleRow | undefined>;
  /**
   * Reserves a slot for `ref.attempt` in every account of `ref`, atomically
   * (all or none, whatever other attempts run on any replica), leased until
   * nowMs + leaseMs. An account has room while it is not locked at nowMs and
   * its unexpired slots are fewer than max(maxFailures - failures, 1): its
   * failures plus the checks in flight never exceed the limit (and past it,
   * once a lock has ended, one check at a time).
   */
  reserveLoginAttempt(
    namespace: string,
    ref: LoginAttemptRef,
    nowMs: number,
    leaseMs: number,
    policy: ThrottlePolicy,
  ): Promise<LoginReservation>;
  /**
   * The attempt's password was wrong: in one commit its slots go and each
   * account's failures go up by one; from the maxFailures-th on the account
   * is locked until nowMs + min(baseLockMs * 2^(failures - maxFailures),
   * maxLockMs) (never shortening a lock already there).
   */
  failLoginAttempt(
    namespace: string,
    ref: LoginAttemptRef,
    nowMs: number,
    policy: ThrottlePolicy,
    events?: EventDraft[],
  ): Promise<void>;
  /** The attempt's slots go; with clearFailures (a success) its accounts' failures are forgotten too. */
  endLoginAttempt(namespace: string, ref: LoginAttemptRef, clearFailures: boolean): Promise<void>;
  // API keys (global: a key may be for any namespace, or admin)
  insertApiKey(key: ApiKeyRecord, events?: EventDraft[]): Promise<void>;
  /** The key with this digest, if it exists and is not revoked. */
  findApiKey(keyDigest: Buffer): Promise<ApiKeyRow | undefined>;
  listApiKeys(): Promise<ApiKeyRow[]>;
  revokeApiKey(id: string, nowMs: number, events?: EventDraft[]): Promise<boolean>;
  exportApiKeys(): Promise<ApiKeyRecord[]>;
  /** Inserts keys that are not there yet (by id); returns how many were inserted. */
  importApiKeys(keys: ApiKeyRecord[]): Promise<number>;

  // Rate limits (shared by replicas through the database)
  /**
   * Counts one event in `bucket`'s fixed window starting at windowStartMs,
   * unless the window already holds `limit` events, in one atomic statement
   * (earlier windows of the bucket are dropped). Returns whether it counted.
   */
  chargeRateLimit(bucket: string, windowStartMs: number, limit: number): Promise<boolean>;

  // Bulk moves between engines (CLI import/export)
  /** Every user of every namespace with its hash, in (namespace, createdMs, id) order, in pages. */
  exportUsers(pageSize: number): AsyncIterable<UserExport[]>;
  /** How many users there are in every namespace (for export progress). */
  countUsers(): Promise<number>;
  /** Inserts a batch in one transaction, skipping users that clash with existing ones. */
  importUsers(batch: UserExport[]): Promise<ImportResult>;

  // One-time mail tokens: stored for their user by the outbox sender
  // (OutboxStore.bindMailToken) from the digest a Send* queued with its mail.
  /**
   * Spends a live verification token (unspent, expiresMs > nowMs; in
   * `namespace`, or any when null) and marks its user's email verified at
   * nowMs if the user still has the email the token was sent to, in one
   * transaction. Returns the outcome and the redirect the token carries.
   * `events` are written only when verified, with the token's namespace and user.
   */
  verifyEmailToken(
    namespace: string | null,
    digest: Buffer,
    nowMs: number,
    events?: EventDraft[],
  ): Promise<VerifyOutcome>;
  /** Deletes up to `limit` tokens that expired before beforeMs; returns how many. */
  sweepMailTokens(beforeMs: number, limit: number): Promise<number>;

  // Events (the log the write methods append to; see events.ts)
  /** A page of the namespace's events matching the query, newest first. */
  listEvents(query: EventQuery): Promise<StoredEvent[]>;
  /** Deletes up to `limit` events created before beforeMs (but none a webhook has still to deliver); returns how many. */
  sweepEvents(beforeMs: number, limit: number): Promise<number>;

  // Account recovery: reset codes and magic links (mail_tokens rows, as above)
  /**
   * One try of a reset code, in one transaction: counts the try against the
   * live code of the user who has reset.email (at most maxAttempts tries per
   * code, however many run at once, on any replica); when the digest
   * matches, spends the code, sets the password hash, ends every session of
   * the user and marks the email verified. Returns the user, or undefined
   * when no live code matched (nothing else changed).
   * `events` are written only when the code matched, with its user as their user;
   * `ifVerified` too when this reset is what verified the email (it was not before).
   */
  resetPassword(reset: PasswordReset, events?: EventDraft[], ifVerified?: EventDraft[]): Promise<User | undefined>;
  /**
   * Spends a live magic link of the namespace (first use only, whatever runs
   * at once) and marks its user's email verified, in one transaction.
   * Returns the user, or undefined (unknown, used, voided or expired link,
   * or the user no longer has the email it was sent to). `ifVerified` events
   * are written, about the link's user, when this is what verified the email.
   */
  spendMagicLink(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    ifVerified?: EventDraft[],
  ): Promise<User | undefined>;
}

export type MailTokenPurpose = "verify_email" | "reset_password" | "magic_link";

export interface PasswordReset {
  namespace: string;
  email: string;
  /** Digest of the code as typed (see password-reset.ts for what it covers). */
  digest: Buffer;
  newHash: string;
  nowMs: number;
  maxAttempts: number;
}

export type VerifyOutcome =
  | { verified: true; user: User; redirectUrl: string; namespace: string }
  /** failureRedirectUrl: "" when the token is unknown (or had none). */
  | { verified: false; failureRedirectUrl: string };
