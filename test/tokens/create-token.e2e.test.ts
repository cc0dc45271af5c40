// CreateToken over every protocol against a real server, each token verified
// by a separate process with jose and only the published keys: the claims
// are exactly the documented ones, the session is named by its handle (never
// its secret id), the token ends with its TTL or its session, whichever is
// first, and a session that ended (Logout, RevokeSessions, a password change,
// expiry) gets no new token: the same answer ReadSession gives.
import { createHash, randomBytes } from "node:crypto";
import type { JsonObject } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, test } from "@jest/globals";
import { mailFolder } from "../../src/mail/delivery.js";
import { rpc } from "../reliability/support/rpc.js";
import { PROTOCOLS, type Protocol, Wire } from "../reliability/support/wire.js";
import { TestClock } from "../support/clock.js";
import { ENGINES } from "../support/databases.js";
import { mailTo } from "../support/file-mailbox.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { storedKeys } from "./support/stored-keys.js";
import { verifyElsewhere } from "./support/verify.js";

const ISSUER = "https://users.example.test";
const NS = "tokens";

describe.each(ENGINES)("CreateToken (%s)", (engine) => {
  let t: TestServer;
  let wire: Wire;
  let headers: Record<string, string>;
  const call = (protocol: Protocol, method: Parameters<typeof rpc>[2], request: JsonObject) =>
    rpc(wire, protocol, method, request, headers);
  let n = 0;
  /** A new user signed in: its id, names and session id. */
  const signedIn = async (protocol: Protocol = "connect-json") => {
    const name = `tok${++n}${randomBytes(3).toString("hex")}`;
    const created = await call(protocol, "create", {
      username: name,
      email: `${name}@example.com`,
      password: "correct horse",
    });
    expect(created.code).toBe("ok");
    const login = await call(protocol, "login", { username: name, password: "correct horse" });
    expect(login.code).toBe("ok");
    const session = login.json!.session as { id: string; userId: string; expires: string };
    return { id: session.userId, name, session: session.id, sessionExpires: Number(session.expires) };
  };

  beforeAll(async () => {
    t = await startTestServer({ engine, env: { PUBLIC_URL: ISSUER } });
    wire = new Wire(t.url);
    headers = { authorization: `Bearer ${t.adminKey}`, "micro-namespace": NS };
  });
  afterAll(async () => {
    wire.close();
    await t.close();
  });

  test("every protocol: a token another process verifies with the published keys, with exactly the documented claims", async () => {
    const [key] = await storedKeys(t.config.databaseUrl);
    const issued: Array<{ token: string; expires: number; user: Awaited<ReturnType<typeof signedIn>> }> = [];
    for (const protocol of PROTOCOLS) {
      const user = await signedIn(protocol);
      const before = Math.floor(Date.now() / 1000);
      const answer = await call(protocol, "createToken", { sessionId: user.session });
      expect({ protocol, code: answer.code }).toEqual({ protocol, code: "ok" });
      const token = answer.json!.accessToken as string;
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      // The secret session id is nowhere in the token, in any encoding.
      const decoded = token
        .split(".")
        .slice(0, 2)
        .map((p) => Buffer.from(p, "base64url").toString("utf8"))
        .join("");
      expect(decoded + token).not.toContain(user.session);
      const expires = Number(answer.json!.expires);
      expect(expires).toBeGreaterThanOrEqual(before + 300);
      issued.push({ token, expires, user });
    }
    const results = await verifyElsewhere({
      jwksUrl: `${t.url}/.well-known/jwks.json`,
      issuer: ISSUER,
      tokens: issued.map((i) => i.token),
    });
    results.forEach((result, i) => {
      const { expires, user } = issued[i]!;
      if (!result.ok) throw new Error(`${PROTOCOLS[i]}: ${result.code} ${result.message}`);
      expect(result.header).toEqual({ alg: "EdDSA", kid: key!.kid, typ: "JWT" });
      expect(result.payload).toEqual({
        iss: ISSUER,
        sub: user.id,
        ns: NS,
        sid: createHash("sha256").update(user.session).digest("hex"),
        username: user.name,
        email: `${user.name}@example.com`,
        email_verified: false,
        iat: expires - 300,
        exp: expires,
      });
    });
  }, 60_000);

  test("sid is the handle ListSessions shows and RevokeSessions takes; email_verified follows the user", async () => {
    const user = await signedIn();
    const listed = await call("connect-json", "listSessions", { userId: user.id });
    const [handle] = (listed.json!.sessions as Array<{ handle: string }>).map((s) => s.handle);
    // Verified (by the mailed link, from the file mailbox) since the first token: the next one says so.
    const email = `${user.name}@example.com`;
    expect((await call("connect-json", "sendVerificationEmail", { email })).code).toBe("ok");
    const token = /[?&]token=([A-Za-z0-9_-]+)/.exec(await mailTo(mailFolder(t.config), email))![1]!;
    expect((await call("connect-json", "verifyEmail", { token })).code).toBe("ok");
    const answer = await call("grpc", "createToken", { sessionId: user.session });
    const [result] = await verifyElsewhere({
      jwksUrl: `${t.url}/.well-known/jwks.json`,
      issuer: ISSUER,
      tokens: [answer.json!.accessToken as string],
    });
    expect(result).toMatchObject({ ok: true, payload: { sid: handle, email_verified: true } });
    // The handle ends the session, and with it the next token.
    expect((await call("connect-json", "revokeSessions", { userId: user.id, handles: [handle!] })).code).toBe("ok");
    expect((await call("connect-json", "createToken", { sessionId: user.session })).code).toBe("not_found");
  }, 60_000);

  test("a session that ended or never was gets no token: the same answer as ReadSession, over every protocol", async () => {
    const loggedOut = await signedIn();
    expect((await call("connect-json", "logout", { sessionId: loggedOut.session })).code).toBe("ok");
    const passwordChanged = await signedIn();
    expect(
      (
        await call("connect-json", "updatePassword", {
          userId: passwordChanged.id,
          oldPassword: "correct horse",
          newPassword: "another horse",
          confirmPassword: "another horse",
        })
      ).code,
    ).toBe("ok");
    const deleted = await signedIn();
    expect((await call("connect-json", "delete", { id: deleted.id })).code).toBe("ok");
    const otherNamespace = await signedIn();
    const cases: Array<[string, string, Record<string, string>?]> = [
      ["logged out", loggedOut.session],
      ["password changed", passwordChanged.session],
      ["user deleted", deleted.session],
      ["unknown", randomBytes(32).toString("base64url")],
      ["malformed", "not a session id"],
      ["empty", ""],
      ["too long", "A".repeat(300)],
      ["another namespace's", otherNamespace.session, { "micro-namespace": "elsewhere" }],
    ];
    for (const protocol of PROTOCOLS) {
      for (const [what, sessionId, extra] of cases) {
        const h = { ...headers, ...extra };
        const read = await rpc(wire, protocol, "readSession", { sessionId }, h);
        const token = await rpc(wire, protocol, "createToken", { sessionId }, h);
        expect(read.code).not.toBe("ok");
        expect({ protocol, what, code: token.code, status: token.httpStatus, message: token.message }).toEqual({
          protocol,
          what,
          code: read.code,
          status: read.httpStatus,
          message: read.message,
        });
      }
    }
  }, 60_000);

  test("tokens issued are counted in /metrics", async () => {
    const count = async () => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      return Number(/^users_access_tokens_issued_total (\d+)/m.exec(text)?.[1]);
    };
    const before = await count();
    const user = await signedIn();
    for (let i = 0; i < 3; i++) await call("connect-binary", "createToken", { sessionId: user.session });
    await call("connect-binary", "createToken", { sessionId: randomBytes(32).toString("base64url") });
    expect(await count()).toBe(before + 3);
  });
});

describe.each(ENGINES)("access-token expiry with a moved clock (%s)", (engine) => {
  test("a token ends after ACCESS_TOKEN_TTL_SECONDS, never after its session; an expired session gets none", async () => {
    const clock = new TestClock(Date.now());
    const t = await startTestServer({
      engine,
      now: clock.now,
      env: { PUBLIC_URL: ISSUER, ACCESS_TOKEN_TTL_SECONDS: "30", SESSION_TTL_SECONDS: "60" },
    });
    const wire = new Wire(t.url);
    const headers = { authorization: `Bearer ${t.adminKey}` };
    try {
      expect(
        (
          await rpc(
            wire,
            "m3o",
            "create",
            { username: "clock", email: "clock@example.com", password: "correct horse" },
            headers,
          )
        ).code,
      ).toBe("ok");
      const login = await rpc(wire, "m3o", "login", { username: "clock", password: "correct horse" }, headers);
      const session = login.json!.session as { id: string; expires: string };
      const first = await rpc(wire, "m3o", "createToken", { sessionId: session.id }, headers);
      expect(Number(first.json!.expires)).toBe(clock.seconds() + 30);
      // 40 s on, the session has 20 s left: the token ends with it, not 30 s on.
      clock.advance(40);
      const second = await rpc(wire, "grpc", "createToken", { sessionId: session.id }, headers);
      expect(Number(second.json!.expires)).toBe(Number(session.expires));
      const tokens = [first.json!.accessToken as string, second.json!.accessToken as string];
      const at = (currentDate: number) =>
        verifyElsewhere({ jwksUrl: `${t.url}/.well-known/jwks.json`, issuer: ISSUER, tokens, currentDate });
      const firstExp = Number(first.json!.expires);
      expect((await at(firstExp - 1)).map((r) => r.ok)).toEqual([true, true]);
      expect((await at(firstExp + 1)).map((r) => (r.ok ? "ok" : r.code))).toEqual(["ERR_JWT_EXPIRED", "ok"]);
      expect((await at(Number(session.expires) + 1)).map((r) => (r.ok ? "ok" : r.code))).toEqual([
        "ERR_JWT_EXPIRED",
        "ERR_JWT_EXPIRED",
      ]);
      // Past the session's end: no token.
      clock.advance(21);
      const late = await rpc(wire, "connect-json", "createToken", { sessionId: session.id }, headers);
      expect(late.code).toBe("not_found");
      expect(late.message).toContain("session not found");
    } finally {
      wire.close();
      await t.close();
    }
  }, 60_000);
});
