// One user of an import file (a JSON object per line), checked with the same
// rules as Create. Either an existing bcrypt hash (kept as it is, so nobody
// has to reset a password) or, for systems that hold plain passwords, a
// password to hash.
import type { User, UserExport } from "../storage/repository.js";
import { invalidArgument, ServiceError } from "./errors.js";
import { importedBcryptHash, importedM3oHash } from "./imported-hash.js";
import { newUserId } from "./tokens.js";
import * as rules from "./validation.js";

export interface ImportDefaults {
  namespace: string;
  nowMs: number;
  maxCost: number;
}

export type ImportedUser =
  | { kind: "hash"; record: UserExport }
  | { kind: "password"; record: Omit<UserExport, "passwordHash">; password: string };

/** The export format: what `users export` writes and `users import` reads back. */
export function exportLine(item: UserExport): string {
  return JSON.stringify({
    namespace: item.namespace,
    id: item.user.id,
    username: item.user.username,
    email: item.user.email,
    created_ms: item.user.createdMs,
    updated_ms: item.user.updatedMs,
    verified_ms: item.user.verifiedMs ?? 0,
    profile: item.user.profile ?? {},
    disabled_ms: item.user.disabledMs ?? 0,
    password_hash: item.passwordHash,
  });
}

export function parseImportedUser(line: string, defaults: ImportDefaults): ImportedUser {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new ServiceError("REQUEST_MALFORMED", { rule: "not valid JSON" });
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ServiceError("REQUEST_MALFORMED", { rule: "not a JSON object" });
  }
  const o = json as Record<string, unknown>;
  const text = (name: string, ...aliases: string[]): string => {
    for (const key of [name, ...aliases]) {
      const value = o[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== "string") throw invalidArgument(name, "must be a string", "FIELD_MALFORMED");
      return value;
    }
    return "";
  };
  const namespace = rules.namespace(text("namespace") || defaults.namespace, "namespace");
  const idText = text("id");
  const createdMs = timestamp(o, "created", defaults.nowMs);
  const user: User = {
    id: idText === "" ? newUserId() : rules.userId(idText),
    username: rules.username(text("username")),
    email: rules.email(text("email")),
    createdMs,
    updatedMs: timestamp(o, "updated", createdMs),
  };
  // verified_ms as `users export` writes it, or verification_date (seconds) as the API shows it; 0: not verified.
  const verifiedMs = o.verified_ms !== undefined ? timestamp(o, "verified", 0) : timestamp(o, "verification_date", 0);
  if (verifiedMs > 0) user.verifiedMs = verifiedMs;
  // A disabled account stays disabled where it is imported.
  const disabledMs = timestamp(o, "disabled", 0);
  if (disabledMs > 0) user.disabledMs = disabledMs;
  const profile = importedProfile(o.profile);
  if (Object.keys(profile).length > 0) user.profile = profile;
  const record = { namespace, user };
  const hash = text("password_hash", "passwordHash", "hash");
  const scheme = text("scheme") || (hash.startsWith("$m3o$") ? "m3o" : "bcrypt");
  if (scheme !== "bcrypt" && scheme !== "m3o")
    throw invalidArgument("scheme", 'must be "bcrypt" or "m3o"', "FIELD_MALFORMED");
  if (hash !== "") {
    const passwordHash =
      scheme === "m3o"
        ? importedM3oHash(hash, text("salt"), defaults.maxCost)
        : importedBcryptHash(hash, defaults.maxCost);
    return { kind: "hash", record: { ...record, passwordHash } };
  }
  const password = text("password");
  if (password === "")
    throw invalidArgument("password_hash", "required (or a plain password in password)", "FIELD_REQUIRED");
  return { kind: "password", record, password: rules.newPassword(password) };
}

/** The profile of an import line: an object of strings, with the API's bounds. */
function importedProfile(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw invalidArgument("profile", "must be an object of strings", "FIELD_MALFORMED");
  }
  return rules.mergedProfile({}, rules.profileEntries(value as Record<string, string>));
}

/** `<name>_ms` in milliseconds, or `<name>` in unix seconds (as the API shows them). */
function timestamp(o: Record<string, unknown>, name: string, fallback: number): number {
  const ms = o[`${name}_ms`] ?? o[`${name}Ms`];
  const seconds = o[name];
  const value = ms !== undefined ? Number(ms) : seconds !== undefined ? Number(seconds) * 1000 : fallback;
  if (!Number.isSafeInteger(value) || value < 0)
    throw invalidArgument(name, "must be a non-negative unix time", "FIELD_OUT_OF_RANGE");
  return value;
}
