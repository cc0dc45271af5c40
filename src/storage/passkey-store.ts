// Passkeys (WebAuthn credentials) and the single-use ceremony challenges, as
// every engine stores them. Part of the Repository (repository.ts extends it).
//
// A passkey's public key, credential id and sign counter are not secrets
// (they are what an authenticator shows any relying party); the challenges
// are stored only as SHA-256 digests all the same, so a read of the table
// cannot be used to answer a ceremony that is in flight.

export interface PasskeyRow {
  /** The service's own id of the passkey (pk_ + 24 hex), used to name and remove it. */
  id: string;
  userId: string;
  /** The WebAuthn credential id, base64url: what an authenticator's assertion names. */
  credentialId: string;
  /** COSE public key as the authenticator gave it. */
  publicKey: Buffer;
  /** The authenticator's signature counter as last seen (0: the authenticator keeps none). */
  counter: number;
  /** Transports the browser reported (usb, nfc, ble, internal, hybrid, ...). */
  transports: string[];
  /** The user's own name for it, 1 to 64 characters. */
  name: string;
  createdMs: number;
  /** When it last signed a ceremony; 0 if never. */
  lastUsedMs: number;
}

/** Which ceremony a challenge was issued for: one is never accepted for another. */
export type ChallengePurpose = "passkey_register" | "passkey_login" | "passkey_mfa";

export interface NewChallenge {
  namespace: string;
  /** SHA-256 of the challenge; the challenge itself is never stored. */
  digest: Buffer;
  purpose: ChallengePurpose;
  /** The user the ceremony is for; "" for a passwordless sign-in (the passkey names its user). */
  userId: string;
  /** For a second-factor ceremony, the digest of the ticket it answers; else empty. */
  ticketDigest: Buffer;
  createdMs: number;
  expiresMs: number;
}

/** A challenge taken (and so deleted) for its one use. */
export interface TakenChallenge {
  userId: string;
  ticketDigest: Buffer;
}

export type PasskeyInsert = "inserted" | "duplicate" | "limit" | "no_user";

export interface PasskeyStore {
  insertChallenge(challenge: NewChallenge): Promise<void>;
  /**
   * Deletes the challenge with this digest, namespace and purpose and returns
   * it if it was still live (expiresMs > nowMs): each challenge is used at
   * most once, whatever the outcome of the ceremony.
   */
  takeChallenge(
    namespace: string,
    digest: Buffer,
    purpose: ChallengePurpose,
    nowMs: number,
  ): Promise<TakenChallenge | undefined>;
  /** Deletes up to `limit` challenges that expired before beforeMs; returns how many. */
  sweepChallenges(beforeMs: number, limit: number): Promise<number>;

  /**
   * Stores a passkey for an existing user of the namespace, unless its
   * credential id is already registered in the namespace ("duplicate") or the
   * user already has maxPerUser passkeys ("limit"), atomically.
   */
  insertPasskey(namespace: string, passkey: PasskeyRow, maxPerUser: number): Promise<PasskeyInsert>;
  /** The user's passkeys, oldest first. */
  listPasskeys(namespace: string, userId: string): Promise<PasskeyRow[]>;
  findPasskeyByCredential(namespace: string, credentialId: string): Promise<PasskeyRow | undefined>;
  /**
   * Records a signed ceremony: counter becomes newCounter and lastUsedMs
   * nowMs, only if the stored counter still equals expectedCounter (two
   * ceremonies racing with one counter value: one wins). Returns whether it did.
   */
  usePasskey(
    namespace: string,
    id: string,
    expectedCounter: number,
    newCounter: number,
    nowMs: number,
  ): Promise<boolean>;
  /** Deletes the user's passkey with this id; false if there is none. */
  deletePasskey(namespace: string, userId: string, id: string): Promise<boolean>;
  /** Whether the user has at least one passkey. */
  hasPasskey(namespace: string, userId: string): Promise<boolean>;
}
