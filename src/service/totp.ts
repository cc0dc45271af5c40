// TOTP (RFC 6238) with the otpauth package: SHA-1, 6 digits, 30-second
// steps, the defaults every authenticator app supports. A code is accepted
// for the current step and one step either side (clock drift); which step it
// matched is returned so storage can refuse a second use of that step (or of
// an earlier one: see MfaStore.spendMfaProof).
import { randomBytes } from "node:crypto";
import { Secret, TOTP } from "otpauth";

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** Steps either side of the current one a code may be for. */
export const TOTP_WINDOW = 1;
/** 160 bits, the RFC 4226 recommendation and what authenticator apps expect. */
const SECRET_BYTES = 20;

export function newTotpSecret(): Buffer {
  return randomBytes(SECRET_BYTES);
}

function totpOf(secret: Buffer, issuer = "", label = "OTPAuth"): TOTP {
  return new TOTP({
    issuer,
    label,
    secret: new Secret({ buffer: new Uint8Array(secret).buffer }),
    algorithm: "SHA1",
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  });
}

/** The secret as authenticator apps take it typed in: base32, no padding. */
export function totpBase32(secret: Buffer): string {
  return new Secret({ buffer: new Uint8Array(secret).buffer }).base32;
}

/** otpauth://totp/<issuer>:<label>?secret=...&issuer=...: what a QR code carries. */
export function totpUri(secret: Buffer, issuer: string, label: string): string {
  return totpOf(secret, issuer, label).toString();
}

/** The time step `code` is right for at nowMs (within the window), or undefined. Compares in constant time. */
export function matchingStep(secret: Buffer, code: string, nowMs: number): number | undefined {
  const delta = totpOf(secret).validate({ token: code, timestamp: nowMs, window: TOTP_WINDOW });
  if (delta === null) return undefined;
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS) + delta;
}
