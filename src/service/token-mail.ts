// What every call that mails a one-time secret shares (SendVerificationEmail,
// SendPasswordResetEmail, SendMagicLink): the mail's own fields, the
// per-address limit, and committing the secret's digest with its mail.
//
// Enumeration: the per-address limit is charged before the address is looked
// up, known or not, so it tells nothing about which addresses have accounts;
// the bucket names the address by its digest, so typed addresses of strangers
// are not kept. A known and an unknown address get the same answer.
import { randomUUID } from "node:crypto";
import { type MailKind, renderMail } from "../mail/templates.js";
import type { MailTokenPurpose, Repository } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import * as fields from "./mail-fields.js";
import { chargeWindow } from "./rate-limit.js";
import { digest } from "./tokens.js";

export interface TokenMailDeps {
  repo: Repository;
  now: () => number;
  /** MAILS_PER_ADDRESS per MAIL_RATE_WINDOW_SECONDS: bounds the mail any caller can make one address receive. */
  mailsPerAddress: number;
  mailRateWindowSeconds: number;
  /** Told once a mail is committed (wakes the outbox sender). */
  onMailQueued?: () => void;
}

/** The caller's words for the mail (each may be empty: a default). */
export interface MailText {
  subject: string;
  textContent: string;
  fromName: string;
}

/** Checks the mail's own fields (InvalidArgument naming the field). */
export function mailText(input: MailText): MailText {
  return {
    subject: fields.subject(input.subject),
    textContent: fields.textContent(input.textContent),
    fromName: fields.fromName(input.fromName),
  };
}

export interface TokenMail {
  purpose: MailTokenPurpose;
  kind: MailKind;
  /** Already checked and normalised (validation.email). */
  email: string;
  text: MailText;
  /** What the mail carries: the link or the code. Never stored or logged. */
  secret: string;
  /** What is stored instead of it. */
  secretDigest: Buffer;
  ttlSeconds: number;
  redirectUrl?: string;
  failureRedirectUrl?: string;
}

/** Charges the address's limit, then stores the secret's digest and queues its mail, in one transaction, if a user has the address. */
export async function sendTokenMail(deps: TokenMailDeps, namespace: string, mail: TokenMail): Promise<void> {
  const { repo, now } = deps;
  const retryAfterSeconds = await chargeWindow(
    { repo, now, windowSeconds: deps.mailRateWindowSeconds },
    `mail:address:${namespace}:${digest(mail.email).toString("hex")}`,
    deps.mailsPerAddress,
  );
  if (retryAfterSeconds !== undefined) {
    throw new ServiceError("MAIL_RATE_LIMITED", { scope: "to this address", retryAfterSeconds });
  }
  const rendered = renderMail(mail.kind, mail.secret, mail.text);
  const createdMs = now();
  const expiresMs = createdMs + mail.ttlSeconds * 1000;
  const queued = await repo.issueMailToken(
    {
      namespace,
      purpose: mail.purpose,
      email: mail.email,
      digest: mail.secretDigest,
      createdMs,
      expiresMs,
      redirectUrl: mail.redirectUrl ?? "",
      failureRedirectUrl: mail.failureRedirectUrl ?? "",
    },
    { id: randomUUID(), namespace, recipient: mail.email, ...rendered, createdMs, expiresMs },
  );
  if (queued) deps.onMailQueued?.();
}
