// The signing keys of access tokens (src/service/signing-keys.ts), shared by
// every replica through the database. A key's life is a set of times, so every
// replica reading the same rows at the same moment agrees on its state:
//   created_ms ≤ t < signs_from_ms        published, not signing yet (pending)
//   signs_from_ms ≤ t < signs_until_ms    the signing key (and published)
//   signs_until_ms ≤ t < published_until  published for the tokens it signed
//   published_until ≤ t                   gone (deleted by deleteSigningKeys)
// 0 for signs_until_ms / published_until_ms: no end yet (the newest key).

export interface SigningKeyRow {
  /** The JWT header's `kid`: random, public. */
  kid: string;
  /** 1 for the first key, one more for each rotation; unique, so two replicas cannot add the same one. */
  generation: number;
  /** The public half as a JWK (JSON text). */
  publicJwk: string;
  /** The private half as a JWK, sealed by the SecretBox with context `signing-key:<kid>`; never in clear. */
  privateSealed: string;
  createdMs: number;
  signsFromMs: number;
  /** 0: signs until a newer key takes over. */
  signsUntilMs: number;
  /** 0: published until a newer key takes over (then until its last token expires). */
  publishedUntilMs: number;
}

export interface SigningKeyStore {
  /** Every key, oldest generation first. */
  listSigningKeys(): Promise<SigningKeyRow[]>;
  /**
   * Adds `key` unless a key of its generation exists (a concurrent add won:
   * returns false, nothing written). When added, in the same transaction, the
   * older keys without an end stop signing at key.signsFromMs and stay
   * published until key.signsFromMs + retiredAfterMs.
   */
  addSigningKey(key: SigningKeyRow, retiredAfterMs: number): Promise<boolean>;
  /** Deletes the keys whose publication ended at or before nowMs; returns how many. */
  deleteRetiredSigningKeys(nowMs: number): Promise<number>;
}
