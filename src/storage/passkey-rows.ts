// The passkey tables' rows as both engines read them, and the columns they select.
import type { PasskeyRow } from "./passkey-store.js";

export const PASSKEY_COLUMNS =
  "id, user_id, credential_id, public_key, counter, transports, name, created_ms, last_used_ms";

export interface PasskeyRecord {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: Buffer | Uint8Array;
  counter: number | bigint;
  transports: string;
  name: string;
  created_ms: number | bigint;
  last_used_ms: number | bigint;
}

export function toPasskey(r: PasskeyRecord): PasskeyRow {
  return {
    id: r.id,
    userId: r.user_id,
    credentialId: r.credential_id,
    publicKey: Buffer.from(r.public_key),
    counter: Number(r.counter),
    transports: r.transports === "" ? [] : r.transports.split(","),
    name: r.name,
    createdMs: Number(r.created_ms),
    lastUsedMs: Number(r.last_used_ms),
  };
}

/** Named parameters of a passkey insert. */
export function passkeyParams(namespace: string, p: PasskeyRow) {
  return {
    namespace,
    id: p.id,
    user_id: p.userId,
    credential_id: p.credentialId,
    public_key: p.publicKey,
    counter: p.counter,
    transports: p.transports.join(","),
    name: p.name,
    created_ms: p.createdMs,
    last_used_ms: p.lastUsedMs,
  };
}
