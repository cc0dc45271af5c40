// Signing in by a link: SendMagicLink mails a one-time link to the app
// (address + endpoint + ?token=...); the app's page calls VerifyToken with
// the token and gets a session.
//
// Security choices:
// - The token is 256 random bits; only its SHA-256 is stored. It works once
//   (two VerifyToken calls at once: one session), expires after
//   MAGIC_LINK_TTL_SECONDS, and a new link voids the previous one.
// - `address` must be an origin on REDIRECT_ORIGINS, so a link of ours never
//   carries a sign-in token to someone else's site; `endpoint` is a bounded
//   path on it.
// - VerifyToken's session is Login's (same shape, TTL and cap), and the
//   email is marked verified (the link could only be opened from the inbox).
//   An account with a second factor gets Login's MFA ticket instead.
// - A bad token is answered as M3O did: is_valid false and "invalid or
//   expired", whatever the reason, never an error naming it.

import { isDisabled } from "./account-status.js";
import { invalidArgument } from "./errors.js";
import { type Actor, draftEvent } from "./events.js";
import * as fields from "./mail-fields.js";
import type { Session } from "./model.js";
import type { SecondFactorGate, SessionsService } from "./sessions.js";
import { mailText, sendTokenMail, type TokenMailDeps } from "./token-mail.js";
import { digest, newToken } from "./tokens.js";
import * as rules from "./validation.js";

export const ENDPOINT_MAX = 512;
// Path characters of RFC 3986 (unreserved, sub-delims, ":", "@", "/", and %-escapes): no query, fragment or backslash.
const PATH = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;

export interface MagicLinkDeps extends TokenMailDeps {
  sessions: SessionsService;
  /** An account with a second factor gets an MFA ticket instead of a session, as at Login (docs/mfa.md). */
  secondFactor?: SecondFactorGate;
  redirectOrigins: readonly string[];
  /** MAGIC_LINK_TTL_SECONDS. */
  ttlSeconds: number;
}

export interface SendMagicLinkInput {
  email: string;
  subject: string;
  textContent: string;
  fromName: string;
  address: string;
  endpoint: string;
}

export type TokenCheck =
  | { isValid: true; session: Session }
  | { isValid: true; mfaTicket: string }
  | { isValid: false; message: string };

export const INVALID_OR_EXPIRED = "invalid or expired";

/** The link's origin: an allowed origin, written as one (no path, query or credentials). */
export function linkOrigin(raw: string, allowedOrigins: readonly string[], field = "address"): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  const url = new URL(fields.redirectUrl(raw, allowedOrigins, field));
  if (url.pathname !== "/" || url.search !== "" || url.hash !== "") {
    throw invalidArgument(
      field,
      "must be an origin like https://app.example.com (the path goes in endpoint)",
      "FIELD_MALFORMED",
    );
  }
  return url.origin;
}

/** The path the link opens on `address`: "/" added in front when missing (M3O callers wrote "verify"). */
export function linkEndpoint(raw: string, field = "endpoint"): string {
  if (raw.length > ENDPOINT_MAX)
    throw invalidArgument(field, `must be at most ${ENDPOINT_MAX} characters`, "FIELD_TOO_LONG");
  const path = raw.startsWith("/") ? raw : `/${raw}`;
  // "//" would read as another host to a browser resolving the link.
  if (!PATH.test(path) || path.startsWith("//")) {
    throw invalidArgument(field, "must be a URL path like /magic-link, without query or fragment", "FIELD_MALFORMED");
  }
  return path;
}

export class MagicLinkService {
  constructor(private readonly deps: MagicLinkDeps) {}

  async send(namespace: string, input: SendMagicLinkInput): Promise<void> {
    const email = rules.email(input.email);
    const text = mailText(input);
    const origin = linkOrigin(input.address, this.deps.redirectOrigins);
    const endpoint = linkEndpoint(input.endpoint);
    const token = newToken();
    await sendTokenMail(this.deps, namespace, {
      purpose: "magic_link",
      kind: "magic_link",
      email,
      text,
      secret: `${origin}${endpoint}?token=${token}`,
      secretDigest: digest(token),
      ttlSeconds: this.deps.ttlSeconds,
    });
  }

  /** VerifyToken: a live link's token signs its user in, once. */
  async verify(namespace: string, token: string, actor: Actor): Promise<TokenCheck> {
    const given = fields.linkToken(token);
    const nowMs = this.deps.now();
    // The link proves the inbox: said once, when it is what verified the address.
    const verified = draftEvent(actor, "user.verified", namespace, "", nowMs, { via: "magic_link" });
    const spent = await this.deps.repo.spendMagicLink(namespace, digest(given), nowMs, [verified]);
    // A link sent before its account was disabled signs nobody in.
    const user = spent && !isDisabled(spent) ? spent : undefined;
    // The link proves the inbox, not the second factor: such an account continues at VerifyMfa.
    const credential = user && this.deps.secondFactor && (await this.deps.repo.getCredential(namespace, user.id));
    const mfaTicket = credential ? await this.deps.secondFactor?.challenge(namespace, credential) : undefined;
    if (mfaTicket !== undefined) return { isValid: true, mfaTicket };
    const session = user && (await this.deps.sessions.startWithoutPassword(namespace, user.id, actor));
    return session ? { isValid: true, session } : { isValid: false, message: INVALID_OR_EXPIRED };
  }
}
