// Per-account throttling of password guesses, shared by every replica through
// the database. An "account" is the identifier as the caller typed it
// (normalised), e.g. "username:alice" or "email:a@b.co", whether or not such a
// user exists (throttling unknown names exactly like known ones reveals
// nothing about which accounts exist), and, once it resolves to a user, that
// user's own account "user:<id>", so guesses at one user are bounded whatever
// identifier is typed. Stored as SHA-256 (throttleAccount).
//
// Only failures count, and a burst still cannot buy more checks than the
// limit: an attempt reserves a slot in each of its accounts before its
// password is checked, and an account has room while its failures plus the
// slots in use stay below LOGIN_MAX_FAILURES (once past it and the lock has
// ended, one check at a time). A wrong password turns the slot into a
// failure, a right one frees it and clears the failures, in one commit each.
// An attempt that finds no room in an account that is not locked waits,
// bounded, for the checks in flight to end, instead of being refused: twelve
// correct logins at once all succeed. A slot is leased, so one held by a
// replica that died frees itself; a check that could not start well within
// its lease is not made (the slot may be given to another by then).

import { randomBytes } from "node:crypto";
import type { LoginAttemptRef, Repository, ThrottlePolicy } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import { type Actor, draftEvent } from "./events.js";
import { digest } from "./tokens.js";
import type { WorkRunner } from "./work-queue.js";

export interface ThrottleSettings {
  maxFailures: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
}

/**
 * The name an account's attempts are counted under: the SHA-256 of the
 * identifier as typed (normalised), e.g. of "username:alice", or of the user
 * it resolved to ("user:<id>"); second-factor codes count under "mfa:<id>". Hashed because people type their password
 * into the username field, and what they typed is kept for up to a day: it
 * must not be readable in the database.
 */
export function throttleAccount(kind: "username" | "email" | "user" | "mfa", identifier: string): string {
  return digest(`${kind}:${identifier}`).toString("hex");
}

/** A failure count with no new failure for this long is forgotten. */
export const THROTTLE_MEMORY_MS = 24 * 3600 * 1000;
/** How long a slot is held at most (a replica that died while checking frees it after this). */
export const ATTEMPT_LEASE_MS = 60_000;
/** A check must start within this of its reservation, well inside the lease. */
const CHECK_START_LIMIT_MS = ATTEMPT_LEASE_MS / 2;
/** How long an attempt waits for a slot in an account that has none free (but is not locked). */
export const SLOT_WAIT_MS = 10_000;
/** Re-checks for a free slot at most this far apart (slots freed by other replicas are seen so). */
const SLOT_POLL_MAX_MS = 200;

/** An admitted attempt: its slots, and a guard for the check it is admitted for. */
export interface AdmittedAttempt extends LoginAttemptRef {
  /** Runs the check on `place` only if it starts in time (else refuses it as busy). */
  guard(place: WorkRunner): WorkRunner;
}

export interface LoginThrottleDeps {
  repo: Repository;
  settings: ThrottleSettings;
  now: () => number;
}

export class LoginThrottle {
  private readonly policy: ThrottlePolicy;
  private readonly repo: Repository;
  private readonly now: () => number;
  /** Attempts of this process waiting for a slot, by namespace and account: woken when one of ours ends. */
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor({ repo, settings, now }: LoginThrottleDeps) {
    this.repo = repo;
    this.now = now;
    this.policy = {
      maxFailures: settings.maxFailures,
      baseLockMs: settings.baseLockSeconds * 1000,
      maxLockMs: settings.maxLockSeconds * 1000,
    };
  }

  /**
   * Reserves a slot in every account (waiting for one, bounded, while none is
   * free) before any password is checked; refuses while an account is locked.
   */
  async admit(namespace: string, accounts: string[]): Promise<AdmittedAttempt> {
    const ref: LoginAttemptRef = { accounts: [...new Set(accounts)], attempt: randomBytes(16).toString("hex") };
    const giveUpAt = performance.now() + SLOT_WAIT_MS;
    for (let pause = 10; ; pause = Math.min(pause * 2, SLOT_POLL_MAX_MS)) {
      const reservedAt = this.now();
      const result = await this.repo.reserveLoginAttempt(namespace, ref, reservedAt, ATTEMPT_LEASE_MS, this.policy);
      if (result.admitted) return { ...ref, guard: (place) => this.guarded(reservedAt, place) };
      if (result.lockedUntilMs > reservedAt) {
        const seconds = Math.max(1, Math.ceil((result.lockedUntilMs - reservedAt) / 1000));
        throw new ServiceError("LOGIN_THROTTLED", { retryAfterSeconds: seconds });
      }
      if (performance.now() + pause > giveUpAt) {
        throw new ServiceError("LOGIN_BUSY", { retryAfterSeconds: 1 });
      }
      await this.waitForSlot(namespace, ref.accounts, pause);
    }
  }

  /**
   * The password was wrong: the attempt's slots become failures, and a
   * login.failed event is written in the same commit, about `userId` when
   * the account exists ("" otherwise: one write either way, so the two take
   * the same time) and never with what was typed.
   */
  async failed(
    namespace: string,
    attempt: LoginAttemptRef,
    userId: string,
    via: "login" | "update_password" | "mfa",
    actor: Actor,
  ): Promise<void> {
    try {
      const now = this.now();
      const event = draftEvent(actor, "login.failed", namespace, userId, now, { via });
      await this.repo.failLoginAttempt(namespace, attempt, now, this.policy, [event]);
    } finally {
      this.wake(namespace, attempt.accounts);
    }
  }

  /**
   * The password was right: the slots go and earlier failures are forgotten.
   * (Login does this in the commit that stores its session, then calls ended.)
   */
  async succeeded(namespace: string, attempt: LoginAttemptRef): Promise<void> {
    try {
      await this.repo.endLoginAttempt(namespace, attempt, true);
    } finally {
      this.wake(namespace, attempt.accounts);
    }
  }

  /** The check was not made (busy, an error): the slots go, nothing is counted. */
  async released(namespace: string, attempt: LoginAttemptRef): Promise<void> {
    try {
      await this.repo.endLoginAttempt(namespace, attempt, false);
    } finally {
      this.wake(namespace, attempt.accounts);
    }
  }

  /** The accounts' failures and locks are forgotten (their owner proved who they are another way: a password reset). */
  async forget(namespace: string, accounts: string[]): Promise<void> {
    await this.repo.endLoginAttempt(namespace, { accounts, attempt: randomBytes(16).toString("hex") }, true);
    this.wake(namespace, accounts);
  }

  /** The attempt's slots were ended elsewhere (Repository.insertSession): wake who waits for them. */
  ended(namespace: string, attempt: LoginAttemptRef): void {
    this.wake(namespace, attempt.accounts);
  }

  private guarded(reservedAt: number, place: WorkRunner): WorkRunner {
    return {
      run: (work) =>
        place.run(() => {
          // Waited so long for hashing that the lease may run out mid-check:
          // not checked (the caller releases the slot), as when hashing is busy.
          if (this.now() - reservedAt > CHECK_START_LIMIT_MS) {
            throw new ServiceError("HASHING_BUSY", { retryAfterSeconds: 1 });
          }
          return work();
        }),
    };
  }

  private waitForSlot(namespace: string, accounts: string[], ms: number): Promise<void> {
    return new Promise((resolve) => {
      const keys = accounts.map((a) => `${namespace}\n${a}`);
      const done = () => {
        clearTimeout(timer);
        for (const key of keys) {
          const set = this.waiters.get(key);
          set?.delete(done);
          if (set?.size === 0) this.waiters.delete(key);
        }
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const key of keys) {
        const set = this.waiters.get(key) ?? new Set();
        this.waiters.set(key, set);
        set.add(done);
      }
    });
  }

  private wake(namespace: string, accounts: string[]): void {
    for (const account of accounts) {
      for (const done of [...(this.waiters.get(`${namespace}\n${account}`) ?? [])]) done();
    }
  }
}
