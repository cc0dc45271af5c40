// Tenant isolation as a property: random sequences of operations by two
// tenants, each with its own namespace-scoped API key, over random protocols,
// on the same small set of ids, usernames, emails and passwords (so the two
// constantly use the same names), with sessions of either tenant offered to
// both. Every answer must be what the caller's own namespace alone explains:
// one tenant never sees, changes, signs into, collides with, or ends anything
// of the other's; a key used for the other namespace is PermissionDenied.
// After each sequence both namespaces hold exactly what their own calls made.

import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import fc from "fast-check";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { type Method, type RpcAnswer, rpc } from "./support/rpc.js";
import { PROTOCOLS, type Protocol, Wire } from "./support/wire.js";

const RUNS = 60;
const IDS = ["u1", "u2", "u3"];
const NAMES = ["ann", "bob", "cat"];
const EMAILS = NAMES.map((n) => `${n}@example.com`);
const PASSWORDS = ["password-1", "password-2", "password-3"];

type Tenant = 0 | 1;
type Op = { tenant: Tenant; protocol: Protocol } & (
  | { kind: "create"; id: string | null; username: string; email: string; password: string }
  | { kind: "read" | "delete" | "listSessions" | "revokeSessions"; id: string }
  | { kind: "update"; id: string; username: string; email: string }
  | { kind: "search"; prefix: string }
  | { kind: "login"; byEmail: boolean; who: number; password: string }
  | { kind: "readSession" | "logout"; session: number }
  | { kind: "updatePassword"; id: string; oldPassword: string; newPassword: string }
  | { kind: "otherNamespace"; method: Method }
);

const pick = <T>(values: T[]) => fc.constantFrom(...values);
const OP: fc.Arbitrary<Op> = fc
  .tuple(
    pick<Tenant>([0, 1]),
    pick(PROTOCOLS),
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant("create" as const),
          id: fc.option(pick(IDS), { freq: 3 }),
          username: pick(NAMES),
          email: pick(EMAILS),
          password: pick(PASSWORDS),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          kind: pick(["read", "delete", "listSessions", "revokeSessions"] as const),
          id: pick(IDS),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant("update" as const),
          id: pick(IDS),
          username: pick(["", ...NAMES]),
          email: pick(["", ...EMAILS]),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant("search" as const), prefix: pick(["", "a", "b", "c", "an", "z"]) }),
      },
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant("login" as const),
          byEmail: fc.boolean(),
          who: fc.nat(2),
          password: pick(PASSWORDS),
        }),
      },
      { weight: 3, arbitrary: fc.record({ kind: pick(["readSession", "logout"] as const), session: fc.nat(50) }) },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant("updatePassword" as const),
          id: pick(IDS),
          oldPassword: pick(PASSWORDS),
          newPassword: pick(PASSWORDS),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record({
          kind: fc.constant("otherNamespace" as const),
          method: pick<Method>(["read", "search", "create", "login", "readSession", "delete"]),
        }),
      },
    ),
  )
  .map(([tenant, protocol, op]) => ({ tenant, protocol, ...op }) as Op);

interface User {
  id: string;
  username: string;
  email: string;
  password: string;
}
interface Session {
  id: string;
  tenant: Tenant;
  userId: string;
  alive: boolean;
}

describe.each(ENGINES)("tenant isolation, property-based (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let run = 0;
  let opsRun = 0;
  /** How often the interesting cases came up, so a passing run is known not to be vacuous. */
  const seen = { sameUsernameInBoth: 0, loginsOk: 0, otherTenantSessionOffered: 0, otherNamespaceRefused: 0 };

  beforeAll(async () => {
    // Throttling is per namespace and account too, but out of the way here.
    t = await startTestServer({ engine, env: { LOGIN_MAX_FAILURES: "1000" } });
    wire = new Wire(t.url);
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  test(`${RUNS} random sequences of operations by two tenants never cross the namespace line`, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(OP, { minLength: 10, maxLength: 40 }), async (ops) => {
        run++;
        const namespaces = [`tenant-${run}-a`, `tenant-${run}-b`] as const;
        const keys = [(await t.server.keys.create(namespaces[0])).key, (await t.server.keys.create(namespaces[1])).key];
        const users: [Map<string, User>, Map<string, User>] = [new Map(), new Map()];
        const sessions: Session[] = [];
        const as = (tenant: Tenant, namespace = namespaces[tenant]) => ({
          authorization: `Bearer ${keys[tenant]}`,
          "micro-namespace": namespace,
        });
        const call = (op: Op, method: Method, request: JsonObject): Promise<RpcAnswer> =>
          rpc(wire, op.protocol, method, request, as(op.tenant));
        const expectCode = (op: Op, answer: RpcAnswer, code: string) =>
          expect({ op, code: answer.code, message: answer.message }).toMatchObject({ op, code });

        for (const op of ops) {
          opsRun++;
          const mine = users[op.tenant];
          const byName = (name: string) => [...mine.values()].find((u) => u.username === name);
          const byEmail = (email: string) => [...mine.values()].find((u) => u.email === email);
          const end = (userId: string) => {
            for (const s of sessions) if (s.tenant === op.tenant && s.userId === userId) s.alive = false;
          };
          switch (op.kind) {
            case "create": {
              const answer = await call(op, "create", {
                ...(op.id ? { id: op.id } : {}),
                username: op.username,
                email: op.email,
                password: op.password,
              });
              const clashes = [
                op.id && mine.has(op.id) ? "id" : "",
                byName(op.username) ? "username" : "",
                byEmail(op.email) ? "email" : "",
              ].filter(Boolean);
              if (clashes.length > 0) {
                expectCode(op, answer, "already_exists");
                expect(clashes).toContain(answer.message.split(":")[0]);
              } else {
                expectCode(op, answer, "ok");
                const id = (answer.json!.user as { id: string }).id;
                mine.set(id, { id, username: op.username, email: op.email, password: op.password });
                if ([...users[(1 - op.tenant) as Tenant].values()].some((u) => u.username === op.username))
                  seen.sameUsernameInBoth++;
              }
              break;
            }
            case "read": {
              const answer = await call(op, "read", { id: op.id });
              const user = mine.get(op.id);
              expectCode(op, answer, user ? "ok" : "not_found");
              if (user)
                expect(answer.json!.user).toMatchObject({ id: user.id, username: user.username, email: user.email });
              break;
            }
            case "update": {
              const answer = await call(op, "update", { id: op.id, username: op.username, email: op.email });
              const user = mine.get(op.id);
              const clash =
                (op.username && byName(op.username)?.id !== undefined && byName(op.username)!.id !== op.id) ||
                (op.email && byEmail(op.email)?.id !== undefined && byEmail(op.email)!.id !== op.id);
              if (!user) expectCode(op, answer, "not_found");
              else if (clash) expectCode(op, answer, "already_exists");
              else {
                expectCode(op, answer, "ok");
                if (op.username) user.username = op.username;
                if (op.email) user.email = op.email;
              }
              break;
            }
            case "delete": {
              const answer = await call(op, "delete", { id: op.id });
              expectCode(op, answer, mine.has(op.id) ? "ok" : "not_found");
              if (mine.delete(op.id)) end(op.id);
              break;
            }
            case "search": {
              const answer = await call(op, "search", { username: op.prefix, limit: "1000" });
              expectCode(op, answer, "ok");
              const found = ((answer.json!.users as Array<{ id: string }> | undefined) ?? []).map((u) => u.id).sort();
              expect(found).toEqual(
                [...mine.values()]
                  .filter((u) => u.username.startsWith(op.prefix))
                  .map((u) => u.id)
                  .sort(),
              );
              break;
            }
            case "login": {
              const name = op.byEmail ? EMAILS[op.who]! : NAMES[op.who]!;
              const answer = await call(
                op,
                "login",
                op.byEmail ? { email: name, password: op.password } : { username: name, password: op.password },
              );
              const user = op.byEmail ? byEmail(name) : byName(name);
              if (user && user.password === op.password) {
                expectCode(op, answer, "ok");
                const session = answer.json!.session as { id: string; userId: string };
                expect(session.userId).toBe(user.id);
                sessions.push({ id: session.id, tenant: op.tenant, userId: user.id, alive: true });
                seen.loginsOk++;
              } else expectCode(op, answer, "unauthenticated");
              break;
            }
            case "readSession":
            case "logout": {
              // Any session of either tenant (or none yet).
              const session = sessions.length > 0 ? sessions[op.session % sessions.length] : undefined;
              const answer = await call(op, op.kind, { sessionId: session?.id ?? "no-such-session" });
              const own = session !== undefined && session.tenant === op.tenant && session.alive;
              if (session && session.tenant !== op.tenant) seen.otherTenantSessionOffered++;
              if (op.kind === "logout") {
                expectCode(op, answer, "ok");
                if (own) session.alive = false;
              } else {
                expectCode(op, answer, own ? "ok" : "not_found");
                if (own) expect((answer.json!.session as { userId: string }).userId).toBe(session.userId);
              }
              break;
            }
            case "updatePassword": {
              const answer = await call(op, "updatePassword", {
                userId: op.id,
                oldPassword: op.oldPassword,
                newPassword: op.newPassword,
                confirmPassword: op.newPassword,
              });
              const user = mine.get(op.id);
              if (!user) expectCode(op, answer, "not_found");
              else if (user.password !== op.oldPassword) expectCode(op, answer, "unauthenticated");
              else {
                expectCode(op, answer, "ok");
                user.password = op.newPassword;
                end(op.id);
              }
              break;
            }
            case "listSessions":
            case "revokeSessions": {
              const answer = await call(op, op.kind, { userId: op.id });
              if (!mine.has(op.id)) {
                expectCode(op, answer, "not_found");
                break;
              }
              expectCode(op, answer, "ok");
              const live = sessions.filter((s) => s.tenant === op.tenant && s.userId === op.id && s.alive).length;
              if (op.kind === "listSessions")
                expect(((answer.json!.sessions as unknown[] | undefined) ?? []).length).toBe(live);
              else {
                expect(Number(answer.json!.revoked ?? 0)).toBe(live);
                end(op.id);
              }
              break;
            }
            case "otherNamespace": {
              // This tenant's key, the other tenant's namespace: refused whatever the call.
              const other = namespaces[1 - op.tenant]!;
              const answer = await rpc(
                wire,
                op.protocol,
                op.method,
                {
                  id: "u1",
                  username: "ann",
                  email: "ann@example.com",
                  password: "password-1",
                  sessionId: "x",
                } as JsonObject,
                as(op.tenant, other),
              );
              expect([answer.code, answer.message]).toEqual([
                "permission_denied",
                `this API key may only be used for namespace "${namespaces[op.tenant]}"`,
              ]);
              seen.otherNamespaceRefused++;
              break;
            }
          }
        }

        // Each namespace holds exactly its own users, and each live session reads back only at home.
        for (const tenant of [0, 1] as Tenant[]) {
          const all = await rpc(wire, "connect-json", "search", { limit: "1000" }, as(tenant));
          const found = (
            (all.json!.users as Array<{ id: string; username: string; email: string }> | undefined) ?? []
          ).map((u) => ({ id: u.id, username: u.username, email: u.email }));
          const expected = [...users[tenant].values()].map((u) => ({ id: u.id, username: u.username, email: u.email }));
          expect(found.sort((x, y) => (x.id < y.id ? -1 : 1))).toEqual(expected.sort((x, y) => (x.id < y.id ? -1 : 1)));
        }
        for (const s of sessions) {
          const home = await rpc(wire, "connect-json", "readSession", { sessionId: s.id }, as(s.tenant));
          const away = await rpc(
            wire,
            "connect-json",
            "readSession",
            { sessionId: s.id },
            as((1 - s.tenant) as Tenant),
          );
          expect({ session: s, home: home.code, away: away.code }).toEqual({
            session: s,
            home: s.alive ? "ok" : "not_found",
            away: "not_found",
          });
        }
      }),
      { numRuns: RUNS },
    );
    console.log(
      `tenant isolation (${engine}): ${run} sequences, ${opsRun} operations by two namespace-scoped keys, no crossing ` +
        `(a username taken in both namespaces ${seen.sameUsernameInBoth} times, ${seen.loginsOk} successful logins, ` +
        `the other tenant's session offered ${seen.otherTenantSessionOffered} times, the other namespace refused ${seen.otherNamespaceRefused} times)`,
    );
    expect(Object.values(seen).every((n) => n > 0)).toBe(true);
  }, 120_000);
});
