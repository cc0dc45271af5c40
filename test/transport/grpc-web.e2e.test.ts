// The generated Connect client over the gRPC-Web transport, against the real port.

import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-node";
import { createGrpcWebTransport as createFetchGrpcWebTransport } from "@connectrpc/connect-web";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { Users } from "../../gen/users/v1/users_pb.js";
import { ENGINES } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { type SuiteServer, startSuiteServer, usersApiSuite } from "../support/users-api-suite.js";

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

    const { session } = await client.login(
      { email: "WEB@example.com", password: "correct horse" },
      { headers: headers() },
    );
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
    await client.create(
      { username: "known", email: "known@example.com", password: "correct horse" },
      { headers: headers() },
    );
    const wrong = ConnectError.from(
      await client
        .login({ username: "known", password: "wrong horse" }, { headers: headers() })
        .catch((e: unknown) => e),
    );
    const unknown = ConnectError.from(
      await client
        .login({ username: "nobody", password: "wrong horse" }, { headers: headers() })
        .catch((e: unknown) => e),
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

describe.each(ENGINES)("every RPC and error over gRPC-Web, connect-node transport (%s)", (engine) => {
  let s: SuiteServer;
  beforeAll(async () => {
    s = await startSuiteServer(engine);
  });
  afterAll(() => s.t.close());
  usersApiSuite(() => ({ ...s, transport: createGrpcWebTransport({ baseUrl: s.t.url, httpVersion: "1.1" }) }));
});

describe.each(ENGINES)("every RPC and error over gRPC-Web, connect-web (fetch) transport (%s)", (engine) => {
  let s: SuiteServer;
  beforeAll(async () => {
    s = await startSuiteServer(engine);
  });
  afterAll(() => s.t.close());
  usersApiSuite(() => ({ ...s, transport: createFetchGrpcWebTransport({ baseUrl: s.t.url }) }));
});

describe.each(ENGINES)("gRPC-Web on the wire (%s)", (engine) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ engine });
  });
  afterAll(() => t.close());

  /** One gRPC-Web call with fetch: a framed binary ReadRequest {id}, answered with frames. */
  async function rawRead(id: string, headers: Record<string, string>) {
    const message = Buffer.concat([Buffer.from([0x0a, id.length]), Buffer.from(id)]);
    const frame = Buffer.alloc(5);
    frame.writeUInt32BE(message.length, 1);
    const res = await fetch(`${t.url}/users.v1.Users/Read`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1", ...headers },
      body: Buffer.concat([frame, message]),
    });
    const body = Buffer.from(await res.arrayBuffer());
    // The last frame (flag 0x80) carries the trailers as HTTP/1 header lines.
    let trailers = "";
    for (let at = 0; at < body.length; ) {
      const length = body.readUInt32BE(at + 1);
      if (body[at]! & 0x80) trailers = body.subarray(at + 5, at + 5 + length).toString("utf8");
      at += 5 + length;
    }
    return { status: res.status, contentType: res.headers.get("content-type"), trailers };
  }

  test.each([
    ["Unauthenticated", {}, 16],
    ["NotFound", "admin", 5],
    ["InvalidArgument", { "micro-namespace": "NOPE" }, 3],
  ] as const)("%s is HTTP 200 with grpc-status %i in the trailers", async (_name, headers, code) => {
    const auth = { authorization: `Bearer ${t.adminKey}` };
    const sent = headers === "admin" ? auth : Object.keys(headers).length ? { ...auth, ...headers } : {};
    const res = await rawRead("nobody", sent);
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^application\/grpc-web\+proto/);
    expect(res.trailers).toMatch(new RegExp(`^grpc-status: ?${code}\r?$`, "m"));
  });
});
