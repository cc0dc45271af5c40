// The MFA ticket: what Login answers instead of a session when the account
// has a confirmed second factor. 256 random bits (as a session id), stored
// only as its SHA-256, single use, alive MFA_TICKET_TTL_MS and dead after
// MFA_TICKET_MAX_FAILURES wrong proofs (counted atomically in storage). It
// also binds the password hash the sign-in was checked against, so a password
// change meanwhile ends it as it ends sessions.
import type { CredentialRow, Repository } from "../storage/repository.js";
import { digest, newToken } from "./tokens.js";

export const MFA_TICKET_TTL_MS = 5 * 60_000;
export const MFA_TICKET_MAX_FAILURES = 5;

/** What a ticket keeps of the password hash: its digest (the hash itself stays in one table). */
export function credentialDigest(passwordHash: string): Buffer {
  return digest(`credential\0${passwordHash}`);
}

export interface MfaTicketsDeps {
  repo: Repository;
  now: () => number;
}

export class MfaTickets {
  constructor(private readonly deps: MfaTicketsDeps) {}

  /** Whether the user must show a second factor to sign in: a confirmed TOTP factor. */
  async required(namespace: string, userId: string): Promise<boolean> {
    const totp = await this.deps.repo.getTotp(namespace, userId);
    return totp !== undefined && totp.confirmedMs > 0;
  }

  /**
   * Called by Login once the password is right: a new ticket when the user
   * has a second factor, else undefined (and Login answers a session).
   */
  async challenge(namespace: string, credential: CredentialRow): Promise<string | undefined> {
    if (!(await this.required(namespace, credential.user.id))) return undefined;
    const ticket = newToken();
    const createdMs = this.deps.now();
    await this.deps.repo.insertMfaTicket({
      namespace,
      digest: digest(ticket),
      userId: credential.user.id,
      credentialDigest: credentialDigest(credential.passwordHash),
      createdMs,
      expiresMs: createdMs + MFA_TICKET_TTL_MS,
    });
    return ticket;
  }
}
