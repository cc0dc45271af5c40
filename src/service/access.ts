// Which role may call which RPC, and what a public key must prove.
//
// Every RPC of the contract has exactly one entry here (the tables are typed
// by the generated service descriptors, and test/roles/ walks the descriptors
// over every protocol, so a new RPC without a decision fails both the type
// check and the suite). An RPC absent from the tables is refused.
//
// Roles: admin (every namespace, key management), service (every Users RPC in
// its namespace), public (one namespace, safe in an end user's hands: only
// what an end user may do for themselves, with proof of who they are).
import type { KeysService as KeysRpc } from "../../gen/users/v1/keys_pb.js";
import type { Users } from "../../gen/users/v1/users_pb.js";
import type { WebhooksService as WebhooksRpc } from "../../gen/users/v1/webhooks_pb.js";
import type { KeyRole, Repository } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import type { Caller } from "./model.js";
import { chargeWindow } from "./rate-limit.js";
import type { SessionsService } from "./sessions.js";
import * as rules from "./validation.js";

/** What a public key must show to make a call its role allows. */
export type PublicProof =
  /** Sign-up: allowed unless off for the namespace; rate limited per key and per namespace. */
  | "sign-up"
  /** A call that sends mail: the request is the proof; rate limited per key and per namespace. */
  | "sends-mail"
  /** The request itself is the proof: a session id, or the password (throttled like Login). */
  | "in-request"
  /** A live session of the user the request names (in this field), sent as the `x-session-id` header. */
  | { sessionOfUserIn: "id" | "userId" }
  /**
   * A live session of the user the request looks up (by id, username or
   * email, validation.userLookup), checked against the user found: naming
   * someone else by username or email proves nothing.
   */
  | "session-of-user-looked-up";

export interface MethodAccess {
  roles: readonly KeyRole[];
  /** Required exactly when roles include "public". */
  publicProof?: PublicProof;
}

const ANYONE = ["admin", "service", "public"] as const;
const TRUSTED = ["admin", "service"] as const;
const ADMIN = ["admin"] as const;

export const USERS_ACCESS: Record<keyof typeof Users.method, MethodAccess> = {
  create: { roles: ANYONE, publicProof: "sign-up" },
  login: { roles: ANYONE, publicProof: "in-request" },
  readSession: { roles: ANYONE, publicProof: "in-request" },
  logout: { roles: ANYONE, publicProof: "in-request" },
  updatePassword: { roles: ANYONE, publicProof: "in-request" },
  read: { roles: ANYONE, publicProof: "session-of-user-looked-up" },
  update: { roles: ANYONE, publicProof: { sessionOfUserIn: "id" } },
  listSessions: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  revokeSessions: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  // The token in the mail is the proof; the answer is the same for any email.
  sendVerificationEmail: { roles: ANYONE, publicProof: "sends-mail" },
  verifyEmail: { roles: ANYONE, publicProof: "in-request" },
  // Account recovery: the code or link in the mail is the proof.
  sendPasswordResetEmail: { roles: ANYONE, publicProof: "sends-mail" },
  resetPassword: { roles: ANYONE, publicProof: "in-request" },
  sendMagicLink: { roles: ANYONE, publicProof: "sends-mail" },
  verifyToken: { roles: ANYONE, publicProof: "in-request" },
  // The session id in the request is the proof: whoever holds it may have its token.
  createToken: { roles: ANYONE, publicProof: "in-request" },
  delete: { roles: TRUSTED },
  search: { roles: TRUSTED },
  // Second factors (docs/mfa.md): a public key acts only for the user of its
  // session; DisableTotp then also needs a code (checked in MfaService). The
  // mfa_ticket is VerifyMfa's proof.
  enrollTotp: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  confirmTotp: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  verifyMfa: { roles: ANYONE, publicProof: "in-request" },
  disableTotp: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  regenerateRecoveryCodes: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  getMfaStatus: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  // Events and audit: the namespace's whole history, so never a public key's.
  listEvents: { roles: TRUSTED },
  // Passkeys: a user's own with their session; the signed assertion is a sign-in's proof.
  beginPasskeyRegistration: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  finishPasskeyRegistration: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  beginPasskeyLogin: { roles: ANYONE, publicProof: "in-request" },
  finishPasskeyLogin: { roles: ANYONE, publicProof: "in-request" },
  listPasskeys: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  removePasskey: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  // Accounts: every user of the namespace, and administrators' actions.
  list: { roles: TRUSTED },
  logoutAll: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  setPassword: { roles: TRUSTED },
};

export const KEYS_ACCESS: Record<keyof typeof KeysRpc.method, MethodAccess> = {
  listKeys: { roles: ADMIN },
  createKey: { roles: ADMIN },
  revokeKey: { roles: ADMIN },
};

export const WEBHOOKS_ACCESS: Record<keyof typeof WebhooksRpc.method, MethodAccess> = {
  listWebhooks: { roles: ADMIN },
  createWebhook: { roles: ADMIN },
  deleteWebhook: { roles: ADMIN },
};

/** Every service's table, by the service's full protobuf name. */
export const ACCESS: ReadonlyMap<string, Readonly<Record<string, MethodAccess>>> = new Map<
  string,
  Record<string, MethodAccess>
>([
  ["users.v1.Users", USERS_ACCESS],
  ["users.v1.KeysService", KEYS_ACCESS],
  ["users.v1.WebhooksService", WEBHOOKS_ACCESS],
]);

/** The header (gRPC metadata) that carries a public caller's session as proof. */
export const SESSION_PROOF_HEADER = "x-session-id";

export interface SignUpLimits {
  /** Namespaces whose public keys may not sign up users. */
  offNamespaces: ReadonlySet<string>;
  perKey: number;
  perNamespace: number;
  windowSeconds: number;
}

/** What one public key, and all of a namespace's, may send (mail-sending calls per window). */
export interface PublicMailLimits {
  perKey: number;
  perNamespace: number;
  windowSeconds: number;
}

export interface AccessDeps {
  repo: Repository;
  sessions: SessionsService;
  signUp: SignUpLimits;
  mail: PublicMailLimits;
  now: () => number;
}

const MAX_PROOF_LENGTH = 256;

export class AccessPolicy {
  constructor(private readonly deps: AccessDeps) {}

  /**
   * Allows the call or throws: PermissionDenied when the caller's role may
   * not make it (or its proof does not hold), ResourceExhausted past a
   * sign-up limit. `request` is the decoded request message; `proof` the
   * session id the caller sent in x-session-id, if any.
   */
  async authorize(
    caller: Caller,
    service: string,
    method: string,
    request: Readonly<Record<string, unknown>>,
    proof: string | null,
  ): Promise<void> {
    const rule = ACCESS.get(service)?.[method];
    if (!rule?.roles.includes(caller.role)) {
      throw new ServiceError("ROLE_FORBIDDEN", { role: caller.role, rpc: rpcName(method) });
    }
    if (caller.role !== "public") return;
    const publicProof = rule.publicProof;
    if (publicProof === undefined) {
      throw new ServiceError("ROLE_FORBIDDEN", { role: caller.role, rpc: rpcName(method) });
    }
    if (publicProof === "in-request") return;
    if (publicProof === "sign-up") return this.admitSignUp(caller);
    if (publicProof === "sends-mail") {
      // Anyone can read a public key: the mail it sends says only the
      // service's own words, or it would mail phishing from the real sender.
      for (const [field, value] of [
        ["subject", request.subject],
        ["text_content", request.textContent],
        ["from_name", request.fromName],
      ] as const) {
        if (value !== undefined && value !== "") throw new ServiceError("PUBLIC_MAIL_TEXT_FORBIDDEN", { field });
      }
      return this.admitMail(caller);
    }
    if (publicProof === "session-of-user-looked-up") {
      const key = rules.userLookup(request);
      return this.requireSessionOf(caller.namespace, proof, method, async () => {
        const user = await this.deps.repo.findUser(caller.namespace, key);
        return user?.id ?? "";
      });
    }
    const userId = String(request[publicProof.sessionOfUserIn] ?? "");
    await this.requireSessionOf(caller.namespace, proof, method, async () => userId);
  }

  /**
   * The proof for a public key's call about one user: a live session of that
   * user in the caller's namespace. Every failure (no header, an unknown or
   * expired session, another user's session) is the same PermissionDenied, so
   * the answer says nothing about which users or sessions exist.
   */
  private async requireSessionOf(
    namespace: string,
    proof: string | null,
    method: string,
    userOfRequest: () => Promise<string>,
  ) {
    const refused = () => new ServiceError("SESSION_PROOF_REQUIRED", { rpc: rpcName(method) });
    if (proof === null || proof === "" || proof.length > MAX_PROOF_LENGTH) throw refused();
    const session = await this.deps.sessions.read(namespace, proof.trim()).catch((err: unknown) => {
      if (err instanceof ServiceError && (err.code === "not_found" || err.code === "invalid_argument")) {
        return undefined;
      }
      throw err;
    });
    if (session === undefined) throw refused();
    const userId = await userOfRequest();
    if (userId === "" || session.userId !== userId) throw refused();
  }

  /** Counted in the database, so every replica shares the limits. */
  private async admitSignUp(caller: Caller): Promise<void> {
    const { signUp, repo, now } = this.deps;
    if (signUp.offNamespaces.has(caller.namespace)) {
      throw new ServiceError("PUBLIC_SIGNUP_OFF", { namespace: caller.namespace });
    }
    const window = { repo, now, windowSeconds: signUp.windowSeconds };
    for (const [bucket, limit, scope] of [
      [`sign-up:key:${caller.keyId}`, signUp.perKey, "with this API key"],
      [`sign-up:namespace:${caller.namespace}`, signUp.perNamespace, "in this namespace"],
    ] as const) {
      const retryAfterSeconds = await chargeWindow(window, bucket, limit);
      if (retryAfterSeconds !== undefined) throw new ServiceError("SIGNUP_RATE_LIMITED", { scope, retryAfterSeconds });
    }
  }

  /** A public key's mail-sending calls, per key and per namespace (per address: the mail's own service). */
  private async admitMail(caller: Caller): Promise<void> {
    const { mail, repo, now } = this.deps;
    const window = { repo, now, windowSeconds: mail.windowSeconds };
    for (const [bucket, limit, scope] of [
      [`mail:key:${caller.keyId}`, mail.perKey, "sent with this API key"],
      [`mail:namespace:${caller.namespace}`, mail.perNamespace, "sent by public keys in this namespace"],
    ] as const) {
      const retryAfterSeconds = await chargeWindow(window, bucket, limit);
      if (retryAfterSeconds !== undefined) throw new ServiceError("MAIL_RATE_LIMITED", { scope, retryAfterSeconds });
    }
  }
}

/** The RPC's name as the contract spells it (Search), from the handler's local name (search). */
function rpcName(localName: string): string {
  return localName.charAt(0).toUpperCase() + localName.slice(1);
}
