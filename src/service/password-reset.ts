// Resetting a forgotten password: SendPasswordResetEmail mails a one-time
// code (reset-code.ts), ResetPassword sets a new password with it.
//
// Security choices:
// - The code's digest is committed with its mail (token-mail.ts); a new code
//   voids the previous one; only a digest is stored.
// - A code works once, until it expires, and is void after
//   RESET_CODE_MAX_TRIES wrong tries, counted in the same statement that
//   checks it, so concurrent guesses cannot buy more (Repository.resetPassword).
// - The new password is hashed before the code is tried: a hashing queue too
//   busy to take it refuses the call without spending a try or the code, and
//   a wrong code, a right one and an unknown email cost the same.
// - Success ends every session (whoever knew the old password is signed
//   out), forgets the login throttle's failures of the account (its owner
//   proved the inbox, so the lock no longer protects anyone), and marks the
//   email verified (the code could only be read there).
// - Every failure of the code says only "invalid or expired".

import type { User } from "../storage/repository.js";
import { invalidArgument, ServiceError } from "./errors.js";
import { type Actor, draftEvent } from "./events.js";
import { type LoginThrottle, throttleAccount } from "./login-throttle.js";
import type { PasswordHasher } from "./password-hasher.js";
import { newResetCode, readResetCode, resetCodeDigest } from "./reset-code.js";
import { mailText, sendTokenMail, type TokenMailDeps } from "./token-mail.js";
import * as rules from "./validation.js";

/** Wrong tries after which a code is void. */
export const RESET_CODE_MAX_TRIES = 5;
/** A code's life when the caller does not say (M3O's default). */
export const RESET_DEFAULT_TTL_SECONDS = 1800;

export interface PasswordResetDeps extends TokenMailDeps {
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  /** PASSWORD_RESET_MAX_TTL_SECONDS: longer expirations are cut to it. */
  maxTtlSeconds: number;
}

export interface SendPasswordResetInput {
  email: string;
  subject: string;
  textContent: string;
  fromName: string;
  /** Seconds; 0: the default. */
  expiration: bigint;
}

export interface ResetPasswordInput {
  email: string;
  code: string;
  newPassword: string;
  confirmPassword: string;
}

function invalidOrExpired(): ServiceError {
  return new ServiceError("TOKEN_INVALID", { field: "code" });
}

export class PasswordResetService {
  constructor(private readonly deps: PasswordResetDeps) {}

  async send(namespace: string, input: SendPasswordResetInput): Promise<void> {
    const email = rules.email(input.email);
    const text = mailText(input);
    const ttlSeconds = this.ttlSeconds(input.expiration);
    const code = newResetCode();
    await sendTokenMail(this.deps, namespace, {
      purpose: "reset_password",
      kind: "reset",
      email,
      text,
      secret: code,
      secretDigest: resetCodeDigest(namespace, email, code),
      ttlSeconds,
    });
  }

  /** Sets the new password with a live code, or fails with "invalid or expired". */
  async reset(namespace: string, input: ResetPasswordInput, actor: Actor): Promise<User> {
    const { repo, hasher, now } = this.deps;
    const email = rules.email(input.email);
    const code = readResetCode(input.code);
    const newPassword = rules.newPassword(input.newPassword, "new_password");
    if (input.confirmPassword !== input.newPassword) {
      throw new ServiceError("PASSWORDS_DIFFER", { field: "confirm_password" });
    }
    if (code === undefined) throw invalidOrExpired();
    const newHash = await hasher.hash(newPassword);
    const nowMs = now();
    // About the code's user, filled in by the write that finds it.
    const changed = draftEvent(actor, "user.password_changed", namespace, "", nowMs, {
      via: "reset",
      sessions_revoked: true,
    });
    const user = await repo.resetPassword(
      {
        namespace,
        email,
        digest: resetCodeDigest(namespace, email, code),
        newHash,
        nowMs,
        maxAttempts: RESET_CODE_MAX_TRIES,
      },
      [changed],
      // The code could only be read in the inbox: said once, when it is what verified the address.
      [draftEvent(actor, "user.verified", namespace, "", nowMs, { via: "reset" })],
    );
    if (!user) throw invalidOrExpired();
    await this.deps.throttle.forget(namespace, [
      throttleAccount("user", user.id),
      throttleAccount("username", user.username),
      throttleAccount("email", user.email),
    ]);
    return user;
  }

  private ttlSeconds(expiration: bigint): number {
    if (expiration < 0n) {
      throw invalidArgument(
        "expiration",
        "must be 0 (the default) or a positive number of seconds",
        "FIELD_OUT_OF_RANGE",
      );
    }
    const max = this.deps.maxTtlSeconds;
    if (expiration === 0n) return Math.min(RESET_DEFAULT_TTL_SECONDS, max);
    return expiration > BigInt(max) ? max : Number(expiration);
  }
}
