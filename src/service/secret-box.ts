// Encryption at rest for secrets the service must read back (signing keys,
// TOTP secrets): AES-256-GCM under keys from ENCRYPTION_KEY_FILE.
//
// Security choices:
// - A random 96-bit nonce per value; GCM's tag makes any change to a stored
//   value (or a value under another key) fail to open instead of opening wrong.
// - Every value is sealed with a context (what it is and whose it is, e.g.
//   "totp:<user id>") as additional data: a value copied into another row does
//   not open there.
// - The sealed text names its key by an id derived from the key (a digest, not
//   the key), so keys can rotate: the first key seals, every key listed opens.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const FORMAT = "v1";
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const ENCRYPTION_KEY_BYTES = 32;

/** The id a key is known by in sealed values: 8 hex digits of a domain-separated SHA-256 of the key. */
export function encryptionKeyId(key: Buffer): string {
  return createHash("sha256").update("users-service encryption key id\0").update(key).digest("hex").slice(0, 8);
}

export class SecretBoxError extends Error {}

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();
  private readonly sealingId: string;

  /** `keys[0]` seals; every key opens. */
  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new SecretBoxError("no encryption key");
    for (const key of keys) {
      if (key.length !== ENCRYPTION_KEY_BYTES)
        throw new SecretBoxError(`an encryption key must be ${ENCRYPTION_KEY_BYTES} bytes`);
      this.keys.set(encryptionKeyId(key), key);
    }
    this.sealingId = encryptionKeyId(keys[0]!);
  }

  /** A new box with one random key (tests, and in-memory databases whose secrets die with them). */
  static ephemeral(): SecretBox {
    return new SecretBox([randomBytes(ENCRYPTION_KEY_BYTES)]);
  }

  /** The id of the key that seals new values. */
  get keyId(): string {
    return this.sealingId;
  }

  seal(plain: Buffer | string, context: string): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys.get(this.sealingId)!, nonce);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return [FORMAT, this.sealingId, nonce.toString("base64url"), body.toString("base64url")].join(".");
  }

  /** The plain bytes, or SecretBoxError when the value is malformed, under an unknown key, or altered. */
  open(sealed: string, context: string): Buffer {
    const [format, keyId, nonceText, bodyText, ...rest] = sealed.split(".");
    if (
      format !== FORMAT ||
      rest.length > 0 ||
      keyId === undefined ||
      nonceText === undefined ||
      bodyText === undefined
    )
      throw new SecretBoxError("not a sealed value");
    const key = this.keys.get(keyId);
    if (!key) throw new SecretBoxError(`sealed under encryption key ${keyId}, which ENCRYPTION_KEY_FILE does not hold`);
    const nonce = Buffer.from(nonceText, "base64url");
    const body = Buffer.from(bodyText, "base64url");
    if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) throw new SecretBoxError("not a sealed value");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, nonce);
      decipher.setAAD(Buffer.from(context, "utf8"));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new SecretBoxError("a sealed value does not open: altered, or sealed for another record");
    }
  }

  /** Whether a sealed value is under an older key (to be sealed again under the current one). */
  isStale(sealed: string): boolean {
    return sealed.split(".")[1] !== this.sealingId;
  }
}
