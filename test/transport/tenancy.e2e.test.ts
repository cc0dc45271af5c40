// Tenancy on the real port: API keys (admin, scoped, unknown, revoked), the
// micro-namespace header, and namespaces that never see, change or collide
// with each other's data. Checked with the generated Connect client, and the
// key rules also over gRPC (grpc-js) and the M3O paths.
import { createHash } from "node:crypto";
import { type Client, Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { status as grpcStatus } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { failure } from "../support/errors.js";
import { type GrpcUsersClient, grpcUsersClient } from "../support/grpc-js.js";
import { CURL_HEADERS, httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/server.js";

/** One valid request for each RPC (the user and session need not exist). */
const EVERY_RPC: Array<[string, keyof Client<typeof Users>, object]> = [
  ["Create", "create", { username: "someone", email: "someone@example.com", password: "password1" }],
  ["Read", "read", { id: "someone" }],
  ["Update", "update", { id: "someone", username: "someone-else" }],
  ["Delete", "delete", { id: "someone" }],
  ["Search", "search", {}],
  [
    "UpdatePassword",
    "updatePassword",
    { userId: "someone", oldPassword: "password1", newPassword: "password2", confirmPassword: "password2" },
  ],
  ["Login", "login", { username: "someone", password: "password1" }],
  ["Logout", "logout", { sessionId: "some-session" }],
  ["ReadSession", "readSession", { sessionId: "some-session" }],
  ["ListSessions", "listSessions", { userId: "someone" }],
  ["RevokeSessions", "revokeSessions", { userId: "someone" }],
];

describe.each(ENGINES)("tenancy (%s)", (engine) => {
  let t: TestServer;
  let client: Client<typeof Users>;
  let acmeKey: string;
  let globexKey: string;
  /** Call options for a key and, optionally, a micro-namespace header. */
  const as = (key: string | null, namespace?: string) => ({
    headers: {
      ...(key === null ? {} : { authorization: `Bearer ${key}` }),
      ...(namespace === undefined ? {} : { "micro-namespace": namespace }),
    },
  });
  const call = (method: keyof Client<typeof Users>, request: object, options: ReturnType<typeof as>) =>
    (client[method] as (req: object, opts: object) => Promise<unknown>)(request, options);

  beforeAll(async () => {
    t = await startTestServer({ engine });
    client = createClient(Users, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
    acmeKey = (await t.server.keys.create("acme")).key;
    globexKey = (await t.server.keys.create("globex")).key;
  });
  afterAll(() => t.close());

  describe("which namespace a call runs in", () => {
    test('an admin key without the header works in "default"', async () => {
      await client.create(
        { id: "in-default", username: "dee", email: "dee@example.com", password: "password1" },
        as(t.adminKey),
      );
      expect((await client.read({ id: "in-default" }, as(t.adminKey, "default"))).user!.username).toBe("dee");
      expect((await failure(client.read({ id: "in-default" }, as(t.adminKey, "acme")))).code).toBe(Code.NotFound);
    });

    test("a scoped key without the header works in its own namespace", async () => {
      await client.create(
        { id: "in-acme", username: "ace", email: "ace@example.com", password: "password1" },
        as(acmeKey),
      );
      expect((await client.read({ id: "in-acme" }, as(acmeKey, "acme"))).user!.username).toBe("ace");
      expect((await client.read({ id: "in-acme" }, as(t.adminKey, "acme"))).user!.username).toBe("ace");
      expect((await failure(client.read({ id: "in-acme" }, as(t.adminKey)))).code).toBe(Code.NotFound);
    });

    test("an admin key may work in any namespace", async () => {
      await client.create(
        { username: "anywhere", email: "anywhere@example.com", password: "password1" },
        as(t.adminKey, "initech"),
      );
      expect((await client.search({ username: "anywhere" }, as(t.adminKey, "initech"))).users).toHaveLength(1);
    });
  });

  describe("keys", () => {
    test.each(EVERY_RPC)("%s without a key is Unauthenticated", async (_name, method, request) => {
      const err = await failure(call(method, request, as(null)));
      expect([err.code, err.rawMessage]).toEqual([
        Code.Unauthenticated,
        "a valid API key is required: authorization: Bearer <key>",
      ]);
    });

    test.each(EVERY_RPC)(
      "%s with a scoped key for another namespace is PermissionDenied",
      async (_name, method, request) => {
        const err = await failure(call(method, request, as(acmeKey, "globex")));
        expect([err.code, err.rawMessage]).toEqual([
          Code.PermissionDenied,
          'this API key may only be used for namespace "acme"',
        ]);
      },
    );

    test("a scoped key cannot reach the default namespace either", async () => {
      expect((await failure(client.read({ id: "in-default" }, as(acmeKey, "default")))).code).toBe(
        Code.PermissionDenied,
      );
    });

    test.each([
      ["an unknown key", "Bearer usk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
      ["a key without the Bearer scheme", "RAW"],
      ["Basic credentials", `Basic ${Buffer.from("admin:admin").toString("base64")}`],
    ])("%s is Unauthenticated", async (_why, authorization) => {
      const value = authorization === "RAW" ? t.adminKey : authorization;
      expect((await failure(client.search({}, { headers: { authorization: value } }))).code).toBe(Code.Unauthenticated);
    });

    test("a revoked key is Unauthenticated at once", async () => {
      const { id, key } = await t.server.keys.create("acme");
      expect((await client.search({}, as(key))).users.length).toBeGreaterThan(0);
      await t.server.keys.revoke(id);
      expect((await failure(client.search({}, as(key)))).code).toBe(Code.Unauthenticated);
    });

    test.each(["Acme", "acme.eu", "a b", "x".repeat(64), "ns/1"])(
      "micro-namespace %j is InvalidArgument",
      async (namespace) => {
        const err = await failure(client.search({}, as(t.adminKey, namespace)));
        expect([err.code, err.rawMessage]).toEqual([
          Code.InvalidArgument,
          "micro-namespace: must be 1 to 63 of a-z 0-9 _ -",
        ]);
      },
    );

    test("the longest namespace (63 characters) is fine", async () => {
      expect((await client.search({}, as(t.adminKey, "n".repeat(63)))).users).toEqual([]);
    });
  });

  describe("namespaces never see, change or collide with each other's data", () => {
    const person = { id: "same-id", username: "same", email: "same@example.com" };
    const acme = () => as(acmeKey);
    const globex = () => as(globexKey);

    beforeAll(async () => {
      await client.create({ ...person, password: "acme-password" }, acme());
      await client.create({ ...person, password: "globex-password" }, globex());
    });

    test("the same id, username and email exist in both, each with its own password", async () => {
      expect((await client.read({ id: "same-id" }, acme())).user).toMatchObject(person);
      expect((await client.read({ id: "same-id" }, globex())).user).toMatchObject(person);
      expect((await client.login({ username: "same", password: "acme-password" }, acme())).session).toBeDefined();
      expect((await failure(client.login({ username: "same", password: "acme-password" }, globex()))).code).toBe(
        Code.Unauthenticated,
      );
    });

    test("Search lists only the namespace's own users", async () => {
      const names = async (opts: ReturnType<typeof as>) =>
        (await client.search({}, opts)).users.map((u) => u.username).sort();
      expect(await names(acme())).toEqual(["ace", "same"]);
      expect(await names(globex())).toEqual(["same"]);
    });

    test("a session of one namespace cannot be read, ended or listed from another", async () => {
      const { session } = await client.login({ username: "same", password: "globex-password" }, globex());
      expect((await failure(client.readSession({ sessionId: session!.id }, acme()))).code).toBe(Code.NotFound);
      await client.logout({ sessionId: session!.id }, acme());
      expect((await client.readSession({ sessionId: session!.id }, globex())).session!.id).toBe(session!.id);
      const handle = createHash("sha256").update(session!.id).digest("hex");
      expect((await client.listSessions({ userId: "same-id" }, globex())).sessions.map((x) => x.handle)).toContain(
        handle,
      );
      expect((await client.listSessions({ userId: "same-id" }, acme())).sessions.map((x) => x.handle)).not.toContain(
        handle,
      );
      expect((await client.revokeSessions({ userId: "same-id", handles: [handle] }, acme())).revoked).toBe(0n);
      await client.revokeSessions({ userId: "same-id" }, acme());
      expect((await client.readSession({ sessionId: session!.id }, globex())).session!.id).toBe(session!.id);
    });

    test("Update, UpdatePassword and Delete in one namespace leave the other untouched", async () => {
      const { session } = await client.login({ username: "same", password: "globex-password" }, globex());
      await client.update({ id: "same-id", email: "changed@example.com" }, acme());
      await client.updatePassword(
        {
          userId: "same-id",
          oldPassword: "acme-password",
          newPassword: "acme-password-2",
          confirmPassword: "acme-password-2",
        },
        acme(),
      );
      await client.delete({ id: "same-id" }, acme());

      expect((await client.read({ id: "same-id" }, globex())).user).toMatchObject(person);
      expect((await client.readSession({ sessionId: session!.id }, globex())).session!.userId).toBe("same-id");
      expect((await client.login({ username: "same", password: "globex-password" }, globex())).session).toBeDefined();
      expect((await failure(client.read({ id: "same-id" }, acme()))).code).toBe(Code.NotFound);
    });

    test("the email freed in one namespace is still taken in the other", async () => {
      const err = await failure(
        client.create({ username: "other", email: "same@example.com", password: "password1" }, globex()),
      );
      expect([err.code, err.rawMessage]).toEqual([Code.AlreadyExists, "email: already taken in this namespace"]);
    });
  });

  describe("the same rules over gRPC and the M3O paths", () => {
    let grpc: GrpcUsersClient;
    beforeAll(() => {
      grpc = grpcUsersClient(`127.0.0.1:${t.port}`);
    });
    afterAll(() => grpc.close());

    const m3o = (headers: Record<string, string>) =>
      httpRequest(`${t.url}/users/Users/Search`, { headers: { ...CURL_HEADERS, ...headers }, body: "{}" });

    test("no key: gRPC UNAUTHENTICATED (16), M3O 401", async () => {
      expect((await grpc.fail("Search", {}, {})).code).toBe(grpcStatus.UNAUTHENTICATED);
      expect((await m3o({})).json).toEqual({
        id: "users.Search",
        code: 401,
        detail: "a valid API key is required: authorization: Bearer <key>",
        status: "Unauthorized",
      });
    });

    test("a scoped key for another namespace: gRPC PERMISSION_DENIED (7), M3O 403", async () => {
      const headers = { authorization: `Bearer ${acmeKey}`, "micro-namespace": "globex" };
      expect((await grpc.fail("Search", {}, headers)).code).toBe(grpcStatus.PERMISSION_DENIED);
      expect((await m3o(headers)).status).toBe(403);
    });

    test("a bad namespace: gRPC INVALID_ARGUMENT (3), M3O 400", async () => {
      const headers = { authorization: `Bearer ${t.adminKey}`, "micro-namespace": "UPPER" };
      expect((await grpc.fail("Search", {}, headers)).code).toBe(grpcStatus.INVALID_ARGUMENT);
      expect((await m3o(headers)).status).toBe(400);
    });

    test("a scoped key without the header sees its own namespace over both", async () => {
      const headers = { authorization: `Bearer ${acmeKey}` };
      const viaGrpc = await grpc.call<{ users: Array<{ username: string }> }>("Search", {}, headers);
      const viaM3o = (await m3o(headers)).json as { users: Array<{ username: string }> };
      expect(viaGrpc.users.map((u) => u.username)).toEqual(viaM3o.users.map((u) => u.username));
      expect(viaM3o.users.map((u) => u.username)).toContain("ace");
    });
  });
});
