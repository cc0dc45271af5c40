// Sign-in and sessions: Login, ReadSession, Logout.
import type { CredentialRow, LoginAttemptRef, Repository } from "../storage/repository.js";
import { isDisabled, requireEnabled } from "./account-status.js";
import { invalidArgument, invalidCredentials, ServiceError } from "./errors.js";
import { type Actor, draftEvent } from "./events.js";
import { type LoginThrottle, throttleAccount } from "./login-throttle.js";
import type { Session } from "./model.js";
import type { PasswordHasher } from "./password-hasher.js";
import { digest, newToken } from "./tokens.js";
import * as rules from "./validation.js";
import { LIMITS } from "./validation.js";

export interface SessionSummary {
  /** Hex SHA-256 of the session id: names the session without revealing it. */
  handle: string;
  createdMs: number;
  expiresMs: number;
}

/** Login's answer for an account with a second factor: no session, a ticket for VerifyMfa (docs/mfa.md). */
export interface MfaChallenge {
  mfaTicket: string;
}

/** Decides, once the password is right, whether a second factor is needed (src/service/mfa-ticket.ts). */
export interface SecondFactorGate {
  /** A ticket when the user has a second factor, else undefined. */
  challenge(namespace: string, credential: CredentialRow): Promise<string | undefined>;
}

export interface SessionsDeps {
  repo: Repository;
  /** None: no account has a second factor (tests of the service layer alone). */
  secondFactor?: SecondFactorGate;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  sessionTtlSeconds: number;
  /** MAX_SESSIONS_PER_USER: a login beyond it ends the user's oldest session. None: no cap. */
  maxSessionsPerUser?: number;
  now: () => number;
}

export interface LoginInput {
  username: string;
  email: string;
  password: string;
}

export class SessionsService {
  /** Users whose hash is being re-made at BCRYPT_COST (upgradeHash). */
  private readonly upgrading = new Set<string>();

  constructor(private readonly deps: SessionsDeps) {}

  async login(namespace: string, input: LoginInput, actor: Actor): Promise<Session | MfaChallenge> {
    const { repo, hasher, throttle } = this.deps;
    if (input.username === "" && input.email === "") {
      throw invalidArgument("username", "give a username or an email", "FIELD_REQUIRED");
    }
    const byUsername = input.username !== "";
    const login = byUsername ? rules.username(input.username) : rules.email(input.email);
    const password = rules.givenPassword(input.password);
    const account = throttleAccount(byUsername ? "username" : "email", login);

    // The hash's place is taken before the attempt reserves its slots: a
    // login the service is too busy to check is refused before it touches
    // the throttle, and attempts waiting for a slot are bounded by the queue.
    const { credential, ok, attempt } = await hasher.slots.withPlace(async (place) => {
      const credential = byUsername
        ? await repo.findCredentialByUsername(namespace, login)
        : await repo.findCredentialByEmail(namespace, login);
      // Guesses count against what was typed and, when it names a user,
      // against that user as well: whichever identifier is typed, one user
      // gets LOGIN_MAX_FAILURES guesses.
      const accounts = credential ? [account, throttleAccount("user", credential.user.id)] : [account];
      const attempt = await throttle.admit(namespace, accounts);
      try {
        // An unknown account costs a full bcrypt comparison too, so the two
        // failures take the same time and give the same error.
        const ok = credential
          ? await hasher.verify(password, credential.passwordHash, attempt.guard(place))
          : await hasher.verifyNothing(password, attempt.guard(place));
        return { credential, ok, attempt };
      } catch (err) {
        await throttle.released(namespace, attempt).catch(() => undefined);
        throw err;
      }
    });
    if (!credential || !ok) {
      await throttle.failed(namespace, attempt, credential?.user.id ?? "", "login", actor);
      throw invalidCredentials();
    }
    // Only now, with the right password: a wrong one for a disabled account
    // is the same "invalid credentials" as for any account.
    if (isDisabled(credential.user)) {
      await throttle.succeeded(namespace, attempt).catch(() => undefined);
      requireEnabled(credential.user);
    }
    // From here the password was right: whatever fails now (storage, a busy
    // queue, a password change that won the race) must not count as a guess.
    try {
      const mfaTicket = await this.deps.secondFactor?.challenge(namespace, credential);
      if (mfaTicket !== undefined) {
        await throttle.succeeded(namespace, attempt);
        return { mfaTicket };
      }
      return await this.startSession(namespace, credential, password, attempt, actor);
    } catch (err) {
      await throttle.succeeded(namespace, attempt).catch(() => undefined);
      throw err;
    }
  }

  /** Stores a session for a user whose password was just verified against `credential`. */
  private async startSession(
    namespace: string,
    credential: CredentialRow,
    password: string,
    attempt: LoginAttemptRef,
    actor: Actor,
  ): Promise<Session> {
    const { repo, hasher, throttle } = this.deps;
    const id = newToken();
    const createdMs = this.deps.now();
    const session: Session = {
      id,
      userId: credential.user.id,
      username: credential.user.username,
      email: credential.user.email,
      createdMs,
      expiresMs: createdMs + this.deps.sessionTtlSeconds * 1000,
    };
    // Inserted only if the password is still the one just verified: a
    // password change that finished meanwhile has revoked this login too.
    // The same commit ends the user's oldest sessions beyond the cap, and
    // the attempt (its slots, and its accounts' failures).
    const row = { idDigest: digest(id), userId: session.userId, createdMs, expiresMs: session.expiresMs };
    const handle = row.idDigest.toString("hex");
    const options = {
      endsAttempt: { accounts: attempt.accounts, attempt: attempt.attempt },
      events: [draftEvent(actor, "session.created", namespace, session.userId, createdMs, { session: handle })],
      ...(this.deps.maxSessionsPerUser === undefined ? {} : { maxSessions: this.deps.maxSessionsPerUser }),
    };
    let inserted = await repo.insertSession(namespace, row, credential.passwordHash, options);
    if (!inserted) {
      // The hash changed after the check. When another login upgraded it
      // (the same password, re-made at BCRYPT_COST) the password is still
      // right: check it against the new hash once, and store the session.
      const current = await repo.getCredential(namespace, session.userId);
      if (
        current &&
        current.passwordHash !== credential.passwordHash &&
        (await hasher.verify(password, current.passwordHash))
      ) {
        inserted = await repo.insertSession(namespace, row, current.passwordHash, options);
      }
    }
    if (!inserted) throw invalidCredentials();
    throttle.ended(namespace, attempt);
    this.upgradeHash(namespace, session.userId, credential.passwordHash, password);
    return session;
  }

  /**
   * The session of a sign-in a second factor just completed (VerifyMfa),
   * stored as Login's, in the commit that ends the factor check's attempt,
   * and only if the password is still the one Login checked.
   */
  async startAfterSecondFactor(
    namespace: string,
    credential: CredentialRow,
    attempt: LoginAttemptRef,
    actor: Actor,
  ): Promise<Session> {
    const { repo, throttle } = this.deps;
    const id = newToken();
    const createdMs = this.deps.now();
    const session: Session = {
      id,
      userId: credential.user.id,
      username: credential.user.username,
      email: credential.user.email,
      createdMs,
      expiresMs: createdMs + this.deps.sessionTtlSeconds * 1000,
    };
    const row = { idDigest: digest(id), userId: session.userId, createdMs, expiresMs: session.expiresMs };
    const inserted = await repo.insertSession(namespace, row, credential.passwordHash, {
      endsAttempt: { accounts: attempt.accounts, attempt: attempt.attempt },
      ...(this.deps.maxSessionsPerUser === undefined ? {} : { maxSessions: this.deps.maxSessionsPerUser }),
      events: [
        draftEvent(actor, "session.created", namespace, session.userId, createdMs, {
          session: row.idDigest.toString("hex"),
          via: "mfa",
        }),
      ],
    });
    if (!inserted) throw invalidCredentials();
    throttle.ended(namespace, attempt);
    return session;
  }

  /**
   * A hash made at another cost than BCRYPT_COST (imported, or older than a
   * cost change) is re-made from the password just verified, after the answer,
   * without ending any session. It keeps every account's login as costly as
   * the dummy comparison for unknown accounts, so timing tells nothing, and
   * lets an operator raise the cost over time. Best effort: if hashing is busy
   * or the password changed meanwhile, the next login tries again.
   */
  private upgradeHash(namespace: string, userId: string, oldHash: string, password: string): void {
    const { repo, hasher } = this.deps;
    // One upgrade per user at a time in this process: concurrent logins of one
    // account would each spend a hash on it, and all but one would be lost.
    const key = `${namespace}\n${userId}`;
    if (!hasher.needsRehash(oldHash) || this.upgrading.has(key)) return;
    this.upgrading.add(key);
    hasher
      .hash(password)
      .then((newHash) => repo.replacePasswordHash(namespace, userId, oldHash, newHash, this.deps.now(), false))
      .catch(() => undefined)
      .finally(() => this.upgrading.delete(key));
  }

  /**
   * A session for a user who proved who they are without a password (a magic
   * link): the same session as Login's, with the same TTL and per-user cap.
   * Stored against the user's current hash, so a password change that
   * commits first leaves it out; undefined if the user is gone.
   */
  async startWithoutPassword(namespace: string, userId: string, actor: Actor): Promise<Session | undefined> {
    const { repo } = this.deps;
    const id = newToken();
    const createdMs = this.deps.now();
    const expiresMs = createdMs + this.deps.sessionTtlSeconds * 1000;
    const row = { idDigest: digest(id), userId, createdMs, expiresMs };
    const options = {
      ...(this.deps.maxSessionsPerUser === undefined ? {} : { maxSessions: this.deps.maxSessionsPerUser }),
      events: [
        draftEvent(actor, "session.created", namespace, userId, createdMs, {
          session: row.idDigest.toString("hex"),
          via: "magic_link",
        }),
      ],
    };
    // Twice at most: a password change between the read and the insert
    // (which ends every session) is simply read again.
    for (let tries = 0; tries < 2; tries++) {
      const credential = await repo.getCredential(namespace, userId);
      if (!credential) return undefined;
      if (await repo.insertSession(namespace, row, credential.passwordHash, options)) {
        const { user } = credential;
        return { id, userId, username: user.username, email: user.email, createdMs, expiresMs };
      }
    }
    return undefined;
  }

  async read(namespace: string, sessionId: string): Promise<Session> {
    const id = rules.sessionId(sessionId);
    const row = await this.deps.repo.getSession(namespace, digest(id), this.deps.now());
    if (!row) throw new ServiceError("SESSION_NOT_FOUND");
    return { id, ...row };
  }

  /** A user's live sessions, by handle (the hex digest of the id), newest first. */
  async list(namespace: string, userId: string): Promise<SessionSummary[]> {
    const id = rules.userId(userId, "user_id");
    await this.requireUser(namespace, id);
    const rows = await this.deps.repo.listSessions(namespace, id, this.deps.now(), LIMITS.sessionsListMax);
    return rows.map((r) => ({ handle: r.idDigest.toString("hex"), createdMs: r.createdMs, expiresMs: r.expiresMs }));
  }

  /** Ends the sessions with these handles, or every session of the user when none are given. */
  async revoke(namespace: string, userId: string, handles: string[], actor: Actor): Promise<number> {
    const id = rules.userId(userId, "user_id");
    const digests = rules.sessionHandles(handles);
    await this.requireUser(namespace, id);
    const revoked = draftEvent(actor, "session.revoked", namespace, id, this.deps.now(), {
      reason: "revoked",
      sessions: digests.length === 0 ? ["*"] : digests.map((d) => d.toString("hex")),
    });
    return this.deps.repo.deleteSessions(namespace, id, digests.length === 0 ? null : digests, [revoked]);
  }

  /** Every session of the user ends ("sign out everywhere"): revoke without handles. */
  async logoutAll(namespace: string, userId: string, actor: Actor): Promise<number> {
    return this.revoke(namespace, userId, [], actor);
  }

  private async requireUser(namespace: string, userId: string): Promise<void> {
    if (!(await this.deps.repo.getUser(namespace, userId))) throw new ServiceError("USER_NOT_FOUND");
  }

  /** Idempotent: ending a session that is already gone succeeds. */
  async logout(namespace: string, sessionId: string, actor: Actor): Promise<void> {
    const idDigest = digest(rules.sessionId(sessionId));
    // The user is the session's own, filled in by the delete that finds it.
    const ended = draftEvent(actor, "session.revoked", namespace, "", this.deps.now(), {
      reason: "logout",
      sessions: [idDigest.toString("hex")],
    });
    await this.deps.repo.deleteSession(namespace, idDigest, [ended]);
  }
}
