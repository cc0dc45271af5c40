// Password hashes brought from another system (users import). Only bcrypt is
// accepted, with its cost bounded: a hash with cost 31 would make each login
// of that account take days of CPU, so an import could otherwise disable the
// service.
import { invalidArgument } from "./errors.js";

const BCRYPT_HASH = /^\$2([aby])\$(\d{2})\$[./A-Za-z0-9]{53}$/;
export const MIN_IMPORT_COST = 4;
export const MAX_IMPORT_COST = 15;

/** Returns the hash as stored: "$2y$" (PHP's name for the same algorithm as "$2b$") becomes "$2b$". */
export function importedBcryptHash(hash: string, maxCost: number, field = "password_hash"): string {
  const match = BCRYPT_HASH.exec(hash);
  if (!match)
    throw invalidArgument(field, "must be a bcrypt hash ($2a$, $2b$ or $2y$, 60 characters)", "FIELD_MALFORMED");
  const cost = Number(match[2]);
  if (cost < MIN_IMPORT_COST || cost > maxCost) {
    throw invalidArgument(
      field,
      `bcrypt cost must be from ${MIN_IMPORT_COST} to ${maxCost}, got ${cost}`,
      "FIELD_OUT_OF_RANGE",
    );
  }
  return match[1] === "y" ? `$2b$${hash.slice(4)}` : hash;
}

/**
 * M3O's Users service stored base64(bcrypt(cost 10, "cruft123" + salt +
 * password)) with a 16-character random salt kept beside it. Such a hash is
 * kept in our form "$m3o$<salt>$<bcrypt hash>" until the user's first
 * successful login re-hashes the password in the service's own form.
 */
export const M3O_PREFIX = "$m3o$";
const M3O_PEPPER = "cruft123";
const M3O_SALT = /^[A-Za-z0-9]{16}$/;

/** The stored form of an M3O record's hash (base64 as M3O kept it, or already in stored form) and salt. */
export function importedM3oHash(hash: string, salt: string, maxCost: number): string {
  if (hash.startsWith(M3O_PREFIX)) {
    const parsed = parseM3oHash(hash);
    if (!parsed) throw invalidArgument("password_hash", `must be ${M3O_PREFIX}<salt>$<bcrypt hash>`, "FIELD_MALFORMED");
    return `${M3O_PREFIX}${parsed.salt}$${importedBcryptHash(parsed.bcrypt, maxCost)}`;
  }
  if (!M3O_SALT.test(salt)) throw invalidArgument("salt", "must be M3O's 16 letters and digits", "FIELD_MALFORMED");
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(hash) ? Buffer.from(hash, "base64").toString("latin1") : "";
  const bcryptHash = importedBcryptHash(decoded, maxCost, "password_hash");
  return `${M3O_PREFIX}${salt}$${bcryptHash}`;
}

/** Splits a stored M3O hash; undefined when `stored` is not one. */
export function parseM3oHash(stored: string): { salt: string; bcrypt: string; secretPrefix: string } | undefined {
  if (!stored.startsWith(M3O_PREFIX)) return undefined;
  const salt = stored.slice(M3O_PREFIX.length, M3O_PREFIX.length + 16);
  const rest = stored.slice(M3O_PREFIX.length + 16);
  if (!M3O_SALT.test(salt) || !rest.startsWith("$")) return undefined;
  return { salt, bcrypt: rest.slice(1), secretPrefix: `${M3O_PEPPER}${salt}` };
}
