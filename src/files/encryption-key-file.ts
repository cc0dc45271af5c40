// ENCRYPTION_KEY_FILE: the keys that seal secrets at rest (src/service/secret-box.ts).
//
// One key per line, base64 of 32 random bytes; lines starting with # are
// comments. The first key seals new values; every key listed opens old ones,
// so a rotation adds a key at the top and removes an old one only once nothing
// sealed under it is left (docs/security.md).
//
// With SQLite and no setting, the file is made on first start beside the
// database (mode 0600). PostgreSQL replicas must share the same keys, so there
// the setting is required: a key made on one machine would not open on another.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/config.js";
import { ENCRYPTION_KEY_BYTES, SecretBox } from "../service/secret-box.js";
import { parseDatabaseUrl } from "../storage/database-url.js";
import { createExclusivePrivateFile, replacePrivateFile } from "./private-file.js";

export class EncryptionKeyFileError extends Error {}

const HEADER =
  "# users-service encryption keys (ENCRYPTION_KEY_FILE): the first seals, every one opens. Keep secret; back up with the database.\n";

/** Where the keys are: ENCRYPTION_KEY_FILE, else beside a SQLite database file; undefined for an in-memory database. */
export function encryptionKeyFile(config: Pick<Config, "encryptionKeyFile" | "databaseUrl">): string | undefined {
  if (config.encryptionKeyFile !== "") return config.encryptionKeyFile;
  const target = parseDatabaseUrl(config.databaseUrl);
  if (target.engine !== "sqlite") {
    throw new EncryptionKeyFileError(
      "ENCRYPTION_KEY_FILE is required with PostgreSQL (every replica must open what another sealed): create one with `users-service encryption-keys new FILE`",
    );
  }
  if (target.path.startsWith(":memory:") || target.path.startsWith("file:")) return undefined;
  return path.join(path.dirname(path.resolve(target.path)), "encryption-keys");
}

/** Reads the key file; one that does not exist is created with a new key only when `create` is set. */
export function readEncryptionKeys(
  file: string,
  { create }: { create: boolean },
): { keys: Buffer[]; created: boolean } {
  let text: string;
  try {
    const stat = fs.statSync(file);
    if ((stat.mode & 0o077) !== 0) {
      throw new EncryptionKeyFileError(
        `${file}: readable by others (mode ${(stat.mode & 0o777).toString(8)}); allow its owner only: chmod 600 ${file}`,
      );
    }
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof EncryptionKeyFileError) throw err;
    const missing = (err as NodeJS.ErrnoException).code === "ENOENT";
    if (missing && !create) {
      throw new EncryptionKeyFileError(
        `${file}: does not exist; create it with \`users-service encryption-keys new ${file}\` and give every replica the same file`,
      );
    }
    if (!missing) {
      throw new EncryptionKeyFileError(`${file}: cannot read the encryption keys (${(err as Error).message})`);
    }
    const key = randomBytes(ENCRYPTION_KEY_BYTES);
    writeNewFile(file, `${HEADER}${key.toString("base64")}\n`);
    return { keys: [key], created: true };
  }
  return { keys: parseKeys(file, text), created: false };
}

function parseKeys(file: string, text: string): Buffer[] {
  const keys: Buffer[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const key = Buffer.from(line, "base64");
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(line) || key.length !== ENCRYPTION_KEY_BYTES) {
      throw new EncryptionKeyFileError(
        `${file} line ${index + 1}: must be base64 of ${ENCRYPTION_KEY_BYTES} bytes (the line is not shown)`,
      );
    }
    keys.push(key);
  });
  if (keys.length === 0) throw new EncryptionKeyFileError(`${file}: holds no key`);
  return keys;
}

function writeNewFile(file: string, content: string): void {
  const fd = createExclusivePrivateFile(file);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Adds a new sealing key at the top of the file (creating the file if needed); returns the new key's place. */
export function addEncryptionKey(file: string): { created: boolean; keys: number } {
  const key = randomBytes(ENCRYPTION_KEY_BYTES).toString("base64");
  if (!fs.existsSync(file)) {
    writeNewFile(file, `${HEADER}${key}\n`);
    return { created: true, keys: 1 };
  }
  const old = readEncryptionKeys(file, { create: false }).keys.map((k) => k.toString("base64"));
  const pending = replacePrivateFile(file);
  try {
    fs.writeSync(pending.fd, `${HEADER}${[key, ...old].join("\n")}\n`);
    pending.commit();
  } catch (err) {
    pending.discard();
    throw err;
  }
  return { created: false, keys: old.length + 1 };
}

/** The box the server seals secrets with, from the configured file (made on first start for SQLite). */
export function loadSecretBox(config: Pick<Config, "encryptionKeyFile" | "databaseUrl">): {
  box: SecretBox;
  file?: string;
  created: boolean;
} {
  const file = encryptionKeyFile(config);
  if (file === undefined) return { box: SecretBox.ephemeral(), created: false };
  // Only the default file beside a SQLite database is made on first start; a configured one must exist.
  const { keys, created } = readEncryptionKeys(file, { create: config.encryptionKeyFile === "" });
  return { box: new SecretBox(keys), file, created };
}
