// A property of public keys: whatever sequence of calls a public key of
// namespace "alpha" makes, over whatever protocol, holding the sessions of
// some users, it never reads or changes a user whose session it does not
// hold, never reaches namespace "beta", and every refusal is
// PermissionDenied (never NotFound or Internal, which would tell what exists).
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { PROTOCOLS } from "./support/callers.js";
import { headersOf, PASSWORD, type RolesWorld, startRolesWorld } from "./support/setup.js";

const USERS = 4;
// readByUsername is Read naming the user by username: the proof must hold for the user found.
const METHODS = [
  "read",
  "readByUsername",
  "update",
  "listSessions",
  "revokeSessions",
  "listPasskeys",
  "delete",
  "search",
  "enrollTotp",
  "getMfaStatus",
] as const;
const rpcOf = (method: (typeof METHODS)[number]) => (method === "readByUsername" ? "read" : method);

describe.each(ENGINES)("a public key of one namespace (%s)", (engine) => {
  let w: RolesWorld;
  let alpha: Array<{ id: string; session: string }>;
  let beta: { id: string; session: string };
  let counter = 0;

  beforeAll(async () => {
    w = await startRolesWorld(engine);
    alpha = [];
    for (let i = 0; i < USERS; i++) alpha.push(await w.userWithSession(`person${i}`));
    beta = await w.userWithSession("stranger", "beta");
  });
  afterAll(() => w.close());

  const call = fc.record({
    method: fc.constantFrom(...METHODS),
    /** Whose account the request names: a user of alpha, or the user of beta. */
    target: fc.integer({ min: 0, max: USERS }),
    /** Which held session goes in x-session-id (by position), or none. */
    proof: fc.option(fc.nat(), { nil: undefined }),
    namespace: fc.constantFrom(undefined, "alpha", "beta"),
    protocol: fc.constantFrom(...PROTOCOLS),
  });

  test("never reads or changes a user whose session it does not hold, never reaches another namespace", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.subarray([...Array(USERS).keys()]),
        fc.array(call, { minLength: 1, maxLength: 8 }),
        async (held, calls) => {
          await reviveSessions();
          const dead = new Set<number>();
          const before = await snapshot();
          for (const c of calls) {
            const target = c.target === USERS ? beta : alpha[c.target]!;
            const proof =
              c.proof === undefined || held.length === 0 ? undefined : alpha[held[c.proof % held.length]!]!.session;
            const username = c.target === USERS ? "stranger" : `person${c.target}`;
            const request = requestFor(c.method, target.id, username);
            const answer = await w.callers.call(
              c.protocol,
              Users,
              Users.method[rpcOf(c.method)],
              request,
              headersOf(w.keys.public, c.namespace, proof),
            );
            const provesTarget =
              proof !== undefined && proof === target.session && c.target !== USERS && !dead.has(c.target);
            const allowed = c.namespace !== "beta" && provesTarget && c.method !== "delete" && c.method !== "search";
            const what = JSON.stringify({ ...c, held });
            if (allowed) expect({ what, code: answer.code }).toEqual({ what, code: "ok" });
            else expect({ what, code: answer.code }).toEqual({ what, code: "permission_denied" });
            // Revoking every session of its own user ends the proof session too.
            if (answer.code === "ok" && c.method === "revokeSessions") dead.add(c.target);
            if (answer.code === "ok" && rpcOf(c.method) === "read")
              expect((answer.json!.user as JsonObject).id).toBe(target.id);
          }
          // Users whose session it did not hold, and the other namespace, are as they were.
          const after = await snapshot();
          for (let i = 0; i < USERS; i++) if (!held.includes(i)) expect(after.alpha[i]).toEqual(before.alpha[i]);
          expect(after.beta).toEqual(before.beta);
        },
      ),
      { numRuns: 25 },
    );
    // 25 runs of up to 8 calls over real sockets, each run signing users in again.
  }, 180_000);

  function requestFor(method: (typeof METHODS)[number], id: string, username: string): JsonObject {
    switch (method) {
      case "readByUsername":
        return { username };
      case "read":
      case "delete":
        return { id };
      case "update":
        return { id, email: `changed${++counter}@example.com` };
      case "listSessions":
      case "enrollTotp":
      case "getMfaStatus":
      case "listPasskeys":
        return { userId: id };
      case "revokeSessions":
        // Every session: a wrongful success would end the victim's session.
        return { userId: id };
      case "search":
        return { email: "person" };
    }
  }

  /** Signs in again each user of alpha whose session a previous run revoked. */
  async function reviveSessions() {
    for (const [i, user] of alpha.entries()) {
      const answer = await w.callers.call(
        "connect-json",
        Users,
        Users.method.readSession,
        { sessionId: user.session },
        headersOf(w.keys.admin, "alpha"),
      );
      if (answer.code === "ok") continue;
      const login = await w.admin("login", { username: `person${i}`, password: PASSWORD });
      user.session = (login.session as JsonObject).id as string;
    }
  }

  /** Each user's account and whether its session is alive, as the admin key sees them. */
  async function snapshot() {
    const state = async (user: { id: string; session: string }, namespace: string) => {
      const read = await w.admin("read", { id: user.id }, namespace);
      const session = await w.callers.call(
        "connect-json",
        Users,
        Users.method.readSession,
        { sessionId: user.session },
        headersOf(w.keys.admin, namespace),
      );
      // A second factor enrolled for a user whose session it did not hold would show here.
      const mfa = await w.admin("getMfaStatus", { userId: user.id }, namespace);
      return { user: read.user, session: session.code, mfa };
    };
    return {
      alpha: await Promise.all(alpha.map((u) => state(u, "alpha"))),
      beta: await state(beta, "beta"),
    };
  }
});
