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
