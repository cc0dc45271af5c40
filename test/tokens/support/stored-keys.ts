// Helpers for the access-token suites: the signing keys as stored, opened
// with the encryption key file the way only the service should.
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../../../src/config/config.js";
import { encryptionKeyFile, readEncryptionKeys } from "../../../src/files/encryption-key-file.js";
import { SecretBox } from "../../../src/service/secret-box.js";
import { parseDatabaseUrl } from "../../../src/storage/database-url.js";
import { rawQuery } from "../../support/raw-query.js";

export interface StoredKey {
  kid: string;
  generation: number;
  public_jwk: string;
  private_sealed: string;
  created_ms: number;
  signs_from_ms: number;
  signs_until_ms: number;
  published_until_ms: number;
}

/** The signing_keys rows as the database holds them, oldest generation first. */
export async function storedKeys(databaseUrl: string): Promise<StoredKey[]> {
  const rows = await rawQuery(databaseUrl, "SELECT * FROM signing_keys ORDER BY generation");
  return rows.map((r) => ({
    kid: String(r.kid),
    generation: Number(r.generation),
    public_jwk: String(r.public_jwk),
    private_sealed: String(r.private_sealed),
    created_ms: Number(r.created_ms),
    signs_from_ms: Number(r.signs_from_ms),
    signs_until_ms: Number(r.signs_until_ms),
    published_until_ms: Number(r.published_until_ms),
  }));
}

/** The private JWK of a stored key, opened with the server's encryption key file. */
export function openPrivateJwk(config: Pick<Config, "encryptionKeyFile" | "databaseUrl">, key: StoredKey) {
  const file = encryptionKeyFile(config);
  if (!file) throw new Error("no encryption key file");
  const box = new SecretBox(readEncryptionKeys(file, { create: false }).keys);
  return JSON.parse(box.open(key.private_sealed, `signing-key:${key.kid}`).toString("utf8")) as Record<string, string>;
}

/** Every byte of a SQLite database (file and WAL) as text, to look for what must not be there; "" for PostgreSQL. */
export function sqliteFileText(databaseUrl: string): string {
  const target = parseDatabaseUrl(databaseUrl);
  if (target.engine !== "sqlite") return "";
  return [target.path, `${target.path}-wal`]
    .filter((f) => fs.existsSync(f))
    .map((f) => fs.readFileSync(path.resolve(f)).toString("latin1"))
    .join("");
}
