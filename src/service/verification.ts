// Email verification: SendVerificationEmail mails the user a one-time link;
// the link (or VerifyEmail with its token) marks the email verified.
//
// Security choices:
// - The token is 256 random bits; only its SHA-256 is stored, so the database
//   holds nothing that verifies an address. It works once, expires
//   (VERIFICATION_TTL_SECONDS), and a new one voids the previous.
// - The token's digest is committed with its mail, and the sender stores it
//   as the user's token before delivering: a mail never carries a token
//   that was not stored (token-mail.ts).
// - Enumeration: see token-mail.ts, shared by every call that mails a secret.
// - A wrong token says only "invalid or expired", whatever the reason.
import type { User } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import { type Actor, draftEvent, NO_ACTOR } from "./events.js";
import * as fields from "./mail-fields.js";
import { mailText, sendTokenMail, type TokenMailDeps } from "./token-mail.js";
import { digest, newToken } from "./tokens.js";
import * as rules from "./validation.js";

/** The GET endpoint the mail's link points at (under PUBLIC_URL). */
export const VERIFY_EMAIL_PATH = "/users/verify-email";

export interface VerificationDeps extends TokenMailDeps {
  publicUrl: string;
  redirectOrigins: readonly string[];
  ttlSeconds: number;
}

export interface SendVerificationInput {
  email: string;
  subject: string;
  textContent: string;
  redirectUrl: string;
  failureRedirectUrl: string;
  fromName: string;
}

/** Where a link's browser goes: the redirect the token carries, or none (a plain page). */
export type LinkOutcome = { verified: boolean; redirectUrl: string };

export function invalidOrExpired(): ServiceError {
  return new ServiceError("TOKEN_INVALID", { field: "token" });
}

export class VerificationService {
  constructor(private readonly deps: VerificationDeps) {}

  async send(namespace: string, input: SendVerificationInput): Promise<void> {
    const { redirectOrigins } = this.deps;
    const email = rules.email(input.email);
    const text = mailText(input);
    const redirectUrl = fields.redirectUrl(input.redirectUrl, redirectOrigins, "redirect_url");
    const failureRedirectUrl = fields.redirectUrl(input.failureRedirectUrl, redirectOrigins, "failure_redirect_url");
    const token = newToken();
    await sendTokenMail(this.deps, namespace, {
      purpose: "verify_email",
      kind: "verification",
      email,
      text,
      secret: `${this.deps.publicUrl}${VERIFY_EMAIL_PATH}?token=${token}`,
      secretDigest: digest(token),
      ttlSeconds: this.deps.ttlSeconds,
      redirectUrl,
      failureRedirectUrl,
    });
  }

  /** VerifyEmail: the token marks its user's email verified, or fails with "invalid or expired". */
  async verify(namespace: string, token: string, actor: Actor): Promise<User> {
    const now = this.deps.now();
    const verified = [draftEvent(actor, "user.verified", namespace, "", now)];
    const outcome = await this.deps.repo.verifyEmailToken(namespace, digest(fields.linkToken(token)), now, verified);
    if (!outcome.verified) throw invalidOrExpired();
    return outcome.user;
  }

  /** The link in the mail (any namespace: the token alone names its user). */
  async verifyLink(token: string): Promise<LinkOutcome> {
    if (token === "" || token.length > fields.MAIL_LIMITS.tokenMax) return { verified: false, redirectUrl: "" };
    const now = this.deps.now();
    // The link names no namespace: the event takes the token's, and its user.
    // No API key made the call: the token's holder, who has no name here.
    const outcome = await this.deps.repo.verifyEmailToken(null, digest(token), now, [
      draftEvent(NO_ACTOR, "user.verified", "", "", now, { via: "link" }),
    ]);
    return outcome.verified
      ? { verified: true, redirectUrl: outcome.redirectUrl }
      : { verified: false, redirectUrl: outcome.failureRedirectUrl };
  }
}
