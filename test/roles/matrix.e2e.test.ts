// The roles × RPCs matrix, generated from the contract's service descriptors:
// every RPC of every keyed service, called with a key of every role over every
// protocol, against the roles table of docs/api.md (which must name every
// RPC). A new RPC without a role decision (in src/service/access.ts and the
// docs/api.md) fails here.
import fs from "node:fs";
import type { DescMethod, JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { type Answer, Callers } from "./support/callers.js";
import { headersOf, PASSWORD, type RolesWorld, SERVICES, startRolesWorld } from "./support/setup.js";

type Decision = "yes" | "no" | "own" | "sign-up";
const ROLES = ["admin", "service", "public"] as const;

/** The README's roles × RPCs table: RPC name -> decision per role. */
function documentedMatrix(): Map<string, Record<(typeof ROLES)[number], Decision>> {
  const readme = fs.readFileSync(new URL("../../docs/api.md", import.meta.url), "utf8");
  const rows = [...readme.matchAll(/^\| `([A-Za-z]+)` \| (yes|no)\b[^|]*\| (yes|no)\b[^|]*\| ([^|]+)\|$/gm)];
  const decision = (cell: string): Decision => {
    const word = /^(yes|no|own|sign-up)\b/.exec(cell.trim())?.[1];
    if (!word) throw new Error(`roles table of docs/api.md: cannot read "${cell}"`);
    return word as Decision;
  };
  return new Map(
    rows.map(([, rpc, admin, service, pub]) => [
      rpc!,
      { admin: decision(admin!), service: decision(service!), public: decision(pub!) },
    ]),
  );
}

describe.each(ENGINES)("roles × RPCs over every protocol (%s)", (engine) => {
  let w: RolesWorld;
  let owner: { id: string; session: string };
  let other: { id: string; session: string };
  let changer: { id: string; session: string };
  const passwords = [PASSWORD, "another password"];
  let n = 0;
  const matrix = documentedMatrix();

  beforeAll(async () => {
    // Webhooks to a closed local port, so the endpoint CreateWebhook adds sends nothing anywhere.
    w = await startRolesWorld(engine, { WEBHOOK_ALLOW_PRIVATE: "true" });
    owner = await w.userWithSession("owner");
    other = await w.userWithSession("other");
    changer = await w.userWithSession("changer");
  });
  afterAll(() => w.close());

  /** A well-formed request for each RPC, about `owner` (a new RPC needs one here too). */
  const requests: Record<string, () => JsonObject> = {
    create: () => ({ username: `signup${++n}`, email: `signup${n}@example.com`, password: "correct horse" }),
    login: () => ({ username: "owner", password: "correct horse battery" }),
    readSession: () => ({ sessionId: owner.session }),
    logout: () => ({ sessionId: "A".repeat(43) }),
    updatePassword: () => {
      // The right old password (the proof), so an allowed call succeeds; it alternates between two.
      const [oldPassword, newPassword] = passwords as [string, string];
      passwords.reverse();
      return { userId: changer.id, oldPassword, newPassword, confirmPassword: newPassword };
    },
    read: () => ({ id: owner.id }),
    update: () => ({ id: owner.id }),
    listSessions: () => ({ userId: owner.id }),
    revokeSessions: () => ({ userId: owner.id, handles: ["00".repeat(32)] }),
    sendVerificationEmail: () => ({ email: "owner@example.com" }),
    verifyEmail: () => ({ token: "A".repeat(43) }),
    sendPasswordResetEmail: () => ({ email: "owner@example.com" }),
    resetPassword: () => ({
      email: "owner@example.com",
      code: "0000000000",
      newPassword: "a new password",
      confirmPassword: "a new password",
    }),
    sendMagicLink: () => ({ email: "owner@example.com", address: "https://app.example.com", endpoint: "/signin" }),
    verifyToken: () => ({ token: "A".repeat(43) }),
    createToken: () => ({ sessionId: owner.session }),
    delete: () => ({ id: "no-such-user" }),
    search: () => ({}),
    list: () => ({ limit: 2 }),
    // Ends the owner's sessions: the test signs the owner in again after each success.
    logoutAll: () => ({ userId: owner.id }),
    setPassword: () => ({ userId: "no-such-user", newPassword: "correct horse" }),
    disableUser: () => ({ id: "no-such-user" }),
    enableUser: () => ({ id: "no-such-user" }),
    // Second factors, about owner (whose TOTP is never on). A wrong code would be Unauthenticated, which reads as
    // a refusal here: ConfirmTotp and VerifyMfa get a malformed one (InvalidArgument, checked past the role).
    enrollTotp: () => ({ userId: owner.id }),
    confirmTotp: () => ({ userId: owner.id, code: "x" }),
    verifyMfa: () => ({ mfaTicket: "A".repeat(43), code: "x" }),
    disableTotp: () => ({ userId: owner.id, code: "000000" }),
    regenerateRecoveryCodes: () => ({ userId: owner.id, code: "000000" }),
    getMfaStatus: () => ({ userId: owner.id }),
    listEvents: () => ({ userId: owner.id }),
    listKeys: () => ({}),
    createKey: () => ({ role: "public", namespace: "alpha", label: "matrix" }),
    revokeKey: () => ({ id: "key_0000000000000000" }),
    // An address written as an IP: checked without a lookup.
    listWebhooks: () => ({}),
    createWebhook: () => ({ namespace: "alpha", url: "http://127.0.0.1:1/hooks", events: ["user.created"] }),
    deleteWebhook: () => ({ id: "wh_0000000000000000" }),
    // Passkeys
    beginPasskeyRegistration: () => ({ userId: owner.id }),
    finishPasskeyRegistration: () => ({ userId: owner.id, responseJson: "{}" }),
    beginPasskeyLogin: () => ({}),
    finishPasskeyLogin: () => ({ handle: "A".repeat(43), responseJson: "{}" }),
    listPasskeys: () => ({ userId: owner.id }),
    removePasskey: () => ({ userId: owner.id, passkeyId: `pk_${"0".repeat(24)}` }),
    beginPasskeyMfa: () => ({ mfaTicket: "A".repeat(43) }),
  };

  const expectDenied = (answer: Answer, what: string) => {
    expect({ what, code: answer.code }).toEqual({ what, code: "permission_denied" });
    if (answer.http)
      expect({ what, http: answer.http.status, word: answer.http.statusWord }).toEqual({
        what,
        http: 403,
        word: "Forbidden",
      });
  };
  const expectAllowed = (answer: Answer, what: string) => {
    expect({
      what,
      denied:
        ["permission_denied", "unauthenticated", "internal"].includes(answer.code) || answer.code.startsWith("http_"),
    }).toEqual({
      what,
      denied: false,
    });
  };

  const signIn = async (username: string) =>
    ((await w.admin("login", { username, password: PASSWORD }, "alpha")).session as JsonObject).id as string;

  const cases = SERVICES.flatMap((service) => service.methods.map((method) => [service, method] as const));

  test.each(cases.map(([s, m]) => [`${s.typeName}/${m.name}`, s, m] as const))(
    "%s: each role as the table says, over every protocol",
    async (_name, service, method: DescMethod) => {
      const row = matrix.get(method.name);
      if (!row)
        throw new Error(`roles table of docs/api.md has no row for ${method.name}: decide which roles may call it`);
      const request = requests[method.localName];
      if (!request) throw new Error(`no request for ${method.name} in this test`);
      for (const protocol of Callers.protocolsFor(service)) {
        for (const role of ROLES) {
          const decision = row[role];
          const key = w.keys[role];
          const what = `${role} ${protocol} ${method.name}`;
          const proof = decision === "own" ? owner.session : undefined;
          const answer = await w.callers.call(protocol, service, method, request(), headersOf(key, "alpha", proof));
          if (decision === "no") expectDenied(answer, what);
          else expectAllowed(answer, what);
          if (method.localName === "logoutAll" && answer.code === "ok") owner.session = await signIn("owner");
          if (role !== "public") continue;
          // A public key never reaches another namespace, whatever it sends.
          for (const namespace of ["beta", "default"]) {
            expectDenied(
              await w.callers.call(protocol, service, method, request(), headersOf(key, namespace, owner.session)),
              `${what} in ${namespace}`,
            );
          }
          if (decision !== "own") continue;
          // The proof must be a live session of the very user the request names.
          for (const [label, bad] of [
            ["no proof", undefined],
            ["another user's session", other.session],
            ["an unknown session", "B".repeat(43)],
            ["a malformed session", "not a session id"],
          ] as const) {
            expectDenied(
              await w.callers.call(protocol, service, method, request(), headersOf(key, "alpha", bad)),
              `${what} with ${label}`,
            );
          }
        }
      }
    },
  );

  test("every row of docs/api.md's table is an RPC of the contract", () => {
    const names = new Set(SERVICES.flatMap((s) => s.methods.map((m) => m.name)));
    expect([...matrix.keys()].filter((rpc) => !names.has(rpc))).toEqual([]);
    expect(matrix.size).toBe(names.size);
  });
});
