// Whether an account may act: a disabled account (DisableUser) cannot sign in
// or use any flow. Every flow that acts for a user found by email or token
// (login, verification, password reset, magic links) checks it here, and the
// storage layer checks it again in the same statement that acts, so a
// disable racing the flow wins.
import type { User } from "../storage/repository.js";
import { ServiceError } from "./errors.js";

export function isDisabled(user: Pick<User, "disabledMs">): boolean {
  return user.disabledMs !== undefined && user.disabledMs > 0;
}

/**
 * Throws ACCOUNT_DISABLED for a disabled user. Call it only once the caller
 * has proven who they are (the right password, a valid token): before that,
 * a distinct answer would tell a stranger that the account exists.
 */
export function requireEnabled(user: Pick<User, "disabledMs">): void {
  if (isDisabled(user)) throw new ServiceError("ACCOUNT_DISABLED");
}
