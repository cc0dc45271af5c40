// Account recovery's statements (password reset codes, magic links), shared
// by both engines as written (named parameters; PostgreSQL gets them through
// toPositional). Codes and links are mail_tokens rows of purpose
// 'reset_password' or 'magic_link' (see MailTokenPurpose).

import type { EventDraft } from "./events.js";
import type { User } from "./repository.js";

export const RECOVERY_SQL = {
  /**
   * One try of a reset code: counts it and, when the digest matches, spends
   * the code, in one statement. Only a live code of the user who has this
   * email now (and is not disabled), sent to that same email, with tries left, is touched, so
   * concurrent wrong guesses (each re-checked under the row's lock) can never
   * take more than @max_attempts tries between them.
   */
  tryResetCode: `UPDATE mail_tokens SET attempts = attempts + 1,
      spent_ms = CASE WHEN digest = @digest THEN CAST(@now AS BIGINT) ELSE 0 END
    WHERE namespace = @namespace AND purpose = 'reset_password'
      AND user_id = (SELECT id FROM users WHERE namespace = @namespace AND email = @email AND disabled_ms = 0)
      AND email = @email AND spent_ms = 0 AND expires_ms > @now AND attempts < @max_attempts
    RETURNING user_id, spent_ms`,
  /** The new password, whatever the old one was: the reset code is the proof. */
  setPassword: `UPDATE passwords SET hash = @hash, updated_ms = @now
    WHERE namespace = @namespace AND user_id = @user_id`,
  /**
   * The code or link proved the inbox: verified from now, unless it already
   * was (then no row changes, which says this call did not verify it).
   */
  markVerified: `UPDATE users SET verified_ms = CAST(@now AS BIGINT)
    WHERE namespace = @namespace AND id = @user_id AND email = @email AND verified_ms = 0`,
  /** Spends a live magic link: the first use wins (on PostgreSQL a second waits for the row's lock, then finds it spent). */
  spendMagicLink: `UPDATE mail_tokens SET spent_ms = @now
    WHERE digest = @digest AND purpose = 'magic_link' AND namespace = @namespace AND spent_ms = 0
      AND expires_ms > @now
    RETURNING user_id, email`,
} as const;

export interface TriedCodeRecord {
  user_id: string;
  spent_ms: number;
}

export interface SpentLinkRecord {
  user_id: string;
  email: string;
}

/** What a reset or a magic link did: its user (when it still has the address) and whether it verified the address. */
export interface RecoveryOutcome {
  userId: string;
  user: User | undefined;
  /** This call is what marked the email verified (it was not before). */
  verified: boolean;
}

/** The events a reset or a magic link writes: `events` always, `ifVerified` when it verified the address. */
export function recoveryEvents(
  outcome: RecoveryOutcome,
  events: EventDraft[] = [],
  ifVerified: EventDraft[] = [],
): EventDraft[] {
  return outcome.verified ? [...events, ...ifVerified] : events;
}
