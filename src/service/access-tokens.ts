// CreateToken: a signed access token (a JWT, EdDSA over Ed25519) for a live
// session, which other services verify locally with the published keys
// (/.well-known/jwks.json) instead of calling ReadSession on every request.
//
// Security choices:
// - The token names the session by its handle (the hex SHA-256 that
//   ListSessions shows and RevokeSessions takes), never by its id: the id is
//   the secret that signs in, and a token is shown to every service it visits.
// - A token never outlives its session's expiry, nor its signing key's
//   publication. It does outlive a revocation (Logout, RevokeSessions, a
//   password change) by up to ACCESS_TOKEN_TTL_SECONDS: verifiers do not call
//   back, which is the point; the next CreateToken for that session fails.
import { SignJWT } from "jose";
import type { Repository } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import type { SessionsService } from "./sessions.js";
import { SIGNING_ALG, type SigningKeyRing } from "./signing-keys.js";
import { digest } from "./tokens.js";
import * as rules from "./validation.js";

export interface AccessTokenDeps {
  repo: Repository;
  sessions: SessionsService;
  ring: SigningKeyRing;
  now: () => number;
  /** PUBLIC_URL: the `iss` claim, and where verifiers find the keys. */
  issuer: string;
  ttlSeconds: number;
  /** Told of every token issued (metrics). */
  onIssued?: () => void;
}

export interface AccessToken {
  token: string;
  expiresMs: number;
}

/** The claims of every token, exactly these. */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  ns: string;
  sid: string;
  username: string;
  email: string;
  email_verified: boolean;
  iat: number;
  exp: number;
}

export class AccessTokensService {
  constructor(private readonly deps: AccessTokenDeps) {}

  async create(namespace: string, sessionId: string): Promise<AccessToken> {
    const { repo, sessions, ring, now, issuer, ttlSeconds } = this.deps;
    const id = rules.sessionId(sessionId);
    // The same answer as ReadSession for an unknown, expired or ended session.
    const session = await sessions.read(namespace, id);
    const user = await repo.getUser(namespace, session.userId);
    if (!user) throw new ServiceError("SESSION_NOT_FOUND");
    await ring.start();
    const nowMs = now();
    const key = ring.signing(nowMs);
    // Only when the keys were never loaded (a wiring bug): every started ring has a signing key.
    if (!key) throw new Error("no signing key loaded");
    const iat = Math.floor(nowMs / 1000);
    let exp = Math.min(iat + ttlSeconds, Math.floor(session.expiresMs / 1000));
    if (key.row.publishedUntilMs !== 0) exp = Math.min(exp, Math.floor(key.row.publishedUntilMs / 1000));
    // A session in its last second would give a token already expired.
    if (exp <= iat) throw new ServiceError("SESSION_NOT_FOUND");
    const claims: AccessTokenClaims = {
      iss: issuer,
      sub: user.id,
      ns: namespace,
      sid: digest(id).toString("hex"),
      username: user.username,
      email: user.email,
      email_verified: user.verifiedMs !== undefined,
      iat,
      exp,
    };
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: key.row.kid, typ: "JWT" })
      .sign(key.privateKey);
    this.deps.onIssued?.();
    return { token, expiresMs: exp * 1000 };
  }
}
