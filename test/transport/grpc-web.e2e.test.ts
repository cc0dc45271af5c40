// The generated Connect client over the gRPC-Web transport, against the real port.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";

describe.each(ENGINES)("gRPC-Web with the generated client (%s)", (engine) => {
  let t: TestServer;
  let client: Client<typeof Users>;
  const headers = () => ({ authorization: `Bearer ${t.adminKey}` });

  beforeAll(async () => {
    t = await startTestServer({ engine });
    client = createClient(Users, createGrpcWebTransport({ baseUrl: t.url, httpVersion: "1.1" }));
  });
  afterAll(() => t.close());

  test("create, login, read the session, logout", async () => {
    const { user } = await client.create(
      { username: "Web_User", email: " Web@Example.COM ", password: "correct horse" },
      { headers: headers() },
    );
    expect(user).toMatchObject({ username: "web_user", email: "web@example.com" });
    expect(user!.id).toMatch(/^[0-9a-f-]{36}$/);

    const { session } = await client.login({ email: "WEB@example.com", password: "correct horse" }, { headers: headers() });
    expect(session!.id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(session!.userId).toBe(user!.id);
    expect(session!.expires - session!.created).toBe(604800n);

    const read = await client.readSession({ sessionId: session!.id }, { headers: headers() });
    expect(read.session).toMatchObject({ id: session!.id, username: "web_user", userId: user!.id });

    await client.logout({ sessionId: session!.id }, { headers: headers() });
    await client.logout({ sessionId: session!.id }, { headers: headers() }); // idempotent
    const err = await client.readSession({ sessionId: session!.id }, { headers: headers() }).catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(Code.NotFound);
  });

  test("a wrong password and an unknown user give the same error", async () => {
    await client.create({ username: "known", email: "known@example.com", password: "correct horse" }, { headers: headers() });
    const wrong = ConnectError.from(
      await client.login({ username: "known", password: "wrong horse" }, { headers: headers() }).catch((e: unknown) => e),
    );
    const unknown = ConnectError.from(
      await client.login({ username: "nobody", password: "wrong horse" }, { headers: headers() }).catch((e: unknown) => e),
    );
    expect(wrong.code).toBe(Code.Unauthenticated);
    expect(unknown.code).toBe(Code.Unauthenticated);
    expect(wrong.rawMessage).toBe("invalid credentials");
    expect(unknown.rawMessage).toBe(wrong.rawMessage);
  });

  test("no API key is Unauthenticated", async () => {
    const err = ConnectError.from(await client.read({ id: "x" }).catch((e: unknown) => e));
    expect(err.code).toBe(Code.Unauthenticated);
  });
});
