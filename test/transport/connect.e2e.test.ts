// Connect on the real port: JSON and binary, over HTTP/1.1 and cleartext
// HTTP/2, all on the one port that also answers plain curl-style requests;
// each error code with its Connect HTTP status and error body.
import http2 from "node:http2";
import { createConnectTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { ENGINES } from "../support/databases.js";
import { httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { type SuiteServer, startSuiteServer, usersApiSuite } from "../support/users-api-suite.js";

const VARIANTS = [
  { httpVersion: "1.1", useBinaryFormat: false, name: "JSON over HTTP/1.1" },
  { httpVersion: "1.1", useBinaryFormat: true, name: "binary over HTTP/1.1" },
  { httpVersion: "2", useBinaryFormat: false, name: "JSON over HTTP/2" },
  { httpVersion: "2", useBinaryFormat: true, name: "binary over HTTP/2" },
] as const;

describe.each(ENGINES)("Connect with the generated client (%s)", (engine) => {
  describe.each(VARIANTS)("$name", ({ httpVersion, useBinaryFormat }) => {
    let s: SuiteServer;
    let sessions: Http2SessionManager | undefined;
    beforeAll(async () => {
      s = await startSuiteServer(engine);
      if (httpVersion === "2") sessions = new Http2SessionManager(s.t.url);
    });
    afterAll(async () => {
      // A connect-node HTTP/2 client keeps its session open; end it so the server can close.
      sessions?.abort();
      await s.t.close();
    });
    usersApiSuite(() => ({
      ...s,
      transport:
        httpVersion === "2"
          ? createConnectTransport({ baseUrl: s.t.url, httpVersion, useBinaryFormat, sessionManager: sessions! })
          : createConnectTransport({ baseUrl: s.t.url, httpVersion, useBinaryFormat }),
    }));
  });
});

describe.each(ENGINES)("Connect on the wire (%s)", (engine) => {
  let t: TestServer;
  let auth: Record<string, string>;
  const json = { "content-type": "application/json" };
  const post = (method: string, body: unknown, headers: Record<string, string> = auth) =>
    httpRequest(`${t.url}/users.v1.Users/${method}`, { headers: { ...json, ...headers }, body: JSON.stringify(body) });

  beforeAll(async () => {
    t = await startTestServer({ engine, env: { LOGIN_MAX_FAILURES: "1" } });
    auth = { authorization: `Bearer ${t.adminKey}` };
  });
  afterAll(() => t.close());

  test("a curl-style JSON request: proto3 JSON with camelCase names and int64 as strings", async () => {
    const created = await post("Create", { username: "asim", email: "asim@example.com", password: "password1" });
    expect(created.status).toBe(200);
    expect(created.headers["content-type"]).toBe("application/json");
    const login = await post("Login", { username: "asim", password: "password1" });
    expect(login.status).toBe(200);
    const session = (login.json as { session: Record<string, unknown> }).session;
    expect(session).toMatchObject({ username: "asim", email: "asim@example.com", userId: expect.any(String) });
    expect(typeof session.created).toBe("string");
    expect(Number(session.expires) - Number(session.created)).toBe(604800);
  });

  test("proto field names are accepted in requests too", async () => {
    const login = await post("Login", { username: "asim", password: "password1" });
    const id = (login.json as { session: { id: string } }).session.id;
    const read = await post("ReadSession", { session_id: id });
    expect(read.status).toBe(200);
    expect((read.json as { session: { id: string } }).session.id).toBe(id);
  });

  test("plain HTTP/2 (prior knowledge) on the same port", async () => {
    const session = http2.connect(t.url);
    try {
      const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({ ":method": "POST", ":path": "/users.v1.Users/Search", ...json, ...auth });
        let status = 0;
        let body = "";
        stream.on("response", (headers) => (status = Number(headers[":status"])));
        stream.setEncoding("utf8");
        stream.on("data", (chunk: string) => (body += chunk));
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
        stream.end(JSON.stringify({ username: "asi" }));
      });
      expect(answer.status).toBe(200);
      expect(JSON.parse(answer.body)).toMatchObject({ users: [{ username: "asim" }] });
    } finally {
      session.close();
    }
  });

  test.each([
    ["invalid_argument", 400, "Create", { username: "x", email: "x@example.com", password: "short" }, {}],
    ["unauthenticated", 401, "Read", { id: "x" }, { authorization: "Bearer usk_wrong" }],
    ["not_found", 404, "Read", { id: "nobody" }, {}],
    ["already_exists", 409, "Create", { username: "asim", email: "other@example.com", password: "password1" }, {}],
    ["invalid_argument", 400, "Read", { id: "x" }, { "micro-namespace": "Bad Namespace" }],
  ])("%s is HTTP %i with a {code, message} body", async (code, status, method, body, headers) => {
    const res = await post(method, body, { ...auth, ...headers });
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ code, message: expect.any(String) });
  });

  test("permission_denied is HTTP 403", async () => {
    const { key } = await t.server.keys.create("acme");
    const res = await post("Read", { id: "x" }, { authorization: `Bearer ${key}`, "micro-namespace": "globex" });
    expect([res.status, res.json]).toMatchObject([
      403,
      { code: "permission_denied", message: 'this API key may only be used for namespace "acme"' },
    ]);
  });

  test("a throttled login is HTTP 429 with retry-after", async () => {
    await post("Login", { username: "asim", password: "wrong-password" });
    const res = await post("Login", { username: "asim", password: "password1" });
    expect(res.status).toBe(429);
    expect(res.headers["retry-after"]).toBe("1");
    expect(res.json).toMatchObject({ code: "resource_exhausted" });
  });

  test("a body over MAX_BODY_BYTES is resource_exhausted (HTTP 429)", async () => {
    const res = await post("Read", { id: "x".repeat(t.config.maxBodyBytes) });
    expect(res.status).toBe(429);
    expect(res.json).toMatchObject({ code: "resource_exhausted" });
  });

  test("an unknown RPC is HTTP 404", async () => {
    expect((await post("Nope", {})).status).toBe(404);
  });
});
