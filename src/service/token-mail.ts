// What every call that mails a one-time secret shares (SendVerificationEmail,
// SendPasswordResetEmail, SendMagicLink): the mail's own fields, the
// per-address limit, and committing the secret's digest with its mail.
//
// Enumeration, by design: the call never looks the address up. It charges
// the address's limit and commits the mail with the secret's digest, the
// same two writes of the same size for a known and an unknown address, and
// answers; so the answer and its timing cannot depend on whether someone has
// the address. The outbox sender, after the answer, stores the token for the
// address's user in one transaction (OutboxStore.bindMailToken), or drops the
// mail when nobody has it. A crash after the answer loses nothing: the mail
// and its digest are committed, and the sender binds them when it runs again.
// The limit's bucket names the address by its digest; the queued row holds
// the typed address only until the sender drops it (milliseconds).
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

/** Charges the address's limit, then queues the mail with the secret's digest, whoever has the address. */
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
  // Queued as it is for any address: the address is not looked up here. The
  // sender stores the token for the address's user before delivering, or
  // drops the mail when nobody has it (OutboxStore.bindMailToken).
  await repo.queueMail({
    id: randomUUID(),
    namespace,
    recipient: mail.email,
    ...rendered,
    createdMs,
    expiresMs: createdMs + mail.ttlSeconds * 1000,
    token: {
      purpose: mail.purpose,
      digest: mail.secretDigest,
      redirectUrl: mail.redirectUrl ?? "",
      failureRedirectUrl: mail.failureRedirectUrl ?? "",
    },
  });
  deps.onMailQueued?.();
}
