// What every RPC of users.v1.Users must do, as seen through the generated
// Connect client: one body of tests that the end-to-end suites run over each
// transport they test (gRPC-Web, Connect JSON/binary over HTTP/1.1 and HTTP/2).
// Each error is checked by its Connect code and message.

import { type Client, Code, createClient, type Transport } from "@connectrpc/connect";
import { beforeAll, describe, expect, test } from "@jest/globals";
import { type User, Users } from "../../gen/users/v1/users_pb.js";
import { TestClock } from "./clock.js";
import type { Engine } from "./databases.js";
import { failure } from "./errors.js";
import { startTestServer, type TestServer } from "./server.js";

export const SUITE_TTL = 3600;
/** Small enough that an oversized request fits in HTTP/2's first flow-control window. */
export const SUITE_MAX_BODY = 4096;

export interface SuiteServer {
  t: TestServer;
  clock: TestClock;
}

/** A server for the suite: a test clock, a one-hour session, throttling after 3 failures. */
export async function startSuiteServer(engine: Engine): Promise<SuiteServer> {
  const clock = new TestClock();
  const t = await startTestServer({
    engine,
    now: clock.now,
    env: { SESSION_TTL_SECONDS: String(SUITE_TTL), LOGIN_MAX_FAILURES: "3", MAX_BODY_BYTES: String(SUITE_MAX_BODY) },
  });
  return { t, clock };
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Registers the tests; `context` is read when they run (after the caller's beforeAll). */
export function usersApiSuite(context: () => SuiteServer & { transport: Transport }): void {
  let client: Client<typeof Users>;
  let s: SuiteServer;
  let admin: { headers: Record<string, string> };
  let n = 0;
  const as = (headers: Record<string, string>) => ({ headers });
  const create = async (over: Partial<{ id: string; username: string; email: string; password: string }> = {}) => {
    n++;
    const input = { username: `api${n}`, email: `api${n}@example.com`, password: "password1", ...over };
    return (await client.create(input, admin)).user!;
  };
  const login = async (username: string, password = "password1") =>
    (await client.login({ username, password }, admin)).session!;

  beforeAll(() => {
    const c = context();
    s = c;
    client = createClient(Users, c.transport);
    admin = as({ authorization: `Bearer ${c.t.adminKey}` });
  });

  describe("Create", () => {
    test("returns the user, normalised, stamped with the server's clock", async () => {
      const { user } = await client.create(
        {
          id: "ff3c06de-9e43-41c7-9bab-578f6b4ad32b",
          username: "Asim",
          email: " Asim@Example.COM ",
          password: "password1",
        },
        admin,
      );
      expect(user).toMatchObject({
        id: "ff3c06de-9e43-41c7-9bab-578f6b4ad32b",
        username: "asim",
        email: "asim@example.com",
        created: BigInt(s.clock.seconds()),
        updated: BigInt(s.clock.seconds()),
      });
    });

    test("without an id, a UUIDv7 is generated", async () => {
      expect((await create()).id).toMatch(UUID_V7);
    });

    test.each([
      ["id", { id: "has/slash" }],
      ["username", { username: "a--b" }],
      ["username", { username: "\u212Aelvin" }],
      ["email", { email: "two@@example.com" }],
      ["password", { password: "seven77" }],
      ["password", { password: `${"😀".repeat(18)}!` }],
      ["password", { password: "nul\u0000password" }],
    ])("a bad %s is InvalidArgument naming it", async (field, over) => {
      n++;
      const err = await failure(
        client.create({ username: `bad${n}`, email: `bad${n}@example.com`, password: "password1", ...over }, admin),
      );
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(new RegExp(`^${field}: `));
    });

    test.each(["id", "username", "email"] as const)("a taken %s is AlreadyExists naming it", async (field) => {
      const taken = await create({ id: `taken-${field}-${n}` });
      n++;
      const value = field === "id" ? taken.id : taken[field].toUpperCase();
      const err = await failure(
        client.create(
          { username: `free${n}`, email: `free${n}@example.com`, password: "password1", [field]: value },
          admin,
        ),
      );
      expect([err.code, err.rawMessage]).toEqual([Code.AlreadyExists, `${field}: already taken in this namespace`]);
    });
  });

  describe("Read, Update, Delete", () => {
    test("Read returns the user; unknown is NotFound", async () => {
      const user = await create();
      expect((await client.read({ id: user.id }, admin)).user).toEqual(user);
      const err = await failure(client.read({ id: "nobody" }, admin));
      expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "user not found"]);
    });

    test("Update is partial; updated moves, created stays", async () => {
      const user = await create();
      s.clock.advance(42);
      const after = (await client.update({ id: user.id, username: `${user.username}-x` }, admin)).user!;
      expect(after).toMatchObject({
        username: `${user.username}-x`,
        email: user.email,
        created: user.created,
        updated: user.updated + 42n,
      });
    });

    test("Update errors: NotFound, AlreadyExists (not for itself), InvalidArgument", async () => {
      const a = await create();
      const b = await create();
      expect((await failure(client.update({ id: "nobody", email: "x@y.zz" }, admin))).code).toBe(Code.NotFound);
      const clash = await failure(client.update({ id: b.id, email: a.email }, admin));
      expect([clash.code, clash.rawMessage]).toEqual([Code.AlreadyExists, "email: already taken in this namespace"]);
      expect((await client.update({ id: b.id, email: b.email.toUpperCase() }, admin)).user!.email).toBe(b.email);
      expect((await failure(client.update({ id: b.id, username: "_x" }, admin))).code).toBe(Code.InvalidArgument);
    });

    test("Delete removes the user and its sessions; then NotFound", async () => {
      const user = await create();
      const session = await login(user.username);
      await client.delete({ id: user.id }, admin);
      expect((await failure(client.read({ id: user.id }, admin))).code).toBe(Code.NotFound);
      expect((await failure(client.readSession({ sessionId: session.id }, admin))).code).toBe(Code.NotFound);
      expect((await failure(client.delete({ id: user.id }, admin))).code).toBe(Code.NotFound);
    });
  });

  describe("Search", () => {
    let inSearch: { headers: Record<string, string> };
    const names = (users: User[]) => users.map((u) => u.username);

    beforeAll(async () => {
      inSearch = as({ ...admin.headers, "micro-namespace": "search" });
      for (const [username, email] of [
        ["carla", "carla@one.example"],
        ["carl", "carl@two.example"],
        ["dora", "dora@one.example"],
      ] as const) {
        await client.create({ username, email, password: "password1" }, inSearch);
        s.clock.advance(1);
      }
    });

    test("prefixes (case-insensitive), both, neither, oldest first, limit and offset", async () => {
      const search = async (q: object) => names((await client.search(q, inSearch)).users);
      expect(await search({ username: "CARL" })).toEqual(["carla", "carl"]);
      expect(await search({ email: "DORA@" })).toEqual(["dora"]);
      expect(await search({ username: "car", email: "carl@" })).toEqual(["carl"]);
      expect(await search({})).toEqual(["carla", "carl", "dora"]);
      expect(await search({ limit: 2n, offset: 1n })).toEqual(["carl", "dora"]);
    });

    test.each([
      [{ limit: 1001n }, "limit: must be from 0 to 1000"],
      [{ limit: -1n }, "limit: must be from 0 to 1000"],
      [{ offset: -1n }, "offset: must be from 0"],
    ])("%p is InvalidArgument", async (q, message) => {
      const err = await failure(client.search(q, admin));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toContain(message);
    });
  });

  describe("Login and sessions", () => {
    test("Login by username or email, case-insensitively, gives a 256-bit session for SESSION_TTL_SECONDS", async () => {
      const user = await create();
      for (const by of [{ username: user.username.toUpperCase() }, { email: ` ${user.email.toUpperCase()}` }]) {
        const { session } = await client.login({ ...by, password: "password1" }, admin);
        expect(session).toMatchObject({
          id: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
          userId: user.id,
          username: user.username,
          email: user.email,
          created: BigInt(s.clock.seconds()),
          expires: BigInt(s.clock.seconds() + SUITE_TTL),
        });
      }
    });

    test("unknown user and wrong password: the same Unauthenticated", async () => {
      const user = await create();
      const wrong = await failure(client.login({ username: user.username, password: "not-the-one" }, admin));
      const unknown = await failure(client.login({ email: "nobody@example.com", password: "not-the-one" }, admin));
      expect([wrong.code, wrong.rawMessage]).toEqual([Code.Unauthenticated, "invalid credentials"]);
      expect([unknown.code, unknown.rawMessage]).toEqual([wrong.code, wrong.rawMessage]);
    });

    test("throttled after repeated failures: ResourceExhausted with retry-after", async () => {
      const user = await create();
      for (let i = 0; i < 3; i++)
        await failure(client.login({ username: user.username, password: "not-the-one" }, admin));
      const err = await failure(client.login({ username: user.username, password: "password1" }, admin));
      expect(err.code).toBe(Code.ResourceExhausted);
      expect(err.metadata.get("retry-after")).toBe("1");
    });

    test("ReadSession until expiry, then NotFound; Logout is idempotent", async () => {
      const user = await create();
      const session = await login(user.username);
      expect((await client.readSession({ sessionId: session.id }, admin)).session).toEqual(session);
      s.clock.advance(SUITE_TTL);
      expect((await failure(client.readSession({ sessionId: session.id }, admin))).code).toBe(Code.NotFound);

      const other = await login(user.username);
      await client.logout({ sessionId: other.id }, admin);
      await client.logout({ sessionId: other.id }, admin);
      const err = await failure(client.readSession({ sessionId: other.id }, admin));
      expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "session not found"]);
    });

    test("ListSessions and RevokeSessions", async () => {
      const user = await create();
      const older = await login(user.username);
      s.clock.advance(1);
      const newer = await login(user.username);
      const { sessions } = await client.listSessions({ userId: user.id }, admin);
      expect(sessions.map((x) => x.created)).toEqual([newer.created, older.created]);
      expect((await client.revokeSessions({ userId: user.id, handles: [sessions[1]!.handle] }, admin)).revoked).toBe(
        1n,
      );
      expect((await failure(client.readSession({ sessionId: older.id }, admin))).code).toBe(Code.NotFound);
      expect((await client.revokeSessions({ userId: user.id }, admin)).revoked).toBe(1n);
      expect((await failure(client.readSession({ sessionId: newer.id }, admin))).code).toBe(Code.NotFound);
      expect((await failure(client.listSessions({ userId: "nobody" }, admin))).code).toBe(Code.NotFound);
      expect((await failure(client.revokeSessions({ userId: user.id, handles: ["x"] }, admin))).code).toBe(
        Code.InvalidArgument,
      );
    });
  });

  describe("UpdatePassword", () => {
    test("revokes every session; the old password stops working", async () => {
      const user = await create();
      const sessions = [await login(user.username), await login(user.username)];
      await client.updatePassword(
        { userId: user.id, oldPassword: "password1", newPassword: "password2", confirmPassword: "password2" },
        admin,
      );
      for (const x of sessions)
        expect((await failure(client.readSession({ sessionId: x.id }, admin))).code).toBe(Code.NotFound);
      expect((await failure(client.login({ username: user.username, password: "password1" }, admin))).code).toBe(
        Code.Unauthenticated,
      );
      expect((await login(user.username, "password2")).userId).toBe(user.id);
    });

    test("errors: InvalidArgument (confirmation, policy), Unauthenticated (old), NotFound", async () => {
      const user = await create();
      const ok = { userId: user.id, oldPassword: "password1", newPassword: "password2", confirmPassword: "password2" };
      const mismatch = await failure(client.updatePassword({ ...ok, confirmPassword: "password3" }, admin));
      expect([mismatch.code, mismatch.rawMessage]).toEqual([
        Code.InvalidArgument,
        "confirm_password: must equal new_password",
      ]);
      const policy = await failure(
        client.updatePassword({ ...ok, newPassword: "short", confirmPassword: "short" }, admin),
      );
      expect([policy.code, policy.rawMessage]).toEqual([
        Code.InvalidArgument,
        "new_password: must be at least 8 characters",
      ]);
      const old = await failure(client.updatePassword({ ...ok, oldPassword: "not-the-one" }, admin));
      expect([old.code, old.rawMessage]).toEqual([
        Code.Unauthenticated,
        "old_password: does not match the current password",
      ]);
      expect((await failure(client.updatePassword({ ...ok, userId: "nobody" }, admin))).code).toBe(Code.NotFound);
    });
  });

  describe("keys, namespaces, limits", () => {
    test("no key or an unknown key is Unauthenticated", async () => {
      const none = await failure(client.read({ id: "x" }));
      expect([none.code, none.rawMessage]).toEqual([
        Code.Unauthenticated,
        "a valid API key is required: authorization: Bearer <key>",
      ]);
      expect((await failure(client.read({ id: "x" }, as({ authorization: "Bearer usk_nope" })))).code).toBe(
        Code.Unauthenticated,
      );
    });

    test("a scoped key for another namespace is PermissionDenied; a malformed namespace is InvalidArgument", async () => {
      const { key } = await s.t.server.keys.create("acme");
      const denied = await failure(
        client.read({ id: "x" }, as({ authorization: `Bearer ${key}`, "micro-namespace": "globex" })),
      );
      expect([denied.code, denied.rawMessage]).toEqual([
        Code.PermissionDenied,
        'this API key may only be used for namespace "acme"',
      ]);
      const bad = await failure(client.read({ id: "x" }, as({ ...admin.headers, "micro-namespace": "UPPER" })));
      expect([bad.code, bad.rawMessage]).toEqual([
        Code.InvalidArgument,
        "micro-namespace: must be 1 to 63 of a-z 0-9 _ -",
      ]);
    });

    test("a request over MAX_BODY_BYTES is ResourceExhausted", async () => {
      const err = await failure(client.read({ id: "x".repeat(SUITE_MAX_BODY + 1) }, admin));
      expect(err.code).toBe(Code.ResourceExhausted);
    });

    test("errors carry the request id the caller gave", async () => {
      const err = await failure(client.read({ id: "nobody" }, as({ ...admin.headers, "x-request-id": "req-42" })));
      expect(err.metadata.get("x-request-id")).toBe("req-42");
    });
  });
}
