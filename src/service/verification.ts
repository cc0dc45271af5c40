// Email verification: SendVerificationEmail mails the user a one-time link;
// the link (or VerifyEmail with its token) marks the email verified.
//
// Security choices:
// - The token is 256 random bits; only its SHA-256 is stored, so the database
//   holds nothing that verifies an address. It works once, expires
//   (VERIFICATION_TTL_SECONDS), and a new one voids the previous.
// - The token and its mail are committed together: a mail never carries a
//   token that was not stored, and a stored token always has its mail queued.
// - Enumeration: a known and an unknown email get the same answer after the
//   same work (one lookup-and-write transaction); only a known one queues mail.
// - A wrong token says only "invalid or expired", whatever the reason.

import { randomUUID } from "node:crypto";
import { renderMail } from "../mail/templates.js";
import type { Repository, User } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import { draftEvent } from "./events.js";
import * as fields from "./mail-fields.js";
import { chargeWindow } from "./rate-limit.js";
import { digest, newToken } from "./tokens.js";
import * as rules from "./validation.js";

/** The GET endpoint the mail's link points at (under PUBLIC_URL). */
export const VERIFY_EMAIL_PATH = "/users/verify-email";

export interface VerificationDeps {
  repo: Repository;
  now: () => number;
  publicUrl: string;
  redirectOrigins: readonly string[];
  ttlSeconds: number;
  /** MAILS_PER_ADDRESS per MAIL_RATE_WINDOW_SECONDS: bounds the mail any caller can make one address receive. */
  mailsPerAddress: number;
  mailRateWindowSeconds: number;
  /** Told once a mail is committed (wakes the outbox sender). */
  onMailQueued?: () => void;
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
    const { repo, now, redirectOrigins } = this.deps;
    const email = rules.email(input.email);
    const given = {
      subject: fields.subject(input.subject),
      textContent: fields.textContent(input.textContent),
      fromName: fields.fromName(input.fromName),
    };
    const redirectUrl = fields.redirectUrl(input.redirectUrl, redirectOrigins, "redirect_url");
    const failureRedirectUrl = fields.redirectUrl(input.failureRedirectUrl, redirectOrigins, "failure_redirect_url");
    // Counted before the address is looked up, known or not, so the limit
    // tells nothing about which addresses have accounts. The bucket names the
    // address by its digest: typed addresses of strangers are not kept.
    const retryAfterSeconds = await chargeWindow(
      { repo, now, windowSeconds: this.deps.mailRateWindowSeconds },
      `mail:address:${namespace}:${digest(email).toString("hex")}`,
      this.deps.mailsPerAddress,
    );
    if (retryAfterSeconds !== undefined) {
      throw new ServiceError("MAIL_RATE_LIMITED", { scope: "to this address", retryAfterSeconds });
    }
    const token = newToken();
    const link = `${this.deps.publicUrl}${VERIFY_EMAIL_PATH}?token=${token}`;
    const mail = renderMail("verification", link, given);
    const createdMs = now();
    const expiresMs = createdMs + this.deps.ttlSeconds * 1000;
    const queued = await repo.issueMailToken(
      {
        namespace,
        purpose: "verify_email",
        email,
        digest: digest(token),
        createdMs,
        expiresMs,
        redirectUrl,
        failureRedirectUrl,
      },
      { id: randomUUID(), namespace, recipient: email, ...mail, createdMs, expiresMs },
    );
    if (queued) this.deps.onMailQueued?.();
  }

  /** VerifyEmail: the token marks its user's email verified, or fails with "invalid or expired". */
  async verify(namespace: string, token: string): Promise<User> {
    const now = this.deps.now();
    const verified = [draftEvent("user.verified", namespace, "", now)];
    const outcome = await this.deps.repo.verifyEmailToken(namespace, digest(fields.linkToken(token)), now, verified);
    if (!outcome.verified) throw invalidOrExpired();
    return outcome.user;
  }

  /** The link in the mail (any namespace: the token alone names its user). */
  async verifyLink(token: string): Promise<LinkOutcome> {
    if (token === "" || token.length > fields.MAIL_LIMITS.tokenMax) return { verified: false, redirectUrl: "" };
    const now = this.deps.now();
    // The link names no namespace: the event takes the token's, and its user.
    const outcome = await this.deps.repo.verifyEmailToken(null, digest(token), now, [
      draftEvent("user.verified", "", "", now, { via: "link" }),
    ]);
    return outcome.verified
      ? { verified: true, redirectUrl: outcome.redirectUrl }
      : { verified: false, redirectUrl: outcome.failureRedirectUrl };
  }
}
