// The Ed25519 keys that sign access tokens, shared by every replica through
// the database (src/storage/signing-keys.ts describes a key's life by times).
//
// Security choices:
// - The private half is stored only sealed by the SecretBox (ENCRYPTION_KEY_FILE)
//   with the context "signing-key:<kid>": a database dump signs nothing, and a
//   sealed half copied to another row does not open there.
// - A rotated key is published before it signs, for longer than verifiers may
//   cache the key set (JWKS_MAX_AGE_SECONDS) plus the time every replica takes
//   to read it (SIGNING_KEY_RELOAD_SECONDS): no verifier meets a kid it was not
//   shown. The old key stays published until its last token has expired.
// - Every replica reloads the keys on an interval; the switch from one key to
//   the next happens at a time stored with the key, so replicas agree on it
//   without talking to each other.
import { randomBytes } from "node:crypto";
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import type { Repository } from "../storage/repository.js";
import type { SigningKeyRow } from "../storage/signing-keys.js";
import type { SecretBox } from "./secret-box.js";

export const SIGNING_ALG = "EdDSA";

/** Clock skew and in-flight calls allowed for at each step of a rotation. */
export const ROTATION_MARGIN_MS = 60_000;

export interface SigningKeyTimes {
  accessTokenTtlSeconds: number;
  jwksMaxAgeSeconds: number;
  signingKeyReloadSeconds: number;
}

/** How long a rotated key is published before it signs. */
export function publishDelayMs(t: SigningKeyTimes): number {
  return (t.jwksMaxAgeSeconds + t.signingKeyReloadSeconds) * 1000 + ROTATION_MARGIN_MS;
}

/** How long a replaced key stays published after its last signature: its last token's life. */
export function retiredAfterMs(t: SigningKeyTimes): number {
  return t.accessTokenTtlSeconds * 1000 + ROTATION_MARGIN_MS;
}

/** A signing key's private half does not open with ENCRYPTION_KEY_FILE's keys. */
export class SigningKeyUnreadable extends Error {
  constructor(kid: string, cause: unknown) {
    super(
      `ENCRYPTION_KEY_FILE: cannot open the private half of signing key ${kid} (${(cause as Error).message}); start with the encryption key file it was sealed with`,
      { cause },
    );
    this.name = "SigningKeyUnreadable";
  }
}

export type KeyState = "pending" | "signing" | "retiring" | "retired";

export function keyState(row: SigningKeyRow, nowMs: number): KeyState {
  if (row.publishedUntilMs !== 0 && row.publishedUntilMs <= nowMs) return "retired";
  if (nowMs < row.signsFromMs) return "pending";
  if (row.signsUntilMs === 0 || nowMs < row.signsUntilMs) return "signing";
  return "retiring";
}

/** A new key pair as a row: the private half sealed, nothing stored in clear. */
export async function newSigningKey(
  secrets: SecretBox,
  fields: { generation: number; createdMs: number; signsFromMs: number },
): Promise<SigningKeyRow> {
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALG, { crv: "Ed25519", extractable: true });
  const kid = randomBytes(12).toString("base64url");
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: SIGNING_ALG, use: "sig" };
  const privateJwk = JSON.stringify(await exportJWK(privateKey));
  return {
    kid,
    generation: fields.generation,
    publicJwk: JSON.stringify(publicJwk),
    privateSealed: secrets.seal(privateJwk, sealContext(kid)),
    createdMs: fields.createdMs,
    signsFromMs: fields.signsFromMs,
    signsUntilMs: 0,
    publishedUntilMs: 0,
  };
}

function sealContext(kid: string): string {
  return `signing-key:${kid}`;
}

/**
 * Adds the next generation of key. The first key signs at once (nothing can
 * have cached a key set yet); a rotation's key after the publish delay.
 * Returns the row added, or undefined when another process added that
 * generation first.
 */
export async function addNextKey(
  repo: Repository,
  secrets: SecretBox,
  times: SigningKeyTimes,
  nowMs: number,
  existing: readonly SigningKeyRow[],
): Promise<SigningKeyRow | undefined> {
  const generation = existing.reduce((max, k) => Math.max(max, k.generation), 0) + 1;
  const signsFromMs = existing.length === 0 ? nowMs : nowMs + publishDelayMs(times);
  const row = await newSigningKey(secrets, { generation, createdMs: nowMs, signsFromMs });
  return (await repo.addSigningKey(row, retiredAfterMs(times))) ? row : undefined;
}

export interface LoadedKey {
  row: SigningKeyRow;
  /** The public half as published (kid, alg, use). */
  publicJwk: JWK;
  privateKey: CryptoKey | Uint8Array;
}

export interface KeyRingDeps {
  repo: Repository;
  secrets: SecretBox;
  now: () => number;
  times: SigningKeyTimes;
}

/** This replica's copy of the signing keys: reloaded from the database, opened once per key. */
export class SigningKeyRing {
  private keys: LoadedKey[] = [];
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private starting: Promise<void> | undefined;

  constructor(private readonly deps: KeyRingDeps) {}

  /** Loads the keys once (the server at start, so a key that does not open stops the start). */
  start(): Promise<void> {
    this.starting ??= this.load().catch((err: unknown) => {
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  /** Loads the keys, making the first one if there is none; SigningKeyUnreadable when one does not open. */
  private async load(): Promise<void> {
    const { repo, secrets, times, now } = this.deps;
    let rows = await repo.listSigningKeys();
    if (rows.length === 0) {
      // Two replicas starting at once both try generation 1: one inserts, the other reads it.
      await addNextKey(repo, secrets, times, now(), rows);
      rows = await repo.listSigningKeys();
    }
    this.keys = await this.open(rows);
  }

  /** Reads the keys again every SIGNING_KEY_RELOAD_SECONDS; failures keep the keys held and are reported. */
  startReloading(onError: (err: unknown) => void): void {
    this.timer ??= setInterval(() => {
      this.reload().catch(onError);
    }, this.deps.times.signingKeyReloadSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the keys from the database and deletes the ones whose last token has expired. */
  reload(): Promise<void> {
    this.reloading ??= (async () => {
      const { repo, now } = this.deps;
      await repo.deleteRetiredSigningKeys(now());
      this.keys = await this.open(await repo.listSigningKeys());
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  /** The public halves to publish now: pending, signing and retiring keys. */
  published(nowMs: number): JWK[] {
    return this.keys.filter((k) => keyState(k.row, nowMs) !== "retired").map((k) => k.publicJwk);
  }

  /** The key that signs now: the newest whose signing time has come and not ended. */
  signing(nowMs: number): LoadedKey | undefined {
    let found: LoadedKey | undefined;
    for (const k of this.keys) if (keyState(k.row, nowMs) === "signing") found = k;
    return found;
  }

  private async open(rows: SigningKeyRow[]): Promise<LoadedKey[]> {
    const held = new Map(this.keys.map((k) => [k.row.kid, k]));
    const loaded: LoadedKey[] = [];
    for (const row of rows) {
      const known = held.get(row.kid);
      if (known) {
        loaded.push({ ...known, row });
        continue;
      }
      let privateJwk: JWK;
      try {
        privateJwk = JSON.parse(this.deps.secrets.open(row.privateSealed, sealContext(row.kid)).toString("utf8"));
      } catch (err) {
        throw new SigningKeyUnreadable(row.kid, err);
      }
      loaded.push({
        row,
        publicJwk: JSON.parse(row.publicJwk) as JWK,
        privateKey: await importJWK(privateJwk, SIGNING_ALG),
      });
    }
    return loaded;
  }
}
