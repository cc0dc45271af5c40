// Per-account throttling of password guesses. Failures are counted in the
// database per (namespace, account) so every replica sees the same count.
// "account" is the identifier as the caller typed it (normalised), e.g.
// "username:alice" or "email:a@b.co", whether or not such a user exists
// (throttling unknown names exactly like known ones reveals nothing about
// which accounts exist), stored as its SHA-256 (throttleAccount).
import type { Repository, ThrottlePolicy } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import { digest } from "./tokens.js";

export interface ThrottleSettings {
  maxFailures: number;
  baseLockSeconds: number;
  maxLockSeconds: number;
}

/**
 * The name an account's attempts are counted under: the SHA-256 of the
 * identifier as typed (normalised), e.g. of "username:alice". Hashed because
 * people type their password into the username field, and what they typed is
 * kept for up to a day: it must not be readable in the database.
 */
export function throttleAccount(kind: "username" | "email" | "id", identifier: string): string {
  return digest(`${kind}:${identifier}`).toString("hex");
}

/** A failure count with no new failure for this long is forgotten. */
export const THROTTLE_MEMORY_MS = 24 * 3600 * 1000;

export class LoginThrottle {
  private readonly policy: ThrottlePolicy;

  constructor(
    private readonly repo: Repository,
    settings: ThrottleSettings,
    private readonly now: () => number,
  ) {
    this.policy = {
      maxFailures: settings.maxFailures,
      baseLockMs: settings.baseLockSeconds * 1000,
      maxLockMs: settings.maxLockSeconds * 1000,
    };
  }

  /**
   * Admits an attempt before any password is checked, counting it as a
   * failure in advance (so concurrent guesses cannot all slip through before
   * one has failed), or refuses it while the account is locked.
   */
  async admit(namespace: string, account: string): Promise<void> {
    const now = this.now();
    if (await this.repo.chargeLoginAttempt(namespace, account, now, this.policy)) return;
    const row = await this.repo.getLoginThrottle(namespace, account);
    const seconds = Math.max(1, Math.ceil(((row?.lockedUntilMs ?? now) - now) / 1000));
    throw new ServiceError("LOGIN_THROTTLED", { retryAfterSeconds: seconds });
  }

  /**
   * The password was right: the attempt is not a failure, and earlier ones are
   * forgotten. (Login does this in the commit that stores its session:
   * Repository.insertSession's endsThrottleOf.)
   */
  async succeeded(namespace: string, account: string): Promise<void> {
    await this.repo.clearLoginFailures(namespace, account);
  }
}
