// Webhook signing secrets are needed in clear to sign (HMAC), so they cannot
// be stored as digests like keys: they are sealed with AES-256-GCM under a key
// the database does not hold (WEBHOOK_SECRET_KEY, or with SQLite a 0600 file
// beside the database), so a copy of the database alone signs nothing.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Config } from "../config/config.js";
import { createExclusivePrivateFile } from "../files/private-file.js";
import { parseDatabaseUrl } from "../storage/database-url.js";

const VERSION = "v1";

export class SecretBox {
  constructor(private readonly key: Buffer) {}

  seal(secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const sealed = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return [
      VERSION,
      iv.toString("base64url"),
      cipher.getAuthTag().toString("base64url"),
      sealed.toString("base64url"),
    ].join(".");
  }

  open(sealed: string): string {
    const [version, iv, tag, data] = sealed.split(".");
    if (version !== VERSION || !iv || !tag || data === undefined) throw new Error("not a sealed webhook secret");
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(data, "base64url")), decipher.final()]).toString("utf8");
  }
}

/**
 * The box for this configuration, or undefined when there is no key (PostgreSQL
 * without WEBHOOK_SECRET_KEY). With SQLite and no setting, the key file beside
 * the database is read, or made (new, 0600, never through a link) on first use.
 */
export function secretBox(config: Pick<Config, "webhookSecretKey" | "databaseUrl">): SecretBox | undefined {
  if (config.webhookSecretKey !== "") return new SecretBox(Buffer.from(config.webhookSecretKey, "base64"));
  const target = parseDatabaseUrl(config.databaseUrl);
  if (target.engine !== "sqlite" || target.path === ":memory:") return undefined;
  const file = path.join(path.dirname(path.resolve(target.path)), "webhook-secret.key");
  if (!fs.existsSync(file)) {
    try {
      const fd = createExclusivePrivateFile(file);
      fs.writeSync(fd, randomBytes(32).toString("base64"));
      fs.closeSync(fd);
    } catch (err) {
      // Another process made it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  const key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) throw new Error(`${file}: not a 32-byte base64 key`);
  return new SecretBox(key);
}
