// Second factors in storage: a user's TOTP factor (its secret sealed by the
// service, never in clear), recovery codes (SHA-256 digests only) and MFA
// tickets (digest-keyed, expiring, single use). Every write that spends a
// proof is atomic, so a code accepted once is accepted once, whatever runs
// concurrently on any replica. Rows go with their user (ON DELETE CASCADE).

/** A user's TOTP factor. */
export interface TotpRow {
  /** The secret as SecretBox sealed it (context "totp:<namespace>/<user id>"). */
  sealedSecret: string;
  createdMs: number;
  /** When a code confirmed it; 0 while the enrolment is pending. */
  confirmedMs: number;
  /** The last time step a code was accepted for (replay guard); -1 when none. */
  lastStep: number;
}

/** What a caller shows as a second factor, already checked as far as the service can without storage. */
export type MfaProof =
  /** A code that is right for this time step of this (sealed) secret: spent if the step is after the last accepted one. */
  | { kind: "totp"; sealedSecret: string; step: number }
  /** A recovery code's digest: spent if the user has it unused. */
  | { kind: "recovery_code"; digest: Buffer }
  /** Nothing that can hold (a wrong code): only counts as a failure. */
  | { kind: "none" };

export interface NewMfaTicket {
  namespace: string;
  /** SHA-256 of the ticket; the ticket itself is never stored. */
  digest: Buffer;
  userId: string;
  /** SHA-256 of the password hash the sign-in was checked against: a password change meanwhile kills the ticket. */
  credentialDigest: Buffer;
  createdMs: number;
  expiresMs: number;
}

export interface MfaTicketRow {
  userId: string;
  credentialDigest: Buffer;
  failures: number;
}

export type RedeemOutcome =
  | { redeemed: true; userId: string; credentialDigest: Buffer }
  /** "ticket": unknown, expired, dead or spent meanwhile; "proof": the proof did not hold (counted). */
  | { redeemed: false; why: "ticket" | "proof" };

export type PendingTotpResult = "stored" | "enabled" | "no_user";

export interface MfaStore {
  /**
   * Stores a pending TOTP enrolment for the user (replacing an older pending
   * one), unless the user's TOTP is confirmed ("enabled") or there is no such
   * user ("no_user").
   */
  putPendingTotp(namespace: string, userId: string, sealedSecret: string, nowMs: number): Promise<PendingTotpResult>;
  getTotp(namespace: string, userId: string): Promise<TotpRow | undefined>;
  /**
   * In one transaction: confirms the pending enrolment whose secret is still
   * `sealedSecret` (accepting `step`) and replaces the user's recovery codes
   * with these digests. False (nothing written) when it is not pending with
   * that secret any more.
   */
  confirmTotp(
    namespace: string,
    userId: string,
    sealedSecret: string,
    step: number,
    recoveryDigests: Buffer[],
    nowMs: number,
  ): Promise<boolean>;
  /**
   * Spends a proof of the user's confirmed factor, atomically: a TOTP step
   * only if it is after the last accepted one (and the secret is unchanged),
   * a recovery code only if unused (it is deleted). False when it does not hold.
   */
  spendMfaProof(namespace: string, userId: string, proof: MfaProof): Promise<boolean>;
  /** Replaces the recovery codes of a user whose TOTP is confirmed, in one transaction; false if it is not. */
  replaceRecoveryCodes(namespace: string, userId: string, recoveryDigests: Buffer[]): Promise<boolean>;
  countRecoveryCodes(namespace: string, userId: string): Promise<number>;
  /** Removes the user's TOTP factor (pending or confirmed) and recovery codes; false if there was none. */
  deleteTotp(namespace: string, userId: string): Promise<boolean>;

  insertMfaTicket(ticket: NewMfaTicket): Promise<void>;
  /** The ticket if it is unexpired at nowMs and has fewer than maxFailures failures. */
  getMfaTicket(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    maxFailures: number,
  ): Promise<MfaTicketRow | undefined>;
  /**
   * In one transaction, on the live ticket (locked): spends the proof for the
   * ticket's user; if it holds the ticket is deleted (single use), else its
   * failures go up by one and at maxFailures it is deleted.
   */
  redeemMfaTicket(
    namespace: string,
    digest: Buffer,
    nowMs: number,
    maxFailures: number,
    proof: MfaProof,
  ): Promise<RedeemOutcome>;
  /** Deletes up to `limit` tickets expired at nowMs; returns how many. */
  sweepMfaTickets(nowMs: number, limit: number): Promise<number>;
}
