// The texts of the service's mails. A caller may give its own subject and
// text (M3O's fields); the placeholders M3O documented are filled in:
// $micro_verification_link (verification and magic-link mails) and $code
// (password reset). A text that leaves its placeholder out gets the link or
// code appended, so a mail never goes out without what it was sent for.

export type MailKind = "verification" | "reset" | "magic_link";

const DEFAULTS: Record<MailKind, { subject: string; text: string }> = {
  verification: {
    subject: "Confirm your email address",
    text: "Hello,\n\nPlease confirm your email address by opening this link:\n\n$micro_verification_link\n\nThe link works once and expires in 24 hours. If you did not sign up, ignore this mail.\n",
  },
  reset: {
    subject: "Your password reset code",
    text: "Hello,\n\nYour password reset code is:\n\n$code\n\nIt works once and expires soon. If you did not ask to reset your password, ignore this mail: your password stays as it is.\n",
  },
  magic_link: {
    subject: "Your sign-in link",
    text: "Hello,\n\nOpen this link to sign in:\n\n$micro_verification_link\n\nThe link works once and expires in 10 minutes. If you did not ask for it, ignore this mail.\n",
  },
};

const PLACEHOLDER: Record<MailKind, string> = {
  verification: "$micro_verification_link",
  reset: "$code",
  magic_link: "$micro_verification_link",
};

export const DEFAULT_FROM_NAME = "Accounts";

export interface RenderedMail {
  subject: string;
  text: string;
  fromName: string;
}

/** Fills in a mail of `kind` with `secret` (a link or a code); empty fields take the defaults. */
export function renderMail(
  kind: MailKind,
  secret: string,
  given: { subject?: string; textContent?: string; fromName?: string },
): RenderedMail {
  const placeholder = PLACEHOLDER[kind];
  const template = given.textContent || DEFAULTS[kind].text;
  // split/join, not replace: a "$&" in the secret or the text must stay as it is.
  const text = template.includes(placeholder)
    ? template.split(placeholder).join(secret)
    : `${template.trimEnd()}\n\n${secret}\n`;
  return {
    subject: given.subject || DEFAULTS[kind].subject,
    text,
    fromName: given.fromName || DEFAULT_FROM_NAME,
  };
}
