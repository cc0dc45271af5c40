// Signing keys' SQL, run unchanged by both engines (named parameters, as sql.ts).
import type { SigningKeyRow } from "./signing-keys.js";

export const SIGNING_KEY_SQL = {
  list: `SELECT kid, generation, public_jwk, private_sealed, created_ms, signs_from_ms, signs_until_ms,
      published_until_ms FROM signing_keys ORDER BY generation`,
  /** The generation is unique: of two replicas adding the same one, one inserts and the other gets no row. */
  insert: `INSERT INTO signing_keys (kid, generation, public_jwk, private_sealed, created_ms, signs_from_ms,
      signs_until_ms, published_until_ms)
    VALUES (@kid, @generation, @public_jwk, @private_sealed, @created_ms, @signs_from_ms, 0, 0)
    ON CONFLICT (generation) DO NOTHING`,
  retireOlder: `UPDATE signing_keys SET signs_until_ms = @signs_from_ms, published_until_ms = @published_until_ms
    WHERE generation < @generation AND signs_until_ms = 0`,
  deleteRetired: "DELETE FROM signing_keys WHERE published_until_ms <> 0 AND published_until_ms <= @now",
};

export interface SigningKeyRecord {
  kid: string;
  generation: number | string;
  public_jwk: string;
  private_sealed: string;
  created_ms: number | string;
  signs_from_ms: number | string;
  signs_until_ms: number | string;
  published_until_ms: number | string;
}

export function toSigningKey(r: SigningKeyRecord): SigningKeyRow {
  return {
    kid: r.kid,
    generation: Number(r.generation),
    publicJwk: r.public_jwk,
    privateSealed: r.private_sealed,
    createdMs: Number(r.created_ms),
    signsFromMs: Number(r.signs_from_ms),
    signsUntilMs: Number(r.signs_until_ms),
    publishedUntilMs: Number(r.published_until_ms),
  };
}

export function insertParams(key: SigningKeyRow) {
  return {
    kid: key.kid,
    generation: key.generation,
    public_jwk: key.publicJwk,
    private_sealed: key.privateSealed,
    created_ms: key.createdMs,
    signs_from_ms: key.signsFromMs,
  };
}

export function retireParams(key: SigningKeyRow, retiredAfterMs: number) {
  return {
    generation: key.generation,
    signs_from_ms: key.signsFromMs,
    published_until_ms: key.signsFromMs + retiredAfterMs,
  };
}
