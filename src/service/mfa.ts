// Second factors: TOTP enrolment and its recovery codes, and VerifyMfa, the
// second step of a sign-in Login began with an mfa_ticket (docs/mfa.md).
//
// Security choices:
// - The TOTP secret is sealed (SecretBox, context "totp:<namespace>/<user
//   id>") before it is stored and leaves the service only in EnrollTotp's
//   answer; codes are compared in constant time (otpauth).
// - A code is spent in storage, atomically: its time step must be after the
//   last accepted one, so a code (or an earlier one) is never accepted twice,
//   whatever runs concurrently. Recovery codes are deleted when used.
// - Every code check is throttled per user like passwords (the login
//   throttle, account "mfa:<user id>"): a slot is reserved before the check,
//   a wrong code is a failure, a right one clears them.
import { timingSafeEqual } from "node:crypto";
import type { MfaProof } from "../storage/mfa-store.js";
import type { Repository } from "../storage/repository.js";
import { invalidArgument, ServiceError } from "./errors.js";
import type { Actor } from "./events.js";
import { type LoginThrottle, throttleAccount } from "./login-throttle.js";
import { credentialDigest, MFA_TICKET_MAX_FAILURES } from "./mfa-ticket.js";
import type { Caller, Session } from "./model.js";
import type { PasskeysService } from "./passkeys.js";
import { newRecoveryCodes, recoveryCode, recoveryCodeDigest } from "./recovery-codes.js";
import type { SecretBox } from "./secret-box.js";
import type { SessionsService } from "./sessions.js";
import { digest } from "./tokens.js";
import { matchingStep, newTotpSecret, totpBase32, totpUri } from "./totp.js";
import * as rules from "./validation.js";

export interface MfaDeps {
  repo: Repository;
  secrets: SecretBox;
  throttle: LoginThrottle;
  sessions: SessionsService;
  /** TOTP_ISSUER. */
  issuer: string;
  now: () => number;
  /** Told when a trusted key removed a user's factor without a code (the server logs it). */
  onAdminRemoval?: (removal: { namespace: string; userId: string; keyId: string; role: string }) => void;
  /** Checks a passkey given as the second factor (VerifyMfa's passkey_response_json). */
  passkeys?: PasskeysService;
}

/** A second-factor proof as sent: a TOTP code or a recovery code (exactly one when required). */
export interface FactorInput {
  code: string;
  recoveryCode: string;
}

export interface MfaStatus {
  totpEnabled: boolean;
  totpPending: boolean;
  recoveryCodesLeft: number;
}

/** A TOTP code as sent: exactly 6 digits. */
function totpCode(raw: string, field = "code"): string {
  if (raw === "") throw invalidArgument(field, "required", "FIELD_REQUIRED");
  if (!/^[0-9]{6}$/.test(raw)) throw invalidArgument(field, "must be 6 digits", "FIELD_MALFORMED");
  return raw;
}

/** Exactly one of code and recovery_code, checked for its shape. */
function oneFactor(input: FactorInput): { code: string } | { recoveryCode: string } {
  if (input.code !== "" && input.recoveryCode !== "")
    throw invalidArgument("recovery_code", "give code or recovery_code, not both", "FIELD_MALFORMED");
  if (input.recoveryCode !== "") return { recoveryCode: recoveryCode(input.recoveryCode) };
  return { code: totpCode(input.code) };
}

export class MfaService {
  constructor(private readonly deps: MfaDeps) {}

  private sealContext(namespace: string, userId: string): string {
    return `totp:${namespace}/${userId}`;
  }

  /** A new pending enrolment (replacing a pending one): the secret in base32 and as an otpauth:// URI. */
  async enrollTotp(namespace: string, rawUserId: string): Promise<{ secret: string; uri: string }> {
    const { repo, secrets, now, issuer } = this.deps;
    const userId = rules.userId(rawUserId, "user_id");
    const user = await repo.getUser(namespace, userId);
    if (!user) throw new ServiceError("USER_NOT_FOUND");
    const secret = newTotpSecret();
    const stored = await repo.putPendingTotp(
      namespace,
      userId,
      secrets.seal(secret, this.sealContext(namespace, userId)),
      now(),
    );
    if (stored === "enabled") throw new ServiceError("TOTP_ALREADY_ENABLED");
    if (stored === "no_user") throw new ServiceError("USER_NOT_FOUND");
    return { secret: totpBase32(secret), uri: totpUri(secret, issuer, user.username) };
  }

  /** Confirms the pending enrolment with a code; TOTP is on from here. Returns the recovery codes. */
  async confirmTotp(namespace: string, rawUserId: string, rawCode: string, actor: Actor): Promise<string[]> {
    const { repo, now } = this.deps;
    const userId = rules.userId(rawUserId, "user_id");
    const code = totpCode(rawCode);
    const row = await repo.getTotp(namespace, userId);
    if (!row) {
      if (!(await repo.getUser(namespace, userId))) throw new ServiceError("USER_NOT_FOUND");
      throw new ServiceError("TOTP_NOT_PENDING");
    }
    if (row.confirmedMs > 0) throw new ServiceError("TOTP_ALREADY_ENABLED");
    const codes = newRecoveryCodes();
    await this.throttled(namespace, userId, actor, async () => {
      const step = matchingStep(this.openSecret(namespace, userId, row.sealedSecret), code, now());
      if (step === undefined) return "wrong";
      const digests = codes.map((c) => recoveryCodeDigest(namespace, userId, recoveryCode(c)));
      // Another enrolment or confirmation won meanwhile: this code no longer confirms anything.
      if (!(await repo.confirmTotp(namespace, userId, row.sealedSecret, step, digests, now())))
        throw new ServiceError("TOTP_NOT_PENDING");
      return "right";
    });
    return codes;
  }

  /** The second step of a sign-in: the ticket and one proof; the session, as Login's. */
  async verify(
    namespace: string,
    input: FactorInput & { mfaTicket: string; passkeyResponseJson?: string },
    actor: Actor,
  ): Promise<Session> {
    const { repo, now, throttle, sessions } = this.deps;
    const ticket = rules.sessionId(input.mfaTicket, "mfa_ticket");
    const passkeyAnswer = input.passkeyResponseJson ?? "";
    if (passkeyAnswer !== "" && (input.code !== "" || input.recoveryCode !== ""))
      throw invalidArgument(
        "passkey_response_json",
        "give one of code, recovery_code and passkey_response_json",
        "FIELD_MALFORMED",
      );
    const factor = passkeyAnswer === "" ? oneFactor(input) : undefined;
    const ticketDigest = digest(ticket);
    const live = await repo.getMfaTicket(namespace, ticketDigest, now(), MFA_TICKET_MAX_FAILURES);
    if (!live) throw new ServiceError("MFA_TICKET_INVALID");
    const userId = live.userId;
    const attempt = await throttle.admit(namespace, [throttleAccount("mfa", userId)]);
    let outcome: Awaited<ReturnType<Repository["redeemMfaTicket"]>>;
    try {
      const proof = factor
        ? await this.proofOf(namespace, userId, factor)
        : await this.passkeyProof(namespace, ticketDigest, userId, passkeyAnswer);
      outcome = await repo.redeemMfaTicket(namespace, ticketDigest, now(), MFA_TICKET_MAX_FAILURES, proof);
    } catch (err) {
      await throttle.released(namespace, attempt).catch(() => undefined);
      throw err;
    }
    if (!outcome.redeemed) {
      if (outcome.why === "proof") {
        await throttle.failed(namespace, attempt, userId, "mfa", actor);
        throw new ServiceError("MFA_CODE_INVALID");
      }
      await throttle.released(namespace, attempt);
      throw new ServiceError("MFA_TICKET_INVALID");
    }
    // The proof was right: nothing from here counts as a guess.
    try {
      const credential = await repo.getCredential(namespace, outcome.userId);
      const current = credential && credentialDigest(credential.passwordHash);
      // The password changed (or the user went) since Login: as for its sessions, this sign-in ends.
      if (!credential || !current || !timingSafeEqual(current, outcome.credentialDigest))
        throw new ServiceError("MFA_TICKET_INVALID");
      return await sessions.startAfterSecondFactor(namespace, credential, attempt, actor);
    } catch (err) {
      await throttle.succeeded(namespace, attempt).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Turns TOTP off and voids the recovery codes. A public key's caller must
   * give a current code or a recovery code (spent); a service or admin key
   * needs neither (an admin's way out for a locked-out user), and such a
   * removal is reported to onAdminRemoval.
   */
  async disableTotp(caller: Caller, rawUserId: string, input: FactorInput, actor: Actor): Promise<void> {
    const { repo } = this.deps;
    const namespace = caller.namespace;
    const userId = rules.userId(rawUserId, "user_id");
    const given = input.code !== "" || input.recoveryCode !== "";
    const factor = caller.role === "public" || given ? oneFactor(input) : undefined;
    await this.requireEnabled(namespace, userId);
    if (factor) await this.spend(namespace, userId, factor, actor);
    if (!(await repo.deleteTotp(namespace, userId))) throw new ServiceError("TOTP_NOT_ENABLED");
    if (!factor) this.deps.onAdminRemoval?.({ namespace, userId, keyId: caller.keyId, role: caller.role });
  }

  /** A new set of recovery codes, given a current TOTP code; the old set stops working. */
  async regenerateRecoveryCodes(
    namespace: string,
    rawUserId: string,
    rawCode: string,
    actor: Actor,
  ): Promise<string[]> {
    const { repo } = this.deps;
    const userId = rules.userId(rawUserId, "user_id");
    const code = totpCode(rawCode);
    await this.requireEnabled(namespace, userId);
    await this.spend(namespace, userId, { code }, actor);
    const codes = newRecoveryCodes();
    const digests = codes.map((c) => recoveryCodeDigest(namespace, userId, recoveryCode(c)));
    if (!(await repo.replaceRecoveryCodes(namespace, userId, digests))) throw new ServiceError("TOTP_NOT_ENABLED");
    return codes;
  }

  async status(namespace: string, rawUserId: string): Promise<MfaStatus> {
    const { repo } = this.deps;
    const userId = rules.userId(rawUserId, "user_id");
    if (!(await repo.getUser(namespace, userId))) throw new ServiceError("USER_NOT_FOUND");
    const row = await repo.getTotp(namespace, userId);
    return {
      totpEnabled: (row?.confirmedMs ?? 0) > 0,
      totpPending: row !== undefined && row.confirmedMs === 0,
      recoveryCodesLeft: await repo.countRecoveryCodes(namespace, userId),
    };
  }

  private async requireEnabled(namespace: string, userId: string): Promise<void> {
    const row = await this.deps.repo.getTotp(namespace, userId);
    if (row && row.confirmedMs > 0) return;
    if (!(await this.deps.repo.getUser(namespace, userId))) throw new ServiceError("USER_NOT_FOUND");
    throw new ServiceError("TOTP_NOT_ENABLED");
  }

  /** Checks and spends a proof of the user's confirmed factor, throttled; MFA_CODE_INVALID when it does not hold. */
  private async spend(
    namespace: string,
    userId: string,
    factor: { code: string } | { recoveryCode: string },
    actor: Actor,
  ) {
    await this.throttled(namespace, userId, actor, async () => {
      const proof = await this.proofOf(namespace, userId, factor);
      return (await this.deps.repo.spendMfaProof(namespace, userId, proof)) ? "right" : "wrong";
    });
  }

  /** What storage is asked to spend for a factor as sent (a code that matches no step: nothing that can hold). */
  private async proofOf(
    namespace: string,
    userId: string,
    factor: { code: string } | { recoveryCode: string },
  ): Promise<MfaProof> {
    if ("recoveryCode" in factor)
      return { kind: "recovery_code", digest: recoveryCodeDigest(namespace, userId, factor.recoveryCode) };
    const row = await this.deps.repo.getTotp(namespace, userId);
    if (!row || row.confirmedMs === 0) return { kind: "none" };
    const step = matchingStep(this.openSecret(namespace, userId, row.sealedSecret), factor.code, this.deps.now());
    return step === undefined ? { kind: "none" } : { kind: "totp", sealedSecret: row.sealedSecret, step };
  }

  /**
   * A passkey's answer for the ticket (passkeys.ts checks it): the passkey
   * that signed, or nothing that can hold when it does not verify, which
   * counts against the ticket as a wrong code does.
   */
  private async passkeyProof(
    namespace: string,
    ticketDigest: Buffer,
    userId: string,
    responseJson: string,
  ): Promise<MfaProof> {
    if (!this.deps.passkeys) throw new ServiceError("PASSKEYS_OFF");
    const passkeyId = await this.deps.passkeys.verifySecondFactor(namespace, ticketDigest, userId, responseJson);
    return passkeyId === undefined ? { kind: "none" } : { kind: "passkey", passkeyId };
  }

  /** Runs one code check under the throttle: a wrong code is a failure, a right one clears them. */
  private async throttled(
    namespace: string,
    userId: string,
    actor: Actor,
    check: () => Promise<"right" | "wrong">,
  ): Promise<void> {
    const { throttle } = this.deps;
    const attempt = await throttle.admit(namespace, [throttleAccount("mfa", userId)]);
    let result: "right" | "wrong";
    try {
      result = await check();
    } catch (err) {
      await throttle.released(namespace, attempt).catch(() => undefined);
      throw err;
    }
    if (result === "wrong") {
      await throttle.failed(namespace, attempt, userId, "mfa", actor);
      throw new ServiceError("MFA_CODE_INVALID");
    }
    await throttle.succeeded(namespace, attempt);
  }

  private openSecret(namespace: string, userId: string, sealed: string): Buffer {
    return this.deps.secrets.open(sealed, this.sealContext(namespace, userId));
  }
}
