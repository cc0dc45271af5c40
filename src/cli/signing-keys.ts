// `users-service signing-keys list|rotate`: the keys that sign access tokens,
// in the configured database. Run it with the replicas' settings: the times
// of a rotation come from ACCESS_TOKEN_TTL_SECONDS, JWKS_MAX_AGE_SECONDS and
// SIGNING_KEY_RELOAD_SECONDS. Private halves are never printed.
import type { Config } from "../config/config.js";
import { EncryptionKeyFileError, encryptionKeyFile, readEncryptionKeys } from "../files/encryption-key-file.js";
import { SecretBox } from "../service/secret-box.js";
import { addNextKey, keyState, publishDelayMs, retiredAfterMs } from "../service/signing-keys.js";
import { openRepository } from "../storage/open.js";
import type { SigningKeyRow } from "../storage/signing-keys.js";
import { UsageError } from "./usage.js";

const USAGE = "usage: users-service signing-keys list | users-service signing-keys rotate";

export async function signingKeysCommand(config: Config, args: string[], out: NodeJS.WritableStream): Promise<void> {
  const [action, ...rest] = args;
  if ((action !== "list" && action !== "rotate") || rest.length > 0) throw new UsageError(USAGE);
  const repo = await openRepository(config);
  try {
    const now = Date.now();
    const keys = await repo.listSigningKeys();
    if (action === "list") {
      if (keys.length === 0) out.write("No signing key yet: the server makes the first one when it starts.\n");
      for (const key of keys) out.write(`${describe(key, now)}\n`);
      return;
    }
    if (keys.length === 0) throw new Error("no signing key yet: start the server once, it makes the first one");
    const added = await addNextKey(repo, openKeyFile(config), config, now, keys);
    if (!added) throw new Error("another rotation added a key at the same moment; run `signing-keys list`");
    const retiring = keys.filter((k) => k.signsUntilMs === 0).map((k) => k.kid);
    out.write(
      `Added signing key ${added.kid} (generation ${added.generation}): published now, signs from ${iso(added.signsFromMs)} ` +
        `(in ${publishDelayMs(config) / 1000} s: JWKS_MAX_AGE_SECONDS + SIGNING_KEY_RELOAD_SECONDS + 60 s).\n` +
        (retiring.length > 0
          ? `Key ${retiring.join(", ")} signs until then, stays published until ${iso(added.signsFromMs + retiredAfterMs(config))} ` +
            "(ACCESS_TOKEN_TTL_SECONDS + 60 s later: its last token has expired), then is deleted.\n"
          : ""),
    );
  } finally {
    await repo.close();
  }
}

/** The encryption keys the replicas use: the file must exist (never made here, or replicas could not open the new key). */
function openKeyFile(config: Config): SecretBox {
  try {
    const file = encryptionKeyFile(config);
    if (file === undefined) throw new EncryptionKeyFileError("an in-memory database has no signing keys to rotate");
    return new SecretBox(readEncryptionKeys(file, { create: false }).keys);
  } catch (err) {
    if (err instanceof EncryptionKeyFileError) throw new Error(`ENCRYPTION_KEY_FILE: ${err.message}`);
    throw err;
  }
}

function describe(key: SigningKeyRow, now: number): string {
  const times = [`created ${iso(key.createdMs)}`, `signs from ${iso(key.signsFromMs)}`];
  if (key.signsUntilMs !== 0) times.push(`until ${iso(key.signsUntilMs)}`);
  if (key.publishedUntilMs !== 0) times.push(`published until ${iso(key.publishedUntilMs)}`);
  return `${key.kid}  generation ${key.generation}  ${keyState(key, now)}  ${times.join(", ")}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
