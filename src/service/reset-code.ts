// Password reset codes: short enough to type from a mail on a phone, safe
// because guessing is bounded, not because the space is vast.
//
// A code is 10 characters of Crockford's base32 (0-9, A-Z without I L O U):
// 50 bits. Guesses are bounded three ways: 5 tries per code (then it is
// void), MAILS_PER_ADDRESS new codes per window, and the code's expiry; at
// the defaults an attacker's chance is 5 tries x 5 codes an hour / 2^50, about
// 2e-14 an hour. It is read case-insensitively, ignoring spaces and hyphens,
// with O read as 0 and I, L as 1 (Crockford's rule), so a retyped code works.
//
// Only a digest is stored, and it covers the namespace and the address as
// well as the code: the same code for two users never stores the same value
// (the digest column is unique), and a stolen row must be brute-forced per
// row, within the code's lifetime (at most PASSWORD_RESET_MAX_TTL_SECONDS).
import { randomBytes } from "node:crypto";
import { invalidArgument } from "./errors.js";
import { digest } from "./tokens.js";

export const RESET_CODE_LENGTH = 10;
const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** Longest `code` field read at all (the rest is refused as too long). */
export const RESET_CODE_FIELD_MAX = 64;

export function newResetCode(): string {
  // 256 is a multiple of 32: taking 5 bits of each byte keeps every symbol equally likely.
  return [...randomBytes(RESET_CODE_LENGTH)].map((b) => ALPHABET[b & 31]).join("");
}

/**
 * The code as the service compares it, or undefined when it cannot be a code
 * (such input matches nothing, and spends no try). InvalidArgument only for
 * an empty or over-long field.
 */
export function readResetCode(raw: string, field = "code"): string | undefined {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (raw.length > RESET_CODE_FIELD_MAX)
    throw invalidArgument(field, `must be at most ${RESET_CODE_FIELD_MAX} characters`, "FIELD_TOO_LONG");
  const code = raw.replace(/[\s-]/g, "").toUpperCase().replace(/O/g, "0").replace(/[IL]/g, "1");
  if (code.length !== RESET_CODE_LENGTH || [...code].some((c) => !ALPHABET.includes(c))) return undefined;
  return code;
}

/** What is stored for a code: bound to its namespace and address. */
export function resetCodeDigest(namespace: string, email: string, code: string): Buffer {
  return digest(`reset_password\n${namespace}\n${email}\n${code}`);
}
