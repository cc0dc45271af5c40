// Passkeys (WebAuthn): registering a user's passkeys, passwordless sign-in
// with a discoverable credential, listing and removing them. The WebAuthn
// checks themselves are @simplewebauthn/server's; this module decides what
// each ceremony is bound to and what a failure tells the caller.
//
// Every ceremony's challenge is 32 random bytes, stored only as a digest,
// bound to its namespace, purpose and user, and taken (deleted) before the
// answer is verified: a challenge is answered once, whatever the outcome, so
// a replayed answer finds nothing.

import { randomBytes } from "node:crypto";
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import type { RelyingParty } from "../config/passkey-settings.js";
import type { ChallengePurpose, PasskeyRow } from "../storage/passkey-store.js";
import type { Repository, User } from "../storage/repository.js";
import { requireEnabled } from "./account-status.js";
import { invalidCredentials, ServiceError } from "./errors.js";
import { type Actor, draftEvent } from "./events.js";
import { MFA_TICKET_MAX_FAILURES } from "./mfa-ticket.js";
import type { Session } from "./model.js";
import {
  authenticationResponse,
  ceremonyHandle,
  PASSKEY_LIMITS,
  passkeyId,
  passkeyName,
  registrationResponse,
} from "./passkey-input.js";
import { digest, newToken } from "./tokens.js";
import * as rules from "./validation.js";

/** How long a Begin's challenge may be answered. */
export const CHALLENGE_TTL_MS = 5 * 60_000;

/** Something the operator should hear about (a counter that went backwards: a cloned authenticator?). */
export type PasskeyWarning = (fields: Record<string, unknown>, message: string) => void;

export interface PasskeysDeps {
  repo: Repository;
  /** Undefined: passkeys are off (RP_ORIGINS not set). */
  rp: RelyingParty | undefined;
  sessionTtlSeconds: number;
  maxSessionsPerUser?: number;
  now: () => number;
  warn?: PasskeyWarning;
}

export class PasskeysService {
  constructor(private readonly deps: PasskeysDeps) {}

  /** Options for navigator.credentials.create(): a discoverable passkey with user verification. */
  async beginRegistration(namespace: string, rawUserId: string): Promise<string> {
    const rp = this.relyingParty();
    const user = await this.requireUser(namespace, rules.userId(rawUserId, "user_id"));
    const existing = await this.deps.repo.listPasskeys(namespace, user.id);
    if (existing.length >= PASSKEY_LIMITS.perUserMax) {
      throw new ServiceError("PASSKEY_LIMIT_REACHED", { max: PASSKEY_LIMITS.perUserMax });
    }
    const options = await generateRegistrationOptions({
      rpName: rp.name,
      rpID: rp.id,
      userName: user.username,
      userDisplayName: user.username,
      // The user handle a discoverable passkey gives back at sign-in: the
      // user's id (at most 64 bytes, WebAuthn's limit), never the email.
      userID: Buffer.from(user.id, "utf8"),
      challenge: randomBytes(32),
      timeout: CHALLENGE_TTL_MS,
      attestationType: "none",
      excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
      authenticatorSelection: { residentKey: "required", requireResidentKey: true, userVerification: "required" },
    });
    await this.storeChallenge(namespace, options.challenge, "passkey_register", user.id);
    return JSON.stringify(options);
  }

  async finishRegistration(
    namespace: string,
    input: { userId: string; responseJson: string; name: string },
  ): Promise<PasskeyRow> {
    const rp = this.relyingParty();
    const userId = rules.userId(input.userId, "user_id");
    const name = passkeyName(input.name);
    const { response, challenge } = registrationResponse(input.responseJson);
    await this.takeChallenge(namespace, challenge, "passkey_register", userId);
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.id,
        requireUserVerification: true,
      });
    } catch (err) {
      throw new ServiceError("PASSKEY_RESPONSE_INVALID", { field: "response_json", rule: whyRefused(err) });
    }
    if (!verified.verified) {
      throw new ServiceError("PASSKEY_RESPONSE_INVALID", { field: "response_json", rule: "does not verify" });
    }
    const { credential } = verified.registrationInfo;
    const passkey: PasskeyRow = {
      id: `pk_${randomBytes(12).toString("hex")}`,
      userId,
      credentialId: credential.id,
      publicKey: Buffer.from(credential.publicKey),
      counter: credential.counter,
      transports: response.response.transports ?? [],
      name,
      createdMs: this.deps.now(),
      lastUsedMs: 0,
    };
    const outcome = await this.deps.repo.insertPasskey(namespace, passkey, PASSKEY_LIMITS.perUserMax);
    if (outcome === "no_user") throw new ServiceError("USER_NOT_FOUND");
    if (outcome === "duplicate") throw new ServiceError("PASSKEY_ALREADY_REGISTERED");
    if (outcome === "limit") throw new ServiceError("PASSKEY_LIMIT_REACHED", { max: PASSKEY_LIMITS.perUserMax });
    return passkey;
  }

  /** Options for navigator.credentials.get() naming no user (discoverable credentials), and the handle. */
  async beginLogin(namespace: string): Promise<{ optionsJson: string; handle: string }> {
    const rp = this.relyingParty();
    const options = await generateAuthenticationOptions({
      rpID: rp.id,
      userVerification: "required",
      timeout: CHALLENGE_TTL_MS,
      challenge: randomBytes(32),
    });
    await this.storeChallenge(namespace, options.challenge, "passkey_login", "");
    return { optionsJson: JSON.stringify(options), handle: options.challenge };
  }

  /** A new session, as Login's, for the user whose passkey signed the handle's challenge. */
  async finishLogin(
    namespace: string,
    input: { handle: string; responseJson: string },
    actor: Actor,
  ): Promise<Session> {
    this.relyingParty();
    const handle = ceremonyHandle(input.handle);
    const { response } = authenticationResponse(input.responseJson);
    await this.takeChallenge(namespace, handle, "passkey_login", "");
    const passkey = await this.verifyAssertion(namespace, handle, response);
    return this.startSession(namespace, passkey.userId, actor);
  }

  /**
   * Options for a passkey as the second factor of a sign-in: only the
   * passkeys of the live ticket's user. The challenge is bound to the ticket,
   * and VerifyMfa checks the answer (verifySecondFactor).
   */
  async beginSecondFactor(namespace: string, rawTicket: string): Promise<string> {
    const rp = this.relyingParty();
    const ticket = rules.sessionId(rawTicket, "mfa_ticket");
    const { repo, now } = this.deps;
    const live = await repo.getMfaTicket(namespace, digest(ticket), now(), MFA_TICKET_MAX_FAILURES);
    if (!live) throw new ServiceError("MFA_TICKET_INVALID");
    const passkeys = await repo.listPasskeys(namespace, live.userId);
    if (passkeys.length === 0) throw new ServiceError("PASSKEY_NOT_FOUND");
    const options = await generateAuthenticationOptions({
      rpID: rp.id,
      allowCredentials: passkeys.map((p) => ({ id: p.credentialId, transports: p.transports })),
      userVerification: "required",
      timeout: CHALLENGE_TTL_MS,
      challenge: randomBytes(32),
    });
    await this.storeChallenge(namespace, options.challenge, "passkey_mfa", live.userId, digest(ticket));
    return JSON.stringify(options);
  }

  /**
   * Checks a passkey's answer to beginSecondFactor's options for this ticket
   * and user: the id of the passkey that signed, or undefined when it does
   * not verify (VerifyMfa counts that as a wrong proof). A challenge that is
   * not this ticket's is PASSKEY_CHALLENGE_INVALID and counts for nothing.
   */
  async verifySecondFactor(
    namespace: string,
    ticketDigest: Buffer,
    userId: string,
    responseJson: string,
  ): Promise<string | undefined> {
    this.relyingParty();
    const { response, challenge } = authenticationResponse(responseJson, "passkey_response_json");
    const taken = await this.takeChallenge(namespace, challenge, "passkey_mfa", userId);
    if (!taken.ticketDigest.equals(ticketDigest)) throw new ServiceError("PASSKEY_CHALLENGE_INVALID");
    try {
      return (await this.verifyAssertion(namespace, challenge, response, userId)).id;
    } catch (err) {
      if (err instanceof ServiceError && err.reason === "INVALID_CREDENTIALS") return undefined;
      throw err;
    }
  }

  async list(namespace: string, rawUserId: string): Promise<PasskeyRow[]> {
    const user = await this.requireUser(namespace, rules.userId(rawUserId, "user_id"));
    return this.deps.repo.listPasskeys(namespace, user.id);
  }

  async remove(namespace: string, rawUserId: string, rawPasskeyId: string): Promise<void> {
    const userId = rules.userId(rawUserId, "user_id");
    const id = passkeyId(rawPasskeyId);
    await this.requireUser(namespace, userId);
    if (!(await this.deps.repo.deletePasskey(namespace, userId, id))) throw new ServiceError("PASSKEY_NOT_FOUND");
  }

  /**
   * Checks an assertion against the stored passkey it names and records its
   * counter. Every failure is the one "invalid credentials": an unknown
   * passkey and a bad signature cannot be told apart.
   */
  private async verifyAssertion(
    namespace: string,
    expectedChallenge: string,
    response: Parameters<typeof verifyAuthenticationResponse>[0]["response"],
    expectedUserId?: string,
  ): Promise<PasskeyRow> {
    const rp = this.relyingParty();
    const { repo, now, warn } = this.deps;
    const passkey = await repo.findPasskeyByCredential(namespace, response.id);
    if (!passkey) throw invalidCredentials();
    if (expectedUserId !== undefined && passkey.userId !== expectedUserId) throw invalidCredentials();
    // A discoverable passkey names its user; it must be the one it was registered for.
    const userHandle = response.response.userHandle;
    if (userHandle && Buffer.from(userHandle, "base64url").toString("utf8") !== passkey.userId) {
      throw invalidCredentials();
    }
    let newCounter: number;
    try {
      const result = await verifyAuthenticationResponse({
        response,
        expectedChallenge,
        expectedOrigin: rp.origins,
        expectedRPID: rp.id,
        credential: {
          id: passkey.credentialId,
          publicKey: new Uint8Array(passkey.publicKey),
          counter: passkey.counter,
        },
        requireUserVerification: true,
      });
      if (!result.verified) throw invalidCredentials();
      newCounter = result.authenticationInfo.newCounter;
    } catch (err) {
      if (err instanceof Error && /counter value/i.test(err.message)) {
        // WebAuthn §6.1.1: a counter that does not move forward may mean a
        // cloned authenticator. Refused, and the operator is told.
        warn?.(
          { namespace, userId: passkey.userId, passkeyId: passkey.id, storedCounter: passkey.counter },
          "passkey sign counter did not increase: possible cloned authenticator; sign-in refused",
        );
      }
      throw invalidCredentials();
    }
    // Compare-and-set: of two answers racing with the same counter, one wins.
    if (!(await repo.usePasskey(namespace, passkey.id, passkey.counter, newCounter, now()))) {
      warn?.(
        { namespace, userId: passkey.userId, passkeyId: passkey.id },
        "passkey sign counter changed during the ceremony; sign-in refused",
      );
      throw invalidCredentials();
    }
    return passkey;
  }

  /** Stores a session as Login does (same TTL, same per-user cap). */
  private async startSession(namespace: string, userId: string, actor: Actor): Promise<Session> {
    const { repo, now, sessionTtlSeconds, maxSessionsPerUser } = this.deps;
    const options = maxSessionsPerUser === undefined ? {} : { maxSessions: maxSessionsPerUser };
    // insertSession is guarded by the password hash it is given; the current
    // one is read again if a password change lands in between.
    for (let attempt = 0; attempt < 3; attempt++) {
      const credential = await repo.getCredential(namespace, userId);
      if (!credential) throw invalidCredentials();
      // Reached only with a valid assertion, as Login says "disabled" only to the right password.
      requireEnabled(credential.user);
      const id = newToken();
      const createdMs = now();
      const expiresMs = createdMs + sessionTtlSeconds * 1000;
      const row = { idDigest: digest(id), userId, createdMs, expiresMs };
      const created = draftEvent(actor, "session.created", namespace, userId, createdMs, {
        session: row.idDigest.toString("hex"),
        via: "passkey",
      });
      if (await repo.insertSession(namespace, row, credential.passwordHash, { ...options, events: [created] })) {
        const { user } = credential;
        return { id, userId, username: user.username, email: user.email, createdMs, expiresMs };
      }
    }
    throw new ServiceError("PASSWORD_CHANGED_CONCURRENTLY");
  }

  private relyingParty(): RelyingParty {
    if (!this.deps.rp) throw new ServiceError("PASSKEYS_OFF");
    return this.deps.rp;
  }

  private async requireUser(namespace: string, userId: string): Promise<User> {
    const user = await this.deps.repo.getUser(namespace, userId);
    if (!user) throw new ServiceError("USER_NOT_FOUND");
    return user;
  }

  private async storeChallenge(
    namespace: string,
    challenge: string,
    purpose: ChallengePurpose,
    userId: string,
    ticketDigest: Buffer = Buffer.alloc(0),
  ) {
    const createdMs = this.deps.now();
    await this.deps.repo.insertChallenge({
      namespace,
      digest: digest(challenge),
      purpose,
      userId,
      ticketDigest,
      createdMs,
      expiresMs: createdMs + CHALLENGE_TTL_MS,
    });
  }

  /** Takes the challenge for its one use: unknown, used, expired or another user's is refused alike. */
  private async takeChallenge(namespace: string, challenge: string, purpose: ChallengePurpose, userId: string) {
    const taken = await this.deps.repo.takeChallenge(namespace, digest(challenge), purpose, this.deps.now());
    if (!taken || taken.userId !== userId) throw new ServiceError("PASSKEY_CHALLENGE_INVALID");
    return taken;
  }
}

/** Why a registration did not verify, in words that quote nothing the caller sent. */
function whyRefused(err: unknown): string {
  const message = err instanceof Error ? err.message : "";
  if (/origin/i.test(message)) return "was made on an origin not in RP_ORIGINS";
  if (/RP ?ID/i.test(message)) return "is for another relying party (RP_ID)";
  if (/user verification/i.test(message)) return "lacks user verification, which is required";
  if (/user presence/i.test(message)) return "lacks user presence";
  if (/challenge/i.test(message)) return "answers another challenge";
  return "does not verify";
}
