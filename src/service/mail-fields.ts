// Rules on the fields of the calls that send mail (subject, text, sender name,
// redirect URLs). Each returns the value or throws InvalidArgument naming the
// field and the rule, lengths first.
import { invalidArgument } from "./errors.js";

export const MAIL_LIMITS = {
  subjectMax: 200,
  textMax: 10_000,
  fromNameMax: 100,
  urlMax: 2048,
  tokenMax: 256,
} as const;

// Control characters (CR and LF especially: a header value must stay one line).
const CONTROL = /\p{Cc}/u;

export function subject(raw: string, field = "subject"): string {
  if (raw.length > MAIL_LIMITS.subjectMax)
    throw invalidArgument(field, `must be at most ${MAIL_LIMITS.subjectMax} characters`, "FIELD_TOO_LONG");
  if (CONTROL.test(raw)) throw invalidArgument(field, "must be one line without control characters", "FIELD_MALFORMED");
  return raw;
}

export function fromName(raw: string, field = "from_name"): string {
  if (raw.length > MAIL_LIMITS.fromNameMax)
    throw invalidArgument(field, `must be at most ${MAIL_LIMITS.fromNameMax} characters`, "FIELD_TOO_LONG");
  if (CONTROL.test(raw)) throw invalidArgument(field, "must be one line without control characters", "FIELD_MALFORMED");
  return raw;
}

export function textContent(raw: string, field = "text_content"): string {
  if (raw.length > MAIL_LIMITS.textMax)
    throw invalidArgument(field, `must be at most ${MAIL_LIMITS.textMax} characters`, "FIELD_TOO_LONG");
  if (raw.includes("\0")) throw invalidArgument(field, "must not contain NUL", "FIELD_MALFORMED");
  return raw;
}

/**
 * A URL the service will send a browser to: empty, or an absolute http(s) URL
 * whose origin is on the allowlist (REDIRECT_ORIGINS), so no link of ours can
 * become an open redirect to someone else's site.
 */
export function redirectUrl(raw: string, allowedOrigins: readonly string[], field: string): string {
  if (raw === "") return "";
  if (raw.length > MAIL_LIMITS.urlMax)
    throw invalidArgument(field, `must be at most ${MAIL_LIMITS.urlMax} characters`, "FIELD_TOO_LONG");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw invalidArgument(field, "must be an absolute URL like https://app.example.com/verified", "FIELD_MALFORMED");
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password) {
    throw invalidArgument(field, "must be an http(s) URL without credentials", "FIELD_MALFORMED");
  }
  if (!allowedOrigins.includes(url.origin)) {
    throw invalidArgument(field, "origin is not allowed (REDIRECT_ORIGINS)", "REDIRECT_NOT_ALLOWED");
  }
  return url.toString();
}

/** A token from a link: its length only (anything else simply matches no digest). */
export function linkToken(raw: string, field = "token"): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (raw.length > MAIL_LIMITS.tokenMax)
    throw invalidArgument(field, `must be at most ${MAIL_LIMITS.tokenMax} characters`, "FIELD_TOO_LONG");
  return raw;
}
