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
import type { KeyRole, Repository } from "../storage/repository.js";
import { ServiceError } from "./errors.js";
import type { Caller } from "./model.js";
import type { SessionsService } from "./sessions.js";

/** What a public key must show to make a call its role allows. */
export type PublicProof =
  /** Sign-up: allowed unless off for the namespace; rate limited per key and per namespace. */
  | "sign-up"
  /** The request itself is the proof: a session id, or the password (throttled like Login). */
  | "in-request"
  /** A live session of the user the request names (in this field), sent as the `x-session-id` header. */
  | { sessionOfUserIn: "id" | "userId" };

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
  read: { roles: ANYONE, publicProof: { sessionOfUserIn: "id" } },
  update: { roles: ANYONE, publicProof: { sessionOfUserIn: "id" } },
  listSessions: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  revokeSessions: { roles: ANYONE, publicProof: { sessionOfUserIn: "userId" } },
  // The token in the mail is the proof; the answer is the same for any email.
  sendVerificationEmail: { roles: ANYONE, publicProof: "in-request" },
  verifyEmail: { roles: ANYONE, publicProof: "in-request" },
  delete: { roles: TRUSTED },
  search: { roles: TRUSTED },
};

export const KEYS_ACCESS: Record<keyof typeof KeysRpc.method, MethodAccess> = {
  listKeys: { roles: ADMIN },
  createKey: { roles: ADMIN },
  revokeKey: { roles: ADMIN },
};

/** Every service's table, by the service's full protobuf name. */
export const ACCESS: ReadonlyMap<string, Readonly<Record<string, MethodAccess>>> = new Map<
  string,
  Record<string, MethodAccess>
>([
  ["users.v1.Users", USERS_ACCESS],
  ["users.v1.KeysService", KEYS_ACCESS],
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

export interface AccessDeps {
  repo: Repository;
  sessions: SessionsService;
  signUp: SignUpLimits;
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
      throw new ServiceError("ROLE_FORBIDDEN", { role: caller.role, rpc: method });
    }
    if (caller.role !== "public") return;
    const publicProof = rule.publicProof;
    if (publicProof === undefined) {
      throw new ServiceError("ROLE_FORBIDDEN", { role: caller.role, rpc: method });
    }
    if (publicProof === "in-request") return;
    if (publicProof === "sign-up") return this.admitSignUp(caller);
    await this.requireSessionOf(caller.namespace, String(request[publicProof.sessionOfUserIn] ?? ""), proof, method);
  }

  /**
   * The proof for a public key's call about one user: a live session of that
   * user in the caller's namespace. Every failure (no header, an unknown or
   * expired session, another user's session) is the same PermissionDenied, so
   * the answer says nothing about which users or sessions exist.
   */
  private async requireSessionOf(namespace: string, userId: string, proof: string | null, method: string) {
    const refused = () => new ServiceError("SESSION_PROOF_REQUIRED", { rpc: method });
    if (proof === null || proof === "" || proof.length > MAX_PROOF_LENGTH || userId === "") throw refused();
    const session = await this.deps.sessions.read(namespace, proof.trim()).catch((err: unknown) => {
      if (err instanceof ServiceError && (err.code === "not_found" || err.code === "invalid_argument")) {
        return undefined;
      }
      throw err;
    });
    if (session?.userId !== userId) throw refused();
  }

  /** Counted in the database, so every replica shares the limits. */
  private async admitSignUp(caller: Caller): Promise<void> {
    const { signUp, repo, now } = this.deps;
    if (signUp.offNamespaces.has(caller.namespace)) {
      throw new ServiceError("PUBLIC_SIGNUP_OFF", { namespace: caller.namespace });
    }
    const windowMs = signUp.windowSeconds * 1000;
    const at = now();
    const windowStart = at - (at % windowMs);
    const exhausted = (what: string) => {
      const seconds = Math.max(1, Math.ceil((windowStart + windowMs - at) / 1000));
      return new ServiceError("SIGNUP_RATE_LIMITED", { scope: what, retryAfterSeconds: seconds });
    };
    if (!(await repo.chargeRateLimit(`sign-up:key:${caller.keyId}`, windowStart, signUp.perKey))) {
      throw exhausted("with this API key");
    }
    if (!(await repo.chargeRateLimit(`sign-up:namespace:${caller.namespace}`, windowStart, signUp.perNamespace))) {
      throw exhausted("in this namespace");
    }
  }
}
