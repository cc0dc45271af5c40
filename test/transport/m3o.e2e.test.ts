// The M3O JSON API on the real port, with plain HTTP requests made exactly as
// curl makes them (`curl URL -H "authorization: ..." -d '{...}'`: POST with
// content-type application/x-www-form-urlencoded). Every example of the M3O
// docs is replayed at both paths, /users/Users/<Method> and /v1/users/<Method>,
// followed by M3O's error shape for each code and the limits of the body.
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { TestClock } from "../support/clock.js";
import { ENGINES } from "../support/databases.js";
import { CURL_HEADERS, type HttpAnswer, type HttpRequest, httpRequest } from "../support/http.js";
import { startTestServer, type TestServer } from "../support/server.js";

const PATHS = ["/users/Users", "/v1/users"];
const TTL = 604800;

/** A user whose email was never verified, as the M3O paths show it (every field, snake_case). */
// What every new user has (M3O answers carry every field, defaults included).
const NEW_USER = { verified: false, verification_date: 0, profile: {}, disabled: false };
describe.each(ENGINES)("M3O paths (%s)", (engine) => {
  describe.each(PATHS)("the docs' examples at %s/<Method>, sent as curl sends them", (base) => {
    let t: TestServer;
    const clock = new TestClock();
    const now = () => clock.seconds();
    const curl = (method: string, body: string) =>
      httpRequest(`${t.url}${base}/${method}`, {
        headers: { ...CURL_HEADERS, authorization: `Bearer ${t.adminKey}` },
        body,
      });

    beforeAll(async () => {
      t = await startTestServer({ engine, now: clock.now });
    });
    afterAll(() => t.close());

    const id = "ff3c06de-9e43-41c7-9bab-578f6b4ad32b";
    let sessionId = "";

    test("Create {email, id, password, username}", async () => {
      const res = await curl(
        "Create",
        '{"email": "joe@example.com", "id": "ff3c06de-9e43-41c7-9bab-578f6b4ad32b", "password": "Password1", "username": "joe"}',
      );
      expect(res.status).toBe(200);
      expect(res.headers["content-type"]).toBe("application/json");
      // M3O answers {}; this service adds the created user.
      expect(res.json).toEqual({
        user: { ...NEW_USER, id, username: "joe", email: "joe@example.com", created: now(), updated: now() },
      });
    });

    test("Read {id}", async () => {
      const res = await curl("Read", '{"id": "ff3c06de-9e43-41c7-9bab-578f6b4ad32b"}');
      expect([res.status, res.json]).toEqual([
        200,
        { user: { ...NEW_USER, created: now(), email: "joe@example.com", id, updated: now(), username: "joe" } },
      ]);
    });

    test("Update {email, id, username}", async () => {
      clock.advance(60);
      const res = await curl(
        "Update",
        '{"email": "joe+update@example.com", "id": "ff3c06de-9e43-41c7-9bab-578f6b4ad32b", "username": "joe"}',
      );
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        user: {
          ...NEW_USER,
          id,
          username: "joe",
          email: "joe+update@example.com",
          created: now() - 60,
          updated: now(),
        },
      });
    });

    test("Search {email, limit, offset, username}", async () => {
      await curl("Create", '{"email": "joanna@example.org", "password": "Password1", "username": "joanna"}');
      const res = await curl("Search", '{"email": "jo", "limit": 10, "offset": 0, "username": "jo"}');
      expect(res.status).toBe(200);
      const users = (res.json as { users: Array<Record<string, unknown>> }).users;
      expect(users.map((u) => u.username)).toEqual(["joe", "joanna"]);
      expect(users[0]).toEqual({
        ...NEW_USER,
        id,
        username: "joe",
        email: "joe+update@example.com",
        created: now() - 60,
        updated: now(),
      });
      expect(
        (await curl("Search", '{"email": "joanna", "limit": 10, "offset": 0, "username": "jo"}')).json,
      ).toMatchObject({
        users: [{ username: "joanna" }],
      });
      expect((await curl("Search", '{"limit": 1, "offset": 1}')).json).toMatchObject({
        users: [{ username: "joanna" }],
      });
      expect((await curl("Search", '{"username": "nobody"}')).json).toEqual({ users: [] });
    });

    test("Login {email, password, username}", async () => {
      const res = await curl(
        "Login",
        '{"email": "joe+update@example.com", "password": "Password1", "username": "joe"}',
      );
      expect(res.status).toBe(200);
      const { session } = res.json as { session: Record<string, unknown> };
      expect(session).toEqual({
        id: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
        username: "joe",
        email: "joe+update@example.com",
        created: now(),
        expires: now() + TTL,
        user_id: id,
      });
      sessionId = session.id as string;
      // By email alone, and by username alone, too.
      expect((await curl("Login", '{"email": "JOE+update@example.com", "password": "Password1"}')).status).toBe(200);
      expect((await curl("Login", '{"username": "Joe", "password": "Password1"}')).status).toBe(200);
    });

    test("ReadSession {session_id}", async () => {
      const res = await curl("ReadSession", JSON.stringify({ session_id: sessionId }));
      expect(res.status).toBe(200);
      expect(res.json).toEqual({
        session: {
          id: sessionId,
          username: "joe",
          email: "joe+update@example.com",
          created: now(),
          expires: now() + TTL,
          user_id: id,
        },
      });
    });

    test("ReadSession {sessionId} (the older micro examples' camelCase)", async () => {
      const res = await curl("ReadSession", JSON.stringify({ sessionId }));
      expect(res.status).toBe(200);
      expect((res.json as { session: { id: string } }).session.id).toBe(sessionId);
    });

    test("UpdatePassword {confirm_password, new_password, old_password, user_id} revokes the sessions", async () => {
      const res = await curl(
        "UpdatePassword",
        '{"confirm_password": "Password2", "new_password": "Password2", "old_password": "Password1", "user_id": "ff3c06de-9e43-41c7-9bab-578f6b4ad32b"}',
      );
      expect([res.status, res.json]).toEqual([200, {}]);
      expect((await curl("ReadSession", JSON.stringify({ session_id: sessionId }))).status).toBe(404);
    });

    test("UpdatePassword {userId, oldPassword, newPassword, confirmPassword} (camelCase)", async () => {
      const res = await curl(
        "UpdatePassword",
        '{"userId": "ff3c06de-9e43-41c7-9bab-578f6b4ad32b", "oldPassword": "Password2", "newPassword": "Password3", "confirmPassword": "Password3"}',
      );
      expect([res.status, res.json]).toEqual([200, {}]);
      expect((await curl("Login", '{"username": "joe", "password": "Password3"}')).status).toBe(200);
    });

    test("Logout {session_id}, and again with {sessionId}", async () => {
      const login = await curl("Login", '{"username": "joe", "password": "Password3"}');
      const fresh = (login.json as { session: { id: string } }).session.id;
      expect([
        (await curl("Logout", JSON.stringify({ session_id: fresh }))).status,
        (await curl("Logout", JSON.stringify({ session_id: fresh }))).json,
      ]).toEqual([200, {}]);
      expect((await curl("Logout", JSON.stringify({ sessionId: fresh }))).json).toEqual({});
      expect((await curl("ReadSession", JSON.stringify({ session_id: fresh }))).status).toBe(404);
    });

    test("Delete {id}", async () => {
      const res = await curl("Delete", '{"id": "ff3c06de-9e43-41c7-9bab-578f6b4ad32b"}');
      expect([res.status, res.json]).toEqual([200, {}]);
      expect((await curl("Read", '{"id": "ff3c06de-9e43-41c7-9bab-578f6b4ad32b"}')).status).toBe(404);
    });

    test("ListSessions and RevokeSessions work here too", async () => {
      const login = await curl("Login", '{"username": "joanna", "password": "Password1"}');
      const userId = (login.json as { session: { user_id: string } }).session.user_id;
      const list = await curl("ListSessions", JSON.stringify({ user_id: userId }));
      expect(list.json).toEqual({
        sessions: [{ handle: expect.stringMatching(/^[0-9a-f]{64}$/), created: now(), expires: now() + TTL }],
      });
      expect((await curl("RevokeSessions", JSON.stringify({ userId }))).json).toEqual({ revoked: 1 });
    });
  });

  describe("M3O errors, bodies and methods", () => {
    let t: TestServer;
    const url = (method: string, base = "/users/Users") => `${t.url}${base}/${method}`;
    const curl = (method: string, body: string, headers: Record<string, string> = {}, request: HttpRequest = {}) =>
      httpRequest(url(method), {
        headers: { ...CURL_HEADERS, authorization: `Bearer ${t.adminKey}`, ...headers },
        body,
        ...request,
      });
    const m3oError = (res: HttpAnswer) => res.json as { id: string; code: number; detail: string; status: string };

    beforeAll(async () => {
      t = await startTestServer({ engine, env: { LOGIN_MAX_FAILURES: "1" } });
      await curl("Create", '{"username": "taken", "email": "taken@example.com", "password": "Password1"}');
    });
    afterAll(() => t.close());

    test("a wrong password: the documented 401 {id, code, detail, status}", async () => {
      const res = await curl("Login", '{"username": "taken", "password": "not-the-password"}');
      expect(res.status).toBe(401);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(res.json).toEqual({ id: "users.Login", code: 401, detail: "invalid credentials", status: "Unauthorized" });
    });

    test.each([
      [
        "Create",
        '{"username": "-", "email": "x@example.com", "password": "Password1"}',
        {},
        400,
        "Bad Request",
        /^username: must be 1 to 39/,
      ],
      ["Search", '{"limit": 1001}', {}, 400, "Bad Request", /^limit: must be from 0 to 1000/],
      ["Read", '{"id": "x"}', { authorization: "" }, 401, "Unauthorized", /^a valid API key is required/],
      [
        "Read",
        '{"id": "x"}',
        { authorization: "Bearer usk_unknown" },
        401,
        "Unauthorized",
        /^a valid API key is required/,
      ],
      ["Read", '{"id": "nobody"}', {}, 404, "Not Found", /^user not found$/],
      ["ReadSession", '{"session_id": "nope"}', {}, 404, "Not Found", /^session not found$/],
      [
        "Create",
        '{"username": "TAKEN", "email": "new@example.com", "password": "Password1"}',
        {},
        409,
        "Conflict",
        /^username: already taken/,
      ],
      ["Read", '{"id": "x"}', { "micro-namespace": "No Way" }, 400, "Bad Request", /^micro-namespace: must be 1 to 63/],
    ])("%s %s → %i %s", async (method, body, headers, code, status, detail) => {
      const res = await curl(method, body, headers);
      expect(res.status).toBe(code);
      expect(m3oError(res)).toEqual({ id: `users.${method}`, code, detail: expect.stringMatching(detail), status });
    });

    test("a scoped key for another namespace → 403 Forbidden", async () => {
      const { key } = await t.server.keys.create("acme");
      const res = await curl("Read", '{"id": "x"}', { authorization: `Bearer ${key}`, "micro-namespace": "globex" });
      expect([res.status, m3oError(res)]).toEqual([
        403,
        {
          id: "users.Read",
          code: 403,
          detail: 'this API key may only be used for namespace "acme"',
          status: "Forbidden",
        },
      ]);
    });

    test("a throttled login → 429 Too Many Requests with retry-after", async () => {
      const res = await curl("Login", '{"username": "taken", "password": "Password1"}');
      expect(res.status).toBe(429);
      expect(res.headers["retry-after"]).toBe("1");
      expect(m3oError(res)).toMatchObject({ id: "users.Login", code: 429, status: "Too Many Requests" });
      expect(m3oError(res).detail).toMatch(/^too many failed attempts for this account; retry in 1 s$/);
    });

    test("the error id uses the method's own name at the /v1 path too", async () => {
      const res = await httpRequest(url("Read", "/v1/users"), {
        headers: { ...CURL_HEADERS, authorization: `Bearer ${t.adminKey}` },
        body: '{"id": "nobody"}',
      });
      expect([res.status, m3oError(res).id]).toEqual([404, "users.Read"]);
    });

    // A proxy rule written for the documented path (deny /users/Users/Login,
    // say) must not be bypassed by another spelling of the method.
    test.each([
      ["/users/Users", "login"],
      ["/users/Users", "LOGIN"],
      ["/v1/users", "readSession"],
      ["/v1/users", "Readsession"],
    ])("method names match exactly: %s/%s is 404", async (base, method) => {
      const res = await httpRequest(url(method, base), {
        headers: { ...CURL_HEADERS, authorization: `Bearer ${t.adminKey}` },
        body: '{"username": "nobody", "password": "password1", "session_id": "x"}',
      });
      expect([res.status, m3oError(res)]).toEqual([
        404,
        { id: `users.${method}`, code: 404, detail: `unknown method "${method}"`, status: "Not Found" },
      ]);
    });

    test.each([
      ["application/x-www-form-urlencoded"],
      ["application/json"],
      ["text/plain;charset=UTF-8"],
      ["application/octet-stream"],
      [""],
    ])("the body is JSON whatever the content type: %j", async (contentType) => {
      const headers: Record<string, string> = { authorization: `Bearer ${t.adminKey}` };
      if (contentType) headers["content-type"] = contentType;
      const res = await httpRequest(url("Search"), { headers, body: '{"username": "tak"}' });
      expect([res.status, (res.json as { users: unknown[] }).users.length]).toEqual([200, 1]);
    });

    test("an empty body is an empty request", async () => {
      const res = await curl("Read", "");
      expect([res.status, m3oError(res).detail]).toEqual([
        400,
        "id: give exactly one of id, username or email (none was given)",
      ]);
      expect((await curl("Search", "")).status).toBe(200);
    });

    test("unknown fields are ignored", async () => {
      expect((await curl("Search", '{"username": "tak", "profile": {"a": 1}, "extra": true}')).status).toBe(200);
    });

    test.each([
      ["not JSON at all", "username=asim&password=x", /^request body: not valid JSON( \(at character \d+\))?$/],
      ["truncated JSON", '{"id": "x"', /^request body: not valid JSON( \(at character \d+\))?$/],
      ["an array", '[{"id": "x"}]', /^request body: must be a JSON object$/],
      ["a string", '"x"', /^request body: must be a JSON object$/],
      ["null", "null", /^request body: must be a JSON object$/],
      ["a number", "42", /^request body: must be a JSON object$/],
    ])("%s → 400 naming the problem", async (_why, body, detail) => {
      const res = await curl("Read", body);
      expect([res.status, m3oError(res)]).toEqual([
        400,
        { id: "users.Read", code: 400, detail: expect.stringMatching(detail), status: "Bad Request" },
      ]);
      // What was sent (a password, say) is never quoted back.
      expect(res.text).not.toContain("asim");
      expect(res.text).not.toContain('\\"x\\"');
    });

    test.each([
      ["Search", '{"limit": "ten"}', "limit: must be a whole number (or a string of one)"],
      ["Search", '{"limit": 1.5}', "limit: must be a whole number (or a string of one)"],
      ["Search", '{"offset": true}', "offset: must be a whole number (or a string of one)"],
      // Strings of integers are decimal digits only: BigInt() would read these as 16, 16, 2 and 16.
      ["Search", '{"limit": "0x10"}', "limit: must be a whole number in decimal digits"],
      ["Search", '{"limit": "0o20"}', "limit: must be a whole number in decimal digits"],
      ["Search", '{"offset": "0b10"}', "offset: must be a whole number in decimal digits"],
      ["Search", '{"limit": " 16 "}', "limit: must be a whole number in decimal digits"],
      ["Read", '{"id": 42}', "id: must be a string"],
      ["Create", '{"username": ["a"], "email": "a@b.co", "password": "Password1"}', "username: must be a string"],
      ["RevokeSessions", '{"user_id": "x", "handles": "abc"}', "handles: must be an array of strings"],
      [
        "Logout",
        '{"session_id": "a", "sessionId": "b"}',
        "session_id: given more than once (as both session_id and sessionId?)",
      ],
    ])("a wrong type in %s %s → 400 naming the field and the rule", async (method, body, detail) => {
      const res = await curl(method, body);
      expect(res.status).toBe(400);
      expect(m3oError(res).detail).toBe(detail);
    });

    test("a wrong type never echoes the value back (it may be a secret)", async () => {
      const res = await curl("Login", '{"username": "someone", "password": 8675309123}');
      expect(res.status).toBe(400);
      expect(m3oError(res).detail).toBe("password: must be a string");
      expect(res.text).not.toContain("8675309123");
    });

    test("int64 fields accept JSON strings too, as proto3 JSON does", async () => {
      expect((await curl("Search", '{"limit": "1"}')).status).toBe(200);
      expect((await curl("Search", '{"limit": "10", "offset": "-0"}')).status).toBe(200);
    });

    test("a body over MAX_BODY_BYTES → 413 with a clear message (declared length)", async () => {
      const res = await curl("Read", JSON.stringify({ id: "x".repeat(t.config.maxBodyBytes) }));
      expect(res.status).toBe(413);
      expect(m3oError(res)).toEqual({
        id: "users.Read",
        code: 413,
        detail: `request body: must be at most ${t.config.maxBodyBytes} bytes`,
        status: "Payload Too Large",
      });
    });

    test("a chunked body over MAX_BODY_BYTES → 413 too", async () => {
      const res = await curl("Read", JSON.stringify({ id: "x".repeat(t.config.maxBodyBytes) }), {}, { chunked: true });
      expect([res.status, m3oError(res).code]).toEqual([413, 413]);
    });

    test("a body of exactly MAX_BODY_BYTES is read", async () => {
      const padding = t.config.maxBodyBytes - '{"id": "nobody", "pad": ""}'.length;
      const res = await curl("Read", `{"id": "nobody", "pad": "${"p".repeat(padding)}"}`);
      expect([res.status, m3oError(res).detail]).toEqual([404, "user not found"]);
    });

    test.each(["GET", "PUT", "DELETE"])("%s → 405 with allow: POST", async (method) => {
      const res = await httpRequest(url("Read"), { method, headers: { authorization: `Bearer ${t.adminKey}` } });
      expect(res.status).toBe(405);
      expect(res.headers.allow).toBe("POST");
      expect(m3oError(res)).toEqual({ id: "users.Read", code: 405, detail: "use POST", status: "Method Not Allowed" });
    });

    test.each(["/users/Users/Nope", "/v1/users/Nope"])("an unknown method %s → 404", async (path) => {
      const res = await httpRequest(`${t.url}${path}`, { headers: CURL_HEADERS, body: "{}" });
      expect([res.status, m3oError(res)]).toEqual([
        404,
        { id: "users.Nope", code: 404, detail: 'unknown method "Nope"', status: "Not Found" },
      ]);
    });

    test("an answer carries the request id the caller gave", async () => {
      const res = await curl("Read", '{"id": "nobody"}', { "x-request-id": "m3o-req-1" });
      expect(res.headers["x-request-id"]).toBe("m3o-req-1");
    });
  });
});
