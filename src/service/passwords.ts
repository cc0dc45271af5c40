// Changing a password: UpdatePassword.
import type { Repository } from "../storage/repository.js";
import { requireEnabled } from "./account-status.js";
import { ServiceError } from "./errors.js";
import { type Actor, draftEvent } from "./events.js";
import { type LoginThrottle, throttleAccount } from "./login-throttle.js";
import type { PasswordHasher } from "./password-hasher.js";
import * as rules from "./validation.js";

export interface PasswordsDeps {
  repo: Repository;
  hasher: PasswordHasher;
  throttle: LoginThrottle;
  now: () => number;
}

export interface UpdatePasswordInput {
  userId: string;
  oldPassword: string;
  newPassword: string;
  confirmPassword: string;
}

export interface SetPasswordInput {
  userId: string;
  newPassword: string;
}

export class PasswordsService {
  constructor(private readonly deps: PasswordsDeps) {}

  /**
   * An administrator's reset (SetPassword): no old password. The hash is made
   * through the hashing queue like any other; then, in one commit, it replaces
   * the old one, every session of the user ends, and the failed logins of the
   * user (by id, username and email) are forgotten.
   */
  async set(namespace: string, input: SetPasswordInput): Promise<void> {
    const { repo, hasher } = this.deps;
    const userId = rules.userId(input.userId, "user_id");
    const newPassword = rules.newPassword(input.newPassword, "new_password");
    const user = await repo.getUser(namespace, userId);
    if (!user) throw new ServiceError("USER_NOT_FOUND");
    const newHash = await hasher.hash(newPassword);
    const accounts = [
      throttleAccount("user", userId),
      throttleAccount("username", user.username),
      throttleAccount("email", user.email),
    ];
    if (!(await repo.setPasswordHash(namespace, userId, newHash, this.deps.now(), accounts))) {
      throw new ServiceError("USER_NOT_FOUND");
    }
  }

  /** Replaces the password and revokes every session of the user. */
  /**
   * `hideUnknownUser` (a public key's call): an unknown user id is answered
   * as a wrong old password, after the same bcrypt check and the same charge
   * to the id's throttle budget, so the answer, its time and a lockout tell a
   * browser's key nothing about which ids exist. Trusted keys are told
   * USER_NOT_FOUND.
   */
  async update(
    namespace: string,
    input: UpdatePasswordInput,
    actor: Actor,
    options: { hideUnknownUser?: boolean } = {},
  ): Promise<void> {
    const { repo, hasher, throttle } = this.deps;
    const userId = rules.userId(input.userId, "user_id");
    const oldPassword = rules.givenPassword(input.oldPassword, "old_password");
    const newPassword = rules.newPassword(input.newPassword, "new_password");
    if (input.confirmPassword !== input.newPassword) {
      throw new ServiceError("PASSWORDS_DIFFER", { field: "confirm_password" });
    }
    // As at Login: the hash's place is taken before the attempt reserves its
    // slot. Guessing the old password here spends the same per-user budget
    // as guessing it at Login.
    const { credential, matches, attempt } = await hasher.slots.withPlace(async (place) => {
      const credential = await repo.getCredential(namespace, userId);
      if (!credential && !options.hideUnknownUser) throw new ServiceError("USER_NOT_FOUND");
      const attempt = await throttle.admit(namespace, [throttleAccount("user", userId)]);
      try {
        const matches = credential
          ? await hasher.verify(oldPassword, credential.passwordHash, attempt.guard(place))
          : await hasher.verifyNothing(oldPassword, attempt.guard(place));
        return { credential, matches, attempt };
      } catch (err) {
        await throttle.released(namespace, attempt).catch(() => undefined);
        throw err;
      }
    });
    if (!credential || !matches) {
      // An unknown id (a public key's call) is an event about no user, as at Login.
      await throttle.failed(namespace, attempt, credential ? userId : "", "update_password", actor);
      throw new ServiceError("OLD_PASSWORD_WRONG", { field: "old_password" });
    }
    await throttle.succeeded(namespace, attempt);
    // As at Login: only the right password learns that the account is disabled.
    requireEnabled(credential.user);
    const newHash = await hasher.hash(newPassword);
    const now = this.deps.now();
    const changed = draftEvent(actor, "user.password_changed", namespace, userId, now, { sessions_revoked: true });
    const replaced = await repo.replacePasswordHash(namespace, userId, credential.passwordHash, newHash, now, true, [
      changed,
    ]);
    if (!replaced) {
      throw new ServiceError("PASSWORD_CHANGED_CONCURRENTLY");
    }
  }
}
