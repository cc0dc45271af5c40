// Recovery codes: the way back in when the authenticator is lost. Ten at a
// time, each 80 random bits written as 16 base32 letters in four groups
// (xxxx-xxxx-xxxx-xxxx), shown once and stored only as SHA-256 digests bound to
// their user (so a digest copied to another user's rows matches nothing). 80
// bits of entropy make a fast digest enough: no stolen digest can be searched
// back to its code.
import { randomBytes } from "node:crypto";
import { invalidArgument } from "./errors.js";
import { digest } from "./tokens.js";

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
const CODE_LETTERS = 16;
/** What a caller may send: the code with separators and spaces, bounded. */
const RECOVERY_CODE_INPUT_MAX = 64;

function newRecoveryCode(): string {
  const bytes = randomBytes(10);
  let bits = 0n;
  for (const byte of bytes) bits = (bits << 8n) | BigInt(byte);
  let letters = "";
  for (let i = CODE_LETTERS - 1; i >= 0; i--) letters += ALPHABET[Number((bits >> BigInt(i * 5)) & 31n)];
  return letters.match(/.{4}/g)!.join("-");
}

export function newRecoveryCodes(): string[] {
  return Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
}

/** A recovery code as typed (any case, dashes or spaces between groups) in its one canonical form. */
export function recoveryCode(raw: string, field = "recovery_code"): string {
  if (raw.length > RECOVERY_CODE_INPUT_MAX)
    throw invalidArgument(field, `must be at most ${RECOVERY_CODE_INPUT_MAX} characters`, "FIELD_TOO_LONG");
  const letters = raw.replace(/[\s-]/g, "").toLowerCase();
  if (!/^[a-z2-7]{16}$/.test(letters))
    throw invalidArgument(field, "must be 16 letters and digits (xxxx-xxxx-xxxx-xxxx)", "FIELD_MALFORMED");
  return letters;
}

/** What is stored of a (canonical) recovery code. */
export function recoveryCodeDigest(namespace: string, userId: string, canonical: string): Buffer {
  return digest(`recovery-code\0${namespace}\0${userId}\0${canonical}`);
}
